"""Contract tests for JobStore, run against every backend (see conftest.db_url)."""

from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta, timezone

import pytest

from openaml.constants import ListViewType
from openaml.errors import AlreadyExistsError, InvalidTransitionError, NotFoundError, ValidationError
from openaml.store.jobs import AgentIdentity, JobStore
from tests.store._job_rules import check_transition


@pytest.fixture
def jobs(store) -> JobStore:
    return JobStore(store, check_transition=check_transition)


def create(jobs, ws, name, **kwargs):
    kwargs.setdefault("experiment_name", "exp")
    return jobs.create_job(ws, name, "command", {"command": "echo hi", "name": name}, **kwargs)


def walk(jobs, ws, name, *statuses):
    for status in statuses:
        record = jobs.transition(ws, name, status)
    return record


def test_create_and_get_round_trip(jobs, workspace_name):
    rec = create(jobs, workspace_name, "j1", display_name="first", parent_job_name=None)
    assert (rec.workspace, rec.name, rec.type, rec.status, rec.display_name) == (
        workspace_name, "j1", "command", "NotStarted", "first")
    assert rec.spec == {"command": "echo hi", "name": "j1"} and rec.error is None
    assert rec.archived is False and rec.started_at is None and rec.ended_at is None
    assert rec.created_at.tzinfo is not None and rec.agent_pid is None
    assert jobs.get_job(workspace_name, "j1") == rec
    assert jobs.get_job(workspace_name, "nope") is None


def test_duplicate_name_is_already_exists(jobs, workspace_name):
    create(jobs, workspace_name, "j1")
    with pytest.raises(AlreadyExistsError):
        create(jobs, workspace_name, "j1")
    create(jobs, workspace_name + "-other", "j1")  # names are per workspace


def test_list_is_newest_first_and_filters_children_and_archived(jobs, workspace_name):
    create(jobs, workspace_name, "parent", status="Queued")
    for child in ("c1", "c2"):
        create(jobs, workspace_name, child, parent_job_name="parent")
    create(jobs, workspace_name, "last")
    names = lambda records: [r.name for r in records]
    assert names(jobs.list_jobs(workspace_name)) == ["last", "c2", "c1", "parent"]
    assert names(jobs.list_jobs(workspace_name, parent_job_name="parent")) == ["c2", "c1"]
    assert names(jobs.list_jobs(workspace_name, max_results=2)) == ["last", "c2"]
    jobs.set_archived(workspace_name, "c2", True)
    assert names(jobs.list_jobs(workspace_name)) == ["last", "c1", "parent"]
    assert names(jobs.list_jobs(workspace_name, view=ListViewType.ARCHIVED_ONLY)) == ["c2"]
    assert names(jobs.list_jobs(workspace_name, view="All")) == ["last", "c2", "c1", "parent"]
    jobs.set_archived(workspace_name, "c2", False)
    assert jobs.get_job(workspace_name, "c2").archived is False
    with pytest.raises(NotFoundError):
        jobs.set_archived(workspace_name, "nope", True)


def test_transitions_set_started_and_ended_once(jobs, workspace_name):
    create(jobs, workspace_name, "j")
    prepared = walk(jobs, workspace_name, "j", "Queued", "Preparing")
    assert prepared.status == "Preparing" and prepared.started_at is None
    running = jobs.transition(workspace_name, "j", "Running", agent_pid=4242)
    assert running.started_at is not None and running.ended_at is None and running.agent_pid == 4242
    done = walk(jobs, workspace_name, "j", "Finalizing", "Completed")
    assert done.status == "Completed" and done.started_at == running.started_at
    assert done.ended_at is not None and done.ended_at >= done.started_at
    assert done.updated_at >= running.updated_at


def test_forbidden_transition_raises_and_changes_nothing(jobs, workspace_name):
    create(jobs, workspace_name, "j")
    walk(jobs, workspace_name, "j", "Queued", "Canceled")
    before = jobs.get_job(workspace_name, "j")
    with pytest.raises(InvalidTransitionError):
        jobs.transition(workspace_name, "j", "Running")
    assert jobs.get_job(workspace_name, "j") == before


def test_expected_statuses_guard_the_transition(jobs, workspace_name):
    create(jobs, workspace_name, "j")
    with pytest.raises(InvalidTransitionError) as info:
        jobs.transition(workspace_name, "j", "Queued", expected={"Queued"})
    assert info.value.details["current"] == "NotStarted"
    assert jobs.transition(workspace_name, "j", "Queued", expected={"NotStarted"}).status == "Queued"


def test_transition_records_error_heartbeat_and_spec_patch(jobs, workspace_name):
    create(jobs, workspace_name, "j")
    beat = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    rec = jobs.transition(workspace_name, "j", "Failed", error={"code": "UserError", "message": "boom"},
                          heartbeat_at=beat, spec={"outputs": {"x": 1}})
    assert rec.error == {"code": "UserError", "message": "boom"} and rec.heartbeat_at == beat
    assert rec.spec == {"command": "echo hi", "name": "j", "outputs": {"x": 1}}
    assert rec.ended_at is not None and rec.started_at is None


def test_transition_rejects_unknown_fields_and_missing_jobs(jobs, workspace_name):
    create(jobs, workspace_name, "j")
    with pytest.raises(ValidationError):
        jobs.transition(workspace_name, "j", "Queued", status="Running")
    with pytest.raises(NotFoundError):
        jobs.transition(workspace_name, "nope", "Queued")


def test_heartbeat_update_fields_and_list_active(jobs, workspace_name):
    create(jobs, workspace_name, "a")
    create(jobs, workspace_name, "b")
    walk(jobs, workspace_name, "b", "Queued", "Failed")
    jobs.heartbeat(workspace_name, "a", AgentIdentity(99, "host"), 15)
    rec = jobs.get_job(workspace_name, "a")
    assert rec.agent_pid == 99 and rec.heartbeat_at is not None
    with pytest.raises(NotFoundError):
        jobs.heartbeat(workspace_name, "nope", AgentIdentity(1, "host"), 15)
    rec = jobs.update_fields(workspace_name, "a", display_name="shown", tags={"k": "v"}, description="d")
    assert rec.display_name == "shown"
    assert rec.spec["tags"] == {"k": "v"} and rec.spec["description"] == "d" and rec.spec["display_name"] == "shown"
    with pytest.raises(ValidationError):
        jobs.update_fields(workspace_name, "a", command="rm -rf /")
    assert [r.name for r in jobs.list_active(workspace_name)] == ["a"]


def test_an_agent_holds_its_jobs_by_pid_host_and_start_time(jobs, workspace_name):
    ws = workspace_name
    for name in ("own", "step", "elsewhere", "done", "fresh"):
        create(jobs, ws, name)
    me = AgentIdentity(10, "host-a/boot-1", 1796459745.93)
    jobs.heartbeat(ws, "step", me, 30)
    jobs.heartbeat(ws, "done", me, 30)
    walk(jobs, ws, "done", "Queued", "Failed")
    jobs.heartbeat(ws, "elsewhere", AgentIdentity(10, "host-b/boot-1", me.started_at), 30)
    before = {r.name: r for r in jobs.list_jobs(ws)}
    assert before["step"].agent == me
    assert before["step"].lease_expires_at - before["step"].heartbeat_at == timedelta(seconds=30)

    assert jobs.heartbeat(ws, "own", me, 60)  # claims its own job, renews the step it also holds
    after = {r.name: r for r in jobs.list_jobs(ws)}
    assert after["own"].agent == me
    assert after["step"].lease_expires_at - after["step"].heartbeat_at == timedelta(seconds=60)
    for untouched in ("elsewhere", "done"):  # another host's agent of the same pid; a finished job
        assert after[untouched].lease_expires_at == before[untouched].lease_expires_at

    assert jobs.renew_leases(ws, me, 5) == 2
    assert jobs.renew_leases(ws, AgentIdentity(10, "host-a/boot-1", me.started_at - 50), 5) == 0  # pid reused
    assert jobs.renew_leases(ws, AgentIdentity(10, "host-a/boot-1"), 5) == 0  # no start time: renews nothing
    # The launcher's note of the pid it started never replaces an agent's own claim.
    assert not jobs.heartbeat(ws, "own", AgentIdentity(11, "host-a/boot-1"), 15, if_unclaimed=True)
    assert jobs.get_job(ws, "own").agent == me
    assert jobs.heartbeat(ws, "fresh", AgentIdentity(11, "host-a/boot-1"), 15, if_unclaimed=True)
    assert jobs.get_job(ws, "fresh").agent == AgentIdentity(11, "host-a/boot-1", None)


def test_process_tracking_is_recorded_before_processes_start(jobs, workspace_name):
    create(jobs, workspace_name, "j")
    jobs.record_processes(workspace_name, "j", token="ab" * 16, cgroup="/sys/fs/cgroup/openaml-job-" + "ab" * 16)
    rec = jobs.get_job(workspace_name, "j")
    assert rec.process_token == "ab" * 16 and rec.process_cgroup.endswith("ab" * 16)
    with pytest.raises(NotFoundError):
        jobs.record_processes(workspace_name, "nope", token="ab" * 16, cgroup=None)


def test_default_rules_come_from_the_entities_module(store, workspace_name):
    jobs = JobStore(store)
    create(jobs, workspace_name, "j")
    if importlib.util.find_spec("openaml.entities.job_status") is None:
        with pytest.raises(ImportError):
            jobs.transition(workspace_name, "j", "Queued")
    else:
        with pytest.raises(InvalidTransitionError):
            jobs.transition(workspace_name, "j", "Completed")
            jobs.transition(workspace_name, "j", "Running")


def test_one_agent_claims_a_job_and_a_second_is_refused(jobs, workspace_name):
    ws = workspace_name
    create(jobs, ws, "j")
    jobs.heartbeat(ws, "j", AgentIdentity(40, "host"), 15, if_unclaimed=True)  # the launcher's note: no start time
    first, second = AgentIdentity(40, "host", 1796459745.5), AgentIdentity(41, "host", 1796459746.5)
    assert jobs.claim(ws, "j", first, 15)
    assert jobs.claim(ws, "j", first, 15)  # its own claim again
    assert not jobs.claim(ws, "j", second, 15)  # a second agent for the same job
    assert jobs.get_job(ws, "j").agent == first
    create(jobs, ws, "ended")
    walk(jobs, ws, "ended", "Queued", "Failed")
    assert not jobs.claim(ws, "ended", second, 15)
    assert jobs.get_job(ws, "ended").agent_pid is None
    with pytest.raises(NotFoundError):
        jobs.claim(ws, "never-recorded", second, 15)
