"""The server killed (SIGKILL) in the middle of a large upload and started again: nothing was
registered, no blob of the cut file is visible (every stored blob is whole: its bytes hash to its
name), and the client's retry succeeds, with the bytes it sent."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from openaml import MLClient
from openaml.entities import Model, Workspace
from openaml.errors import NotFoundError, StoreUnavailableError

from tests.helpers import use_home
from tests.server.live import LiveServer

pytestmark = pytest.mark.slow
SIZE = 256 << 20


def _big_file(path: Path) -> str:
    """A file of SIZE bytes no store holds yet; its sha256."""
    digest = hashlib.sha256()
    block = hashlib.sha256(path.name.encode()).digest() * (1 << 15)  # 1 MiB
    with open(path, "wb") as out:
        for i in range(SIZE // len(block)):
            chunk = i.to_bytes(8, "big") + block[8:]
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def _store(home: Path) -> Path:
    """The workspace's artifact store: ``blobs/`` (visible) and ``tmp/`` (uploads in flight)."""
    return home / "workspaces" / "crash" / "artifacts"


def _wait_for_upload_in_flight(home: Path, worker: threading.Thread, timeout: float = 120) -> None:
    """Until the server is writing the big file (a temp file of it has grown past 16 MiB)."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.is_alive():
        if any(p.stat().st_size > 16 << 20 for p in (_store(home) / "tmp").glob("upload-*") if p.is_file()):
            return
        time.sleep(0.01)
    raise AssertionError("the upload never got under way")


def test_a_server_killed_during_an_upload_leaves_nothing_and_the_retry_succeeds(tmp_path, monkeypatch):
    home = use_home(tmp_path, monkeypatch, host_python=False)
    folder = tmp_path / "model"
    folder.mkdir()
    digest = _big_file(folder / "weights.bin")
    for i in range(3):  # small files, stored whole before the big one is cut
        (folder / f"config{i}.json").write_text(f'{{"layer": {i}}}')
    server = LiveServer(home).start()
    try:
        MLClient(workspace_name="crash", server=server.url).workspaces.begin_create(Workspace(name="crash")).result()
        client = MLClient(workspace_name="crash", server=server.url)
        outcome: dict[str, BaseException | Model] = {}

        def upload() -> None:
            try:
                outcome["result"] = client.models.create_or_update(Model(name="big", path=str(folder)))
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                outcome["result"] = exc

        worker = threading.Thread(target=upload)
        worker.start()
        _wait_for_upload_in_flight(home, worker)
        server.kill()
        worker.join(timeout=120)
        assert isinstance(outcome.get("result"), StoreUnavailableError), outcome

        server = LiveServer(home, port=server.port).start()
        after = MLClient(workspace_name="crash", server=server.url)
        assert list(after.models.list()) == []
        with pytest.raises(NotFoundError):
            after.models.get("big")
        visible = [p for p in (_store(home) / "blobs").rglob("*") if p.is_file()]
        assert not any(p.name == digest for p in visible) and len(visible) >= 3
        for blob in visible:  # whatever is visible is whole
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name

        retried = after.models.create_or_update(Model(name="big", path=str(folder)))
        assert retried.version == "1"
        after.models.download("big", "1", download_path=tmp_path / "dl")
        fetched = tmp_path / "dl" / "big" / "model" / "weights.bin"
        assert fetched.stat().st_size == SIZE and (fetched.parent / "config2.json").read_text() == '{"layer": 2}'
        sha = hashlib.sha256()
        with open(fetched, "rb") as fh:
            while chunk := fh.read(1 << 20):
                sha.update(chunk)
        assert sha.hexdigest() == digest
    finally:
        server.stop()
