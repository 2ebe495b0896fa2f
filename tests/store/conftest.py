"""Store fixtures: every metadata contract test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from openaml.store.metadata import MetadataStore


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A database URL for each backend; PostgreSQL tests share one session database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'metadata.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(db_url: str):
    """An open MetadataStore, closed after the test."""
    s = MetadataStore(db_url)
    yield s
    s.close()
