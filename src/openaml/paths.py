"""The one function every path built from user input goes through.

A name, a relative path from a spec, a datastore path or an artifact path is hostile until it
has been joined under its root here: :func:`safe_join` refuses absolute parts, ``..``, NUL and
other control characters, and a result that a symlinked parent would take outside the root
(the habit of Werkzeug's ``safe_join`` and of Python's ``tarfile`` data filter). The rest of the
code receives paths that are already inside their root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from openaml.errors import ValidationError

__all__ = ["check_relative", "is_within", "safe_join"]

# C0 controls, DEL and C1 controls: never part of a path we build (they hide in terminals and
# logs, and NUL truncates paths in C libraries).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def check_relative(path: str, *, field: str = "path", allow_empty: bool = False) -> str:
    """Return *path* normalised (``a//b/./c/`` -> ``a/b/c``) if it is a relative posix path
    that stays inside its root; raise :class:`ValidationError` naming *field* otherwise.

    Refused: absolute paths, drive letters, backslashes, ``..`` segments, control characters.
    """
    if not isinstance(path, str):
        raise ValidationError(f"a path must be text, not {type(path).__name__}", field=field)
    if _CONTROL.search(path):
        raise ValidationError(f"path {path!r} holds a control character", field=field)
    if path.startswith(("/", "\\")) or _DRIVE.match(path):
        raise ValidationError(f"path {path!r} must be relative (it is joined under its root)", field=field)
    if "\\" in path:
        raise ValidationError(f"path {path!r} holds a backslash; use '/' between folders", field=field)
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValidationError(f"path {path!r} leaves its root ('..' is not allowed)", field=field)
    if not parts and not allow_empty:
        raise ValidationError("path is empty", field=field)
    return "/".join(parts)


def is_within(path: Path, root: Path) -> bool:
    """Whether *path* is *root* or below it (both taken as given: resolve them first)."""
    return path == root or root in path.parents


def safe_join(root: str | os.PathLike[str], *parts: str, field: str = "path", names: bool = False) -> Path:
    """``root/part/...`` resolved, refusing anything that would end outside *root*.

    Each part is checked by :func:`check_relative` (empty parts are allowed and add nothing).
    With ``names=True`` every part is a *name* (a workspace, a job, an input or output port):
    exactly one folder name, so ``a/b``, ``.`` and the empty string are refused as well; a job
    named ``.`` must not make its scratch folder the parent of every other job's.
    The result is resolved (symlinks followed) and must stay inside the resolved root, so a
    symlinked parent pointing elsewhere is refused too. The returned path is the resolved one.
    """
    base = Path(os.path.realpath(os.fspath(root)))
    rel = [_check_name(p, field) if names else check_relative(p, field=field, allow_empty=True) for p in parts]
    joined = base.joinpath(*[r for r in rel if r])
    resolved = Path(os.path.realpath(joined))
    if not is_within(resolved, base):
        shown = str(PurePosixPath(*[r for r in rel if r])) if any(rel) else "."
        raise ValidationError(f"path {shown!r} leads outside its root through a symbolic link",
                              field=field)
    return resolved


def _check_name(name: str, field: str) -> str:
    normal = check_relative(name, field=field, allow_empty=True)
    if not name or normal != name or "/" in name:
        raise ValidationError(f"{name!r} cannot name a folder: a name is one folder name, "
                              "without '/' and not '.' or empty", field=field)
    return name
