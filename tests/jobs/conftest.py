"""Fixtures for end-to-end job tests: a workspace whose jobs run on the host Python (no
environment build) unless a test asks for a real environment."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from openaml import MLClient
from openaml.entities import Environment, Workspace

HOST_ENV = Environment(image="python:3.11-slim")  # image only: runs on the host Python when allowed


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    monkeypatch.setenv("OPENAML_HOME", str(root))
    monkeypatch.setenv("OPENAML_ALLOW_HOST_PYTHON", "1")
    monkeypatch.chdir(tmp_path)
    return root


@pytest.fixture
def ml_client(home: Path):
    client = MLClient(workspace_name="jobs")
    client.workspaces.begin_create(Workspace(name="jobs")).result()
    yield client
    client.close()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def wait(client: MLClient, name: str, timeout: float = 60):
    """The job once it has ended (a poll with a deadline, not a sleep)."""
    record = client._job_service().wait(name, timeout=timeout)
    return client.jobs.get(record.name)


def std_log(home: Path, name: str, workspace: str = "jobs") -> str:
    folder = home / "workspaces" / workspace / "datastores" / "workspaceartifactstore" / "ExperimentRun" / f"dcid.{name}"
    return (folder / "user_logs" / "std_log.txt").read_text()
