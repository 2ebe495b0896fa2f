"""Helpers for tests that start real processes: polls with deadlines, and psutil checks."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, TypeVar

import psutil

T = TypeVar("T")


def cgroup_unavailable() -> str | None:
    """Why this host cannot give a job a cgroup, or None when it can."""
    from openaml.services.cgroups import open_cgroup
    from openaml.services.process_tracking import new_token

    tracker, reason = open_cgroup(new_token())
    if tracker is None:
        return reason
    tracker.close()
    return None


def poll(check: Callable[[], T], timeout: float, what: str, every: float = 0.02) -> T:
    """``check()`` once it is truthy; fails after ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(every)


def read_pids(path: Path, count: int, timeout: float = 30) -> list[psutil.Process]:
    """The processes whose pids a job wrote to ``path`` (one per line), once there are ``count``.
    psutil.Process remembers each start time, so a reused pid never counts as the same process."""
    def ready() -> list[int] | None:
        lines = path.read_text().split() if path.exists() else []
        return [int(p) for p in lines] if len(lines) >= count else None
    return [psutil.Process(pid) for pid in poll(ready, timeout, f"{count} pids in {path}")]


def survivors(processes: list[psutil.Process]) -> list[int]:
    """The pids among ``processes`` that still run (a zombie has ended)."""
    alive = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc.pid)
        except psutil.NoSuchProcess:
            continue
    return alive
