"""Digests of local files remembered by the files' identity, so unchanged files are not read again.

Storing a folder that is already stored (a datastore folder read by every job, a data asset
registered again) costs a sha256 pass over every byte; with this cache it costs one ``stat`` per
file. The key is what changes whenever a file's bytes can have changed: device, inode, size,
modification time and *change* time (``st_ctime``, which no program can set back, unlike
``st_mtime``). As Git's index does for "racy" entries, a file changed too close to the moment it
was hashed is not remembered: the clock may not have ticked between the change and the hash.

:class:`RemoteDigestCache` does the same for files on a datastore's storage: a remote object's
digest is remembered by its storage, path and version tag (its ETag), so a remote file that has
not changed is not downloaded again.

:class:`StoredBlobs` remembers which blobs a remote artifact store holds, so storing content it
already has costs no request.

Best effort: any SQLite error turns the cache off for the process, never fails a store.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

# Coarse file-system clocks tick every few milliseconds; a change within this window of the
# hash may not have moved the timestamps.
RACY_SECONDS = 0.1

_REMOTE_SCHEMA = ("CREATE TABLE IF NOT EXISTS remote_digests (storage TEXT, path TEXT, tag TEXT, size INTEGER, "
                  "digest TEXT NOT NULL, PRIMARY KEY (storage, path, tag, size))")
_STORED_SCHEMA = "CREATE TABLE IF NOT EXISTS stored_blobs (store TEXT, key TEXT, PRIMARY KEY (store, key))"
_SCHEMA = ("CREATE TABLE IF NOT EXISTS digests (dev INTEGER, ino INTEGER, size INTEGER, mtime INTEGER, "
           "ctime INTEGER, digest TEXT NOT NULL, PRIMARY KEY (dev, ino, size, mtime, ctime))")


def file_key(info: os.stat_result) -> tuple[int, int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def racy(info: os.stat_result, hashed_at: float) -> bool:
    """Whether the file changed too close to *hashed_at* (epoch seconds) for its timestamps to
    tell a later change apart."""
    return info.st_ctime_ns / 1e9 > hashed_at - RACY_SECONDS or info.st_mtime_ns / 1e9 > hashed_at - RACY_SECONDS


def unchanged(before: os.stat_result, now: os.stat_result, hashed_at: float) -> bool:
    """Whether a file stat'ed as *before* (then hashed from *hashed_at*) still holds the bytes
    that were hashed, now that it is stat'ed as *now*: the trust the digest cache gives."""
    return file_key(before) == file_key(now) and not racy(before, hashed_at)


class _SqliteCache:
    """One SQLite file opened on first use, shared by threads; broken means off, not failing."""

    schema = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._broken = False

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None and not self._broken:
            try:
                conn = sqlite3.connect(self.path, timeout=2.0, check_same_thread=False, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=OFF")  # a lost entry costs one hash, nothing more
                conn.execute(self.schema)
                self._conn = conn
            except sqlite3.Error:
                self._broken = True
        return self._conn

    def _query(self, sql: str, args: tuple) -> tuple | None:
        with self._lock:
            conn = self._connection()
            if conn is None:
                return None
            try:
                return conn.execute(sql, args).fetchone()
            except sqlite3.Error:
                self._broken, self._conn = True, None
                return None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class DigestCache(_SqliteCache):
    """A small SQLite table of (file identity) -> sha256, shared by the processes of a home."""

    schema = _SCHEMA

    def get(self, info: os.stat_result) -> str | None:
        """The remembered digest of the file *info* describes, or None."""
        row = self._query("SELECT digest FROM digests WHERE dev=? AND ino=? AND size=? AND mtime=? AND ctime=?",
                          file_key(info))
        return row[0] if row else None

    def remember(self, info: os.stat_result, digest: str, hashed_at: float) -> None:
        """Remember *digest* for the file, unless it changed too close to *hashed_at* (epoch s)."""
        if racy(info, hashed_at):
            return
        self._query("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?, ?)", (*file_key(info), digest))


class RemoteDigestCache(_SqliteCache):
    """(storage identity, path, version tag, size) -> sha256 of remote objects already fetched."""

    schema = _REMOTE_SCHEMA

    def get(self, storage: str, path: str, tag: str, size: int) -> str | None:
        """The digest remembered for that version of the object, or None."""
        row = self._query("SELECT digest FROM remote_digests WHERE storage=? AND path=? AND tag=? AND size=?",
                          (storage, path, tag, size))
        return row[0] if row else None

    def remember(self, storage: str, path: str, tag: str, size: int, digest: str) -> None:
        self._query("INSERT OR REPLACE INTO remote_digests VALUES (?, ?, ?, ?, ?)", (storage, path, tag, size, digest))


class StoredBlobs(_SqliteCache):
    """Blobs known to be on a remote store, so that finding one costs no request. A blob is
    never changed or deleted by openaml, so once seen it stays; one deleted behind openaml's
    back is found missing (an integrity error naming it) when it is read."""

    schema = _STORED_SCHEMA

    def has(self, store: str, key: str) -> bool:
        return self._query("SELECT 1 FROM stored_blobs WHERE store=? AND key=?", (store, key)) is not None

    def remember(self, store: str, key: str) -> None:
        self._query("INSERT OR IGNORE INTO stored_blobs VALUES (?, ?)", (store, key))
