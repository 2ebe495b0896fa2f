"""Where an MLTable's files are, and which of them its ``paths`` name.

A :class:`Tree` is the files an MLTable may read: those under its own folder (a folder on this
machine, :class:`LocalTree`, or content of the workspace's store, :class:`StoredTree`) or
under a URI one of its paths names. Nothing outside a tree can be named: a relative path is
checked by :func:`openaml.specs.mltable.check_table_path` and then looked up *in* the tree (a
local one joins it by :func:`openaml.paths.safe_join`, which also refuses a symbolic link leading
out; a stored one holds only the files of its manifest).

URIs (``azureml://datastores/...``, ``wasbs://``, ``abfss://``, ``https://``, ``s3://``, data
assets ``azureml:name:version``, job outputs) are read through the workspace exactly as a job
input in ``download`` mode is (:mod:`openaml.services.job_io`): the datastore's credentials,
the storage mapping of :mod:`openaml.store.storage`, the ETag cache of remote objects.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from openaml.entities.mltable import MLTableDefinition, TablePath
from openaml.errors import NotFoundError, OpenAMLError, ValidationError
from openaml.paths import safe_join
from openaml.specs.mltable import MLTABLE_FILE, check_table_path, is_table_uri
from openaml.store.manifest import Manifest, ManifestEntry

_GLOB = re.compile(r"[*?\[]")


class Tree(Protocol):
    """Files under one root, named by relative posix paths (``""`` is the root itself)."""

    url: str

    def kind(self, rel: str) -> str | None:
        """``"file"``, ``"folder"`` or None (nothing there)."""
        ...

    def files(self, rel: str) -> list[str]:
        """Every file under the folder *rel*, sorted, relative to the root."""
        ...

    def size(self, rel: str) -> int:
        """The size of the file *rel* in bytes."""
        ...

    def read(self, rel: str) -> bytes:
        """The bytes of the file *rel*."""
        ...

    def display(self, rel: str) -> str:
        """How the file *rel* is named in the ``Path`` column and in errors."""
        ...


class LocalTree:
    """A folder on this machine. Symbolic links are followed only while they stay inside it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))
        self.url = str(self.root)

    def _path(self, rel: str) -> Path:
        return safe_join(self.root, rel, field="paths")

    def kind(self, rel: str) -> str | None:
        path = self._path(rel)
        return "file" if path.is_file() else "folder" if path.is_dir() else None

    def files(self, rel: str) -> list[str]:
        base = self._path(rel)
        found = []
        for folder, dirs, names in os.walk(base):  # links to folders are not descended into
            dirs.sort()
            for name in names:
                inner = Path(folder, name).relative_to(self.root).as_posix()
                if self._path(inner).is_file():
                    found.append(inner)
        return sorted(found)

    def size(self, rel: str) -> int:
        return self._path(rel).stat().st_size

    def read(self, rel: str) -> bytes:
        return self._path(rel).read_bytes()

    def display(self, rel: str) -> str:
        return str(self.root / rel) if rel else str(self.root)


class StoredTree:
    """A file or folder in the workspace's content-addressed store (what a URI was read into)."""

    def __init__(self, manifest: Manifest, read_blob: Callable[[str], bytes], url: str) -> None:
        self.manifest, self._read_blob, self.url = manifest, read_blob, url.rstrip("/")

    def _file(self, rel: str) -> str | None:
        """The manifest's file *rel* names (a link inside the root is followed), or None."""
        if self.manifest.kind == "file":
            return self.manifest.root if rel == "" else None
        for _ in range(40):  # links to links, not forever
            if rel in self.manifest.files:
                return rel
            target = self.manifest.links.get(rel)
            if target is None:
                return None
            rel = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
        return None

    def kind(self, rel: str) -> str | None:
        if self._file(rel) is not None:
            return "file"
        if self.manifest.kind == "folder" and (rel == "" or any(f.startswith(rel + "/") for f in self.manifest.files)):
            return "folder"
        return None

    def files(self, rel: str) -> list[str]:
        if self.manifest.kind == "file":
            return [""] if rel == "" else []
        prefix = rel + "/" if rel else ""
        return sorted(f for f in self.manifest.files if f.startswith(prefix))

    def _entry(self, rel: str) -> ManifestEntry:
        name = self._file(rel)
        if name is None:
            raise NotFoundError(f"{self.display(rel)} is not a file", path=rel)
        return self.manifest.files[name]

    def size(self, rel: str) -> int:
        return self._entry(rel).size

    def read(self, rel: str) -> bytes:
        return self._read_blob(self._entry(rel).digest)

    def display(self, rel: str) -> str:
        return f"{self.url}/{rel}" if rel else self.url


@dataclass(frozen=True)
class FileRef:
    """One file an MLTable reads: its tree and its path there."""

    tree: Tree
    rel: str

    @property
    def name(self) -> str:
        return self.tree.display(self.rel)


TreeOpener = Callable[[str, str], Tree]  # (uri, field) -> the tree behind a URI


def table_files(table: MLTableDefinition, home: Tree, open_uri: TreeOpener) -> list[FileRef]:
    """Every file *table*'s ``paths`` name, in their order (a folder's and a pattern's files
    sorted). *home* is the MLTable file's folder; *open_uri* reads a URI into a tree. A path
    that names nothing is an error naming the MLTable file and the line, as in Azure."""
    found: list[FileRef] = []
    for i, entry in enumerate(table.paths):
        field = f"paths.{i}.{entry.kind}"
        rel = check_table_path(entry.value, field=field, file=table.file, line=entry.line)
        found.extend(_expand(entry, rel, home, open_uri, field, table.file))
    return found


def _expand(entry: TablePath, rel: str, home: Tree, open_uri: TreeOpener, field: str,
            file: str | None) -> list[FileRef]:
    tree, inner, glob = home, rel, None
    if entry.kind == "pattern":
        base, glob = split_pattern(rel)
        tree, inner = (_open(open_uri, base, field, file, entry.line), "") if is_table_uri(base) else (home, base)
    elif is_table_uri(rel):
        tree, inner = _open(open_uri, rel, field, file, entry.line), ""

    def missing(what: str) -> NotFoundError:
        return NotFoundError(f"{file or 'MLTable'}:{entry.line or '?'}, field '{field}': {entry.value!r} {what}",
                             file=file, field=field, line=entry.line)
    kind = tree.kind(inner)
    if entry.kind == "file":
        if kind != "file":
            raise missing(f"names no file in {tree.display(inner) if inner else tree.url}")
        return [FileRef(tree, inner)]
    if kind != "folder":
        raise missing("matches no file" if glob else f"names no folder in {tree.url}")
    names = [f for f in tree.files(inner) if not (tree is home and f == MLTABLE_FILE)]
    if glob is not None:
        names = [f for f in names if glob.match(f[len(inner) + 1:] if inner else f)]
        if not names:
            raise missing("matches no file")
    return [FileRef(tree, name) for name in names]


def _open(open_uri: TreeOpener, uri: str, field: str, file: str | None, line: int | None) -> Tree:
    """The tree behind *uri*; an error reading it names the MLTable file and line as well."""
    try:
        return open_uri(uri, field)
    except OpenAMLError as exc:
        where = f"{file or 'MLTable'}" + (f":{line}" if line else "")
        own_field = isinstance(exc, ValidationError) and exc.details.get("field") == field
        data = exc.to_dict()
        data["message"] = f"{where}, " + (exc.message if own_field else f"field '{field}': {uri}: {exc.message}")
        data["details"] = {**exc.details, "file": file, "line": line, "field": field}
        raise OpenAMLError.from_dict(data) from None


def split_pattern(pattern: str) -> tuple[str, re.Pattern[str]]:
    """``data/2024/*.csv`` -> (``data/2024``, the regular expression of ``*.csv``): the folder
    before the first part holding a wildcard, and what the rest must match below it. A URI's
    scheme and authority stay in the folder."""
    from fsspec.utils import glob_translate

    head, sep, rest = pattern.partition("://")
    parts = (rest if sep else head).split("/")
    if sep:  # keep "scheme://authority" whole: the first part is the authority
        fixed, parts = [parts[0]], parts[1:]
    else:
        fixed = []
    # without a wildcard, the last part is matched literally in its folder
    first = next((i for i, part in enumerate(parts) if _GLOB.search(part)), len(parts) - 1)
    base = "/".join(fixed + parts[:first])
    return (f"{head}://{base}" if sep else base), re.compile(glob_translate("/".join(parts[first:])))
