"""Guarantee 3: a job's processes end with the job, and nothing else is ever signalled.

Real jobs start real trees: a ``setsid`` child, a ``nohup ... &`` child, a double-forked daemon
and a child that ignores SIGTERM. Whatever way the job ends (completed, failed, timed out,
canceled), none of them may still run at the moment its terminal status is first seen in the
store. Each test runs with the cgroup tracker (where this host has a writable cgroup2) and with
the token scan forced.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from openaml import MLClient, command
from openaml.entities import Workspace
from openaml.entities.job_status import is_terminal
from openaml.services.process_tracking import TOKEN_ENV, TokenTracker, new_token, scan_token, stop

from tests.helpers import on_both_launches, prepare_launch, use_home

from .conftest import HOST_ENV
from .procs import poll, read_pids, survivors

pytestmark = pytest.mark.slow

TREE = 4  # processes each tree writes down


def tree(pid_file: Path) -> str:
    """Start the four hard cases, each writing its pid once it is in place, and wait for them."""
    f = str(pid_file)
    return (
        f"setsid sleep 300 & echo $! >> {f}; "
        f"nohup sleep 300 >/dev/null 2>&1 & echo $! >> {f}; "
        f"sh -c 'trap \"\" TERM; echo $$ >> {f}; exec sleep 300' & "  # SIGTERM ignored, even after exec
        f"( setsid sh -c 'sleep 300 & echo $! >> {f}' & ); "  # double fork: reparented, own session
        f"while [ $(wc -l < {f}) -lt {TREE} ]; do sleep 0.02; done; echo tree ready; "
    )


ENDINGS = {
    "completed": ("exit 0", {}, "Completed"),
    "failed": ("exit 3", {}, "Failed"),
    "timeout": ("sleep 300", {"timeout": 3}, "Failed"),
    "canceled": ("sleep 300", {}, "Canceled"),
}


@pytest.fixture
def client(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tracking: str,
           fast_kill: float):
    prepare_launch(request, use_home(tmp_path, monkeypatch, host_python=True))
    ml = MLClient(workspace_name="jobs")
    ml.workspaces.begin_create(Workspace(name="jobs")).result()
    yield ml
    ml.close()


def _first_terminal(client: MLClient, name: str, timeout: float = 60):
    """The job's record the first time the store shows it terminal (read from the store, so
    no reaping or waiting happens on the way)."""
    ctx = client._context()
    def terminal():
        record = ctx.jobs.get_job(ctx.name, name)
        return record if is_terminal(record.status) else None
    return poll(terminal, timeout, f"job {name} to end", every=0.01)


@pytest.mark.parametrize("ending", list(ENDINGS))
@on_both_launches
def test_no_process_of_the_tree_outlives_the_job(client: MLClient, tmp_path: Path, tracking: str, ending: str):
    last, limits, expected = ENDINGS[ending]
    pid_file = tmp_path / "pids"
    job = client.jobs.create_or_update(command(command=tree(pid_file) + last, environment=HOST_ENV, **limits))
    processes = read_pids(pid_file, TREE)
    if ending == "canceled":
        client.jobs.begin_cancel(job.name)
    record = _first_terminal(client, job.name)
    assert survivors(processes) == [], f"still running when {record.status} was recorded"
    assert record.status == expected, record.error
    if ending == "timeout":
        assert record.error["code"] == "JobTimeout"
    shown = client.jobs.get(job.name)
    assert shown.properties["openaml.process_tracking"] == tracking
    log = (_job_folder(tmp_path, job.name) / "user_logs" / "std_log.txt").read_text()
    first, second = log.splitlines()[:2]
    assert first.startswith("openaml: image python:3.11-slim not run:")  # the environment comes first
    assert second.startswith(f"openaml: processes tracked by {'cgroup' if tracking == 'cgroup' else 'process token'}")
    assert "tree ready" in log
    if tracking == "cgroup":
        assert record.process_cgroup and not Path(record.process_cgroup).exists()  # removed after use
        assert float(shown.properties["openaml.cpu_seconds"]) > 0


def test_a_same_named_job_elsewhere_survives_the_reaping_of_a_dead_agent(tmp_path: Path, monkeypatch, tracking: str):
    """Three jobs of one name: in home A (workspaces `jobs` and `other`) and in home B. Killing
    the agent of A/jobs gets its processes killed (by its own token or cgroup), the others' not."""
    monkeypatch.setenv("OPENAML_ALLOW_HOST_PYTHON", "1")
    monkeypatch.setenv("OPENAML_JOB_LEASE_SECONDS", "2")
    monkeypatch.chdir(tmp_path)
    places = [("A", "jobs"), ("A", "other"), ("B", "jobs")]
    clients, sleepers = {}, {}
    for home, ws in places:
        ml = MLClient(workspace_name=ws, openaml_home=tmp_path / home)
        ml.workspaces.begin_create(Workspace(name=ws)).result()
        clients[home, ws] = ml
        pid_file = tmp_path / f"{home}-{ws}.pid"
        ml.jobs.create_or_update(command(name="twin_job", command=f"setsid sleep 300 & echo $! > {pid_file}; wait",
                                         environment=HOST_ENV))
        sleepers[home, ws] = read_pids(pid_file, 1)
    try:
        victim = clients["A", "jobs"]._context()
        os.kill(victim.jobs.get_job(victim.name, "twin_job").agent_pid, signal.SIGKILL)
        record = _first_terminal(clients["A", "jobs"], "twin_job", timeout=15)  # the watchdog's doing
        assert record.status == "Failed" and record.error["code"] == "AgentDied"
        assert survivors(sleepers["A", "jobs"]) == []
        for place in places[1:]:
            assert survivors(sleepers[place]) == [p.pid for p in sleepers[place]], f"{place} was hit"
            ctx = clients[place]._context()
            assert not is_terminal(ctx.jobs.get_job(ctx.name, "twin_job").status)
    finally:
        for place in places[1:]:
            clients[place].jobs.begin_cancel("twin_job")
        for place in places[1:]:
            assert _first_terminal(clients[place], "twin_job").status == "Canceled"
            assert survivors(sleepers[place]) == []
        for ml in clients.values():
            ml.close()


def test_the_token_scan_matches_the_exact_token_only():
    token = new_token()
    near = [token[:-1] + ("0" if token[-1] != "0" else "1"), token + "0", token[:16]]
    start = lambda value: subprocess.Popen(["sleep", "60"], env={**os.environ, TOKEN_ENV: value})
    ours = start(token)
    others = [start(value) for value in near] + [subprocess.Popen(["sleep", "60"], env={**os.environ, "X": token})]
    try:
        assert poll(lambda: scan_token(token), 5, "the tracked process") == {ours.pid}
        assert stop(TokenTracker(token), 0.0)
        assert ours.wait(timeout=5) == -signal.SIGKILL
        assert all(p.poll() is None for p in others)  # near misses and the token under another name
    finally:
        for p in others:
            p.kill()
            p.wait()


def test_an_agent_started_inside_a_job_does_not_carry_its_token(tmp_path: Path, monkeypatch):
    """A job that submits a job: the second job's agent must not end with the first job."""
    from openaml.backends.local.spawn import spawn_detached
    from openaml.services.settings import Settings

    out = tmp_path / "seen.txt"
    (tmp_path / "probe.py").write_text(
        f"import os, pathlib\npathlib.Path({str(out)!r}).write_text(os.environ.get({TOKEN_ENV!r}, 'none'))\n")
    monkeypatch.setenv(TOKEN_ENV, new_token())  # as inside a job
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    spawn_detached(Settings(home=tmp_path / "home"), ["probe"], tmp_path / "probe.log")
    assert poll(lambda: out.exists() and out.read_text(), 30, "the probe to run") == "none"


def _job_folder(tmp_path: Path, name: str) -> Path:
    return (tmp_path / "home" / "workspaces" / "jobs" / "datastores" / "workspaceartifactstore"
            / "ExperimentRun" / f"dcid.{name}")
