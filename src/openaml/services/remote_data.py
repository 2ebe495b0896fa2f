"""Moving data between a datastore's remote storage and the workspace's content-addressed store.

:func:`fetch` reads a remote file or folder into the store and returns its manifest. Each remote
object's digest is remembered by its storage, path and ETag (:class:`RemoteDigestCache`), so an
unchanged object is never downloaded twice: a second read of an unchanged folder is one listing.
The files that must come over the network are fetched concurrently (one ``get`` of every file:
adlfs and s3fs run them as concurrent requests), then hashed and moved into the store.

:func:`publish` writes stored content to a remote path so that a reader never sees half of it:

1. every file is uploaded under a staging prefix beside the data, ``.openaml-staging/<id>/``
   at the datastore's root (never under the destination, so no reader of it sees a staged file);
2. only when all are there, each is copied into place server-side (one request per file; an
   object appears whole or not at all);
3. the staging prefix is removed, whatever happened.

If a copy in step 2 fails, the files this publish had already placed at the destination (those
that were not there before) are removed again, so a failed publish leaves the destination as it
was; a file it replaced cannot be restored (object stores keep no old version unless versioning
is on). A process killed during step 1 leaves only the staging prefix, which no reader of the
destination sees and which the next publish of any output to that datastore removes once it is
a day old.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from openaml.errors import ValidationError
from openaml.paths import check_relative
from openaml.services.contents import Content
from openaml.services.workspaces import WorkspaceContext
from openaml.store.artifacts import Manifest, ManifestEntry
from openaml.store.digest_cache import RemoteDigestCache
from openaml.store.storage import Storage, version_tag

STAGING_PREFIX = ".openaml-staging"
STALE_STAGING_SECONDS = 86400.0
REMOTE_DIGESTS = "remote-digests.sqlite"


@dataclass(frozen=True)
class Transfer:
    """What a fetch or a publish moved: files and bytes in all, how many of them crossed the
    network, and how long it took."""

    files: int
    bytes: int
    moved_files: int
    moved_bytes: int
    seconds: float

    def describe(self, verb: str) -> str:
        """``12 files, 3.4 MiB (2 files, 1.0 MiB downloaded; 10 unchanged, from the cache) in 0.8 s``."""
        kept = self.files - self.moved_files
        detail = f"{_files(self.moved_files)}, {_size(self.moved_bytes)} {verb}"
        if kept:
            detail += f"; {kept} unchanged, from the cache"
        return f"{_files(self.files)}, {_size(self.bytes)} ({detail}) in {self.seconds:.1f} s"


def describe_listing(listing: "RemoteListing") -> str:
    """``12 files, 3.4 MiB``."""
    return f"{_files(len(listing.objects))}, {_size(listing.total_size)}"


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def remote_digests(ctx: WorkspaceContext) -> RemoteDigestCache:
    """The workspace's cache of remote objects' digests (a file beside its metadata)."""
    return RemoteDigestCache(ctx.folder / REMOTE_DIGESTS)


# -- reading ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RemoteObject:
    """One object of a listing: its path on the file system, size, version tag (ETag, else
    modification time; None when the store gives neither) and modification time (seconds)."""

    path: str
    size: int
    tag: str | None
    mtime: float | None = None


@dataclass(frozen=True)
class RemoteListing:
    """What a remote file or folder holds: its root name (the folder's or file's last part),
    its kind (``file``/``folder``) and its objects by path inside the root (for a file, the
    root name itself). Every name is one a folder on disk can hold."""

    root: str
    kind: str
    objects: dict[str, RemoteObject]

    @property
    def total_size(self) -> int:
        return sum(o.size for o in self.objects.values())

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root, "kind": self.kind,
                "objects": {n: [o.path, o.size, o.tag, o.mtime] for n, o in self.objects.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RemoteListing":
        objects = {str(n): RemoteObject(str(p), int(s), t, m) for n, (p, s, t, m) in data["objects"].items()}
        return cls(str(data["root"]), str(data["kind"]), objects)


def list_remote(storage: Storage, rel: str, *, field: str = "path") -> RemoteListing:
    """List the remote file or folder *rel* (relative, checked): one ``info`` and, for a
    folder, one recursive listing. Objects whose names no folder on disk could hold are refused."""
    rel = check_relative(rel, field=field, allow_empty=True)
    base = storage.path(rel, field=field)
    shown = rel or "/"
    with storage.errors(f"reading {shown}", missing=f"{shown} does not exist on it"):
        info = storage.fs.info(base)
        folder = info.get("type") == "directory"
        listing = storage.fs.find(base, detail=True, withdirs=False) if folder else {base: info}
    root = PurePosixPath(rel).name or storage.spec.root.strip("/").rsplit("/", 1)[-1] or storage.name
    objects = {}
    for fs_path, item in listing.items():
        name = root if not folder else _member(storage, base, fs_path)
        objects[name] = RemoteObject(fs_path, int(item.get("size") or 0), version_tag(item), _mtime(item))
    return RemoteListing(root, "folder" if folder else "file", objects)


def _mtime(item: dict[str, Any]) -> float | None:
    value = item.get("mtime") or item.get("last_modified") or item.get("LastModified")
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    return None


def fetch(ctx: WorkspaceContext, storage: Storage, rel: str, *, field: str = "path") -> tuple[Content, Transfer]:
    """Store the remote file or folder *rel* (relative, checked) and return its manifest."""
    started = time.monotonic()
    listing = list_remote(storage, rel, field=field)
    shown = check_relative(rel, field=field, allow_empty=True) or "/"
    cache = remote_digests(ctx)
    try:
        entries, todo = _cached(ctx, storage, cache, listing.objects)
        entries.update(_download(ctx, storage, cache, todo, shown))
    finally:
        cache.close()
    files = {name: entries[name] for name in sorted(entries)}
    manifest = Manifest(root=listing.root, kind=listing.kind, files=files)
    digest = ctx.artifacts.put_bytes(manifest.to_json()).digest
    moved = [entries[name] for name, *_ in todo]
    report = Transfer(len(files), manifest.total_size, len(moved), sum(e.size for e in moved),
                      time.monotonic() - started)
    return Content(digest, manifest.root, manifest.kind), report


def _member(storage: Storage, base: str, fs_path: str) -> str:
    """The path of a listed object inside the folder *base*, refused when it is not one a
    folder on disk could hold (``..``, empty parts, control characters)."""
    inner = fs_path[len(base.rstrip("/")) + 1:] if fs_path.startswith(base.rstrip("/") + "/") else fs_path
    try:
        if check_relative(inner, field="path") == inner:
            return inner
        problem = "it is not written the one canonical way (empty or '.' parts)"
    except ValidationError as exc:
        problem = exc.message
    raise ValidationError(f"datastore '{storage.name}' holds an object named {inner!r} under {base!r}, which "
                          f"cannot be a file on disk: {problem}", field="path")


Todo = list[tuple[str, str, str | None, int]]  # (name, remote path, version tag, size)


def _cached(ctx: WorkspaceContext, storage: Storage, cache: RemoteDigestCache,
            wanted: dict[str, RemoteObject]) -> tuple[dict[str, ManifestEntry], Todo]:
    entries: dict[str, ManifestEntry] = {}
    todo: Todo = []
    for name, obj in wanted.items():
        digest = cache.get(storage.identity, obj.path, obj.tag, obj.size) if obj.tag else None
        if digest is not None and ctx.artifacts.has(digest):
            entries[name] = ManifestEntry(digest=digest, size=obj.size)
        else:
            todo.append((name, obj.path, obj.tag, obj.size))
    return entries, todo


def _download(ctx: WorkspaceContext, storage: Storage, cache: RemoteDigestCache, todo: Todo,
              shown: str) -> dict[str, ManifestEntry]:
    if not todo:
        return {}
    with ctx.artifacts.temp_folder() as tmp:
        local = [os.path.join(tmp, str(i)) for i in range(len(todo))]
        with storage.errors(f"downloading {shown}", missing=f"{shown} changed while it was read; read it again"):
            storage.fs.get([fs_path for _, fs_path, _, _ in todo], local)

        def store(i: int) -> ManifestEntry:
            entry = ctx.artifacts.put_file(local[i], move=True)
            name, fs_path, tag, size = todo[i]
            if tag and entry.size == size:
                cache.remember(storage.identity, fs_path, tag, size, entry.digest)
            return entry

        with ThreadPoolExecutor(ctx.artifacts.workers, thread_name_prefix="fetch-store") as pool:
            stored = list(pool.map(store, range(len(todo))))
    return {name: entry for (name, *_), entry in zip(todo, stored)}


# -- writing ------------------------------------------------------------------------------------
def publish(ctx: WorkspaceContext, storage: Storage, rel: str, content: Content, *, label: str,
            warn: Callable[[str], None]) -> Transfer:
    """Write *content* at *rel* on *storage* (a folder's files under it, a file as ``rel``
    itself), atomically as the module says. *label* names the publish in the staging prefix and
    in errors (``job.output``)."""
    started = time.monotonic()
    rel = check_relative(rel, allow_empty=True)
    manifest = ctx.artifacts.get_manifest(content.digest)
    if manifest.kind == "file":
        parent = str(PurePosixPath(rel).parent) if "/" in rel else ""
        files = {manifest.root: manifest.files[manifest.root]}
    else:
        parent, files = rel, manifest.files
    for link in sorted(manifest.links):
        warn(f"{label}: symbolic link {link} is not written to datastore '{storage.name}' (object stores hold "
             "no links)")
    staging = f"{STAGING_PREFIX}/{_safe_label(label)}.{uuid.uuid4().hex[:12]}"
    _sweep_stale_staging(storage, warn)
    with ctx.artifacts.temp_folder() as tmp:
        entries = list(files.values())
        with ThreadPoolExecutor(ctx.artifacts.workers, thread_name_prefix="publish-read") as pool:
            sources = list(pool.map(lambda i: _local_source(ctx, entries[i], Path(tmp), i), range(len(entries))))
        staged = [storage.path(f"{staging}/{name}") for name in files]
        finals = [storage.path(f"{parent}/{name}" if parent else name) for name in files]
        try:
            with storage.errors(f"uploading {label} to {rel or '/'}"):
                storage.fs.put(sources, staged)
            _place(storage, staged, finals, storage.path(parent), f"publishing {label} at {rel or '/'}")
        finally:
            _remove(storage, storage.path(staging), warn)
    total = sum(e.size for e in files.values())
    return Transfer(len(files), total, len(files), total, time.monotonic() - started)


def _safe_label(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:100]


def _local_source(ctx: WorkspaceContext, entry: ManifestEntry, tmp: Path, i: int) -> str:
    """A local file holding the entry's bytes: the blob itself when the store is local."""
    blob = ctx.artifacts.local_blob(entry.digest)
    if blob is not None:
        return str(blob)
    out = tmp / f"blob-{i}"
    with ctx.artifacts.open(entry.digest) as src, open(out, "wb") as dst:
        while chunk := src.read(1024 * 1024):
            dst.write(chunk)
    return str(out)


def _place(storage: Storage, staged: list[str], finals: list[str], base: str, action: str) -> None:
    """Copy the staged files into place; on failure, remove those placed that were new.
    What was there before is one listing of *base* (the destination folder), not a request
    per file."""
    with storage.errors(action):
        before = _listed(storage, base)
    try:
        with storage.errors(action):
            storage.fs.copy(staged, finals)
    except BaseException:
        try:
            now = _listed(storage, base)
            placed = [p for p in finals if p in now and p not in before]
            if placed:
                storage.fs.rm(placed)
        except Exception:  # noqa: BLE001 - the copy's error is the one to report
            pass
        raise


def _listed(storage: Storage, base: str) -> set[str]:
    """Every file under *base* (a folder or the datastore's root), as the file system names them."""
    return {p.rstrip("/") for p in storage.fs.find(base)} if storage.fs.exists(base) else set()


def _remove(storage: Storage, path: str, warn: Callable[[str], None]) -> None:
    try:
        if storage.fs.exists(path):
            storage.fs.rm(path, recursive=True)
    except Exception as exc:  # noqa: BLE001 - a leftover staging prefix is harmless; say so
        warn(f"datastore '{storage.name}': could not remove the staging prefix {path}: {type(exc).__name__}")


def _sweep_stale_staging(storage: Storage, warn: Callable[[str], None]) -> None:
    """Remove staging prefixes a killed publish left, once they are a day old."""
    root = storage.path(STAGING_PREFIX)
    try:
        if not storage.fs.exists(root):
            return
        cutoff = time.time() - STALE_STAGING_SECONDS
        for item in storage.fs.ls(root, detail=True):
            modified = storage.fs.modified(item["name"]) if item.get("type") == "file" else None
            stamp = modified.timestamp() if modified is not None else _newest(storage, item["name"])
            if stamp is not None and stamp < cutoff:
                _remove(storage, item["name"], warn)
    except Exception:  # noqa: BLE001 - sweeping is housekeeping; a publish must not fail on it
        return


def _newest(storage: Storage, folder: str) -> float | None:
    stamps = []
    for path in storage.fs.find(folder):
        try:
            stamps.append(storage.fs.modified(path).timestamp())
        except Exception:  # noqa: BLE001 - a store without modification times: keep the folder
            return None
    return max(stamps) if stamps else None
