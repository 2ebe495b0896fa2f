"""ArtifactStore on remote blobs (an fsspec file system that is not a local folder): transfers run
concurrently, nothing is a hard link to a blob, read-only inputs are read-only copies, and a
storage error is one line naming the storage."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from fsspec.implementations.memory import MemoryFileSystem

from openaml.errors import DatastoreAccessError, IntegrityError
from openaml.store import transfer
from openaml.store._blobs import TRANSFER_WORKERS, FsspecBlobs
from openaml.store.artifacts import ArtifactStore
from openaml.store.storage import Storage, filesystem_spec
from openaml.entities import LocalDatastore

IN_FLIGHT = 4  # transfers that must be running at the same moment


class BarrierFs(MemoryFileSystem):
    """A memory file system whose uploads (or reads) wait until IN_FLIGHT of them run at once:
    a store that transfers one file at a time breaks the barrier (its timeout) and fails."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.barrier: threading.Barrier | None = None
        self.passed = 0  # transfers that met at the barrier
        self.entered = 0  # transfers that reached the barrier (or passed by it)
        self._lock = threading.Lock()

    def _wait(self) -> None:
        with self._lock:  # only the first IN_FLIGHT transfers wait for each other
            waits = self.barrier is not None and self.entered < IN_FLIGHT
            self.entered += 1
        if waits:
            self.barrier.wait()
            with self._lock:
                self.passed += 1

    def put_file(self, lpath, rpath, *args, **kwargs):
        self._wait()
        return super().put_file(lpath, rpath, *args, **kwargs)

    def pipe_file(self, path, value, *args, **kwargs):  # small files: written from memory
        self._wait()
        return super().pipe_file(path, value, *args, **kwargs)

    def cat_file(self, path, *args, **kwargs):
        self._wait()
        return super().cat_file(path, *args, **kwargs)


def remote_store(tmp_path: Path, fs=None, errors=None) -> tuple[ArtifactStore, BarrierFs, str]:
    """A store on *fs* (a new BarrierFs), the file system, and the store's root in it."""
    fs = fs or BarrierFs(skip_instance_cache=True)
    root = f"/store-{uuid.uuid4().hex}"
    return ArtifactStore(f"memory://{root}", backend=FsspecBlobs(fs, root, errors=errors),
                         digest_cache=tmp_path / "digests.sqlite"), fs, root


def many_files(folder: Path, n: int = 24) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"f{i:03d}.txt").write_text(f"file {i}\n")
    return folder


def test_a_folder_is_uploaded_and_materialized_with_transfers_in_flight_at_once(tmp_path):
    assert TRANSFER_WORKERS >= IN_FLIGHT
    store, fs, _ = remote_store(tmp_path)
    fs.barrier = threading.Barrier(IN_FLIGHT, timeout=10)
    digest, manifest = store.put_path(many_files(tmp_path / "src"))
    assert fs.passed == IN_FLIGHT and len(manifest.files) == 24
    fs.barrier, fs.passed, fs.entered = threading.Barrier(IN_FLIGHT, timeout=10), 0, 0
    out = store.materialize(digest, tmp_path / "dest")
    assert fs.passed == IN_FLIGHT
    assert sorted(p.read_text() for p in out.iterdir()) == sorted(f"file {i}\n" for i in range(24))


def test_with_a_progress_bar_uploads_still_run_at_once(tmp_path):
    store, fs, _ = remote_store(tmp_path)
    fs.barrier = threading.Barrier(IN_FLIGHT, timeout=10)
    seen: list[int] = []
    store.put_path(many_files(tmp_path / "src"), progress=lambda done, total: seen.append(total))
    assert fs.passed == IN_FLIGHT and set(seen) == {sum(len(f"file {i}\n") for i in range(24))}


def test_an_aborted_upload_stops_every_transfer_and_publishes_no_manifest(tmp_path):
    store, _, _ = remote_store(tmp_path)
    calls = []

    def abort(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 3:
            raise KeyboardInterrupt("stop")

    src = many_files(tmp_path / "src", 60)
    with pytest.raises(KeyboardInterrupt):
        store.put_path(src, progress=abort)
    # nothing started after the abort; what was running stopped at its next report
    assert len(calls) < 3 + TRANSFER_WORKERS
    reference, _ = ArtifactStore(str(tmp_path / "ref")).put_path(src)
    assert not store.has(reference)


def test_read_only_inputs_from_remote_blobs_are_read_only_copies(tmp_path):
    store, _, _ = remote_store(tmp_path)
    digest, _ = store.put_path(many_files(tmp_path / "src", 3))
    out = store.materialize(digest, tmp_path / "dest", share=True, read_only=True)
    for path in out.iterdir():
        info = path.stat()
        assert info.st_nlink == 1 and not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert not os.access(out, os.W_OK) or os.geteuid() == 0


def test_a_corrupt_or_missing_remote_blob_is_an_integrity_error(tmp_path):
    store, fs, root = remote_store(tmp_path)
    digest, manifest = store.put_path(many_files(tmp_path / "src", 2))
    first, second = (entry.digest for entry in manifest.files.values())
    fs.pipe_file(f"{root}/blobs/sha256/{first[:2]}/{first}", b"changed!")
    with pytest.raises(IntegrityError, match="corrupt"):
        store.materialize(digest, tmp_path / "a")
    fs.pipe_file(f"{root}/blobs/sha256/{first[:2]}/{first}", b"file 0\n")  # as it was
    fs.rm_file(f"{root}/blobs/sha256/{second[:2]}/{second}")
    with pytest.raises(IntegrityError, match="missing"):
        store.materialize(digest, tmp_path / "b")
    assert not (tmp_path / "a" / "src").exists() and not (tmp_path / "b" / "src").exists()


class RefusingFs(MemoryFileSystem):
    def put_file(self, *args, **kwargs):
        raise PermissionError("Server failed to authenticate the request. key=sekrit-value")

    pipe_file = put_file


def test_a_storage_error_is_one_line_naming_the_storage_without_its_secrets(tmp_path):
    spec = filesystem_spec(LocalDatastore(name="x", path=str(tmp_path)))
    storage = Storage("x", spec, RefusingFs(skip_instance_cache=True), ["sekrit-value"],
                      label="workspace 'w' storage", fix="openaml workspace update -n w --storage-credentials FILE")
    store, _, _ = remote_store(tmp_path, RefusingFs(skip_instance_cache=True), storage.errors)
    with pytest.raises(DatastoreAccessError) as err:
        store.put_bytes(b"data")
    message = err.value.message
    assert message.startswith("workspace 'w' storage (") and "openaml workspace update -n w" in message
    assert "sekrit-value" not in message and "\n" not in message


# ---- large files in parts (openaml.store.transfer), with a fake part upload ----------------------

class FakeUpload:
    """Parts kept in memory; put_part waits at a barrier so parts must be in flight together."""

    def __init__(self, barrier: threading.Barrier | None = None, fail_at: int | None = None) -> None:
        self.parts: dict[int, bytes] = {}
        self.committed: bytes | None = None
        self.aborted = False
        self.barrier, self.fail_at = barrier, fail_at

    def put_part(self, number: int, data: bytes) -> None:
        if number == self.fail_at:
            raise OSError(f"part {number} refused")
        if self.barrier is not None and number <= self.barrier.parties:
            self.barrier.wait()
        self.parts[number] = data

    def commit(self, count: int) -> bool:
        self.committed = b"".join(self.parts[n] for n in range(1, count + 1))
        return True

    def abort(self) -> None:
        self.aborted = True


def _large(tmp_path: Path, parts: int = 3) -> tuple[Path, bytes]:
    data = os.urandom(transfer.PART_SIZE * (parts - 1) + 1234)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    return path, data


def test_parts_of_one_file_are_sent_at_once_and_committed_whole(tmp_path):
    path, data = _large(tmp_path)
    upload = FakeUpload(threading.Barrier(2, timeout=10))  # one part at a time breaks the barrier
    slots = threading.BoundedSemaphore(transfer.PARTS_IN_FLIGHT)
    assert transfer.upload_in_parts(lambda _: upload, str(path), "x", hashlib.sha256(data).hexdigest(), slots=slots)
    assert upload.committed == data and not upload.aborted and len(upload.parts) == 3


def test_a_digest_that_does_not_match_commits_nothing_and_a_failed_part_gives_back_its_slots(tmp_path):
    path, data = _large(tmp_path)
    slots = threading.BoundedSemaphore(2)
    upload = FakeUpload()
    with pytest.raises(transfer.FileChanged):
        transfer.upload_in_parts(lambda _: upload, str(path), "x", "0" * 64, slots=slots)
    assert upload.committed is None and upload.aborted
    upload = FakeUpload(fail_at=2)
    with pytest.raises(OSError, match="part 2 refused"):
        transfer.upload_in_parts(lambda _: upload, str(path), "x", hashlib.sha256(data).hexdigest(), slots=slots)
    assert upload.committed is None and upload.aborted
    assert all(slots.acquire(blocking=False) for _ in range(2))  # both slots free again


@given(st.integers(min_value=0, max_value=50 * 1024**4))
def test_a_part_size_fits_any_file_in_the_part_limit(size):
    step = transfer.part_size(size)
    assert step >= transfer.PART_SIZE and step % (1024 * 1024) == 0
    assert -(-size // step) <= transfer.MAX_PARTS


def test_a_local_file_changed_after_it_was_hashed_is_stored_under_its_new_digest(tmp_path, monkeypatch):
    store = ArtifactStore(str(tmp_path / "store"))
    path, old = _large(tmp_path, 1)
    new = os.urandom(len(old))
    real_hash = ArtifactStore._hash

    def hash_then_change(self, *args, **kwargs):
        digest = real_hash(self, *args, **kwargs)
        path.write_bytes(new)
        return digest
    monkeypatch.setattr(ArtifactStore, "_hash", hash_then_change)
    entry = store.put_file(path)
    assert entry.digest == hashlib.sha256(new).hexdigest() and not store.has(hashlib.sha256(old).hexdigest())
    assert store.read_bytes(entry.digest) == new
