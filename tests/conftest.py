"""Shared fixtures. Kept small: no container runtime, a temp workspace name and a throwaway
PostgreSQL database."""

from __future__ import annotations

import os
import uuid

import pytest

PG_ADMIN_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(autouse=True)
def _no_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Image-only environments never run in a container unless a test asks for one, so the
    suite behaves the same on hosts with and without a container engine (and pulls nothing)."""
    monkeypatch.setenv("OPENAML_CONTAINER_RUNTIME", "none")


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
