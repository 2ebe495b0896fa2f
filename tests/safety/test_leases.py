"""Guarantee 4: dead agents are noticed without a client call, and a reused pid never passes
for a live agent. On SQLite and on PostgreSQL (a workspace created with ``database_url``).

The end-to-end test kills the only agent running and reads the job through the store (the job
service's ``get`` would reap it itself): the home's watchdog must fail it on its own. The other
tests write leases for real processes of this machine and let a :class:`Reaper` judge them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import pytest

from openaml import MLClient, command
from openaml.entities import Workspace
from openaml.entities.job_status import JobStatus, is_terminal
from openaml.services.job_leases import (
    AGENT_MODULE, HUNG_AFTER_LEASES, Reaper, Verdict, command_words, host_id, judge, process_started_at,
)
from openaml.services.jobs import JobService
from openaml.services.process_tracking import TOKEN_ENV, new_token
from openaml.services.settings import Settings
from openaml.store.jobs import AgentIdentity

from tests.helpers import on_both_launches, prepare_launch

from .conftest import HOST_ENV
from .procs import poll, read_pids, survivors

LEASE = 2.0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def client(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A client on a fresh home whose workspace keeps its metadata in SQLite or PostgreSQL."""
    monkeypatch.setenv("OPENAML_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENAML_ALLOW_HOST_PYTHON", "1")
    monkeypatch.setenv("OPENAML_JOB_LEASE_SECONDS", str(LEASE))
    monkeypatch.chdir(tmp_path)
    prepare_launch(request, tmp_path / "home")
    name = f"ws-{uuid.uuid4().hex[:8]}"  # PostgreSQL tests share one database
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    ml = MLClient(workspace_name=name)
    ml.workspaces.begin_create(Workspace(name=name), database_url=url).result()
    yield ml
    ml.close()


@pytest.mark.slow
@on_both_launches
def test_the_only_agent_killed_is_noticed_with_no_client_call(client: MLClient, tmp_path: Path):
    pid_file = tmp_path / "sleeper.pid"
    job = client.jobs.create_or_update(command(
        command=f"echo started; setsid sleep 300 & echo $! > {pid_file}; wait", environment=HOST_ENV))
    ctx = client._context()
    sleeper = read_pids(pid_file, 1)
    claimed = lambda: (a := ctx.jobs.get_job(ctx.name, job.name).agent) and a.started_at is not None and a
    agent = poll(claimed, 10, "the agent to claim its job")  # with its start time: the agent's own claim
    assert _agents(client) == [agent.pid], "the test needs the killed agent to be the only one"
    os.kill(agent.pid, signal.SIGKILL)
    killed_at = time.monotonic()

    def failed():  # through the store: no reaping client call on the way
        record = ctx.jobs.get_job(ctx.name, job.name)
        return record if is_terminal(record.status) else None
    record = poll(failed, LEASE + 5, "the watchdog to fail the job", every=0.05)
    assert time.monotonic() - killed_at < LEASE + 5
    assert record.status == JobStatus.FAILED.value and record.error["code"] == "AgentDied"
    assert survivors(sleeper) == []  # killed through the job's tracker before the status was written
    scratch = Path(os.environ["OPENAML_HOME"]) / "runs" / ctx.name / job.name
    assert not scratch.exists()  # the dead job's inputs and unpublished outputs are gone too


def test_a_reused_pid_never_passes_for_the_agent(client: MLClient):
    ctx = client._context()
    with _stranger() as stranger:  # a live process of this machine, not the job's agent
        started = process_started_at(stranger.pid)
        impostor = AgentIdentity(stranger.pid, host_id(), started - 100)  # same pid, older process
        name = _queued_job(client)
        ctx.jobs.heartbeat(ctx.name, name, impostor, 60)  # a lease far from expiry
        record = Reaper(ctx).reap(ctx.jobs.get_job(ctx.name, name))
        assert record.status == "Failed" and record.error["code"] == "AgentDied"
        assert stranger.poll() is None  # the process that reused the pid is left alone

        genuine = _queued_job(client)
        ctx.jobs.heartbeat(ctx.name, genuine, AgentIdentity(stranger.pid, host_id(), started), 60)
        assert Reaper(ctx).reap(ctx.jobs.get_job(ctx.name, genuine)).status == "Queued"


def test_a_live_agent_late_on_its_lease_is_waited_for_then_treated_as_hung(client: MLClient):
    ctx = client._context()
    name = _queued_job(client)
    fake_agent = ["-c", "import time; time.sleep(120)", AGENT_MODULE, ctx.name, name]  # an agent's arguments
    with _stranger(argv=[sys.executable, *fake_agent]) as agent_process, _stranger() as not_an_agent:
        now = datetime.now(timezone.utc)
        hung = Reaper(ctx, clock=lambda: now + timedelta(seconds=(HUNG_AFTER_LEASES + 1) * LEASE))
        agent = AgentIdentity(agent_process.pid, host_id(), process_started_at(agent_process.pid))
        ctx.jobs.heartbeat(ctx.name, name, agent, LEASE)
        late = Reaper(ctx, clock=lambda: now + timedelta(seconds=2 * LEASE))
        assert late.reap(ctx.jobs.get_job(ctx.name, name)).status == "Queued"
        record = hung.reap(ctx.jobs.get_job(ctx.name, name))
        assert record.status == "Failed" and record.error["code"] == "AgentHung"
        assert agent_process.wait(timeout=10) == -signal.SIGKILL  # the hung agent is stopped too

        # A record naming a process that is no agent of this workspace never gets it killed.
        other = _queued_job(client)
        ctx.jobs.heartbeat(ctx.name, other, AgentIdentity(not_an_agent.pid, host_id(),
                                                          process_started_at(not_an_agent.pid)), LEASE)
        assert hung.reap(ctx.jobs.get_job(ctx.name, other)).error["code"] == "AgentHung"
        assert not_an_agent.poll() is None


def test_an_agent_of_another_boot_is_judged_by_its_lease_and_its_processes_are_not_ours(client: MLClient):
    """A record from another host or an earlier boot: its pid means nothing here. Alive while
    its lease runs, dead after; and a process here that happens to carry its token is untouched."""
    ctx = client._context()
    token = new_token()
    with _stranger(env={TOKEN_ENV: token}) as bystander:
        name = _queued_job(client)
        ctx.jobs.heartbeat(ctx.name, name, AgentIdentity(bystander.pid, "elsewhere/another-boot", 1.0), LEASE)
        ctx.jobs.record_processes(ctx.name, name, token=token, cgroup=None)
        assert Reaper(ctx).reap(ctx.jobs.get_job(ctx.name, name)).status == "Queued"
        later = datetime.now(timezone.utc) + timedelta(seconds=LEASE + 1)
        record = Reaper(ctx, clock=lambda: later).reap(ctx.jobs.get_job(ctx.name, name))
        assert record.status == "Failed" and "another host" in record.error["message"]
        assert bystander.poll() is None


def test_a_cancel_whose_agent_dies_ends_canceled_once_the_processes_are_gone(client: MLClient):
    ctx = client._context()
    token = new_token()
    with _stranger(env={TOKEN_ENV: token}) as leftover, _stranger() as agent_process:
        name = _queued_job(client)
        agent = AgentIdentity(agent_process.pid, host_id(), process_started_at(agent_process.pid))
        ctx.jobs.heartbeat(ctx.name, name, agent, 60)
        ctx.jobs.record_processes(ctx.name, name, token=token, cgroup=None)
        service = JobService(ctx, Settings.from_env())
        assert service.cancel(name).status == "CancelRequested"  # the agent lives: it is asked
        agent_process.kill()
        agent_process.wait()
        assert service.get(name).status == "Canceled"  # the next reader finds the agent gone
        assert leftover.poll() == -signal.SIGKILL  # killed (by its token) before Canceled was written

    with _stranger() as agent_process:  # and a job whose agent is already gone is failed, not canceled
        name = _queued_job(client)
        ctx.jobs.heartbeat(ctx.name, name, AgentIdentity(agent_process.pid, host_id(),
                                                         process_started_at(agent_process.pid)), 60)
        agent_process.kill()
        agent_process.wait()
        record = JobService(ctx, Settings.from_env()).cancel(name)
        assert record.status == "Failed" and record.error["code"] == "AgentDied"


def test_judge_without_a_lease_waits_for_the_grace_given():
    created = datetime(2030, 1, 1, tzinfo=timezone.utc)
    from openaml.store.jobs import JobRecord
    record = JobRecord(workspace="w", name="j", type="command", status="Queued", parent_job_name=None,
                       experiment_name="e", display_name=None, spec={}, error=None, archived=False,
                       created_at=created, updated_at=created, started_at=None, ended_at=None,
                       agent_pid=None, heartbeat_at=None, seq=1)
    later = created + timedelta(seconds=20)
    assert judge(record, now=later, host=host_id()) is Verdict.ALIVE  # never launched: not judged
    assert judge(record, now=later, host=host_id(), unleased_grace=30) is Verdict.ALIVE
    assert judge(record, now=later, host=host_id(), unleased_grace=15) is Verdict.DEAD


def test_the_watchdog_runs_once_per_home_and_exits_when_idle(tmp_path: Path, monkeypatch):
    from openaml.backends.local import watchdog

    settings = Settings(home=tmp_path / "home", job_lease_seconds=1.0)
    lock = watchdog._lock(settings)
    assert watchdog._free(lock, keep=True)
    assert not watchdog.ensure_watchdog(settings)  # the lock is held: one runs already
    monkeypatch.setattr(watchdog, "IDLE_SECONDS", 0.3)
    dog = watchdog.Watchdog(settings)
    started = time.monotonic()
    dog.run(lock)  # nothing to watch: returns once idle, the lock released
    dog.close()
    assert time.monotonic() - started < 5 and not lock.is_locked
    assert watchdog._free(lock)


# -- helpers ------------------------------------------------------------------------------------

class _stranger:
    """A process of this machine (``sleep`` unless told), ended on exit."""

    def __init__(self, env: dict[str, str] | None = None, argv: list[str] | None = None) -> None:
        self.process = subprocess.Popen(argv or ["sleep", "120"], env={**os.environ, **(env or {})})

    def __enter__(self) -> subprocess.Popen:
        return self.process

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def _queued_job(client: MLClient) -> str:
    """A job stored and queued, which no agent runs (the test plays the agent)."""
    service = JobService(client._context(), Settings.from_env())
    name = f"lease_{uuid.uuid4().hex[:10]}"
    service.submit(command(name=name, command="true", environment=HOST_ENV), launch=False)
    return name


def _agents(client: MLClient) -> list[int]:
    """Pids of the agents running for this client's home."""
    home = str(client._settings.home)
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        cmdline, env = command_words(proc.info["cmdline"] or []), proc.info["environ"] or {}
        if "openaml.backends.local.agent" in cmdline and env.get("OPENAML_HOME") == home:
            found.append(proc.pid)
    return found
