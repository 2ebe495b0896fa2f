"""Answers about this machine that cost a subprocess (``docker info``, ``uv python find``), shared
for a while by every process through a small JSON file under the environments cache, so that the
agents of jobs started together ask once."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["shared_answer"]


def shared_answer(record: Path, key: str, ttl: float, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()``'s answer for ``key``, reused from ``record`` while younger than ``ttl``
    seconds. A missing, stale or unreadable record only costs a new answer; a read-only cache
    only costs the next process the same."""
    known = _read(record)
    cached = known.get(key)
    if isinstance(cached, dict) and isinstance(cached.get("at"), (int, float)) \
            and 0 <= time.time() - cached["at"] < ttl:
        return cached
    answer = {**compute(), "at": time.time()}
    known = _read(record)  # another process may have written other keys meanwhile
    known[key] = answer
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_name(f"{record.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known))
        os.replace(tmp, record)  # readers see a whole record or none
    except OSError:
        pass
    return answer


def _read(record: Path) -> dict[str, Any]:
    try:
        known = json.loads(record.read_text())
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}
