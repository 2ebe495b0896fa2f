"""Helpers shared by the end-to-end test packages (client, jobs, pipelines)."""

from __future__ import annotations

import contextlib
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from openaml import MLClient
from openaml.entities import Workspace, WorkspaceStorage


def write(path: Path, text: str) -> Path:
    """Write dedented ``text`` to ``path`` (parents created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def wait(client: MLClient, name: str, timeout: float = 90):
    """The job once it has ended (a poll with a deadline, not a sleep)."""
    client._backend.jobs().wait(name, timeout=timeout)
    return client.jobs.get(name)


def use_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, host_python: bool) -> Path:
    """A fresh OPENAML_HOME and current folder for one test. Image-only environments run in no
    container (tests/conftest.py); with ``host_python`` they run on this very interpreter (no
    venv build, and the job sees its packages: mlflow), without it in a venv for the image's
    Python, as by default."""
    root = tmp_path / "home"
    monkeypatch.setenv("OPENAML_HOME", str(root))
    if host_python:
        monkeypatch.setenv("OPENAML_ALLOW_HOST_PYTHON", "1")
    else:
        monkeypatch.delenv("OPENAML_ALLOW_HOST_PYTHON", raising=False)
    monkeypatch.chdir(tmp_path)
    return root


class StaticToken:
    """A credential as azure-identity's are (``get_token(*scopes)``), holding one openaml token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs):
        from azure.core.credentials import AccessToken
        return AccessToken(self._token, int(time.time()) + 3600)


def issue_token(home: Path, role: str, workspace: str | None = None) -> str:
    """A new token of *role* (in *workspace*) in the database of the server whose home is *home*."""
    from openaml.server.settings import server_database_url
    from openaml.services.tokens import TokenService
    from openaml.store.tokens import TokenStore

    store = TokenStore(server_database_url(home))
    try:
        return TokenService(store, lambda name: True).create(role, workspace).token
    finally:
        store.close()


#: The ways a client reaches its workspace: this process, the server app in memory, a real server
#: on a loopback port (see :func:`client_over`); over a server, with an Owner's token. The
#: registry suite also runs on ``in-memory-no-auth`` (the app with ``--no-auth``). Paired with the workspace's folder only when a
#: test is parametrised over storages too (tests/conftest.py says why).
TRANSPORTS = ("in-process", "in-memory", "http")


@contextlib.contextmanager
def client_over(transport: str, workspace: str) -> Iterator[MLClient]:
    """A client on *workspace* (under the current ``OPENAML_HOME``) through *transport*; over a
    server, with authentication on and an Owner token of the workspace."""
    if transport == "in-process":
        client = MLClient(workspace_name=workspace)
        yield client
        client.close()
        return
    from openaml.server import ServerSettings, create_app
    from openaml.server.testing import InMemoryTransport, serve_in_thread
    from openaml.services.settings import Settings

    settings = Settings.from_env()
    no_auth = transport == "in-memory-no-auth"
    app = create_app(ServerSettings(workspace_settings=settings, no_auth=no_auth))
    owner = None if no_auth else StaticToken(issue_token(settings.home, "owner", workspace))
    if transport in ("in-memory", "in-memory-no-auth"):
        memory = InMemoryTransport(app)
        client = MLClient(owner, workspace_name=workspace, server="http://openaml.test", transport=memory)
        yield client
        client.close()
        memory.close()
        app.state.openaml.close()
        return
    with serve_in_thread(app) as url:
        client = MLClient(owner, workspace_name=workspace, server=url)
        yield client
        client.close()
    app.state.openaml.close()


def new_workspace_client(name: str, storage: WorkspaceStorage | None = None) -> MLClient:
    """A client on a freshly created workspace ``name`` (its bytes on *storage* when given)."""
    client = MLClient(workspace_name=name)
    client.workspaces.begin_create(Workspace(name=name, storage=storage)).result()
    return client


# The storages a representative end-to-end test runs on: the workspace's folder, Azurite, moto.
STORAGES = ("local", pytest.param("azurite", marks=pytest.mark.slow), pytest.param("moto", marks=pytest.mark.slow))
#: Run a test on a workspace of each of :data:`STORAGES` (its ``ml_client`` fixture builds on
#: the ``workspace_storage`` fixture, which this parametrises).
on_every_storage = pytest.mark.parametrize("workspace_storage", STORAGES, indirect=True)
#: Run a test on a workspace on each emulated object storage (Azurite, moto).
on_object_storage = pytest.mark.parametrize("workspace_storage", STORAGES[1:], indirect=True)


def wait_for_file(path: Path, timeout: float = 30) -> None:
    """Return once ``path`` exists (a poll with a deadline, not a sleep)."""
    import time

    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.02)


@dataclass
class LaunchMode:
    """How a test's job agents start: ``cold`` (a new interpreter each) or forked by the
    home's warm job ``pool``, started before the test's first job and stopped after it."""

    name: str
    homes: list[Path] = field(default_factory=list)

    def prepare(self, home: Path) -> None:
        """Before the test's client submits anything: a running pool for ``home`` (pool mode)."""
        if self.name == "pool":
            start_pool(home)
            self.homes.append(home)

    def finish(self) -> None:
        """Stop the pools; each must have started at least one agent (else the test ran cold)."""
        for home in self.homes:
            status = stop_pool(home)
            assert status is not None and status.forked > 0, f"no agent of {home} was forked by the pool"


def prepare_launch(request: pytest.FixtureRequest, home: Path) -> None:
    """For the fixtures that make a test's client: in pool mode, start the pool first."""
    if "launch_mode" in request.fixturenames:
        request.getfixturevalue("launch_mode").prepare(home)


#: Run a test with both launch modes (the ``launch_mode`` fixture of tests/conftest.py).
on_both_launches = pytest.mark.usefixtures("launch_mode")


def start_pool(home: Path, timeout: float = 60):
    """Start the warm job pool of ``home`` and return its status once it answers."""
    from openaml.backends.local.pool_client import PoolClient, ensure_pool
    from openaml.services.settings import Settings

    settings = Settings.from_env(home=home)
    ensure_pool(settings)
    client = PoolClient(settings)
    deadline = time.monotonic() + timeout
    while (status := client.status()) is None:
        assert time.monotonic() < deadline, f"the pool of {home} did not answer within {timeout} s"
        time.sleep(0.05)
    return status


def stop_pool(home: Path, timeout: float = 30):
    """Stop the pool of ``home`` (if one runs) and wait for its process to end; its last status."""
    from openaml.backends.local.pool_client import PoolClient
    from openaml.services.settings import Settings

    client = PoolClient(Settings.from_env(home=home))
    status = client.status()
    if status is None:
        return None
    client.stop()
    deadline = time.monotonic() + timeout
    while _running(status.pid):
        assert time.monotonic() < deadline, f"the pool (pid {status.pid}) did not leave within {timeout} s"
        time.sleep(0.02)
    return status


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
