"""A completed long-running-operation handle, shaped like azure-core's ``LROPoller``.

Local operations finish before ``begin_*`` returns; the handle exists so that code written for
Azure (``ml_client.workspaces.begin_create(ws).result()``) runs unchanged.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class LROPoller(Generic[T]):
    """Result holder with azure-core's poller verbs."""

    def __init__(self, result: T) -> None:
        self._result = result

    def result(self, timeout: float | None = None) -> T:
        return self._result

    def wait(self, timeout: float | None = None) -> None:
        return None

    def done(self) -> bool:
        return True

    def status(self) -> str:
        return "Succeeded"
