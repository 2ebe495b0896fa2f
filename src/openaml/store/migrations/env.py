"""Alembic environment for the openaml metadata store.

``MetadataStore`` runs migrations programmatically and hands its own connection in through
``config.attributes["connection"]``; the URL branch below serves the ``alembic`` command line
(``alembic -x url=sqlite:///... revision --autogenerate``) for developers writing migrations.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from openaml.store.tables import metadata

# Any fixed 64-bit number: serialises concurrent first-time migrations of one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x6F70656E616D6C  # "openaml"


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
        # One transaction for the whole upgrade, on SQLite too: Alembic's SQLite default is a
        # commit per migration, and between two of them a second process opening the same
        # fresh file (waiting on BEGIN IMMEDIATE) would read the half-way revision and run the
        # next migration itself, so the first then fails on "table already exists". SQLite's
        # DDL is transactional once pysqlite's own BEGIN handling is off, as the engine sets.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two processes opening a fresh database at once would both try CREATE TABLE;
            # the second waits here and then finds the version table already at head.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("openaml migrations run online only")
run_migrations_online()
