"""The warm job pool end to end: started on first use and found again, gone when idle, never in
the way when dead or hung, closed to hostile requests, and its agents indistinguishable from
cold ones by anything a job or the system can see."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import struct
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import pytest

from openaml import MLClient, command
from openaml.backends.local.pool_client import PoolClient, current_state
from openaml.backends.local.pool_wire import (
    LaunchRequest, Request, RequestKind, SocketAddress, lock_is_free, receive_message, request_message, socket_path,
)
from openaml.entities import Workspace
from openaml.services.job_leases import AGENT_MODULE, HUNG_AFTER_LEASES, Reaper, command_words
from openaml.services.settings import Settings

from tests.helpers import StaticToken, issue_token, new_workspace_client, start_pool, stop_pool
from tests.safety.procs import poll

from .conftest import HOST_ENV, std_log, wait

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform != "linux", reason="the pool runs on Linux only")]

FORKED = "forked by the warm job pool"


@pytest.fixture
def pooled(home: Path, monkeypatch: pytest.MonkeyPatch):
    """Launches go through the pool of the test's home; whatever pool it had is stopped after."""
    monkeypatch.setenv("OPENAML_POOL", "auto")
    yield Settings.from_env()
    stop_pool(home)


def agent_log(home: Path, job: str, workspace: str = "jobs") -> str:
    return (home / "runs" / "agent-logs" / workspace / f"{job}.log").read_text()


def ask(home: Path, message: bytes) -> dict | None:
    """Send raw bytes to the pool; its reply, or None when it closed the connection."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock, SocketAddress(socket_path(home)) as address:
        sock.settimeout(10)
        sock.connect(address)
        sock.sendall(message)
        try:
            return receive_message(sock)
        except Exception:  # noqa: BLE001 - the pool may hang up on garbage: that is an answer too
            return None


def frame(message: object) -> bytes:
    data = json.dumps(message).encode()
    return struct.pack(">I", len(data)) + data


def launch_frame(settings: Settings, workspace: str, job: str) -> bytes:
    return frame(request_message(Request(RequestKind.LAUNCH, LaunchRequest(workspace, job, current_state(settings)))))


def test_the_first_launch_starts_the_pool_and_later_launches_are_forked(pooled: Settings, ml_client, home: Path):
    first = ml_client.jobs.create_or_update(command(command="echo one", environment=HOST_ENV))
    assert wait(ml_client, first.name).status == "Completed"
    assert FORKED not in agent_log(home, first.name)  # no pool yet: this one started cold
    status = poll(PoolClient(pooled).status, 60, "the pool started by the first launch")
    assert stat.S_IMODE(os.stat(home / "pool").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(socket_path(home)).st_mode) == 0o600
    second = ml_client.jobs.create_or_update(command(command="echo two", environment=HOST_ENV))
    assert wait(ml_client, second.name).status == "Completed"
    assert f"{FORKED} (pid {status.pid})" in agent_log(home, second.name)
    assert "two" in std_log(home, second.name)
    assert PoolClient(pooled).status().forked == 1


def test_an_idle_pool_leaves_and_frees_its_home(home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAML_POOL_IDLE_SECONDS", "2")
    status = start_pool(home)
    poll(lambda: not psutil.pid_exists(status.pid) or psutil.Process(status.pid).status() == psutil.STATUS_ZOMBIE,
         30, "the idle pool to leave")
    assert not socket_path(home).exists()
    assert lock_is_free(home)
    assert "leaving: no launch for 2 s" in (home / "runs" / "agent-logs" / "pool.log").read_text()


def test_a_dead_pool_means_a_cold_start_and_a_new_pool(pooled: Settings, ml_client, home: Path):
    old = start_pool(home)
    os.kill(old.pid, signal.SIGKILL)
    poll(lambda: lock_is_free(home), 10, "the killed pool's lock to be released")
    assert socket_path(home).exists()  # left behind: nobody listens on it
    job = ml_client.jobs.create_or_update(command(command="echo still here", environment=HOST_ENV))
    assert wait(ml_client, job.name).status == "Completed"
    assert FORKED not in agent_log(home, job.name) and "still here" in std_log(home, job.name)
    new = poll(PoolClient(pooled).status, 60, "a new pool started by that launch")
    assert new.pid != old.pid


def test_a_hung_pool_is_given_up_on_at_once(pooled: Settings, ml_client, home: Path):
    status = start_pool(home)
    os.kill(status.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert PoolClient(pooled, timeout=0.5).launch("jobs", "any_job") is None
        assert time.monotonic() - started < 3
    finally:
        os.kill(status.pid, signal.SIGCONT)


def test_each_job_gets_its_own_launchers_environment_and_umask(pooled: Settings, home: Path,
                                                              monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("POOL_TEST_SECRET", "only-the-first-client-has-it")
    monkeypatch.setenv("POOL_TEST_VAR", "pool-start")
    pool = start_pool(home)  # the pool's own environment is this one
    monkeypatch.delenv("POOL_TEST_SECRET")
    script = "echo var=$POOL_TEST_VAR secret=${POOL_TEST_SECRET-unset} umask=$(umask)"
    seen = {}
    new_workspace_client("jobs").close()
    for value, mask in (("b", 0o027), ("c", 0o002)):
        monkeypatch.setenv("POOL_TEST_VAR", value)
        old = os.umask(mask)
        try:
            client = MLClient(workspace_name="jobs")  # a client reads its settings and variables when made
            job = client.jobs.create_or_update(command(command=script, environment=HOST_ENV))
        finally:
            os.umask(old)
        assert wait(client, job.name).status == "Completed"
        client.close()
        assert FORKED in agent_log(home, job.name)
        seen[value] = std_log(home, job.name)
    assert "var=b secret=unset umask=0027" in seen["b"]
    assert "var=c secret=unset umask=0002" in seen["c"]
    assert PoolClient(pooled).status().forked == 2 and pool.forked == 0
    # The pool itself started with only what shapes its interpreter: no launcher's secrets.
    assert b"POOL_TEST_SECRET" not in Path(f"/proc/{pool.pid}/environ").read_bytes()


def _proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in lines)
    keep = ("Umask", "SigIgn", "SigBlk", "SigCgt", "Cpus_allowed_list", "Uid", "Gid", "Groups", "NoNewPrivs",
            "Seccomp", "CapEff")
    return {k: fields[k].strip() for k in keep if k in fields}


def _fd_targets(pid: int) -> dict[int, str]:
    out = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
    return out


def test_a_forked_agent_looks_like_a_cold_one_to_the_system(home: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    """One cold and one forked agent side by side, each running a job that waits for a go."""
    go = tmp_path / "go"
    script = f"touch {tmp_path}/started_$AZUREML_RUN_ID; while [ ! -e {go} ]; do sleep 0.05; done"
    cold_client = new_workspace_client("jobs")  # OPENAML_POOL=off (tests/conftest.py)
    monkeypatch.setenv("OPENAML_POOL", "auto")
    pool_client = MLClient(workspace_name="jobs")
    pool = start_pool(home)
    try:
        jobs = {mode: client.jobs.create_or_update(command(command=script, environment=HOST_ENV)).name
                for mode, client in (("cold", cold_client), ("pool", pool_client))}
        for name in jobs.values():
            poll((tmp_path / f"started_{name}").exists, 60, f"job {name} to start")
        ctx = cold_client._context()
        agents = {mode: ctx.jobs.get_job(ctx.name, name).agent_pid for mode, name in jobs.items()}
        assert FORKED in agent_log(home, jobs["pool"]) and FORKED not in agent_log(home, jobs["cold"])
        assert psutil.Process(agents["pool"]).ppid() == pool.pid
        assert _proc_status(agents["pool"]) == _proc_status(agents["cold"])
        assert Path(f"/proc/{agents['pool']}/limits").read_text() == Path(f"/proc/{agents['cold']}/limits").read_text()
        for mode, pid in agents.items():
            proc = psutil.Process(pid)
            assert os.getsid(pid) == pid and os.getpgid(pid) == pid, f"{mode}: not in a session of its own"
            assert proc.cwd() == str(Path.home()) and proc.nice() == psutil.Process().nice()
            assert proc.num_threads() >= 2  # the heartbeat and the tracking endpoint run
            words = command_words(proc.cmdline())
            assert words[-3:] == [AGENT_MODULE, "jobs", jobs[mode]] and words[-4] == "-m", (mode, words)
            fds = _fd_targets(pid)
            assert fds[0] == "/dev/null"
            assert fds[1] == fds[2] == str(home / "runs" / "agent-logs" / "jobs" / f"{jobs[mode]}.log")
            assert not [t for t in fds.values() if "pool" in t], f"{mode} agent holds the pool's files: {fds}"
        assert Path(f"/proc/{agents['pool']}/cgroup").read_text() == Path(f"/proc/{agents['cold']}/cgroup").read_text()
        go.touch()
        for client, name in zip((cold_client, pool_client), jobs.values()):
            assert wait(client, name).status == "Completed"
    finally:
        go.touch()
        cold_client.close()
        pool_client.close()
        stop_pool(home)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_pool_holds_no_store_connection_no_thread_and_no_stray_descriptor(
        request: pytest.FixtureRequest, pooled: Settings, home: Path, backend: str):
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    client = MLClient(workspace_name="pooldb")
    client.workspaces.begin_create(Workspace(name="pooldb"), database_url=url).result()
    pool = start_pool(home)
    try:
        for text in ("one", "two"):
            job = client.jobs.create_or_update(command(command=f"echo {text}", environment=HOST_ENV))
            assert wait(client, job.name).status == "Completed"
            assert FORKED in agent_log(home, job.name, "pooldb")
        proc = psutil.Process(pool.pid)
        assert proc.num_threads() == 1
        assert proc.net_connections(kind="inet") == []  # no PostgreSQL connection, no port
        fds = _fd_targets(pool.pid)
        log = str(home / "runs" / "agent-logs" / "pool.log")
        others = sorted(t for fd, t in fds.items() if fd > 2)
        assert fds[0] == "/dev/null" and fds[1] == fds[2] == log
        assert len(others) == 2 and others[0] == str(home / "pool.lock") and others[1].startswith("socket:"), fds
    finally:
        client.close()


def test_hostile_requests_are_refused_and_the_pool_stays(pooled: Settings, ml_client, home: Path):
    pool = start_pool(home)
    assert ask(home, struct.pack(">I", 64 << 20)) is not None  # a 64 MiB frame announced: refused, not read
    assert ask(home, struct.pack(">I", 9) + b"not json!")["ok"] is False
    refused = ask(home, frame({"kind": "exec", "argv": ["/bin/sh"]}))
    assert refused["ok"] is False and "unknown request kind" in refused["error"]
    for workspace, job in (("jobs", "../../etc/passwd"), ("../x", "job_1"), ("jobs", "a\nb"), ("jobs", "j" * 300)):
        refused = ask(home, launch_frame(pooled, workspace, job))
        assert refused["ok"] is False and "field 'launch." in refused["error"]
        assert "OPENAML_HOME" not in refused["error"]  # the environment never comes back
    message = json.loads(launch_frame(pooled, "jobs", "job_1")[4:])
    message["launch"]["state"]["executable"] = "/usr/bin/another-python"
    refused = ask(home, frame(message))
    assert refused["ok"] is False and "another interpreter" in refused["error"]
    message["launch"]["state"]["executable"] = sys.executable
    message["launch"]["state"]["env"]["OPENAML_HOME"] = str(home.parent / "elsewhere")
    assert "another OPENAML_HOME" in ask(home, frame(message))["error"]
    assert PoolClient(pooled).status().forked == 0

    # Well-formed, but no such job: the forked child finds nothing recorded and leaves.
    reply = ask(home, launch_frame(pooled, "jobs", "never_submitted"))
    assert reply["ok"] is True
    poll(lambda: not psutil.pid_exists(reply["pid"]) or psutil.Process(reply["pid"]).status() == "zombie",
         30, "the child for an unrecorded job to leave")
    assert "no job never_submitted is recorded" in agent_log(home, "never_submitted")
    assert list(ml_client.jobs.list()) == []

    # A finished job's launch replayed: the child finds it ended and leaves it as it was.
    job = ml_client.jobs.create_or_update(command(command="echo once", environment=HOST_ENV))
    before = wait(ml_client, job.name)
    ctx = ml_client._context()
    ended_at = ctx.jobs.get_job(ctx.name, job.name).ended_at
    reply = ask(home, launch_frame(pooled, "jobs", job.name))
    assert reply["ok"] is True
    poll(lambda: "leaves it alone" in agent_log(home, job.name), 30, "the replayed launch to be ignored")
    after = ctx.jobs.get_job(ctx.name, job.name)
    assert (after.status, after.ended_at) == (before.status, ended_at)
    assert std_log(home, job.name).count("once") == 1
    assert PoolClient(pooled).status().pid == pool.pid  # still the same pool


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another user")
def test_another_user_cannot_reach_the_pool(pooled: Settings, home: Path, tmp_path: Path):
    start_pool(home)
    for folder in (tmp_path, home):
        os.chmod(folder, 0o755)  # so the other user reaches the home itself: only the pool's folder is closed
    pid = os.fork()
    if pid == 0:  # the child becomes "nobody" and tries the pool's socket, reporting by exit status
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(str(socket_path(home)))
            code = 0
        except PermissionError:
            code = 13
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 13


def test_a_hung_forked_agent_is_killed_by_the_reaper(pooled: Settings, ml_client, home: Path, tmp_path: Path):
    start_pool(home)
    started = tmp_path / "started"
    job = ml_client.jobs.create_or_update(command(command=f"touch {started}; sleep 300", environment=HOST_ENV))
    poll(started.exists, 60, "the job to start")
    ctx = ml_client._context()
    record = ctx.jobs.get_job(ctx.name, job.name)
    assert FORKED in agent_log(home, job.name) and record.agent.started_at is not None
    agent = psutil.Process(record.agent_pid)
    agent.suspend()  # hung: it renews no lease
    try:
        later = datetime.now(timezone.utc) + timedelta(seconds=(HUNG_AFTER_LEASES + 2) * pooled.job_lease_seconds)
        ended = Reaper(ctx, clock=lambda: later).reap(ctx.jobs.get_job(ctx.name, job.name))
        assert ended.status == "Failed" and ended.error["code"] == "AgentHung"
        # Stopped, it could not exit by itself: only the reaper's SIGKILL ends it, which it sends
        # only to a process whose command line is an agent's of this workspace.
        agent.wait(timeout=10)
    finally:
        if agent.is_running():
            agent.resume()


def test_jobs_submitted_to_the_server_run_through_the_pool(pooled: Settings, home: Path):
    """The server launches jobs with the same launcher, so they are forked by the same pool."""
    from openaml.server import ServerSettings, create_app
    from openaml.server.testing import InMemoryTransport

    new_workspace_client("jobs").close()
    pool = start_pool(home)
    app = create_app(ServerSettings(workspace_settings=Settings.from_env()))
    try:
        owner = StaticToken(issue_token(home, "owner", "jobs"))
        client = MLClient(owner, workspace_name="jobs", server="http://openaml.test", transport=InMemoryTransport(app))
        job = client.jobs.create_or_update(command(command="echo remote hello", environment=HOST_ENV))
        poll(lambda: client.jobs.get(job.name).status == "Completed", 60, "the remote job to complete")
        assert f"{FORKED} (pid {pool.pid})" in agent_log(home, job.name)
        assert "remote hello" in std_log(home, job.name)
    finally:
        app.state.openaml.close()
