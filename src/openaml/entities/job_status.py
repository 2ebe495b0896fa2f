"""Job statuses (Azure's exact strings) and the transitions a local job may make.

The table :data:`ALLOWED_TRANSITIONS` is the whole lifecycle; :func:`check_transition` is the one
place it is enforced (the job store calls it inside the transaction that changes a status).
"""

from __future__ import annotations

from enum import Enum

from openaml.errors import InvalidTransitionError


class JobStatus(str, Enum):
    """A job's status; the values are azure-ai-ml's ``JobStatus`` strings."""

    NOT_STARTED = "NotStarted"
    STARTING = "Starting"
    PROVISIONING = "Provisioning"
    PREPARING = "Preparing"
    QUEUED = "Queued"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"
    NOT_RESPONDING = "NotResponding"
    PAUSED = "Paused"
    UNKNOWN = "Unknown"

    def __str__(self) -> str:
        return self.value


_S = JobStatus

TERMINAL_STATUSES: frozenset[JobStatus] = frozenset(
    {_S.COMPLETED, _S.FAILED, _S.CANCELED, _S.NOT_RESPONDING, _S.PAUSED})
"""Azure's terminal set: nothing follows these, and ``jobs.download`` is allowed."""

IN_PROGRESS: frozenset[JobStatus] = frozenset(
    {_S.NOT_STARTED, _S.QUEUED, _S.PREPARING, _S.PROVISIONING, _S.STARTING, _S.RUNNING})
"""Azure's "in progress" grouping."""

POST_PROCESSING: frozenset[JobStatus] = frozenset({_S.CANCEL_REQUESTED, _S.FINALIZING})
"""Azure's "post-processing" grouping: the job is ending but not yet terminal."""

_CANCEL = frozenset({_S.FAILED, _S.CANCEL_REQUESTED, _S.CANCELED})

ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    _S.NOT_STARTED: frozenset({_S.QUEUED, _S.PREPARING}) | _CANCEL,
    _S.QUEUED: frozenset({_S.PREPARING}) | _CANCEL,
    _S.PREPARING: frozenset({_S.RUNNING}) | _CANCEL,
    _S.RUNNING: frozenset({_S.FINALIZING, _S.COMPLETED}) | _CANCEL,
    _S.FINALIZING: frozenset({_S.COMPLETED, _S.FAILED, _S.CANCELED}),
    # The job may finish (or fail) before the cancel lands.
    _S.CANCEL_REQUESTED: frozenset({_S.CANCELED, _S.FAILED, _S.COMPLETED}),
    # Statuses a remote service reports but the local lifecycle never enters.
    _S.STARTING: frozenset(),
    _S.PROVISIONING: frozenset(),
    _S.UNKNOWN: frozenset(),
    **{status: frozenset() for status in TERMINAL_STATUSES},
}
"""For each status, the statuses a local job may move to next. Terminal statuses lead nowhere."""


def is_terminal(status: JobStatus | str) -> bool:
    """True if ``status`` (a :class:`JobStatus` or its string) is terminal."""
    return JobStatus(status) in TERMINAL_STATUSES


def can_transition(old: JobStatus | str, new: JobStatus | str) -> bool:
    """True if a job in ``old`` may move to ``new``."""
    return JobStatus(new) in ALLOWED_TRANSITIONS[JobStatus(old)]


def check_transition(old: JobStatus | str, new: JobStatus | str) -> JobStatus:
    """Return ``new`` as a :class:`JobStatus`, or raise :class:`InvalidTransitionError`.

    Moving to the same status is not a transition and is refused too, so a second writer that
    lost a race learns about it.
    """
    old_s, new_s = JobStatus(old), JobStatus(new)
    if new_s not in ALLOWED_TRANSITIONS[old_s]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[old_s])) or "none (terminal)"
        raise InvalidTransitionError(
            f"A job cannot move from {old_s.value} to {new_s.value}; allowed next: {allowed}.",
            old=old_s.value, new=new_s.value)
    return new_s
