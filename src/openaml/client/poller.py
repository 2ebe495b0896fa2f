"""A completed long-running-operation handle, shaped like azure-core's ``LROPoller``.

Local operations finish before ``begin_*`` returns; the handle exists so that code written for
Azure (``ml_client.workspaces.begin_create(ws).result()``) runs unchanged.
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class LROPoller(Generic[T]):
    """Result holder with azure-core's poller verbs."""

    def __init__(self, result: T, wait: Callable[[float | None], object] | None = None) -> None:
        self._result = result
        self._wait = wait
        self._done = wait is None

    def result(self, timeout: float | None = None) -> T:
        self.wait(timeout)
        return self._result

    def wait(self, timeout: float | None = None) -> None:
        if not self._done and self._wait is not None:
            self._wait(timeout)
            self._done = timeout is None

    def done(self) -> bool:
        return self._done

    def status(self) -> str:
        return "Succeeded"
