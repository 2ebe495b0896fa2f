"""Walking and removing local folders the way the artifact store needs: symbolic links kept or
followed on purpose, loops detected, read-only folders removable."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from openaml.errors import ValidationError
from openaml.store.manifest import check_link

__all__ = ["FolderScan", "LinkPolicy", "Skipped", "copy_tree_keeping_links", "make_folders_read_only", "remove_tree",
           "scan_keeping_links", "walk_following_links"]

#: ``follow``: symbolic links are followed (assets a user registers from their own folders);
#: ``keep``: a link to something inside the folder is stored as a link, one that points outside,
#: dangles or makes a loop is skipped and reported (job outputs and code snapshots).
LinkPolicy = Literal["follow", "keep"]


@dataclass(frozen=True)
class Skipped:
    """A path left out of a manifest, and why (``points outside the folder``, ``dangles``, ...)."""

    path: str
    reason: str


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Remove a file or folder, read-only folders included (write bits restored first).

    Symbolic links are removed, never followed: a link inside the tree to a folder elsewhere
    must not have that folder's permissions changed. Nor is a mount point inside the tree
    entered (a read-only input mount still mounted): what is under it is not the tree's.
    """
    path = Path(path)
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
        return
    if not path.exists():
        return
    for root, dirs, _ in os.walk(path):
        for d in list(dirs):
            full = os.path.join(root, d)
            if os.path.ismount(full):
                dirs.remove(d)
            elif not os.path.islink(full):
                with contextlib.suppress(OSError):
                    os.chmod(full, 0o700)
    os.chmod(path, 0o700)
    shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class FolderScan:
    """A folder's regular files (relative path, absolute path), links to keep and skipped paths."""

    files: list[tuple[str, Path]]
    links: dict[str, str]
    skipped: list[Skipped]


def scan_keeping_links(top: Path, ignore: Callable[[str], bool] | None = None) -> FolderScan:
    """Regular files, links to keep and skipped paths of *top*, links not followed."""
    real_top = os.path.realpath(top)
    files: list[tuple[str, Path]] = []
    links: dict[str, str] = {}
    skipped: list[Skipped] = []

    def link(rel: str, full: str) -> None:
        try:
            resolved = Path(full).resolve(strict=True)
        except FileNotFoundError:
            skipped.append(Skipped(rel, "dangles (its target does not exist)"))
            return
        except (RuntimeError, OSError):  # ELOOP: a chain of links that never ends
            skipped.append(Skipped(rel, "is a loop of symbolic links"))
            return
        if not (str(resolved) == real_top or str(resolved).startswith(real_top + os.sep)):
            skipped.append(Skipped(rel, "points outside the folder"))
            return
        target = Path(os.path.relpath(resolved, os.path.realpath(os.path.dirname(full)))).as_posix()
        try:
            links[rel] = check_link(rel, target)
        except ValidationError:
            skipped.append(Skipped(rel, "points to a folder holding it (a loop)"))

    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        rel_dir = Path(dirpath).relative_to(top).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        descend = []
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            if ignore and ignore(prefix + d + "/"):
                continue
            if os.path.islink(full):
                link(prefix + d, full)
            else:
                descend.append(d)
        dirnames[:] = descend
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if ignore and ignore(prefix + name):
                continue
            mode = os.lstat(full).st_mode
            if stat.S_ISLNK(mode):
                link(prefix + name, full)
            elif stat.S_ISREG(mode):
                files.append((prefix + name, Path(full)))
            else:
                skipped.append(Skipped(prefix + name, "is not a regular file"))
    # A link to a file that was left out (ignored, skipped) would dangle once materialised.
    stored = {rel for rel, _ in files}
    for rel, target in list(links.items()):
        pointed = os.path.normpath(os.path.join(os.path.dirname(rel), target)).replace(os.sep, "/")
        if pointed not in stored and pointed not in links and not any(
                p.startswith(pointed + "/") for p in stored):
            del links[rel]
            skipped.append(Skipped(rel, "points to a file that is left out"))
    return FolderScan(files, links, skipped)


def files_to_store(top: Path, ignore: Callable[[str], bool] | None, links: LinkPolicy,
                   on_skip: Callable[[Skipped], None] | None) -> tuple[list[tuple[str, Path]], dict[str, str]]:
    """The (relative path, absolute path) of the files of *top* to store, and the links kept,
    under *links*: ``keep`` keeps links inside the folder as links (others reach *on_skip*),
    ``follow`` stores what they point at. One rule for every store a folder goes into."""
    if links == "keep":
        scan = scan_keeping_links(top, ignore)
        for item in scan.skipped:
            if on_skip:
                on_skip(item)
        return scan.files, scan.links
    return list(walk_following_links(top, ignore)), {}


def walk_following_links(top: Path, ignore: Callable[[str], bool] | None) -> Iterator[tuple[str, Path]]:
    """(relative posix path, absolute path) of every regular file under *top*, sorted.

    Symlinks are followed; broken links and special files are skipped. A directory link that
    leads back to one of its own ancestors is not descended again (it would never end).
    """
    chains: dict[str, frozenset[str]] = {str(top): frozenset()}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        real, chain = os.path.realpath(dirpath), chains.pop(dirpath)
        if real in chain:
            dirnames[:] = []
            continue
        rel_dir = Path(dirpath).relative_to(top).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        # Directories reach `ignore` with a trailing slash, as in .gitignore patterns.
        dirnames[:] = sorted(d for d in dirnames if not (ignore and ignore(prefix + d + "/")))
        for d in dirnames:
            chains[os.path.join(dirpath, d)] = chain | {real}
        for name in sorted(filenames):
            full = Path(dirpath, name)
            if full.is_file() and not (ignore and ignore(prefix + name)):
                yield prefix + name, full


def make_folders_read_only(top: Path) -> None:
    """Folders under *top* (links not followed) lose their write bits, deepest first."""
    if not top.is_dir() or top.is_symlink():
        return
    for root, dirs, _ in os.walk(top, topdown=False):
        for d in dirs:
            full = os.path.join(root, d)
            if not os.path.islink(full):
                os.chmod(full, 0o555)
    os.chmod(top, 0o555)


def copy_tree_keeping_links(source: Path, target: Path, on_skip: Callable[[Skipped], None]) -> None:
    """Copy *source* into *target* (merging), links inside kept as links, links that point
    outside, dangle or loop skipped and reported; never fails on such a link."""
    scan = scan_keeping_links(source)
    for item in scan.skipped:
        on_skip(item)
    for rel, path in scan.files:
        out = target / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.is_symlink():
            out.unlink()
        shutil.copy2(path, out)
    for rel, link_target in scan.links.items():
        out = target / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.is_symlink() or out.is_file():
            out.unlink()
        elif out.is_dir():
            remove_tree(out)
        os.symlink(link_target, out)
