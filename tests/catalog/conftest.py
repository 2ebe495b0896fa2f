"""Fixtures of the workspace catalog's tests: a fresh database per test (a SQLite file, or a new
schema of the session's PostgreSQL database, so each test's key check is its own), and homes on it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from openaml.services.settings import Settings
from openaml.store.secrets import new_key, write_key_file


@contextlib.contextmanager
def fresh_database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database with nothing in it (``sqlite`` or ``postgresql``), as a URL with its password."""
    if kind == "sqlite":
        yield sa.URL.create("sqlite", database=str(tmp_path / "catalog.db")).render_as_string(hide_password=False)
        return
    base = sa.make_url(request.getfixturevalue("pg_url"))
    schema = f"cat_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database per test, on SQLite and on PostgreSQL."""
    with fresh_database(request.param, tmp_path, request) as url:
        yield url


@dataclass(frozen=True)
class Home:
    """One home: its folder and its own key file (a test sets which key each home uses)."""

    root: Path
    key_file: Path

    def settings(self, database_url: str | None, **changes: object) -> Settings:
        import dataclasses

        base = Settings.from_env(home=self.root)
        return dataclasses.replace(base, database_url=database_url, secret_key_file=self.key_file, **changes)

    def env(self, database_url: str | None) -> dict[str, str]:
        """The variables that make a process (the CLI, a subprocess) use this home."""
        return {"OPENAML_HOME": str(self.root), "OPENAML_SECRET_KEY_FILE": str(self.key_file),
                "OPENAML_DATABASE_URL": database_url or ""}


@pytest.fixture
def shared_key(tmp_path: Path) -> Path:
    """A key file both homes of a test point at (as a team hands its key to each server)."""
    path = tmp_path / "team.key"
    write_key_file(path, [new_key()], replace=False)
    return path


@pytest.fixture
def home_a(tmp_path: Path, shared_key: Path) -> Home:
    return Home(tmp_path / "home-a", shared_key)


@pytest.fixture
def home_b(tmp_path: Path, shared_key: Path) -> Home:
    return Home(tmp_path / "home-b", shared_key)


@pytest.fixture
def client_of(monkeypatch: pytest.MonkeyPatch):
    """``client_of(home, url, workspace)``: an MLClient on *home* with the catalog of *url*
    (settings are read when a client is made, so each client keeps its own home's)."""
    from openaml import MLClient

    made = []

    def make(home: Home, database_url: str | None, workspace: str) -> MLClient:
        for name, value in home.env(database_url).items():
            monkeypatch.setenv(name, value)
        client = MLClient(workspace_name=workspace)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
