"""Serialising allocators (job ``seq``, experiment ids) across processes.

SQLite needs nothing: a write transaction (BEGIN IMMEDIATE) already holds the database lock.
PostgreSQL takes a transaction-scoped advisory lock named after the counter, so two creators
never read the same maximum; the lock ends with the transaction.
"""

from __future__ import annotations

import zlib

import sqlalchemy as sa


def lock_counter(conn: sa.Connection, name: str) -> None:
    """Hold the lock of counter *name* until the current transaction ends."""
    if conn.dialect.name != "postgresql":
        return
    # crc32 fits a signed 64-bit key; the high constant keeps clear of the migration lock.
    key = (0x6F61 << 32) | zlib.crc32(name.encode())
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
