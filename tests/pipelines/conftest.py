"""Pipelines end to end: component files written per test, run on the host Python."""

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
    monkeypatch.setenv("OPENAML_ALLOW_HOST_PYTHON", "1")
    monkeypatch.chdir(tmp_path)
    return root


@pytest.fixture
def ml_client(home: Path):
    client = MLClient(workspace_name="pipes")
    client.workspaces.begin_create(Workspace(name="pipes")).result()
    yield client
    client.close()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def component(folder: Path, name: str, command: str, inputs: str = "{}", outputs: str = "{}",
              deterministic: bool = True) -> Path:
    """A component file whose command is ``command`` (bash), on an image-only environment."""
    (folder / "src").mkdir(parents=True, exist_ok=True)
    return write(folder / f"{name}.yml", f"""
        $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
        name: {name}
        version: "1"
        type: command
        inputs: {inputs}
        outputs: {outputs}
        is_deterministic: {str(deterministic).lower()}
        code: ./src
        environment:
          image: python:3.11-slim
        command: >-
          {command}
        """)


def wait(client: MLClient, name: str, timeout: float = 90):
    record = client._job_service().wait(name, timeout=timeout)
    return client.jobs.get(record.name)


def children(client: MLClient, name: str) -> dict[str, object]:
    """Step name -> child job."""
    out = {}
    for job in client.jobs.list(parent_job_name=name):
        out[(job.properties or {}).get("openaml.pipeline_step")] = job
    return out
