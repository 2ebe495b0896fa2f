"""Fixtures for end-to-end job tests: a workspace whose jobs run on the host Python (no
environment build) unless a test asks for a real environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from openaml.entities import Environment

from tests.helpers import new_workspace_client, prepare_launch, use_home, wait, write  # noqa: F401 - used by the tests

# Image only: with the fixtures' OPENAML_ALLOW_HOST_PYTHON=1 and no container runtime it runs on
# this very interpreter, with no environment to build.
HOST_ENV = Environment(image="python:3.11-slim")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_home(tmp_path, monkeypatch, host_python=True)


@pytest.fixture
def ml_client(request: pytest.FixtureRequest, home: Path, workspace_storage):
    prepare_launch(request, home)
    client = new_workspace_client("jobs", workspace_storage.storage)
    yield client
    client.close()


def std_log(home: Path, name: str, workspace: str = "jobs") -> str:
    folder = home / "workspaces" / workspace / "datastores" / "workspaceartifactstore" / "ExperimentRun" / f"dcid.{name}"
    return (folder / "user_logs" / "std_log.txt").read_text()
