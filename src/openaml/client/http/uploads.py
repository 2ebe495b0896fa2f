"""Files between a client and a server: local files and folders uploaded (only the bytes the
server lacks, each checked by its digest on arrival, the manifest last, then committed as a code
version), and stored content downloaded through an :class:`~openaml.store.artifacts.ArtifactStore`
whose blobs are the server's (verified, staged and renamed into place as locally).

A dropped connection leaves no asset: nothing names an upload before it is committed whole,
and uploading again sends only what is still missing.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from openaml.client.http.session import HttpSession
from openaml.errors import IntegrityError, MissingFileError
from openaml.store.artifacts import ArtifactStore, hash_file
from openaml.store.folders import LinkPolicy, Skipped, files_to_store
from openaml.store.manifest import Manifest, ManifestEntry

Progress = Callable[[int, int], None]
CHUNK = 1 << 20
WORKERS = 4


@dataclass(frozen=True)
class Uploaded:
    """A committed upload: its manifest digest and the ``LocalUpload`` URI that names it."""

    digest: str
    uri: str


def _hash(path: Path) -> ManifestEntry:
    digest, size = hash_file(path)
    return ManifestEntry(digest=digest, size=size)


class Uploader:
    """Uploads to one workspace of a server."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session

    def upload(self, local: str | os.PathLike[str], *, ignore: Callable[[str], bool] | None = None,
               links: LinkPolicy = "follow", on_skip: Callable[[Skipped], None] | None = None,
               progress: Progress | None = None, datastore: str | None = None) -> Uploaded:
        """Upload a file or folder as the in-process store would store it; return its URI."""
        src = Path(os.path.abspath(local))
        if src.is_file():
            files, kept = [(src.name, src)], {}
        elif src.is_dir():
            files, kept = files_to_store(src, ignore, links, on_skip)
        else:
            raise MissingFileError(f"no such file or folder: {local}", path=str(local))
        with ThreadPoolExecutor(WORKERS) as pool:
            entries = list(pool.map(lambda item: _hash(item[1]), files))
        kind = "file" if src.is_file() else "folder"
        manifest = Manifest(root=src.name or "root", kind=kind, files={rel: e for (rel, _), e in zip(files, entries)},
                            links=kept)
        body = manifest.to_json()
        digest = hashlib.sha256(body).hexdigest()
        self._send_missing(files, entries, body, digest, progress)
        ds = datastore or "workspaceblobstore"
        uri = f"azureml://datastores/{ds}/paths/LocalUpload/{digest}/{manifest.root}"
        answer = self.session.json("PUT", self.session.scope.of("codes", digest, "versions", "1"),
                                   json={"properties": {"codeUri": uri}})
        # With a datastore the asset asked for (the registry checks it exists), the URI names it.
        return Uploaded(digest, uri if datastore else answer["properties"]["codeUri"])

    def _send_missing(self, files: list[tuple[str, Path]], entries: list[ManifestEntry], manifest: bytes,
                      digest: str, progress: Progress | None) -> None:
        wanted = sorted({e.digest for e in entries} | {digest})
        missing = set(self.session.json("POST", self.session.scope.of("blobs", "missing"),
                                        json={"digests": wanted})["missing"])
        todo: dict[str, Path] = {}
        for (_, path), entry in zip(files, entries):
            if entry.digest in missing:
                todo.setdefault(entry.digest, path)
        total = sum(e.size for e in entries)
        if progress:  # what is stored already counts as done
            progress(sum(e.size for e in entries if e.digest not in missing), total)
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(lambda item: self._put(item[0], item[1], progress, total), todo.items()))
        if digest in missing:  # the manifest last: it names only bytes that are there
            self.session.request("PUT", self.session.scope.of("blobs", digest), content=manifest)

    def _put(self, digest: str, path: Path, progress: Progress | None, total: int) -> None:
        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    yield chunk
                    if progress:
                        progress(len(chunk), total)
        try:
            self.session.request("PUT", self.session.scope.of("blobs", digest), content=chunks(),
                                 headers={"Content-Length": str(path.stat().st_size)})
        except IntegrityError:
            raise IntegrityError(f"{path} changed while it was uploaded; nothing was registered. Upload it again "
                                 "once it no longer changes", path=str(path)) from None


class _Body:
    """A streamed response body as the file object the artifact store reads."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self._chunks = response.iter_bytes(CHUNK)
        self._rest = b""

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._rest) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._rest += chunk
        if size < 0:
            size = len(self._rest)
        data, self._rest = self._rest[:size], self._rest[size:]
        return data

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> "_Body":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class HttpBlobs:
    """The blob backend of a server's workspace store, read-only: what downloads read from."""

    workers = WORKERS
    batch_fetch = False  # the store fetches blob by blob, from `workers` threads

    def __init__(self, session: HttpSession) -> None:
        self.session = session

    def _digest(self, key: str) -> str:
        return key.rsplit("/", 1)[-1]

    def exists(self, key: str) -> bool:
        response = self.session.client.head(self.session.scope.of("blobs", self._digest(key)))
        return response.status_code == 200

    def probably_stored(self, key: str, size: int) -> bool:
        return self.exists(key)

    def open_read(self, key: str, size: int | None = None) -> BinaryIO:
        from openaml.errors import NotFoundError
        request = self.session.client.build_request("GET", self.session.scope.of("blobs", self._digest(key)))
        response = self.session.client.send(request, stream=True)
        if response.status_code == 404:
            response.close()
            raise FileNotFoundError(key)
        if response.status_code >= 400:
            response.read()
            raise self.session.error(response) if response.content else NotFoundError(key)
        return _Body(response)  # type: ignore[return-value]

    def new_temp(self) -> tuple[str, BinaryIO]:
        fd, path = tempfile.mkstemp(prefix="openaml-http-")
        return path, os.fdopen(fd, "wb")

    def fetch_many(self, keys: list[str], local_paths: list[str]) -> bool:
        return False

    def publish(self, temp_path: str, key: str) -> None:
        raise NotImplementedError("downloads only: uploads go through Uploader")

    def write_bytes(self, key: str, data: bytes) -> None:
        raise NotImplementedError("downloads only: uploads go through Uploader")

    def upload_from(self, local_path: str, key: str, digest: str, progress: Any, unchanged: Any) -> bool:
        raise NotImplementedError("downloads only: uploads go through Uploader")

    def discard(self, temp_path: str) -> None:
        if os.path.exists(temp_path):
            os.unlink(temp_path)

    def adopt(self, local_path: str, key: str) -> bool:
        return False

    def link_to(self, key: str, local_path: str) -> bool:
        return False

    def sweep_temp(self, before: float) -> int:
        return 0

    def local_path(self, key: str) -> str | None:
        return None

    def temp_parent(self) -> str | None:
        return None


def remote_store(session: HttpSession) -> ArtifactStore:
    """An artifact store whose blobs are the server workspace's (for downloads)."""
    return ArtifactStore(session.server, backend=HttpBlobs(session))  # type: ignore[arg-type]
