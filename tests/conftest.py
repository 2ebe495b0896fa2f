"""Shared fixtures. Kept small: no container runtime, a temp workspace name, a throwaway
PostgreSQL database, the storage emulators (one of each per session, started on first use) and
the storage of the end-to-end tests' workspaces."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from openaml.entities import AccountKeyConfiguration, S3AccessKeyConfiguration, WorkspaceStorage

from tests.emulators import Emulator, Unavailable, new_container, start_azurite, start_moto
from tests.helpers import LaunchMode

PG_ADMIN_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(autouse=True)
def _no_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Image-only environments never run in a container unless a test asks for one, so the
    suite behaves the same on hosts with and without a container engine (and pulls nothing)."""
    monkeypatch.setenv("OPENAML_CONTAINER_RUNTIME", "none")


@pytest.fixture(autouse=True)
def _no_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Agents start cold unless a test asks for the warm job pool (``launch_mode``), so no test
    leaves a pool process behind for each home it made."""
    monkeypatch.setenv("OPENAML_POOL", "off")


@pytest.fixture(scope="session")
def session_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One secret key file for the session (the worker's): the tests' homes share its
    PostgreSQL database, whose secrets are all sealed with one key."""
    from openaml.store.secrets import new_key, write_key_file

    path = tmp_path_factory.mktemp("secret-key") / "secret.key"
    write_key_file(path, [new_key()], replace=False)
    return path


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch, session_key_file: Path) -> None:
    """Every home uses the session's key file unless a test says otherwise (the tests of the key
    itself unset the variable to get ``<home>/secret.key``)."""
    monkeypatch.setenv("OPENAML_SECRET_KEY_FILE", str(session_key_file))
    monkeypatch.delenv("OPENAML_SECRET_KEY", raising=False)
    monkeypatch.delenv("OPENAML_DATABASE_URL", raising=False)


@pytest.fixture(params=["cold", "pool"])
def launch_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Each test that takes it runs with cold agents and with agents forked by the warm pool.
    The fixtures that create a test's client call ``prepare(home)`` (tests/helpers.py)."""
    from openaml.backends.local.pool_client import pool_supported

    mode = LaunchMode(request.param)
    if mode.name == "pool":
        if pool_supported():
            pytest.skip(pool_supported())
        monkeypatch.setenv("OPENAML_POOL", "auto")
    yield mode
    mode.finish()


@pytest.fixture
def transport(request: pytest.FixtureRequest) -> str:
    """How an ``ml_client`` fixture reaches its workspace: in-process unless a test is
    parametrised (indirect) over :data:`tests.helpers.TRANSPORTS`."""
    return getattr(request, "param", "in-process")


@pytest.fixture
def workspace_name() -> str:
    """A workspace name no other test uses, so tests sharing a database stay isolated."""
    return f"ws-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of a fresh PostgreSQL database for this test session, dropped afterwards.

    The server comes from ``OPENAML_TEST_PG_URL`` (an admin URL able to CREATE DATABASE).
    Tests using this fixture are skipped, with the reason, when the server is unreachable.
    """
    import sqlalchemy as sa

    admin_url = sa.make_url(os.environ.get("OPENAML_TEST_PG_URL", PG_ADMIN_URL_DEFAULT))
    shown = admin_url.render_as_string(hide_password=True)
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        pytest.skip(f"PostgreSQL not reachable at {shown}: {str(exc).splitlines()[0]}")
    db_name = f"openaml_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db_name}"'))
    try:
        yield admin_url.set(database=db_name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            # FORCE (PostgreSQL 13+) ends connections a failed test may have leaked.
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()


def _emulator(start: Callable[[Path], Emulator], tmp_path_factory: pytest.TempPathFactory):
    try:
        emulator = start(tmp_path_factory.mktemp("emulator"))
    except Unavailable as exc:
        yield exc
        return
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """Azurite's blob endpoint, or the :class:`Unavailable` reason it is not there."""
    yield from _emulator(start_azurite, tmp_path_factory)


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory):
    """moto's S3 server with an access key, or the :class:`Unavailable` reason it is not there."""
    yield from _emulator(start_moto, tmp_path_factory)


@dataclass
class StorageUnderTest:
    """Where a test's workspace keeps its bytes: its folder (``storage`` None), or a fresh
    container or bucket on an emulator, with the test's own file system to look at it."""

    kind: str
    storage: WorkspaceStorage | None = None
    fs: Any = None

    def default_datastore_file(self, home: Path, workspace: str, path: str) -> Path | RemoteFile:
        """*path* on the workspace's default datastore (in its folder, or on the container)."""
        if self.storage is None:
            return home / "workspaces" / workspace / "datastores" / "workspaceblobstore" / path
        return RemoteFile(self.fs, f"{self.storage.container}/{path}")

    def blobs(self, home: Path, workspace: str) -> dict[str, str]:
        """Every blob of the workspace's artifact store -> a stamp that changes when it is rewritten."""
        if self.storage is None:
            root = home / "workspaces" / workspace / "artifacts" / "blobs"
            return {str(p.relative_to(root)): str(p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}
        base = f"{self.storage.container}/{self.storage.prefix}/blobs"
        found = self.fs.find(base, detail=True) if self.fs.exists(base) else {}
        return {path[len(base) + 1:]: str(info.get("etag") or info.get("ETag") or info.get("last_modified"))
                for path, info in found.items()}


@dataclass
class RemoteFile:
    """A file on object storage, read and removed as a Path is."""

    fs: Any
    path: str

    def read_text(self) -> str:
        return self.fs.cat_file(self.path).decode()

    def unlink(self) -> None:
        self.fs.rm_file(self.path)


@pytest.fixture
def workspace_storage(request: pytest.FixtureRequest) -> StorageUnderTest:
    """The storage of the test's workspace: its folder, unless the test is parametrised over
    :data:`tests.helpers.STORAGES` (``@on_every_storage``): then also a fresh container on Azurite
    and a fresh bucket on moto (skipped, with the reason, when the emulator cannot run)."""
    kind = getattr(request, "param", os.environ.get("OPENAML_TEST_STORAGE", "local"))
    if kind == "local":
        return StorageUnderTest(kind)
    emulator = request.getfixturevalue("azurite" if kind == "azurite" else "moto_s3")
    if isinstance(emulator, Unavailable):
        pytest.skip(str(emulator))
    container, fs = new_container(emulator)
    if kind == "azurite":
        storage = WorkspaceStorage(uri=f"azure://{emulator.access_key}/{container}/team/ws", endpoint=emulator.endpoint,
                                   protocol="http", credentials=AccountKeyConfiguration(account_key=emulator.secret_key))
    else:
        storage = WorkspaceStorage(uri=f"s3://{container}", endpoint=emulator.url, region="us-east-1",
                                   credentials=S3AccessKeyConfiguration(access_key_id=emulator.access_key,
                                                                        secret_access_key=emulator.secret_key))
    return StorageUnderTest(kind, storage, fs)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A suite parametrised over both storages and transports runs the transports on the
    workspace's folder only: the server calls the same services whatever the storage (which
    the in-process runs cover), and every pairing would add minutes to the suite."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        remote_storage = params.get("workspace_storage", "local") != "local"
        over_wire = params.get("transport", "in-process") != "in-process"
        (dropped if remote_storage and over_wire else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
