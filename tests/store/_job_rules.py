"""A stand-in status table for job store tests: the store must call whatever it is given."""

from __future__ import annotations

from openaml.errors import InvalidTransitionError

ALLOWED = {
    "NotStarted": {"Queued", "Failed", "Canceled"},
    "Queued": {"Preparing", "CancelRequested", "Failed", "Canceled"},
    "Preparing": {"Running", "CancelRequested", "Failed", "Canceled"},
    "Running": {"Finalizing", "Completed", "CancelRequested", "Failed", "Canceled"},
    "Finalizing": {"Completed", "Failed", "Canceled"},
    "CancelRequested": {"Canceled", "Failed", "Completed"},
}


def check_transition(old: str, new: str) -> None:
    """Raise InvalidTransitionError unless *old* -> *new* is in :data:`ALLOWED`."""
    if new not in ALLOWED.get(old, set()):
        raise InvalidTransitionError(f"A job cannot go from {old} to {new}.", current=old, requested=new)
