"""Content-addressed artifact store: every distinct file is stored once, under its sha256.

Layout under the root::

    blobs/sha256/<first 2 hex>/<digest>   one blob per distinct content (manifests included)
    tmp/                                  uploads in flight (local roots only)

An upload is hashed while it streams into a temp file and published only when complete; a blob
that already exists is never written again. ``put_path`` writes the manifest blob last, so an
interrupted upload leaves no manifest (only unreferenced blobs or temp files, which are harmless).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from openaml.errors import AlreadyExistsError, IntegrityError, MissingFileError, NotFoundError, ValidationError
from openaml.store._blobs import BlobBackend, backend_for
from openaml.store.manifest import Manifest, ManifestEntry, check_digest

__all__ = ["ArtifactStore", "Manifest", "ManifestEntry", "Progress"]

CHUNK = 1024 * 1024
# A manifest is read whole; this bounds the memory a digest naming some other, large blob (a
# LocalUpload URI written by hand) can take. ~200 bytes a file: a million files fit.
MAX_MANIFEST_BYTES = 256 * 1024 * 1024

#: ``progress(bytes_done_increment, total_bytes)``; may raise to abort the transfer.
Progress = Callable[[int, int], None]


def _key(digest: str) -> str:
    check_digest(digest)  # the digest becomes a path: refuse anything but 64 hex characters
    return f"blobs/sha256/{digest[:2]}/{digest}"


def _hash_file(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _walk(top: Path, ignore: Callable[[str], bool] | None) -> Iterator[tuple[str, Path]]:
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


class ArtifactStore:
    """Content-addressed blobs and manifests over a local folder or any fsspec URL."""

    def __init__(self, root_url: str, storage_options: dict | None = None) -> None:
        self.root_url = str(root_url)
        self._blobs: BlobBackend = backend_for(self.root_url, storage_options)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.root_url!r})"

    # ---- writing ------------------------------------------------------------------------------

    def _upload(self, source: BinaryIO, total: int, progress: Progress | None) -> ManifestEntry:
        """Stream *source* into a temp file while hashing it, then publish it unless it exists."""
        temp_path, out = self._blobs.new_temp()
        published = False
        try:
            h, size = hashlib.sha256(), 0
            with out:
                while chunk := source.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                    if progress:
                        progress(len(chunk), total)
            digest = h.hexdigest()
            if not self._blobs.exists(_key(digest)):
                self._blobs.publish(temp_path, _key(digest))
                published = True
            return ManifestEntry(digest=digest, size=size)
        finally:
            if not published:
                self._blobs.discard(temp_path)

    def put_file(
        self, local_path: str | os.PathLike[str], *, progress: Progress | None = None,
    ) -> ManifestEntry:
        """Store one local file; identical content already stored costs one read and no write."""
        path = Path(local_path)
        if not path.is_file():
            raise MissingFileError(f"no such file: {path}", path=str(path))
        # Read-only pass first, so re-registering unchanged content writes nothing at all.
        digest, size = _hash_file(path)
        if self._blobs.exists(_key(digest)):
            if progress:
                progress(size, size)
            return ManifestEntry(digest=digest, size=size)
        with open(path, "rb") as f:
            # Hash again while copying: the stored blob must match its name even if the file
            # changed between the two passes.
            return self._upload(f, size, progress)

    def put_bytes(self, data: bytes) -> ManifestEntry:
        """Store *data*; a no-op when those bytes are already stored."""
        digest = hashlib.sha256(data).hexdigest()
        if self._blobs.exists(_key(digest)):
            return ManifestEntry(digest=digest, size=len(data))
        return self._upload(io.BytesIO(data), len(data), None)

    def put_path(
        self, local_path: str | os.PathLike[str], *, ignore: Callable[[str], bool] | None = None,
        progress: Progress | None = None,
    ) -> tuple[str, Manifest]:
        """Store a file or a folder and its manifest; returns ``(manifest_digest, manifest)``.

        *ignore* gets each relative posix path (directories with a trailing ``/``) and returns
        True to leave it out. The manifest blob is written last.
        """
        src = Path(os.path.abspath(local_path))
        if src.is_file():
            entry = self.put_file(src, progress=progress)
            manifest = Manifest(root=src.name, kind="file", files={src.name: entry})
        elif src.is_dir():
            manifest = self._put_folder(src, ignore, progress)
        else:
            raise MissingFileError(f"no such file or folder: {local_path}", path=str(local_path))
        return self.put_bytes(manifest.to_json()).digest, manifest

    def _put_folder(self, src: Path, ignore: Callable[[str], bool] | None,
                    progress: Progress | None) -> Manifest:
        found = list(_walk(src, ignore))
        total = sum(p.stat().st_size for _, p in found)
        # Report against the folder's total, not each file's.
        each = (lambda done, _file_total: progress(done, total)) if progress else None
        files = {rel: self.put_file(path, progress=each) for rel, path in found}
        return Manifest(root=src.name or "root", kind="folder", files=files)

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
        progress: Progress | None = None, overwrite: bool = False,
    ) -> Path:
        """Write the content as ``dest_dir/<root>`` and return that path.

        Files are staged in a temp folder inside *dest_dir*, each verified against its digest
        (:class:`IntegrityError` on mismatch), and renamed into place only when all are good.
        An existing ``dest_dir/<root>`` raises :class:`AlreadyExistsError` unless *overwrite*.
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
            each = (lambda done, _t: progress(done, manifest.total_size)) if progress else None
            for rel, entry in sorted(manifest.files.items()):
                out = staged / rel if manifest.kind == "folder" else staged
                out.parent.mkdir(parents=True, exist_ok=True)
                self._copy_verified(entry, out, each)
            if target.exists() or target.is_symlink():
                os.replace(target, staging / "old")  # deleted with the staging folder
            os.replace(staged, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def _copy_verified(self, entry: ManifestEntry, out: Path, progress: Progress | None) -> None:
        if not self.has(entry.digest):
            raise IntegrityError(f"blob {entry.digest} for {out.name} is missing from {self.root_url}",
                                 digest=entry.digest)
        h, size = hashlib.sha256(), 0
        with self.open(entry.digest) as src, open(out, "wb") as dst:
            while chunk := src.read(CHUNK):
                h.update(chunk)
                dst.write(chunk)
                size += len(chunk)
                if progress:
                    progress(len(chunk), entry.size)
        if h.hexdigest() != entry.digest or size != entry.size:
            raise IntegrityError(f"blob {entry.digest} for {out.name} is corrupt: its content does not "
                                 "match its digest", digest=entry.digest)
