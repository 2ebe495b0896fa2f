"""Fixtures for the REST server's tests: a fresh home with one workspace, the app, and a raw
httpx client on it in memory."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from openaml.entities import Workspace
from openaml.rest.paths import WorkspaceScope
from openaml.server import ServerSettings, create_app
from openaml.server.testing import InMemoryTransport
from openaml.services.settings import Settings
from openaml.services.workspaces import WorkspaceService

from tests.helpers import use_home


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = use_home(tmp_path, monkeypatch, host_python=True)
    service = WorkspaceService(Settings.from_env())
    service.create(Workspace(name="ws"))
    service.close()
    return root


@pytest.fixture
def app(home: Path):
    app = create_app(ServerSettings(workspace_settings=Settings.from_env(), max_json_bytes=64 * 1024,
                                    max_blob_bytes=1024 * 1024))
    yield app
    app.state.openaml.close()


@pytest.fixture
def http(app):
    """A raw client of the app, in memory."""
    transport = InMemoryTransport(app)
    with httpx.Client(base_url="http://openaml.test", transport=transport) as client:
        yield client
    transport.close()


@pytest.fixture
def ws() -> WorkspaceScope:
    return WorkspaceScope(workspace="ws")
