"""Fixtures for the REST server's tests: a fresh home with one workspace, the app (with
authentication on), an Owner token of the workspace (also in ``OPENAML_TOKEN``, so SDK and CLI
calls carry it), and a raw httpx client on the app in memory that sends it."""

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

from tests.helpers import issue_token, use_home


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = use_home(tmp_path, monkeypatch, host_python=True)
    service = WorkspaceService(Settings.from_env())
    service.create(Workspace(name="ws"))
    service.close()
    return root


@pytest.fixture
def owner_token(home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Owner token of workspace ``ws``, which SDK and CLI calls send (``OPENAML_TOKEN``)."""
    token = issue_token(home, "owner", "ws")
    monkeypatch.setenv("OPENAML_TOKEN", token)
    return token


@pytest.fixture
def app(home: Path, owner_token: str):
    app = create_app(ServerSettings(workspace_settings=Settings.from_env(), max_json_bytes=64 * 1024,
                                    max_blob_bytes=1024 * 1024))
    yield app
    app.state.openaml.close()


@pytest.fixture
def http(app, owner_token: str):
    """A raw client of the app, in memory, with the Owner token."""
    transport = InMemoryTransport(app)
    with httpx.Client(base_url="http://openaml.test", transport=transport,
                      headers={"Authorization": f"Bearer {owner_token}"}) as client:
        yield client
    transport.close()


@pytest.fixture
def admin_token(home: Path) -> str:
    """A server administrator's token."""
    return issue_token(home, "admin")


@pytest.fixture
def ws() -> WorkspaceScope:
    return WorkspaceScope(workspace="ws")
