"""The process that serves one read-only FUSE mount of remote data:
``python -m openaml.services.fuse_server`` (started by :mod:`openaml.services.fuse_mounts`).

It reads one JSON line on standard input (a :class:`~openaml.services.fuse_mounts.MountRequest`:
the workspace, the datastore or URI, the listing made by the job's agent and the mount point),
opens the storage itself (the datastore's secrets come from the workspace, never through a pipe
or an argument), mounts, and writes ``{"ready": true}`` on standard output once the kernel has
the mount. It then serves reads until standard input closes, which happens when the agent
unmounts the input or dies however it dies: it unmounts (lazily if something still holds a
file open) and exits. So the process never outlives the job's agent.

Names and sizes come from the listing (no request per ``stat``); bytes are read from the
storage on demand through fsspec, 4 MiB at a time, except for objects the workspace already
holds unchanged (same ETag): those are read from the local store. Writes fail with EROFS: the
mount is read-only for the kernel (``-o ro``) and every writing operation refuses too.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from openaml.services.fuse_mounts import unmount
from openaml.services.remote_data import RemoteListing, RemoteObject

# Remote reads are made in blocks of this size (the kernel asks for 128 KiB at a time).
BLOCK_SIZE = 4 * 1024 * 1024


@dataclass
class _Handle:
    obj: RemoteObject
    file: BinaryIO | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class ReadOnlyTree:
    """The file tree of a listing, served read-only: ``/<root>`` is the file or folder listed.

    *opener* opens an object for reading (remote or local); it is called on the first read of
    each open file, so listing a folder costs no request."""

    def __init__(self, listing: RemoteListing, opener: Any, *, mounted_at: float | None = None) -> None:
        self.opener = opener
        self.files: dict[str, RemoteObject] = {}
        self.dirs: dict[str, set[str]] = {"/": set()}
        self.stamp = mounted_at or time.time()
        prefix = f"/{listing.root}"
        if listing.kind == "file":
            self.files[prefix] = listing.objects[listing.root]
            self.dirs["/"].add(listing.root)
        else:
            self.dirs[prefix] = set()
            self.dirs["/"].add(listing.root)
            for name, obj in listing.objects.items():
                self._add(f"{prefix}/{name}", obj)
        self.handles: dict[int, _Handle] = {}
        self.next_handle = 1
        self.handles_lock = threading.Lock()
        self.uid, self.gid = os.getuid(), os.getgid()

    def _add(self, path: str, obj: RemoteObject) -> None:
        self.files[path] = obj
        parts = path.split("/")[1:]
        for depth in range(1, len(parts)):
            self.dirs.setdefault("/" + "/".join(parts[:depth]), set()).add(parts[depth])

    # -- what the kernel asks ------------------------------------------------------------------
    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        base = {"st_uid": self.uid, "st_gid": self.gid, "st_atime": self.stamp, "st_ctime": self.stamp}
        if path in self.dirs:
            return {**base, "st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2, "st_mtime": self.stamp}
        obj = self.files.get(path)
        if obj is None:
            raise _error(errno.ENOENT)
        return {**base, "st_mode": stat.S_IFREG | 0o444, "st_nlink": 1, "st_size": obj.size,
                "st_mtime": obj.mtime or self.stamp, "st_blocks": (obj.size + 511) // 512}

    def readdir(self, path: str, fh: int) -> list[str]:
        if path not in self.dirs:
            raise _error(errno.ENOTDIR if path in self.files else errno.ENOENT)
        return [".", "..", *sorted(self.dirs[path])]

    def open(self, path: str, flags: int) -> int:
        obj = self.files.get(path)
        if obj is None:
            raise _error(errno.EISDIR if path in self.dirs else errno.ENOENT)
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC | os.O_CREAT):
            raise _error(errno.EROFS)
        with self.handles_lock:
            number = self.next_handle
            self.next_handle += 1
            self.handles[number] = _Handle(obj)
        return number

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        handle = self.handles.get(fh)
        if handle is None:
            raise _error(errno.EBADF)
        if offset >= handle.obj.size:
            return b""
        with handle.lock:
            try:
                if handle.file is None:
                    handle.file = self.opener(handle.obj)
                handle.file.seek(offset)
                return handle.file.read(min(size, handle.obj.size - offset))
            except FileNotFoundError:
                raise _error(errno.ENOENT) from None
            except OSError as exc:
                raise _error(exc.errno or errno.EIO) from None
            except Exception:  # noqa: BLE001 - a storage error is an I/O error for the reader
                raise _error(errno.EIO) from None

    def release(self, path: str, fh: int) -> int:
        with self.handles_lock:
            handle = self.handles.pop(fh, None)
        if handle is not None and handle.file is not None:
            with handle.lock:
                try:
                    handle.file.close()
                except Exception:  # noqa: BLE001 - closing a read handle cannot lose data
                    pass
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        used = sum(o.size for o in self.files.values())
        blocks = (used + 4095) // 4096
        return {"f_bsize": 4096, "f_frsize": 4096, "f_blocks": blocks, "f_bfree": 0, "f_bavail": 0,
                "f_files": len(self.files) + len(self.dirs), "f_ffree": 0, "f_favail": 0, "f_namemax": 255}

    def access(self, path: str, amode: int) -> int:
        if path not in self.files and path not in self.dirs:
            raise _error(errno.ENOENT)
        if amode & os.W_OK:
            raise _error(errno.EROFS)
        return 0


def _error(code: int) -> Exception:
    import mfusepy

    return mfusepy.FuseOSError(code)


# Every operation that would change the tree: refused, whatever the kernel lets through.
_WRITES = ("chmod", "chown", "create", "mkdir", "mknod", "rename", "rmdir", "symlink", "link", "truncate",
           "unlink", "utimens", "write", "setxattr", "removexattr", "fallocate")


def _operations(tree: ReadOnlyTree, on_ready: Any) -> Any:
    """mfusepy's ``Operations`` over *tree* (built here: mfusepy is imported only in this process)."""
    import mfusepy

    class Operations(mfusepy.Operations):
        use_ns = False

        def init(self, path: str) -> None:
            on_ready()

        getattr = staticmethod(tree.getattr)
        readdir = staticmethod(tree.readdir)
        open = staticmethod(tree.open)
        read = staticmethod(tree.read)
        release = staticmethod(tree.release)
        statfs = staticmethod(tree.statfs)
        access = staticmethod(tree.access)

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise mfusepy.FuseOSError(errno.EROFS)

    for name in _WRITES:
        setattr(Operations, name, staticmethod(refuse))
    return Operations()


# -- the process ----------------------------------------------------------------------------------
def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _watch_stdin(mountpoint: str, fusermount: str | None) -> None:
    """Block until the agent closes our standard input (it unmounts, or it died), then unmount."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        unmount(mountpoint, fusermount)


def _opener(ctx: Any, storage: Any) -> Any:
    """Open an object for reading: the local blob when the workspace holds it unchanged (by
    ETag, as downloads remember them), else the remote object, read 4 MiB at a time."""
    from openaml.services.remote_data import remote_digests

    cache = remote_digests(ctx)
    cache_lock = threading.Lock()

    def open_object(obj: RemoteObject) -> BinaryIO:
        if obj.tag:
            with cache_lock:
                digest = cache.get(storage.identity, obj.path, obj.tag, obj.size)
            blob = ctx.artifacts.local_blob(digest) if digest and ctx.artifacts.has(digest) else None
            if blob is not None:
                return open(blob, "rb")
        return storage.fs.open(obj.path, "rb", block_size=BLOCK_SIZE, cache_type="readahead")

    return open_object


def serve(request: dict[str, Any]) -> int:
    """Mount what *request* says and serve it until standard input closes."""
    import mfusepy

    from openaml.services.datastore_io import open_remote
    from openaml.services.settings import Settings
    from openaml.services.workspaces import WorkspaceService

    settings = Settings.from_env()
    workspaces = WorkspaceService(settings)
    ctx = workspaces.open(request["workspace"])
    storage = open_remote(ctx, datastore=request.get("datastore"), uri=request.get("uri"))
    if storage is None:
        raise ValueError("the mount request names no remote storage")
    tree = ReadOnlyTree(RemoteListing.from_dict(request["listing"]), _opener(ctx, storage))
    mountpoint, fusermount = request["mountpoint"], request.get("fusermount")
    operations = _operations(tree, lambda: _say({"ready": True}))
    threading.Thread(target=_watch_stdin, args=(mountpoint, fusermount), daemon=True, name="stdin").start()
    mfusepy.FUSE(operations, mountpoint, foreground=True, nothreads=False, ro=True,
                 fsname=f"openaml:{request.get('label', 'input')}"[:100], default_permissions=True,
                 attr_timeout=3600, entry_timeout=3600, negative_timeout=3600)
    return 0


def main() -> int:
    line = sys.stdin.buffer.readline()
    try:
        request = json.loads(line)
    except ValueError:
        _say({"error": "no mount request on standard input"})
        return 2
    try:
        return serve(request)
    except BaseException as exc:  # noqa: BLE001 - the agent reads why, then falls back or fails
        from openaml.errors import OpenAMLError

        message = exc.message if isinstance(exc, OpenAMLError) else f"{type(exc).__name__}: {exc}"
        _say({"error": (message.splitlines() or [type(exc).__name__])[0][:500]})
        return 1


if __name__ == "__main__":
    sys.exit(main())
