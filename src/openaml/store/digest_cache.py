"""Digests of local files remembered by the files' identity, so unchanged files are not read again.

Storing a folder that is already stored (a datastore folder read by every job, a data asset
registered again) costs a sha256 pass over every byte; with this cache it costs one ``stat`` per
file. The key is what changes whenever a file's bytes can have changed: device, inode, size,
modification time and *change* time (``st_ctime``, which no program can set back, unlike
``st_mtime``). As Git's index does for "racy" entries, a file changed too close to the moment it
was hashed is not remembered: the clock may not have ticked between the change and the hash.

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

_SCHEMA = ("CREATE TABLE IF NOT EXISTS digests (dev INTEGER, ino INTEGER, size INTEGER, mtime INTEGER, "
           "ctime INTEGER, digest TEXT NOT NULL, PRIMARY KEY (dev, ino, size, mtime, ctime))")


def file_key(info: os.stat_result) -> tuple[int, int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class DigestCache:
    """A small SQLite table of (file identity) -> sha256, shared by the processes of a home."""

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
                conn.execute(_SCHEMA)
                self._conn = conn
            except sqlite3.Error:
                self._broken = True
        return self._conn

    def get(self, info: os.stat_result) -> str | None:
        """The remembered digest of the file *info* describes, or None."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return None
            try:
                row = conn.execute("SELECT digest FROM digests WHERE dev=? AND ino=? AND size=? AND mtime=? "
                                   "AND ctime=?", file_key(info)).fetchone()
            except sqlite3.Error:
                self._broken, self._conn = True, None
                return None
        return row[0] if row else None

    def remember(self, info: os.stat_result, digest: str, hashed_at: float) -> None:
        """Remember *digest* for the file, unless it changed too close to *hashed_at* (epoch s)."""
        if info.st_ctime_ns / 1e9 > hashed_at - RACY_SECONDS or info.st_mtime_ns / 1e9 > hashed_at - RACY_SECONDS:
            return
        with self._lock:
            conn = self._connection()
            if conn is None:
                return
            try:
                conn.execute("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?, ?)", (*file_key(info), digest))
            except sqlite3.Error:
                self._broken, self._conn = True, None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
