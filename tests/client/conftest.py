"""Fixtures for SDK-level tests: a fresh OPENAML_HOME and a client on a fresh workspace."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from openaml import MLClient
from openaml.entities import Workspace


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    monkeypatch.setenv("OPENAML_HOME", str(root))
    monkeypatch.chdir(tmp_path)
    return root


@pytest.fixture
def ml_client(home: Path):
    bootstrap = MLClient(workspace_name="ws")
    bootstrap.workspaces.begin_create(Workspace(name="ws")).result()
    client = MLClient(workspace_name="ws")
    yield client
    client.close()
    bootstrap.close()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def blob_files(home: Path, workspace: str = "ws") -> list[Path]:
    root = home / "workspaces" / workspace / "artifacts" / "blobs"
    return sorted(p for p in root.rglob("*") if p.is_file())
