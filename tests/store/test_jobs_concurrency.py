"""Racing status changes from two processes: exactly one wins, the other is refused."""

from __future__ import annotations

import multiprocessing

import pytest

from openaml.errors import InvalidTransitionError
from openaml.store.jobs import JobStore
from openaml.store.metadata import MetadataStore
from tests.store._job_rules import check_transition

ROUNDS = 4


def _race(url: str, workspace: str, target: str, barrier, results) -> None:
    """Worker: for each round's job, wait for the sibling, then try Running -> *target*."""
    try:
        metadata = MetadataStore(url)
        jobs = JobStore(metadata, check_transition=check_transition)
        for i in range(ROUNDS):
            barrier.wait(timeout=60)
            try:
                jobs.transition(workspace, f"race-{i}", target, expected={"Running"})
                results.put((i, target, "won"))
            except InvalidTransitionError:
                results.put((i, target, "refused"))
        metadata.close()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which asserts on it
        results.put((-1, target, repr(exc)))


@pytest.mark.slow
def test_exactly_one_of_two_racing_terminal_transitions_wins(db_url, workspace_name):
    metadata = MetadataStore(db_url)
    jobs = JobStore(metadata, check_transition=check_transition)
    for i in range(ROUNDS):
        jobs.create_job(workspace_name, f"race-{i}", "command", {}, experiment_name="e")
        for status in ("Queued", "Preparing", "Running"):
            jobs.transition(workspace_name, f"race-{i}", status)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(db_url, workspace_name, target, barrier, results))
             for target in ("Completed", "Canceled")]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=90) for _ in range(2 * ROUNDS)]
    for p in procs:
        p.join(timeout=30)
    assert [o for o in outcomes if o[0] == -1] == []
    for i in range(ROUNDS):
        mine = sorted(outcome for round_, _, outcome in outcomes if round_ == i)
        assert mine == ["refused", "won"]
        winner = next(t for round_, t, outcome in outcomes if round_ == i and outcome == "won")
        assert jobs.get_job(workspace_name, f"race-{i}").status == winner
    metadata.close()
