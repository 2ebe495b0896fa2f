"""Engine set-up and migrations shared by the metadata store.

Kept apart from :mod:`openaml.store.metadata` so the store reads as business queries, and the
SQLite/PostgreSQL differences live in one place, chosen once when the engine is built.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from openaml.errors import StoreUnavailableError
from openaml.store.tables import HEAD_REVISION

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Execution option that asks for a write transaction. On SQLite it turns BEGIN into
# BEGIN IMMEDIATE; PostgreSQL ignores it and relies on row locks (SELECT ... FOR UPDATE).
WRITE = "openaml_write"

# Long enough to ride out a burst of concurrent writers, short enough to report a stuck lock.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def safe_url(url: sa.URL | str) -> str:
    """The URL as text with any password masked, fit for messages and logs."""
    return sa.make_url(url).render_as_string(hide_password=True)


def create_engine(url: str | sa.URL, *, echo: bool = False) -> sa.Engine:
    """Build an engine for *url*, with SQLite's pragmas and transaction control installed."""
    # No pool_pre_ping: it costs a round trip per transaction; a connection dropped by a server
    # restart fails one call (as StoreUnavailableError) and the pool then discards it.
    engine = sa.create_engine(url, echo=echo)
    if engine.dialect.name == "sqlite":
        _install_sqlite_events(engine)
        engine._openaml_writer_lock = threading.Lock()  # type: ignore[attr-defined]
    return engine


def ensure_sqlite_folder(url: str | sa.URL) -> None:
    """Create the folder of a SQLite file *url* if it is missing (a server's fresh home): SQLite
    creates the file, not its folders. Other databases, and in-memory SQLite, are left alone."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:" \
            and not parsed.database.startswith("file:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def dialect_insert(engine: sa.Engine) -> Any:
    """The ``insert`` of *engine*'s dialect, which has ON CONFLICT DO NOTHING (same shape on
    SQLite and PostgreSQL). Imported here so that a SQLite store never loads the PostgreSQL
    dialect module (~20 ms of every job agent's start-up)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


# The DBAPI's positional marker, by PEP 249 paramstyle (psycopg declares pyformat and takes %s too).
_POSITIONAL_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def positional_insert_sql(engine: sa.Engine, table: sa.Table, columns: list[str]) -> str:
    """``INSERT INTO table (columns) VALUES (?, ...)`` in *engine*'s dialect (quoting and
    parameter markers), for ``Connection.exec_driver_sql(sql, [tuple, ...])``: an executemany of
    plain tuples handed to the driver as they are, where a Core statement would build and
    process a parameter dict per row (the bulk of the cost of logging 1,000 metrics)."""
    dialect = engine.dialect
    mark = _POSITIONAL_MARKS.get(dialect.paramstyle)
    if mark is None:
        raise ValueError(f"unsupported DBAPI paramstyle {dialect.paramstyle!r} ({dialect.name})")
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(table.c[c].name) for c in columns)
    return (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) "
            f"VALUES ({', '.join([mark] * len(columns))})")


def _install_sqlite_events(engine: sa.Engine) -> None:
    # SQLAlchemy's documented pysqlite recipe: stop the sqlite3 module from emitting its own
    # (deferred, DML-only) BEGIN and emit ours, so a writer can take the lock up front with
    # BEGIN IMMEDIATE. A deferred transaction that later upgrades to a writer fails at once with
    # SQLITE_BUSY in WAL mode instead of waiting, which is what concurrent registration would hit.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # busy_timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode, much faster
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextlib.contextmanager
def transaction(engine: sa.Engine, *, write: bool) -> Iterator[sa.Connection]:
    """One transaction; commits on success, rolls back on any exception.

    Operational failures (server unreachable, SQLite lock wait exhausted) become
    :class:`StoreUnavailableError` naming the URL without its password.
    """
    # SQLite allows one writer: threads of one process queue on a Python lock rather than in
    # SQLite's busy handler, which sleeps in growing steps (up to 100 ms) between retries.
    local = getattr(engine, "_openaml_writer_lock", None) if write else None
    local = local or contextlib.nullcontext()
    try:
        with local, engine.connect() as conn:
            if write:
                conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise unavailable(engine.url, exc) from exc



def unavailable(url: sa.URL, exc: BaseException) -> StoreUnavailableError:
    """A :class:`StoreUnavailableError` for *url*; the driver's message never holds the password."""
    reason = getattr(exc, "orig", None) or exc
    first_line = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
    return StoreUnavailableError(
        f"Cannot use the metadata store at {safe_url(url)}: {first_line}. "
        "Check that the database is reachable and not locked by another process.",
        url=safe_url(url),
    )


def current_revision(engine: sa.Engine) -> str | None:
    """The database's Alembic revision in one query; None when it has no version table yet."""
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError:
        # A missing table (ProgrammingError on PostgreSQL, OperationalError on SQLite) or an
        # unreachable server: either way take the slow path, which reports the latter properly.
        return None


def upgrade_to_head(engine: sa.Engine) -> None:
    """Run ``alembic upgrade head`` unless the database is already there (the cheap path)."""
    if current_revision(engine) == HEAD_REVISION:
        return
    # Imported lazily: Alembic is only needed the first time a database is opened or migrated.
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    # configparser interpolation treats '%' specially; a path may contain one.
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    try:
        with engine.connect() as conn:
            # BEGIN IMMEDIATE on SQLite: a second process opening a fresh file waits for the
            # first migration to finish, then reads the version table inside its own lock.
            conn.execution_options(**{WRITE: True})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise unavailable(engine.url, exc) from exc
