"""Long-running-operation handles with azure-core's ``LROPoller`` verbs, telling the truth.

Most local operations (creating a workspace or a compute target) finish before ``begin_*``
returns: their poller holds a :class:`DonePolling`. An operation that goes on afterwards (a job's
cancel: the agent stops the job's processes, then records ``Canceled``) holds a
:class:`WaitPolling` that asks the store each time: ``status()`` is ``"InProgress"`` until the
operation has finished, ``done()`` says so, ``wait(timeout)`` returns after at most ``timeout``
seconds, and ``result(timeout)`` is ``wait`` then the result (as azure-core's, the result
available then). Callbacks given to ``add_done_callback`` run once the operation has finished,
from a watcher thread started only for them.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")

IN_PROGRESS = "InProgress"
SUCCEEDED = "Succeeded"


class PollingMethod(Generic[T]):
    """azure-core's ``PollingMethod`` verbs: ``status()``, ``finished()``, ``resource()``, ``run()``."""

    def status(self) -> str:
        """``"InProgress"`` or ``"Succeeded"`` (azure-core's status strings)."""
        return SUCCEEDED if self.finished() else IN_PROGRESS

    def finished(self) -> bool:
        raise NotImplementedError

    def resource(self) -> T:
        """The operation's result (None while an operation without a result runs)."""
        raise NotImplementedError

    def run(self) -> None:
        """Block until the operation has finished."""
        self.wait(None)

    def wait(self, timeout: float | None) -> bool:
        """Wait at most ``timeout`` seconds (None: until finished); True if it has finished."""
        raise NotImplementedError


class DonePolling(PollingMethod[T]):
    """An operation that had finished when ``begin_*`` returned."""

    def __init__(self, result: T) -> None:
        self._result = result

    def finished(self) -> bool:
        return True

    def resource(self) -> T:
        return self._result

    def wait(self, timeout: float | None) -> bool:
        return True


class WaitPolling(PollingMethod[T]):
    """An operation that goes on after ``begin_*`` returned.

    ``is_finished()`` asks whether it has finished now; ``wait_until(timeout)`` blocks at most
    ``timeout`` seconds (None: no limit) and returns whether it has finished; ``result()`` gives the
    result once it has (None before).
    """

    def __init__(self, is_finished: Callable[[], bool], wait_until: Callable[[float | None], bool],
                 result: Callable[[], T] | None = None) -> None:
        self._is_finished = is_finished
        self._wait_until = wait_until
        self._result = result
        self._seen_finished = False

    def finished(self) -> bool:
        if not self._seen_finished:
            self._seen_finished = self._is_finished()
        return self._seen_finished

    def wait(self, timeout: float | None) -> bool:
        if not self._seen_finished:
            self._seen_finished = self._wait_until(timeout)
        return self._seen_finished

    def resource(self) -> T:
        if self._result is None or not self.finished():
            return None  # type: ignore[return-value]
        return self._result()


class LROPoller(Generic[T]):
    """What ``begin_*`` returns: azure-core's ``LROPoller`` verbs over a :class:`PollingMethod`.

    ``LROPoller(value)`` is an operation already finished with ``value``.
    """

    def __init__(self, result: T | None = None, *, polling_method: PollingMethod[T] | None = None) -> None:
        self._polling = polling_method if polling_method is not None else DonePolling(result)
        self._callbacks: list[Callable[[PollingMethod[T]], Any]] = []
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    def polling_method(self) -> PollingMethod[T]:
        """The polling method (``status()``, ``finished()``, ``resource()``, ``run()``)."""
        return self._polling

    def status(self) -> str:
        """``"InProgress"`` until the operation has finished, then ``"Succeeded"``."""
        return self._polling.status()

    def done(self) -> bool:
        """True once the operation has finished."""
        return self._polling.finished()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the operation, at most ``timeout`` seconds; check :meth:`done` afterwards."""
        if self._polling.wait(timeout):
            self._run_callbacks()

    def result(self, timeout: float | None = None) -> T:
        """Wait (at most ``timeout`` seconds) and return the result available then."""
        self.wait(timeout)
        return self._polling.resource()

    def add_done_callback(self, func: Callable[[PollingMethod[T]], Any]) -> None:
        """Call ``func(polling_method)`` once the operation has finished (now, if it has)."""
        if self.done():
            func(self._polling)
            return
        with self._lock:
            self._callbacks.append(func)
            if self._watcher is None:
                self._watcher = threading.Thread(target=self.wait, name="openaml-lro-watcher",
                                                 daemon=True)
                self._watcher.start()

    def remove_done_callback(self, func: Callable[[PollingMethod[T]], Any]) -> None:
        """Forget a callback; ValueError once the operation has finished, as azure-core's."""
        if self.done():
            raise ValueError("Process is complete.")
        with self._lock:
            self._callbacks = [c for c in self._callbacks if c != func]

    def _run_callbacks(self) -> None:
        with self._lock:
            callbacks, self._callbacks = self._callbacks, []
        for func in callbacks:
            func(self._polling)

    def __repr__(self) -> str:
        return f"<LROPoller status={self.status()!r}>"
