"""Fixtures for SDK-level tests: a fresh OPENAML_HOME and a client on a fresh workspace."""

from __future__ import annotations

from pathlib import Path

import pytest


from tests.helpers import client_over, new_workspace_client, use_home, write  # noqa: F401 - used by the tests


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_home(tmp_path, monkeypatch, host_python=False)


@pytest.fixture
def ml_client(home: Path, workspace_storage, transport: str):
    bootstrap = new_workspace_client("ws", workspace_storage.storage)
    with client_over(transport, "ws") as client:
        yield client
    bootstrap.close()

