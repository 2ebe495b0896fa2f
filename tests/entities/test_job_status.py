"""Job statuses: Azure's strings, the groupings, and the transition table."""

import pytest

from openaml.entities.job_status import (
    ALLOWED_TRANSITIONS, IN_PROGRESS, POST_PROCESSING, TERMINAL_STATUSES, JobStatus, can_transition,
    check_transition, is_terminal,
)
from openaml.errors import ErrorCode, InvalidTransitionError, OpenAMLError

S = JobStatus

AZURE_STRINGS = {
    "NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running", "Finalizing",
    "CancelRequested", "Completed", "Failed", "Canceled", "NotResponding", "Paused", "Unknown",
}

ALLOWED = [
    (S.NOT_STARTED, S.QUEUED), (S.NOT_STARTED, S.PREPARING), (S.NOT_STARTED, S.FAILED),
    (S.NOT_STARTED, S.CANCEL_REQUESTED), (S.NOT_STARTED, S.CANCELED),
    (S.QUEUED, S.PREPARING), (S.QUEUED, S.FAILED), (S.QUEUED, S.CANCEL_REQUESTED),
    (S.QUEUED, S.CANCELED),
    (S.PREPARING, S.RUNNING), (S.PREPARING, S.FAILED), (S.PREPARING, S.CANCEL_REQUESTED),
    (S.PREPARING, S.CANCELED),
    (S.RUNNING, S.FINALIZING), (S.RUNNING, S.FAILED), (S.RUNNING, S.CANCEL_REQUESTED),
    (S.RUNNING, S.CANCELED), (S.RUNNING, S.COMPLETED),
    (S.FINALIZING, S.COMPLETED), (S.FINALIZING, S.FAILED), (S.FINALIZING, S.CANCELED),
    (S.CANCEL_REQUESTED, S.CANCELED), (S.CANCEL_REQUESTED, S.FAILED),
    (S.CANCEL_REQUESTED, S.COMPLETED),
]

FORBIDDEN = [
    (S.NOT_STARTED, S.RUNNING), (S.NOT_STARTED, S.COMPLETED), (S.QUEUED, S.RUNNING),
    (S.QUEUED, S.NOT_STARTED), (S.PREPARING, S.QUEUED), (S.PREPARING, S.COMPLETED),
    (S.RUNNING, S.PREPARING), (S.RUNNING, S.RUNNING), (S.FINALIZING, S.RUNNING),
    (S.FINALIZING, S.CANCEL_REQUESTED), (S.CANCEL_REQUESTED, S.RUNNING),
    (S.COMPLETED, S.RUNNING), (S.FAILED, S.QUEUED), (S.CANCELED, S.CANCEL_REQUESTED),
]


def test_values_are_azure_strings():
    assert {s.value for s in JobStatus} == AZURE_STRINGS
    assert JobStatus("CancelRequested") is S.CANCEL_REQUESTED
    assert S.COMPLETED == "Completed" and str(S.COMPLETED) == "Completed"


def test_groupings_match_azure():
    assert {s.value for s in TERMINAL_STATUSES} == {
        "Completed", "Failed", "Canceled", "NotResponding", "Paused"}
    assert {s.value for s in IN_PROGRESS} == {
        "NotStarted", "Queued", "Preparing", "Provisioning", "Starting", "Running"}
    assert {s.value for s in POST_PROCESSING} == {"CancelRequested", "Finalizing"}


def test_table_covers_every_status():
    assert set(ALLOWED_TRANSITIONS) == set(JobStatus)


def test_table_is_exactly_the_documented_lifecycle():
    documented = {(old, new) for old, news in ALLOWED_TRANSITIONS.items() for new in news}
    assert documented == set(ALLOWED)


@pytest.mark.parametrize(("old", "new"), ALLOWED, ids=[f"{o.value}->{n.value}" for o, n in ALLOWED])
def test_allowed_transition(old, new):
    assert check_transition(old, new) is new
    assert check_transition(old.value, new.value) is new
    assert can_transition(old, new)


@pytest.mark.parametrize(("old", "new"), FORBIDDEN, ids=[f"{o.value}->{n.value}" for o, n in FORBIDDEN])
def test_forbidden_transition(old, new):
    assert not can_transition(old, new)
    with pytest.raises(InvalidTransitionError) as info:
        check_transition(old, new)
    assert info.value.details == {"old": old.value, "new": new.value}
    assert f"from {old.value} to {new.value}" in info.value.message


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATUSES, key=lambda s: s.value))
def test_terminal_states_are_closed(terminal):
    assert is_terminal(terminal) and is_terminal(terminal.value)
    assert ALLOWED_TRANSITIONS[terminal] == frozenset()
    for new in JobStatus:
        with pytest.raises(InvalidTransitionError):
            check_transition(terminal, new)


def test_non_terminal():
    assert not any(is_terminal(s) for s in (*IN_PROGRESS, *POST_PROCESSING))


def test_invalid_transition_error_is_data():
    with pytest.raises(InvalidTransitionError) as info:
        check_transition(S.COMPLETED, S.RUNNING)
    err = info.value
    assert err.code is ErrorCode.INVALID_TRANSITION and err.http_status == 409
    assert err.category.value == "UserError"
    again = OpenAMLError.from_dict(err.to_dict())
    assert type(again) is InvalidTransitionError and again.details == err.details
