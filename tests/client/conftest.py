"""Fixtures for SDK-level tests: a fresh OPENAML_HOME and a client on a fresh workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from openaml import MLClient

from tests.helpers import new_workspace_client, use_home, write  # noqa: F401 - used by the tests


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_home(tmp_path, monkeypatch, host_python=False)


@pytest.fixture
def ml_client(home: Path):
    bootstrap = new_workspace_client("ws")
    client = MLClient(workspace_name="ws")
    yield client
    client.close()
    bootstrap.close()


def blob_files(home: Path, workspace: str = "ws") -> list[Path]:
    root = home / "workspaces" / workspace / "artifacts" / "blobs"
    return sorted(p for p in root.rglob("*") if p.is_file())
