"""Fixtures for end-to-end job tests: a workspace whose jobs run on the host Python (no
environment build) unless a test asks for a real environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from openaml.entities import Environment

from tests.helpers import (TRANSPORTS, client_over, new_workspace_client, prepare_launch,  # noqa: F401
                           use_home, wait, write)

# Image only: with the fixtures' OPENAML_ALLOW_HOST_PYTHON=1 and no container runtime it runs on
# this very interpreter, with no environment to build.
HOST_ENV = Environment(image="python:3.11-slim")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_home(tmp_path, monkeypatch, host_python=True)


@pytest.fixture
def ml_client(request: pytest.FixtureRequest, home: Path, workspace_storage, transport: str):
    prepare_launch(request, home)
    bootstrap = new_workspace_client("jobs", workspace_storage.storage)
    with client_over(transport, "jobs") as client:
        yield client
    bootstrap.close()


#: Run a test in this process, against the server app in memory and over a loopback socket.
over_transports = pytest.mark.parametrize("transport", TRANSPORTS, indirect=True)


def std_log(home: Path, name: str, workspace: str = "jobs") -> str:
    folder = home / "workspaces" / workspace / "datastores" / "workspaceartifactstore" / "ExperimentRun" / f"dcid.{name}"
    return (folder / "user_logs" / "std_log.txt").read_text()
