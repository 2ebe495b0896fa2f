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
def ml_client(home: Path, workspace_storage):
    bootstrap = new_workspace_client("ws", workspace_storage.storage)
    client = MLClient(workspace_name="ws")
    yield client
    client.close()
    bootstrap.close()

