"""Content-addressed artifact store: every distinct file is stored once, under its sha256.

Layout under the root::

    blobs/sha256/<first 2 hex>/<digest>   one blob per distinct content (manifests included)
    tmp/                                  uploads in flight (local roots only)

A blob is published only when complete, under the digest of exactly the bytes it holds (a file
that changes while it is stored never ends up under a wrong name); a blob that already exists is
never written again. ``put_path`` writes the manifest blob last, so an
interrupted upload leaves no manifest (only unreferenced blobs or temp files, which are harmless;
:meth:`ArtifactStore.sweep_temp` removes old temp files). Blobs are read-only files: content is
never changed in place, and :meth:`ArtifactStore.materialize` may hand out hard links to them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, TypeVar

from openaml.errors import AlreadyExistsError, IntegrityError, MissingFileError, NotFoundError, ValidationError
from openaml.store._blobs import HASH_WORKERS, SMALL_BLOB, BlobBackend, backend_for
from openaml.store.digest_cache import DigestCache, file_key, unchanged
from openaml.store.folders import LinkPolicy, Skipped, files_to_store, make_folders_read_only, remove_tree
from openaml.store.manifest import Manifest, ManifestEntry, check_digest

__all__ = ["HASH_WORKERS", "ArtifactStore", "LinkPolicy", "Manifest", "ManifestEntry", "Progress", "Skipped",
           "remove_tree"]

CHUNK = 1024 * 1024
HASH_BUFFER = 256 * 1024  # fits in a core's cache beside sha256's own state
# A manifest is read whole; this bounds the memory a digest naming some other, large blob (a
# LocalUpload URI written by hand) can take. ~200 bytes a file: a million files fit.
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
# Reading from remote storage: small blobs are fetched this many to a batch of the plugin, and
# this many batches (or large blobs) are in flight at once.
FETCH_GROUP = 64
GROUPS_IN_FLIGHT = 8

T = TypeVar("T")
R = TypeVar("R")

#: ``progress(bytes_done_increment, total_bytes)``; may raise to abort the transfer.
Progress = Callable[[int, int], None]


def _key(digest: str) -> str:
    check_digest(digest)  # the digest becomes a path: refuse anything but 64 hex characters
    return f"blobs/sha256/{digest[:2]}/{digest}"


def hash_file(path: Path, progress: Callable[[int], None] | None = None) -> tuple[str, int]:
    """The file's sha256 and size; *progress* gets the bytes read, about every MiB."""
    # Read into one reused buffer: a new 1 MiB bytes object per read costs a page-faulting
    # allocation each time, which made hashing ~2x slower than sha256 itself.
    h, size, unreported = hashlib.sha256(), 0, 0
    buffer = bytearray(HASH_BUFFER)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            h.update(view[:n])
            size += n
            unreported += n
            if progress and unreported >= CHUNK:
                progress(unreported)
                unreported = 0
    if progress and unreported:
        progress(unreported)
    return h.hexdigest(), size


class _Stopped(Exception):
    """Another transfer of the same batch failed: this one gives up (never reaches a caller)."""


class BlobWriter:
    """One blob being written (see :meth:`ArtifactStore.begin_blob`)."""

    def __init__(self, blobs: BlobBackend, max_bytes: int | None) -> None:
        self._blobs, self._max = blobs, max_bytes
        self._temp, self._out = blobs.new_temp()
        self._hash, self.size = hashlib.sha256(), 0
        self._done = False

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._max is not None and self.size > self._max:
            from openaml.errors import PayloadTooLargeError
            raise PayloadTooLargeError(f"a blob is larger than the {self._max} bytes accepted", field="blob")
        self._hash.update(chunk)
        self._out.write(chunk)

    def commit(self, expected: str | None = None) -> ManifestEntry:
        """Publish the blob (unless those bytes are stored already) and return its entry;
        :class:`IntegrityError` when its digest is not *expected*."""
        self._out.close()
        digest = self._hash.hexdigest()
        if expected is not None and digest != expected:
            raise IntegrityError(f"the bytes received hash to {digest}, not {expected}: the upload was "
                                 "changed or cut; nothing was stored", digest=expected)
        if not self._blobs.probably_stored(_key(digest), self.size):
            self._blobs.publish(self._temp, _key(digest))
            self._done = True
        return ManifestEntry(digest=digest, size=self.size)

    def abort(self) -> None:
        """Drop the temp file unless it was published (a no-op after a commit that published)."""
        if not self._done:
            self._done = True
            if not self._out.closed:
                self._out.close()
            self._blobs.discard(self._temp)


class ArtifactStore:
    """Content-addressed blobs and manifests over a local folder or any fsspec URL.

    *backend* (instead of a URL's) is a blob backend opened by the caller: remote storage
    opened with its credentials, ``root_url`` then only names it (no secrets). *digest_cache*
    is where local files' digests are remembered (default: in a local store's folder; none for
    a remote store unless given).
    """

    def __init__(self, root_url: str, storage_options: dict | None = None, *, backend: BlobBackend | None = None,
                 digest_cache: str | os.PathLike[str] | None = None) -> None:
        self.root_url = str(root_url)
        self._blobs: BlobBackend = backend or backend_for(self.root_url, storage_options)
        local_root = getattr(self._blobs, "root", None)
        if digest_cache is None and isinstance(local_root, Path):
            digest_cache = local_root / "digests.sqlite"
        self._digests = DigestCache(Path(digest_cache)) if digest_cache is not None else None

    @property
    def workers(self) -> int:
        """How many transfers (or hashes) this store runs at once: more for remote storage,
        where each request waits on the network."""
        return self._blobs.workers

    @property
    def is_local(self) -> bool:
        """Whether blobs are files of a local folder (else each access is a request)."""
        return self._blobs.temp_parent() is not None

    def __repr__(self) -> str:
        return f"ArtifactStore({self.root_url!r})"

    # ---- writing ------------------------------------------------------------------------------

    def _upload(self, source: BinaryIO, total: int, progress: Progress | None) -> ManifestEntry:
        """Stream *source* into a temp file while hashing it, then publish it unless it exists."""
        writer = self.begin_blob()
        try:
            while chunk := source.read(CHUNK):
                writer.write(chunk)
                if progress:
                    progress(len(chunk), total)
            return writer.commit()
        finally:
            writer.abort()

    def begin_blob(self, *, max_bytes: int | None = None) -> "BlobWriter":
        """A blob written piece by piece (an upload arriving over the network): hashed as it is
        written, published by :meth:`BlobWriter.commit` only when whole and (if a digest is
        expected) verified; :meth:`BlobWriter.abort` (always safe to call) drops it."""
        return BlobWriter(self._blobs, max_bytes)

    def missing_blobs(self, manifest_digest: str) -> list[str]:
        """The digests of the files of a stored manifest that are not stored (``[]``: whole)."""
        manifest = self.get_manifest(manifest_digest)
        digests = sorted({entry.digest for entry in manifest.files.values()})
        present = self._run_all(lambda d: self._blobs.exists(_key(d)), digests)
        return [d for d, ok in zip(digests, present) if not ok]

    def put_file(
        self, local_path: str | os.PathLike[str], *, progress: Progress | None = None, move: bool = False,
    ) -> ManifestEntry:
        """Store one local file; identical content already stored costs one read and no write
        (no read at all for a file the digest cache knows unchanged).

        With *move*, a file the caller will delete anyway (a finished job's output) is moved
        into the store when it can be (same file system, one link to it) instead of copied.
        Whatever the path, the stored blob holds exactly the bytes that were hashed: a file that
        changes while it is stored never ends up under a wrong name.
        """
        path = Path(local_path)
        if not path.is_file():
            raise MissingFileError(f"no such file: {path}", path=str(path))
        before = os.stat(path)
        cached = self._digests.get(before) if self._digests is not None else None
        if cached is not None and self._blobs.probably_stored(_key(cached), before.st_size):
            return self._reported(ManifestEntry(digest=cached, size=before.st_size), progress)
        if not self.is_local and before.st_size <= SMALL_BLOB:
            return self._put_small(path, before, progress, remember=not move)
        # Hashed before it moves, so a blob already stored is not written again. Into a local
        # folder the hash pass is the work (the copy is the kernel's): it reports the progress.
        # To remote storage the upload does, part by part.
        reports = progress if self.is_local else None
        hashed_at = time.time()
        if cached is not None:
            digest, size, reported = cached, before.st_size, False
        else:
            digest, size = self._hash(path, before, remember=not move, progress=reports)
            reported = reports is not None
        key = _key(digest)
        entry = ManifestEntry(digest=digest, size=size)
        if self._blobs.probably_stored(key, size) or (move and self.is_local and self._blobs.adopt(str(path), key)):
            return self._reported(entry, None if reported else progress)
        parts = (lambda n: progress(n, size)) if progress and not reported else None
        if self._blobs.upload_from(str(path), key, digest, parts, lambda: unchanged(before, os.stat(path), hashed_at)):
            return entry
        if move and not self.is_local and self._blobs.adopt(str(path), key):  # the plugin's own upload of it
            return self._reported(entry, None if reported else progress)
        with open(path, "rb") as f:  # no upload from the file itself (or it changed): a hashed temp copy
            return self._upload(f, size, None if reported else progress)

    @staticmethod
    def _reported(entry: ManifestEntry, progress: Progress | None) -> ManifestEntry:
        if progress:
            progress(entry.size, entry.size)
        return entry

    def _put_small(self, path: Path, before: os.stat_result, progress: Progress | None, *,
                   remember: bool) -> ManifestEntry:
        """A small file for remote storage: read once, hashed in memory, written in one request
        (no temp file; what is written is what was hashed). Progress is reported as it is read,
        so an abort stops it before anything is written."""
        hashed_at = time.time()
        h, chunks = hashlib.sha256(), []
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
                chunks.append(chunk)
                if progress:
                    progress(len(chunk), before.st_size)
        data, digest = b"".join(chunks), h.hexdigest()
        if remember and self._digests is not None and file_key(os.stat(path)) == file_key(before):
            self._digests.remember(before, digest, hashed_at)
        if not self._blobs.probably_stored(_key(digest), len(data)):
            self._blobs.write_bytes(_key(digest), data)
        return ManifestEntry(digest=digest, size=len(data))

    def _known(self, path: Path) -> ManifestEntry | None:
        """The entry of a file the digest cache knows unchanged and whose blob is stored."""
        if self._digests is None:
            return None
        info = os.stat(path)
        digest = self._digests.get(info)
        if digest is None or not self._blobs.exists(_key(digest)):
            return None
        return ManifestEntry(digest=digest, size=info.st_size)

    def _hash(self, path: Path, before: os.stat_result, *, remember: bool,
              progress: Progress | None = None) -> tuple[str, int]:
        """Hash the file (stat'ed as *before*), remembering its digest when it did not change."""
        hashed_at = time.time()
        digest, size = hash_file(path, (lambda n: progress(n, before.st_size)) if progress else None)
        if remember and self._digests is not None and file_key(os.stat(path)) == file_key(before):
            self._digests.remember(before, digest, hashed_at)
        return digest, size

    def temp_folder(self) -> "tempfile.TemporaryDirectory[str]":
        """A new temp folder (removed on exit of the ``with``) where files meant for
        ``put_file(..., move=True)`` are written: on the store's own file system when it is a
        local folder, so they are moved in without a copy."""
        return tempfile.TemporaryDirectory(prefix="openaml-fetch-", dir=self._blobs.temp_parent())

    def local_blob(self, digest: str) -> Path | None:
        """The stored blob as a local (read-only) file, or None when blobs are not local files
        (read them with :meth:`open`)."""
        path = self._blobs.local_path(_key(digest))
        return Path(path) if path is not None and os.path.isfile(path) else None

    def put_bytes(self, data: bytes) -> ManifestEntry:
        """Store *data*; a no-op when those bytes are already stored."""
        digest = hashlib.sha256(data).hexdigest()
        if not self._blobs.probably_stored(_key(digest), len(data)):
            self._blobs.write_bytes(_key(digest), data)
        return ManifestEntry(digest=digest, size=len(data))

    def put_path(
        self, local_path: str | os.PathLike[str], *, ignore: Callable[[str], bool] | None = None,
        progress: Progress | None = None, links: LinkPolicy = "follow",
        on_skip: Callable[[Skipped], None] | None = None, move: bool = False, root: str | None = None,
    ) -> tuple[str, Manifest]:
        """Store a file or a folder and its manifest; returns ``(manifest_digest, manifest)``.

        *ignore* gets each relative posix path (directories with a trailing ``/``) and returns
        True to leave it out. *links* says what symbolic links become (see :data:`LinkPolicy`);
        each path left out under ``keep`` is passed to *on_skip*. *move* lets the store take the
        files instead of copying them (see :meth:`put_file`). *root* names the manifest's root
        (default: the file or folder name). The manifest blob is written last.
        """
        src = Path(os.path.abspath(local_path))
        if src.is_file():
            entry = self.put_file(src, progress=progress, move=move)
            name = root or src.name
            manifest = Manifest(root=name, kind="file", files={name: entry})
        elif src.is_dir():
            manifest = self._put_folder(src, ignore, progress, links, on_skip, move, root or src.name or "root")
        else:
            raise MissingFileError(f"no such file or folder: {local_path}", path=str(local_path))
        return self.put_bytes(manifest.to_json()).digest, manifest

    def _put_folder(self, src: Path, ignore: Callable[[str], bool] | None, progress: Progress | None,
                    links: LinkPolicy, on_skip: Callable[[Skipped], None] | None, move: bool,
                    root: str) -> Manifest:
        found, kept = files_to_store(src, ignore, links, on_skip)
        total = sum(p.stat().st_size for _, p in found) if progress else 0
        stop = threading.Event()
        each = self._reporter(progress, total, stop)

        def put(item: tuple[str, Path]) -> ManifestEntry:
            hit = None if move else self._known(item[1])
            if hit is not None:
                if each:
                    each(hit.size, hit.size)
                return hit
            return self.put_file(item[1], progress=each, move=move)

        files: dict[str, ManifestEntry] = {}
        todo = found
        if self.is_local:  # a known file costs a stat here: no thread for it
            todo = []
            for rel, path in found:
                hit = None if move else self._known(path)
                if hit is None:
                    todo.append((rel, path))
                else:
                    files[rel] = hit
                    if each:
                        each(hit.size, hit.size)
        entries = self._run_all(put, todo, stop)
        files.update({rel: entry for (rel, _), entry in zip(todo, entries)})
        files = {rel: files[rel] for rel, _ in found}  # the walk's (sorted) order
        return Manifest(root=root, kind="folder", files=files, links=kept)

    @staticmethod
    def _reporter(progress: Progress | None, total: int, stop: threading.Event) -> Progress | None:
        """*progress* made safe to call from many threads, reporting against *total*; once a
        transfer of the batch failed (or the callback aborted it), every other one stops at its
        next report instead of finishing its file."""
        if progress is None:
            return None
        lock = threading.Lock()

        def each(done: int, _file_total: int) -> None:
            if stop.is_set():
                raise _Stopped()
            with lock:
                progress(done, total)
        return each

    def _run_all(self, fn: Callable[[T], R], items: list[T], stop: threading.Event | None = None, *,
                 workers: int | None = None) -> list[R]:
        """``[fn(item) for item in items]``, *workers* (default :attr:`workers`) at a time. The
        first failure stops the rest (those not started are skipped, running ones stop at their
        next progress report) and is raised once all have returned."""
        workers = workers or self.workers
        if len(items) <= 1 or workers <= 1:
            return [fn(item) for item in items]
        stop = stop or threading.Event()
        failures: list[BaseException] = []
        lock = threading.Lock()

        def guarded(item: T) -> R | None:
            if stop.is_set():
                return None
            try:
                return fn(item)
            except _Stopped:
                return None
            except BaseException as exc:
                with lock:
                    failures.append(exc)
                stop.set()
                raise

        pool = ThreadPoolExecutor(min(workers, len(items)), thread_name_prefix="store")
        try:
            futures = [pool.submit(guarded, item) for item in items]
            for future in futures:
                future.exception()  # waits; the failure itself is kept in failures
        except BaseException:  # interrupted while waiting: start nothing more
            stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if failures:
            raise failures[0]
        return [future.result() for future in futures]  # type: ignore[misc] - none failed

    def put_sub_manifest(self, manifest_digest: str, path: str) -> tuple[str, Manifest]:
        """Store the part of a manifest under *path* (see :meth:`Manifest.sub`) as a manifest."""
        if not path.strip("/"):
            return manifest_digest, self.get_manifest(manifest_digest)
        sub = self.get_manifest(manifest_digest).sub(path)
        return self.put_bytes(sub.to_json()).digest, sub

    def as_folder(self, manifest_digest: str, root: str) -> str:
        """The digest of the same content as a folder named *root*: a folder manifest renamed,
        or a file manifest as a folder holding that one file."""
        manifest = self.get_manifest(manifest_digest)
        files = manifest.files if manifest.kind == "folder" else {manifest.root: manifest.files[manifest.root]}
        renamed = Manifest(root=root, kind="folder", files=files, links=manifest.links)
        return self.put_bytes(renamed.to_json()).digest

    def sweep_temp(self, older_than: float = 86400.0) -> int:
        """Remove uploads in flight older than *older_than* seconds (left by killed processes);
        return how many were removed."""
        return self._blobs.sweep_temp(time.time() - older_than)

    # ---- reading ------------------------------------------------------------------------------

    def has(self, digest: str) -> bool:
        """Whether a blob with this digest is stored."""
        return self._blobs.exists(_key(digest))

    def open(self, digest: str) -> BinaryIO:
        """A binary stream of the blob (not verified; use :meth:`read_bytes` or :meth:`materialize`)."""
        key = _key(digest)
        try:
            return self._blobs.open_read(key)
        except FileNotFoundError:
            raise NotFoundError(f"no blob {digest} in {self.root_url}", digest=digest) from None

    def read_bytes(self, digest: str, *, limit: int | None = None) -> bytes:
        """The blob's bytes, verified against *digest*; with *limit*, a blob larger than that
        many bytes raises :class:`ValidationError` instead of being read into memory."""
        with self.open(digest) as f:
            data = f.read() if limit is None else f.read(limit + 1)
        if limit is not None and len(data) > limit:
            raise ValidationError(f"blob {digest} is larger than {limit} bytes; it is not what was expected "
                                  "here (a manifest)", digest=digest)
        if hashlib.sha256(data).hexdigest() != digest:
            raise IntegrityError(f"blob {digest} in {self.root_url} is corrupt: its content does not "
                                 "match its digest", digest=digest)
        return data

    def get_manifest(self, manifest_digest: str) -> Manifest:
        """The (verified, validated) manifest stored under *manifest_digest*."""
        return Manifest.from_json(self.read_bytes(manifest_digest, limit=MAX_MANIFEST_BYTES))

    def materialize(
        self, manifest_digest: str, dest_dir: str | os.PathLike[str], *,
        progress: Progress | None = None, overwrite: bool = False, share: bool = False,
        read_only: bool = False,
    ) -> Path:
        """Write the content as ``dest_dir/<root>`` and return that path.

        Files are staged in a temp folder inside *dest_dir*, each verified against its digest
        (:class:`IntegrityError` on mismatch), and renamed into place only when all are good.
        An existing ``dest_dir/<root>`` raises :class:`AlreadyExistsError` unless *overwrite*.
        With *share*, files are hard links to the (read-only) blobs where the store is a local
        folder on the same file system: no bytes are copied (nor verified). With *read_only*,
        files lose their write bits and folders become read-only once in place.
        """
        manifest = self.get_manifest(manifest_digest)
        dest_dir = Path(dest_dir)
        target = dest_dir / manifest.root
        if (target.exists() or target.is_symlink()) and not overwrite:
            raise AlreadyExistsError(f"{target} already exists; nothing was written. Ask for overwrite to "
                                     "replace it (overwrite=True, or --overwrite on the command line)",
                                     path=str(target))
        dest_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".openaml-materialize-", dir=dest_dir))
        try:
            (staging / "new").mkdir()
            staged = staging / "new" / manifest.root
            if manifest.kind == "folder":
                staged.mkdir()
            stop = threading.Event()
            each = self._reporter(progress, manifest.total_size, stop)
            copies: list[tuple[ManifestEntry, Path]] = []
            for rel, entry in sorted(manifest.files.items()):
                out = staged / rel if manifest.kind == "folder" else staged
                out.parent.mkdir(parents=True, exist_ok=True)
                if share and self._blobs.link_to(_key(entry.digest), str(out)):
                    if each:
                        each(entry.size, entry.size)
                else:
                    copies.append((entry, out))
            # Copies verify every byte, and from remote storage each is a request: concurrently.
            if len(copies) > 1 and self._blobs.batch_fetch:
                self._fetch_verified(copies, each, stop)
            else:
                self._run_all(lambda item: self._copy_verified(item[0], item[1], each), copies, stop)
            if read_only:
                for rel in manifest.files:
                    os.chmod(staged / rel if manifest.kind == "folder" else staged, 0o444)
            for rel, link_target in sorted(manifest.links.items()):
                out = staged / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(link_target, out)
            if target.exists() or target.is_symlink():
                os.replace(target, staging / "old")  # deleted with the staging folder
            os.replace(staged, target)
            if read_only:
                make_folders_read_only(target)
        finally:
            remove_tree(staging)
        return target

    def materialize_into(self, manifest_digest: str, folder: str | os.PathLike[str]) -> Path:
        """Merge the content into *folder*: a folder's files land directly in it, a file as
        ``folder/<root>``. Each file appears whole (a verified temp copy renamed into place);
        files of *folder* that the content does not name are left as they are. Returns the
        path of the content (*folder*, or the file)."""
        manifest = self.get_manifest(manifest_digest)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        entries = ({manifest.root: manifest.files[manifest.root]} if manifest.kind == "file"
                   else manifest.files)
        def place(item: tuple[str, ManifestEntry]) -> None:
            out = folder / item[0]
            fd, temp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.openaml-")
            os.close(fd)
            try:
                self._copy_verified(item[1], Path(temp), None)
                os.replace(temp, out)
            finally:
                if os.path.lexists(temp):
                    os.unlink(temp)

        for rel in entries:
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        self._run_all(place, sorted(entries.items()))
        for rel, link_target in sorted(manifest.links.items()):
            out = folder / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            temp = out.with_name(f".{out.name}.openaml-link")
            if os.path.lexists(temp):
                os.unlink(temp)
            os.symlink(link_target, temp)
            os.replace(temp, out)
        return folder / manifest.root if manifest.kind == "file" else folder

    def _fetch_verified(self, copies: list[tuple[ManifestEntry, Path]], progress: Progress | None,
                        stop: threading.Event) -> None:
        """Download in batches of the backend (each large blob alone, small ones
        :data:`FETCH_GROUP` at a time), a few batches at once, each verified as soon as it is
        down: hashing overlaps the downloads still running instead of following them all."""
        large = [[item] for item in copies if item[0].size > SMALL_BLOB]
        small = [item for item in copies if item[0].size <= SMALL_BLOB]
        groups = large + [small[i:i + FETCH_GROUP] for i in range(0, len(small), FETCH_GROUP)]

        def fetch(group: list[tuple[ManifestEntry, Path]]) -> None:
            if stop.is_set():
                raise _Stopped()
            self._fetched(group)
            for entry, out in group:
                self._verify(entry, out, progress)
        self._run_all(fetch, groups, stop, workers=GROUPS_IN_FLIGHT)

    def _fetched(self, copies: list[tuple[ManifestEntry, Path]]) -> bool:
        """Download every blob of *copies* in one batch where the backend has one (unverified:
        see :meth:`_verify`); False when it has none."""
        try:
            return self._blobs.fetch_many([_key(entry.digest) for entry, _ in copies], [str(out) for _, out in copies])
        except FileNotFoundError:
            raise IntegrityError(f"a blob of {copies[0][1].parent.name or 'the content'} is missing from "
                                 f"{self.root_url}") from None

    def _verify(self, entry: ManifestEntry, out: Path, progress: Progress | None) -> None:
        """Check a downloaded file against its entry; :class:`IntegrityError` if it differs."""
        digest, size = hash_file(out)
        if digest != entry.digest or size != entry.size:
            raise IntegrityError(f"blob {entry.digest} for {out.name} is corrupt: its content does not "
                                 "match its digest", digest=entry.digest)
        if progress:
            progress(size, entry.size)

    def _copy_verified(self, entry: ManifestEntry, out: Path, progress: Progress | None) -> None:
        h, size = hashlib.sha256(), 0
        buffer = bytearray(HASH_BUFFER)  # reused: see hash_file
        view = memoryview(buffer)
        try:
            src = self._blobs.open_read(_key(entry.digest), entry.size)
        except FileNotFoundError:
            raise IntegrityError(f"blob {entry.digest} for {out.name} is missing from {self.root_url}",
                                 digest=entry.digest) from None
        with src, open(out, "wb") as dst:
            while n := src.readinto(buffer):
                h.update(view[:n])
                dst.write(view[:n])
                size += n
                if progress:
                    progress(n, entry.size)
        if h.hexdigest() != entry.digest or size != entry.size:
            raise IntegrityError(f"blob {entry.digest} for {out.name} is corrupt: its content does not "
                                 "match its digest", digest=entry.digest)

