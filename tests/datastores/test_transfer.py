"""Large blobs to object storage in parts (``openaml.store.transfer``), on Azurite and moto: sent
straight from the file in several parts, committed under their digest only when what was sent
matches it, and nothing visible at the destination when an upload fails, is interrupted or the
file changed; two uploads of the same bytes at once both succeed; a corrupt blob is refused on
read."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fsspec.asyn import sync_wrapper

from openaml.errors import DatastoreAccessError, IntegrityError
from openaml.store import transfer
from openaml.store.artifacts import ArtifactStore
from openaml.store.workspace_storage import open_artifact_store, open_workspace_storage

from tests.helpers import on_object_storage

pytestmark = [pytest.mark.slow, on_object_storage]

MIB = 1024 * 1024
LARGE = 2 * transfer.PART_SIZE + 3 * MIB  # three parts: two whole, one short


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Remote:
    """An artifact store on a fresh container or bucket, and the test's own view of it."""

    kind: str
    fs: Any
    base: str  # the store's root as the test's file system names it
    make: Any  # () -> a new ArtifactStore on the same prefix, with caches of its own

    def blob(self, digest: str) -> str:
        return f"{self.base}/blobs/sha256/{digest[:2]}/{digest}"

    def open_uploads(self) -> list:
        """Multipart uploads left open in the bucket (S3); Azure keeps no such thing in view."""
        if self.kind != "moto":
            return []
        bucket = self.base.split("/", 1)[0]
        return self.fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", [])

    def parts(self, digest: str) -> int:
        """How many parts the stored object was committed from."""
        path = self.blob(digest)
        if self.kind == "moto":  # a multipart object's ETag is "<md5 of the parts' md5s>-<count>"
            etag = self.fs.info(path)["ETag"].strip('"')
            return int(etag.rsplit("-", 1)[1]) if "-" in etag else 1
        from fsspec.asyn import sync

        container, blob, _ = self.fs.split_path(path)

        async def blocks() -> int:
            async with self.fs.service_client.get_blob_client(container, blob) as client:
                committed, _ = await client.get_block_list("committed")
                return len(committed)
        return sync(self.fs.loop, blocks)


@pytest.fixture
def remote(workspace_storage, tmp_path) -> Remote:
    storage = workspace_storage.storage
    made: list[int] = []

    def make() -> ArtifactStore:
        made.append(1)
        caches = tmp_path / f"caches-{len(made)}"
        caches.mkdir()
        return open_artifact_store(open_workspace_storage(storage, "t"), storage.prefix,
                                   digest_cache=caches / "digests.sqlite", stored_blobs=caches / "stored.sqlite")
    base = f"{storage.container}/{storage.prefix}"
    return Remote(workspace_storage.kind, workspace_storage.fs, base, make)


def large_file(path: Path, size: int = LARGE) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    os.utime(path, (1_000_000_000, 1_000_000_000))  # long settled: the digest cache may keep it
    return data


def test_a_large_file_goes_up_in_parts_under_its_digest_and_reads_back(remote, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    data = large_file(folder / "big.bin")
    (folder / "small.txt").write_text("small\n")
    store = remote.make()
    seen: list[int] = []
    digest, manifest = store.put_path(folder, progress=lambda done, total: seen.append(done))
    assert manifest.files["big.bin"].digest == sha(data)
    assert remote.fs.cat_file(remote.blob(sha(data))) == data
    assert remote.parts(sha(data)) == 3
    assert sum(seen) == LARGE + len("small\n")  # every byte reported once
    out = store.materialize(digest, tmp_path / "read")
    assert (out / "big.bin").read_bytes() == data and (out / "small.txt").read_text() == "small\n"
    assert remote.open_uploads() == []


def test_a_file_changed_after_it_was_hashed_is_never_stored_under_the_old_digest(remote, tmp_path, monkeypatch):
    path = tmp_path / "big.bin"
    old = large_file(path)
    new = os.urandom(LARGE)
    real_hash = ArtifactStore._hash

    def hash_then_change(self, *args, **kwargs):
        digest = real_hash(self, *args, **kwargs)
        path.write_bytes(new)  # the same size: only the bytes tell
        return digest
    monkeypatch.setattr(ArtifactStore, "_hash", hash_then_change)
    entry = remote.make().put_file(path)
    assert entry.digest == sha(new)  # what was stored is what was read, under its own digest
    assert not remote.fs.exists(remote.blob(sha(old)))
    assert remote.fs.cat_file(remote.blob(sha(new))) == new
    assert remote.open_uploads() == []


def _fail_second_part(monkeypatch, kind: str) -> None:
    """Make the storage refuse the second part of any upload (an error of the plugin's own)."""
    if kind == "moto":
        import s3fs

        real = s3fs.S3FileSystem._call_s3

        async def failing(self, method, *args, **kwargs):
            if method == "upload_part" and kwargs.get("PartNumber") == 2:
                raise OSError("connection reset by peer (part 2)")
            return await real(self, method, *args, **kwargs)
        monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", failing)
        monkeypatch.setattr(s3fs.S3FileSystem, "call_s3", sync_wrapper(failing))  # bound to the old one
    else:
        from azure.core.exceptions import ServiceRequestError
        from azure.storage.blob.aio import BlobClient

        real = BlobClient.stage_block

        async def failing(self, block_id, data, *args, **kwargs):
            if base64.b64decode(block_id).decode().endswith("-000002"):
                raise ServiceRequestError("connection reset by peer (part 2)")
            return await real(self, block_id, data, *args, **kwargs)
        monkeypatch.setattr(BlobClient, "stage_block", failing)


def test_a_failed_part_leaves_nothing_visible_and_names_the_storage(remote, tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    data = large_file(folder / "big.bin")
    store = remote.make()
    _fail_second_part(monkeypatch, remote.kind)
    with pytest.raises(DatastoreAccessError) as err:
        store.put_path(folder)
    assert err.value.message.startswith("workspace 't' storage (") and "part 2" in err.value.message
    manifest, _ = ArtifactStore(str(tmp_path / "reference")).put_path(folder)
    assert not remote.fs.exists(remote.blob(sha(data))) and not remote.fs.exists(remote.blob(manifest))
    assert remote.open_uploads() == []
    assert store._blobs._slots._value == transfer.PARTS_IN_FLIGHT  # every slot given back
    monkeypatch.undo()
    digest, _ = store.put_path(folder)  # a retry completes
    assert remote.fs.cat_file(remote.blob(sha(data))) == data and store.has(digest)


def test_an_interrupted_large_upload_commits_nothing(remote, tmp_path):
    path = tmp_path / "big.bin"
    data = large_file(path)
    store = remote.make()

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt("stop")  # at the first part sent
    with pytest.raises(KeyboardInterrupt):
        store.put_file(path, progress=interrupt)
    assert not remote.fs.exists(remote.blob(sha(data)))
    assert remote.open_uploads() == []
    assert store.put_file(path).digest == sha(data)


def test_two_uploads_of_the_same_large_file_at_once_both_succeed(remote, tmp_path):
    path = tmp_path / "big.bin"
    data = large_file(path)
    stores = [remote.make(), remote.make()]  # two workspaces on one storage: neither knows the blob
    start = threading.Barrier(2)
    results: list[Any] = [None, None]

    def upload(i: int) -> None:
        start.wait(timeout=10)
        try:
            results[i] = stores[i].put_file(path).digest
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc
    threads = [threading.Thread(target=upload, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert results == [sha(data), sha(data)]
    assert remote.fs.cat_file(remote.blob(sha(data))) == data
    assert remote.open_uploads() == []


def test_a_commit_never_replaces_an_existing_blob(remote, tmp_path):
    path = tmp_path / "big.bin"
    data = large_file(path)
    remote.make().put_file(path)
    before = remote.fs.info(remote.blob(sha(data)))
    upload = transfer.parts_for(remote.fs)(remote.blob(sha(data)))
    upload.put_part(1, b"other bytes")
    assert upload.commit(1) is False
    after = remote.fs.info(remote.blob(sha(data)))
    assert remote.fs.cat_file(remote.blob(sha(data))) == data
    assert (after.get("etag") or after.get("ETag")) == (before.get("etag") or before.get("ETag"))
    assert remote.open_uploads() == []


def test_a_corrupt_large_blob_is_refused_on_read(remote, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    data = large_file(folder / "big.bin")
    digest, _ = remote.make().put_path(folder)
    remote.fs.pipe_file(remote.blob(sha(data)), os.urandom(len(data)))  # changed behind openaml's back
    with pytest.raises(IntegrityError, match="corrupt"):
        remote.make().materialize(digest, tmp_path / "read")
    assert not (tmp_path / "read" / "data").exists()
