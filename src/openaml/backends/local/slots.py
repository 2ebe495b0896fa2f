"""Slots: at most N jobs run at once on a compute, enforced with one lock file per slot so
that agents in separate processes (and a crashed agent's slot) need no coordinator: the OS
releases a lock when its holder dies."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from filelock import FileLock, Timeout


class SlotPool:
    """``slots`` lock files under ``folder``."""

    def __init__(self, folder: Path, slots: int) -> None:
        self.folder, self.slots = folder, max(1, slots)
        folder.mkdir(parents=True, exist_ok=True)

    def acquire(self, should_stop: Callable[[], bool], poll: float = 0.01) -> FileLock | None:
        """Take a free slot, waiting while all are busy; None if ``should_stop()`` turns true."""
        while True:
            for i in range(self.slots):
                lock = FileLock(str(self.folder / f"slot-{i}.lock"))
                try:
                    lock.acquire(timeout=0)
                    return lock
                except Timeout:
                    continue
            if should_stop():
                return None
            time.sleep(poll)


def pool_for(slots_dir: Path, workspace: str, resolved: dict) -> SlotPool:
    """The slot pool of a job's compute: the machine-wide default pool, or a named compute's."""
    compute = resolved.get("compute", "local")
    folder = slots_dir / ("local" if compute == "local" else f"{workspace}/{compute}")
    return SlotPool(folder, int(resolved.get("slots") or 1))
