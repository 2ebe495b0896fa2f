"""Pipelines end to end: component files written per test, run on the host Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from openaml import MLClient

from tests.helpers import client_over, new_workspace_client, use_home, wait, write  # noqa: F401 - used by the tests


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_home(tmp_path, monkeypatch, host_python=True)


@pytest.fixture
def ml_client(home: Path, workspace_storage, transport: str):
    bootstrap = new_workspace_client("pipes", workspace_storage.storage)
    with client_over(transport, "pipes") as client:
        yield client
    bootstrap.close()


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


def children(client: MLClient, name: str) -> dict[str, object]:
    """Step name -> child job."""
    out = {}
    for job in client.jobs.list(parent_job_name=name):
        out[(job.properties or {}).get("openaml.pipeline_step")] = job
    return out
