"""Fixtures for online endpoints: a fresh home per test whose deployments run on this very
interpreter (image-only environments, OPENAML_ALLOW_HOST_PYTHON=1: no venv build, and the
workers see scikit-learn and mlflow), and a client whose endpoints are all deleted at the end,
so no router or worker outlives its test."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from openaml import MLClient
from openaml.entities import Environment, Workspace

from tests.helpers import use_home

HOST_ENV = Environment(image="python:3.11-slim")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_home(tmp_path, monkeypatch, host_python=True)


@pytest.fixture
def ml_client(home: Path):
    client = MLClient(workspace_name="ep")
    client.workspaces.begin_create(Workspace(name="ep")).result()
    yield client
    service = client._backend.endpoint_service()
    tokens = [(r.runtime or {}).get("token") for r in service.store.list_endpoints()]
    for record in service.store.list_endpoints():
        try:
            service.delete(record.name)
        except Exception:  # noqa: BLE001 - best effort; the scan below is the guarantee
            pass
    for pid in endpoint_pids([t for t in tokens if t]):
        try:
            psutil.Process(pid).kill()
        except psutil.NoSuchProcess:
            pass
    client.close()


def endpoint_pids(tokens: list[str]) -> list[int]:
    """Processes carrying one of the endpoints' process tokens (router and workers)."""
    from openaml.services.process_tracking import scan_token
    return sorted({pid for token in tokens for pid in scan_token(token)})
