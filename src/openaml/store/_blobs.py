"""Where blob bytes live: a local folder, or any fsspec file system. Chosen once per store.

Both backends publish a blob only once it is complete, so a reader never sees a partial blob:
the local one renames a finished temp file into place (atomic on one file system), a remote
one uploads a finished local temp file in one object write (atomic per object on blob stores).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from openaml.errors import DatastoreAccessError
from openaml.store.digest_cache import StoredBlobs
from openaml.store.transfer import PARTS_IN_FLIGHT, FileChanged, PartUpload, parts_for, upload_in_parts

if TYPE_CHECKING:
    import fsspec

#: ``errors(action)``: a context manager turning a plugin's errors into one line naming the storage.
Errors = Callable[[str], AbstractContextManager[None]]
# Files of a folder are hashed by a few threads at once (hashlib releases the GIL on large
# buffers): sha256 is the bottleneck of storing into a local folder, not the disk.
HASH_WORKERS = max(1, min(4, os.cpu_count() or 1))
# Requests in flight at once against remote storage: latency, not bandwidth, bounds small files.
TRANSFER_WORKERS = 16
# Blobs up to this size are read in one request, into memory.
SMALL_BLOB = 8 * 1024 * 1024
# Remote blobs up to this size are written only-if-absent without asking first: the question
# costs the round trip the write costs. Larger ones are asked about, to save their upload.
ASK_ABOVE = 1024 * 1024


class BlobBackend(Protocol):
    """Bytes in, bytes out, addressed by a relative posix key such as ``blobs/sha256/ab/ab...``."""

    #: How many transfers the store runs at once.
    workers: int
    #: Whether :meth:`fetch_many` downloads in one concurrent batch (else the store copies
    #: blob by blob, from as many threads as :attr:`workers`).
    batch_fetch: bool

    def exists(self, key: str) -> bool: ...

    def probably_stored(self, key: str, size: int) -> bool:
        """Whether the blob is stored, as far as it is worth asking before writing it: a backend
        may answer False without asking when a write that changes nothing if the blob exists
        costs no more than the question (a small blob on remote storage)."""
        ...

    def open_read(self, key: str, size: int | None = None) -> BinaryIO:
        """The blob's bytes; *size* (when the caller knows it) lets a remote backend choose how."""
        ...

    def new_temp(self) -> tuple[str, BinaryIO]:
        """A new local temp file opened for writing; the caller closes it."""
        ...

    def write_bytes(self, key: str, data: bytes) -> None:
        """Store *data* (already hashed by the caller) at *key* in one step, unless it is there."""
        ...

    def upload_from(self, local_path: str, key: str, digest: str, progress: Callable[[int], None] | None,
                    unchanged: Callable[[], bool]) -> bool:
        """Write the file at *key* straight from where it is, made visible only if it still holds
        the bytes that hashed to *digest* (checked by hashing what is sent, or by *unchanged*:
        the file's identity is the one it was hashed with). False (nothing written) when the
        backend has no such upload or the file changed: the caller then copies it through a
        temp file, hashing the copy."""
        ...

    def fetch_many(self, keys: list[str], local_paths: list[str]) -> bool:
        """Download the blobs to the local files in one concurrent batch, unverified; False
        (nothing done) when the backend has no such batch (the caller copies one by one)."""
        ...

    def publish(self, temp_path: str, key: str) -> None:
        """Make the finished temp file visible at *key* in one step; the temp file is consumed."""
        ...

    def discard(self, temp_path: str) -> None: ...

    def adopt(self, local_path: str, key: str) -> bool:
        """Move a finished local file to *key* if that costs no copy; False when it would."""
        ...

    def link_to(self, key: str, local_path: str) -> bool:
        """Make *local_path* a hard link to the blob if possible; False when it is not."""
        ...

    def sweep_temp(self, before: float) -> int:
        """Remove temp files last changed before the time *before*; return how many."""
        ...

    def local_path(self, key: str) -> str | None:
        """The blob as a local file to read, if it is one; None for remote blobs."""
        ...

    def temp_parent(self) -> str | None:
        """Where local files to :meth:`adopt` should be written (None: the system's temp folder)."""
        ...


def _discard(temp_path: str) -> None:
    try:
        os.unlink(temp_path)
    except FileNotFoundError:
        pass


def _sole_regular_file(path: str) -> bool:
    """Whether *path* is a regular file with no other hard link: a file linked elsewhere (a job
    may link a file it can read into its output) can still change through the other name."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_nlink == 1


class LocalBlobs:
    """Blobs in a local folder; temp files in ``<root>/tmp`` so the final rename never crosses devices."""

    workers = HASH_WORKERS
    batch_fetch = False  # a verified copy (or a hard link) per file is as fast

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def probably_stored(self, key: str, size: int) -> bool:
        return self.exists(key)

    def open_read(self, key: str, size: int | None = None) -> BinaryIO:
        return open(self.root / key, "rb")

    def new_temp(self) -> tuple[str, BinaryIO]:
        fd, path = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
        return path, os.fdopen(fd, "wb")

    def write_bytes(self, key: str, data: bytes) -> None:
        temp_path, out = self.new_temp()
        try:
            with out:
                out.write(data)
            self.publish(temp_path, key)
        except BaseException:
            _discard(temp_path)
            raise

    def upload_from(self, local_path: str, key: str, digest: str, progress: Callable[[int], None] | None,
                    unchanged: Callable[[], bool]) -> bool:
        # The kernel's copy (no pass through Python), trusted as the digest cache is: hashing
        # the copy again would double the cost of storing into a local folder.
        fd, temp_path = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
        os.close(fd)
        published = False
        try:
            size = os.path.getsize(shutil.copyfile(local_path, temp_path))
            if not unchanged():
                return False
            self.publish(temp_path, key)
            published = True
        finally:
            if not published:
                _discard(temp_path)
        if progress:
            progress(size)
        return True

    def fetch_many(self, keys: list[str], local_paths: list[str]) -> bool:
        return False  # a verified copy (or a hard link) per file is as fast

    def publish(self, temp_path: str, key: str) -> None:
        final = self.root / key
        final.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp makes 0600; blobs are shared content, not secrets, and never change in place.
        os.chmod(temp_path, 0o444)
        # A concurrent upload of the same content may win the race; replacing identical bytes is harmless.
        os.replace(temp_path, final)

    def discard(self, temp_path: str) -> None:
        _discard(temp_path)

    def adopt(self, local_path: str, key: str) -> bool:
        if not _sole_regular_file(local_path):
            return False
        final = self.root / key
        try:
            os.chmod(local_path, 0o444)
            try:
                os.rename(local_path, final)
            except FileNotFoundError:  # the blob's folder is new (a rename first saves a syscall)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.rename(local_path, final)
        except OSError:  # another file system: the caller copies instead
            return False
        return True

    def link_to(self, key: str, local_path: str) -> bool:
        try:
            os.link(self.root / key, local_path)
        except OSError:
            return False
        return True

    def local_path(self, key: str) -> str | None:
        return str(self.root / key)

    def temp_parent(self) -> str | None:
        return str(self.tmp)

    def sweep_temp(self, before: float) -> int:
        removed = 0
        for entry in os.scandir(self.tmp):
            try:
                if entry.stat(follow_symlinks=False).st_mtime < before:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
        return removed


class FsspecBlobs:
    """Blobs on any fsspec file system (az://, s3://, memory://, ...).

    The temp file is local: the digest, hence the key, is only known once all bytes are hashed,
    and writing remotely first would cost a server-side copy for the rename. Every request is
    a round trip, so the store runs :attr:`workers` of them at once (fsspec's sync calls may come
    from many threads: they all run on the file system's one event loop). *errors* turns a
    plugin's error into one line naming the storage (:meth:`openaml.store.storage.Storage.errors`);
    a missing blob stays :class:`FileNotFoundError`.
    """

    workers = TRANSFER_WORKERS

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, *, errors: Errors | None = None,
                 known: StoredBlobs | None = None, identity: str = "") -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self._errors = errors or (lambda _action: contextlib.nullcontext())
        self._known, self._identity = known, identity or root
        self._create_only = _create_only_options(fs)
        self._parts = parts_for(fs)
        self._slots = threading.BoundedSemaphore(PARTS_IN_FLIGHT)  # bounds the memory parts take
        # An async plugin's own batch (its requests gathered on its event loop) beats threads
        # that each wait on one request: s3fs's get is ~1.5x its cat_file from 16 threads. A
        # synchronous file system's batch is a loop: threads are better there.
        self.batch_fetch = bool(getattr(fs, "async_impl", False))

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        missing: FileNotFoundError | None = None
        with self._errors(action):
            try:
                yield
            except FileNotFoundError as exc:  # the caller's to handle, not a storage error
                missing = exc
        if missing is not None:
            raise missing

    def exists(self, key: str) -> bool:
        if self._known is not None and self._known.has(self._identity, key):
            return True
        with self._guard("checking a blob"):
            found = bool(self.fs.exists(self._path(key)))
        if found:
            self._remember(key)
        return found

    def probably_stored(self, key: str, size: int) -> bool:
        if self._create_only is not None and size <= ASK_ABOVE:
            return self._known is not None and self._known.has(self._identity, key)
        return self.exists(key)

    def _remember(self, key: str) -> None:
        if self._known is not None:
            self._known.remember(self._identity, key)

    def _upload(self, local_path: str, key: str) -> None:
        """One write of the whole object; where the plugin can, only if it is not there yet
        (an existing blob holds the same bytes: nothing is written and its ETag stays)."""
        with self._guard("writing a blob"):
            try:
                self.fs.put_file(local_path, self._path(key), **(self._create_only or {}))
            except FileExistsError:
                pass
        self._remember(key)

    def open_read(self, key: str, size: int | None = None) -> BinaryIO:
        with self._guard("reading a blob"):
            if size is not None and size <= SMALL_BLOB:
                # One GET; opening a file would ask for its properties first (two round trips).
                return io.BytesIO(self.fs.cat_file(self._path(key)))
            return self.fs.open(self._path(key), "rb")

    def new_temp(self) -> tuple[str, BinaryIO]:
        fd, path = tempfile.mkstemp(prefix="openaml-upload-")
        return path, os.fdopen(fd, "wb")

    def write_bytes(self, key: str, data: bytes) -> None:
        with self._guard("writing a blob"):
            try:
                self.fs.pipe_file(self._path(key), data, **(self._create_only or {}))
            except FileExistsError:
                pass
        self._remember(key)

    def upload_from(self, local_path: str, key: str, digest: str, progress: Callable[[int], None] | None,
                    unchanged: Callable[[], bool]) -> bool:
        # Every part is hashed as it is sent: over the network a second pass costs little.
        if self._parts is None:
            return False
        begin = self._parts

        def guarded(path: str) -> PartUpload:
            with self._guard("writing a blob"):
                return _GuardedUpload(begin(path), self._guard)
        try:
            upload_in_parts(guarded, local_path, self._path(key), digest, slots=self._slots, progress=progress)
        except FileChanged:
            return False
        except DatastoreAccessError:
            # Another upload of the same bytes may have committed first (on Azure its commit
            # drops the blocks this one staged): then the blob is there, and is the same.
            if not self._stored_now(key):
                raise
        self._remember(key)
        return True

    def _stored_now(self, key: str) -> bool:
        try:
            with self._guard("checking a blob"):
                return bool(self.fs.exists(self._path(key)))
        except DatastoreAccessError:
            return False

    def fetch_many(self, keys: list[str], local_paths: list[str]) -> bool:
        if not self.batch_fetch:
            return False
        with self._guard("reading blobs"):
            self.fs.get([self._path(key) for key in keys], local_paths)
        return True

    def publish(self, temp_path: str, key: str) -> None:
        try:
            self._upload(temp_path, key)
        finally:
            self.discard(temp_path)

    def discard(self, temp_path: str) -> None:
        _discard(temp_path)

    def adopt(self, local_path: str, key: str) -> bool:
        """Upload the caller's finished file itself (it deletes it anyway), not a temp copy of it.
        Not a file with other hard links: another name could change it during the upload."""
        if not _sole_regular_file(local_path):
            return False
        self._upload(local_path, key)
        return True

    def link_to(self, key: str, local_path: str) -> bool:
        return False

    def local_path(self, key: str) -> str | None:
        return None

    def temp_parent(self) -> str | None:
        return None

    def sweep_temp(self, before: float) -> int:
        return 0  # temp files are local ones in the system temp folder, removed on discard


class _GuardedUpload:
    """A :class:`PartUpload` whose storage errors are one line naming the storage (the guard
    covers the requests only: a progress callback's or a changed file's exception passes)."""

    def __init__(self, upload: PartUpload, guard: Callable[[str], AbstractContextManager[None]]) -> None:
        self._upload, self._guard = upload, guard

    def put_part(self, number: int, data: bytes) -> None:
        with self._guard("writing a blob"):
            self._upload.put_part(number, data)

    def commit(self, count: int) -> bool:
        with self._guard("writing a blob"):
            return self._upload.commit(count)

    def abort(self) -> None:
        self._upload.abort()


def _create_only_options(fs: fsspec.AbstractFileSystem) -> dict | None:
    """The plugin's option for a write that fails if the object exists (a conditional PUT, one
    request), or None when it has none: adlfs and s3fs (Azurite and moto honour both)."""
    protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    if protocols & {"abfs", "az", "abfss"}:
        return {"overwrite": False}
    if protocols & {"s3", "s3a"}:
        return {"mode": "create"}
    return None


def backend_for(root_url: str, storage_options: dict | None = None) -> BlobBackend:
    """The backend for an fsspec URL or a local path; the file system's plugin loads only now."""
    if "://" not in root_url and "::" not in root_url:
        # A plain path: no need for fsspec, whose import (~20 ms) every job's agent would pay.
        return LocalBlobs(Path(os.path.abspath(os.path.expanduser(root_url))))
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    fs, root = fsspec.core.url_to_fs(root_url, **(storage_options or {}))
    if isinstance(fs, LocalFileSystem):
        return LocalBlobs(Path(root))
    return FsspecBlobs(fs, root)
