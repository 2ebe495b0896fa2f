"""Upload progress bars for the SDK and the CLI (rich, on stderr)."""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)

# Small uploads finish before a bar would be readable; only larger ones get one.
MIN_BYTES_FOR_BAR = 8 * 1024 * 1024


@contextlib.contextmanager
def transfer_progress(description: str, enabled: bool = True,
                      min_bytes: int | None = None) -> Iterator[Callable[[int, int], None] | None]:
    """Yield a ``progress(increment, total)`` callback that draws a bar once ``total`` is large."""
    min_bytes = MIN_BYTES_FOR_BAR if min_bytes is None else min_bytes
    if not enabled:
        yield None
        return
    state: dict[str, object] = {}

    def callback(increment: int, total: int) -> None:
        if "bar" not in state:
            if total < min_bytes:
                return
            bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                           TransferSpeedColumn(), TimeRemainingColumn(),
                           console=Console(file=sys.stderr), transient=False)
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task(description, total=total)
        state["bar"].update(state["task"], advance=increment, total=total)  # type: ignore[attr-defined]

    try:
        yield callback
    finally:
        if "bar" in state:
            state["bar"].stop()  # type: ignore[attr-defined]
