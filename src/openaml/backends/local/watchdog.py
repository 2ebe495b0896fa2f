"""The watchdog of one local home: ``python -m openaml.backends.local.watchdog``.

It notices dead agents while no client looks, even when the dead agent was the only one
running. The launcher starts it when none runs: a lock file under the home decides, held by the
watchdog for as long as it runs. It loops over the home's workspaces (SQLite or PostgreSQL
alike), reaps the jobs whose agent is dead or hung (:mod:`openaml.services.job_leases`), and exits
once no workspace has had an unfinished job for :data:`IDLE_SECONDS`; the next launch starts
another.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from filelock import FileLock, Timeout

from openaml.backends.local.spawn import spawn_detached
from openaml.services.settings import Settings

#: A watchdog with nothing to watch for this long exits.
IDLE_SECONDS = 10.0
LOCK_FILE = "watchdog.lock"


def ensure_watchdog(settings: Settings) -> bool:
    """Start the home's watchdog unless one runs; True if this call started one. Costs one lock
    probe when one runs. Two callers racing may both start one: the second exits at once."""
    if not _free(_lock(settings)):
        return False
    log = settings.runs_dir / "agent-logs" / "watchdog.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    spawn_detached(settings, ["openaml.backends.local.watchdog"], log)
    return True


def poll_seconds(settings: Settings) -> float:
    """How often the watchdog looks: a fifth of a lease, between 0.2 and 2 s."""
    return min(max(settings.job_lease_seconds / 5, 0.2), 2.0)


class Watchdog:
    """Reaps the abandoned jobs of every workspace under one home."""

    def __init__(self, settings: Settings) -> None:
        from openaml.services.workspaces import WorkspaceService

        self.settings = settings
        self.workspaces = WorkspaceService(settings)
        self.stopped = threading.Event()

    def sweep(self) -> int:
        """Reap each workspace once; return how many jobs are still running."""
        from openaml.services.job_leases import Reaper

        active = 0
        try:
            names = self._names()
        except Exception as exc:  # noqa: BLE001 - a database down for a moment: look again next time
            print(f"watchdog: the workspaces: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            return 0
        for name in names:
            try:
                ctx = self.workspaces.open(name)
                active += Reaper(ctx, unleased_grace=self.settings.job_lease_seconds,
                                 runs_dir=self.settings.runs_dir).sweep()
            except Exception as exc:  # noqa: BLE001 - one broken workspace must not blind the others
                print(f"watchdog: workspace {name}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return active

    def _names(self) -> list[str]:
        """The workspaces this home uses: those of its catalog it has a folder of (in a shared
        database, the ones opened here; the others' homes have their own watchdogs)."""
        root = self.settings.workspaces_dir
        here = {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()
        return [ws.name for ws in self.workspaces.list() if ws.name in here]

    def run(self, lock: FileLock) -> None:
        """Loop until idle for IDLE_SECONDS (``lock`` held on entry; released on return)."""
        idle_since = time.monotonic()
        while not self.stopped.wait(poll_seconds(self.settings)):
            if not self.settings.home.exists():
                break
            if self.sweep():
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE_SECONDS:
                # A launcher that saw the lock held created its job before this release, so the
                # second look sees it, and the loop goes on if the lock is still ours to take.
                lock.release()
                if not self.sweep() or not _free(lock, keep=True):
                    return
                idle_since = time.monotonic()
        lock.release()

    def close(self) -> None:
        self.workspaces.close()


def _lock(settings: Settings) -> FileLock:
    settings.home.mkdir(parents=True, exist_ok=True)
    return FileLock(str(settings.home / LOCK_FILE), thread_local=False)


def _free(lock: FileLock, *, keep: bool = False) -> bool:
    """Whether the lock was free; it stays held if ``keep``."""
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    if not keep:
        lock.release()
    return True


def main() -> int:
    try:
        os.nice(10)  # bookkeeping: never in the way of the jobs it watches
    except (AttributeError, OSError):
        pass
    settings = Settings.from_env()
    lock = _lock(settings)
    if not _free(lock, keep=True):
        return 0  # another watchdog runs
    watchdog = Watchdog(settings)
    try:
        watchdog.run(lock)
    finally:
        watchdog.close()
        if lock.is_locked:
            lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
