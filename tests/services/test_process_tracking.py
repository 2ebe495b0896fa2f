"""The process trackers, directly: one contract run on the token tracker, on the cgroup tracker
(where this host has a writable cgroup2) and on its pre-5.14 fallback (freeze and kill each
member); stop()'s rules against a fake; and the cgroup file parsers and path checks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openaml.services import cgroups
from openaml.services.process_tracking import (
    TOKEN_ENV, TokenTracker, Usage, new_token, open_tracker, scan_token, scan_token_psutil, stop, tracker_for,
)
from tests.safety.procs import cgroup_unavailable, poll, read_pids, survivors

# A tree that a process-group kill misses: a new session, a double fork, and SIGTERM ignored.
TREE = ("setsid sleep 60 & echo $! >> {f}; sh -c 'trap \"\" TERM; echo $$ >> {f}; exec sleep 60' & "
        "( setsid sh -c 'sleep 60 & echo $! >> {f}' & ); wait")


def _cgroup_tracker(**kwargs):
    reason = cgroup_unavailable()
    if reason:
        pytest.skip(f"cgroup tracking unavailable here: {reason}")
    tracker, _ = cgroups.open_cgroup(new_token())
    if kwargs:
        tracker = cgroups.CgroupTracker(tracker.path, tracker.token, **kwargs)
    return tracker


@pytest.fixture(params=["token", "cgroup", "cgroup-without-kill-file"])
def tracker(request):
    if request.param == "token":
        made = open_tracker("token")
    else:
        made = _cgroup_tracker(use_kill_file=request.param == "cgroup")
    yield made
    stop(made, 0.0)
    made.close()


def _start(tracker, tmp_path: Path) -> tuple[subprocess.Popen, list]:
    pid_file = tmp_path / "pids"
    main = subprocess.Popen(tracker.command(["/bin/bash", "-c", TREE.format(f=pid_file)]),
                            env={**os.environ, TOKEN_ENV: tracker.token}, start_new_session=True)
    return main, read_pids(pid_file, 3)


def test_a_tracker_finds_and_ends_the_whole_tree(tracker, tmp_path: Path):
    main, tree = _start(tracker, tmp_path)
    assert {p.pid for p in tree} | {main.pid} <= tracker.pids()
    started = time.monotonic()
    assert stop(tracker, grace=0.5)
    assert time.monotonic() - started < 10
    assert survivors(tree) == [] and main.wait(timeout=5) is not None
    assert tracker.pids() == set()
    usage = tracker.close()
    if tracker.kind == "cgroup":
        assert usage.cpu_seconds is not None and not tracker.path.exists()
    else:
        assert usage == Usage()


def test_stop_lets_a_well_behaved_tree_end_on_sigterm_and_returns_at_once_when_empty(tracker, tmp_path: Path):
    sleeper = subprocess.Popen(tracker.command(["sleep", "60"]), env={**os.environ, TOKEN_ENV: tracker.token})
    poll(lambda: sleeper.pid in tracker.pids(), 10, "the sleeper to be tracked")
    started = time.monotonic()
    assert stop(tracker, grace=5.0)
    assert time.monotonic() - started < 2  # SIGTERM sufficed: no wait for the grace
    assert sleeper.wait(timeout=5) == -signal.SIGTERM
    assert stop(tracker, grace=5.0)  # nothing left: returns without signalling


class FakeTracker:
    """Processes that go away on the signals we choose."""

    kind, token, cgroup = "fake", "0" * 32, None

    def __init__(self, dies_on: str | None) -> None:
        self.alive, self.dies_on, self.sent = {1, 2}, dies_on, []

    def pids(self) -> set[int]:
        return set(self.alive)

    def terminate(self) -> None:
        self.sent.append("TERM")
        if self.dies_on == "TERM":
            self.alive.clear()

    def kill(self) -> None:
        self.sent.append("KILL")
        if self.dies_on == "KILL":
            self.alive.clear()

    def close(self) -> Usage:
        return Usage()


def test_stop_sends_sigterm_then_sigkill_after_the_grace_and_reports_what_survives():
    tracker = FakeTracker("TERM")
    assert stop(tracker, 0.05) and tracker.sent == ["TERM"]
    tracker = FakeTracker("KILL")
    assert stop(tracker, 0.05) and tracker.sent == ["TERM", "KILL"]
    tracker = FakeTracker("KILL")
    assert stop(tracker, 0.0) and tracker.sent == ["KILL"]  # the reaper's way: no grace
    tracker = FakeTracker(None)  # uninterruptible: stop gives up and says so
    assert not stop(tracker, 0.0, give_up_after=0.2) and tracker.sent.count("KILL") >= 1


def test_the_psutil_scan_agrees_with_the_proc_scan():
    token = new_token()
    sleeper = subprocess.Popen(["sleep", "30"], env={**os.environ, TOKEN_ENV: token})
    try:
        assert poll(lambda: scan_token(token), 5, "the sleeper") == {sleeper.pid} == scan_token_psutil(token)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert scan_token(token) == set() == scan_token_psutil(token)


def test_only_well_formed_tokens_are_ever_scanned_for():
    for bad in ("", "jobs", "x" * 32, new_token()[:-1], new_token().upper()):
        with pytest.raises(ValueError):
            scan_token(bad)
        assert tracker_for(bad, None) is None


def test_a_recorded_cgroup_is_trusted_only_when_it_is_that_jobs(tmp_path: Path):
    tracker = _cgroup_tracker()
    try:
        token = tracker.token
        assert cgroups.CgroupTracker.attach(str(tracker.path), token).path == tracker.path
        assert isinstance(tracker_for(token, str(tracker.path)), cgroups.CgroupTracker)
        other = new_token()
        for hostile in (str(tracker.path.parent), str(tracker.path.parent / f"x-{token}"),
                        str(tracker.path) + "/..", f"relative/openaml-job-{token}", str(tmp_path / f"openaml-job-{token}")):
            assert cgroups.CgroupTracker.attach(hostile, token) is None, hostile
        assert cgroups.CgroupTracker.attach(str(tracker.path), other) is None  # another job's token
        link = tmp_path / f"openaml-job-{token}"
        link.symlink_to(tracker.path)
        assert cgroups.CgroupTracker.attach(str(link), token) is None
        # An unusable cgroup still leaves the token: the reaper never falls back to nothing.
        assert isinstance(tracker_for(token, str(tracker.path.parent)), TokenTracker)
    finally:
        tracker.close()


def test_cgroup_files_are_parsed():
    mountinfo = ("25 30 0:23 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro\n"
                 "41 31 0:38 / /sys/fs/cgroup/my\\040unified rw,relatime - cgroup2 cgroup2 rw\n")
    assert cgroups.cgroup2_mount(mountinfo) == Path("/sys/fs/cgroup/my unified")
    assert cgroups.cgroup2_mount("25 30 0:23 / /sys/fs/cgroup rw - cgroup cgroup rw,memory\n") is None
    assert cgroups.own_cgroup("4:memory:/x\n0::/user.slice/session-1.scope\n") == "/user.slice/session-1.scope"
    assert cgroups.own_cgroup("0::/\n") == "/" and cgroups.own_cgroup("4:memory:/x\n") is None
    nested = Path("/sys/fs/cgroup/a/openaml-job-1/openaml-job-2/b")
    assert cgroups.outside_jobs(nested) == Path("/sys/fs/cgroup/a")  # job cgroups never nest


def test_a_cgroup_is_removed_even_while_a_killed_process_s_threads_still_exit():
    """A multi-threaded process leaves cgroup.procs before its last threads have exited; the
    cgroup is removable only once it is no longer populated, which close() waits for."""
    code = ("import sys, threading\n"
            "for _ in range(8): threading.Thread(target=lambda: [sum(range(9999)) for _ in iter(int, 1)], "
            "daemon=True).start()\n"
            "print('ready', flush=True)\nthreading.Event().wait()\n")
    for _ in range(8):
        tracker = _cgroup_tracker()
        busy = subprocess.Popen(tracker.command([sys.executable, "-c", code]), stdout=subprocess.PIPE, text=True,
                                env={**os.environ, TOKEN_ENV: tracker.token})
        assert busy.stdout.readline() == "ready\n"
        assert stop(tracker, 0.0)
        tracker.close()
        busy.wait()
        busy.stdout.close()
        assert not tracker.path.exists()


def test_empty_job_cgroups_left_long_ago_are_removed_by_the_next_job(monkeypatch):
    probe = _cgroup_tracker()
    parent = probe.path.parent / f"openaml-test-{probe.token}"  # a private parent: no other test's cgroups
    probe.close()
    parent.mkdir()
    left, busy_group = parent / f"{cgroups.PREFIX}{new_token()}", parent / f"{cgroups.PREFIX}{new_token()}"
    left.mkdir()
    busy_group.mkdir()
    busy = subprocess.Popen(["/bin/sh", "-c", 'echo $$ > "$0"; exec sleep 30', str(busy_group / "cgroup.procs")])
    try:
        poll(lambda: (busy_group / "cgroup.procs").read_text().strip(), 10, "the sleeper to join")
        cgroups._remove_stale(parent)
        assert left.exists()  # not old yet
        monkeypatch.setattr(cgroups, "STALE_SECONDS", 0.0)
        cgroups._remove_stale(parent)
        assert not left.exists() and busy_group.exists()  # empty and old: gone; populated: kept
    finally:
        busy.kill()
        busy.wait()
        cgroups.CgroupTracker(busy_group, busy_group.name[len(cgroups.PREFIX):]).close()
        parent.rmdir()


def test_signals_reach_parents_before_their_children(tracker, tmp_path: Path):
    """One at a time, a child signalled first could die and let its parent run on; oldest
    first (and, in a cgroup, frozen meanwhile) the parent never gets to (``echo never``)."""
    from openaml.services.process_tracking import oldest_first

    out, pid_file = tmp_path / "out", tmp_path / "child"
    with open(out, "w") as log:
        main = subprocess.Popen(tracker.command(["/bin/bash", "-c", f"(sleep 60 & echo $! > {pid_file}; wait); echo never"]),
                                env={**os.environ, TOKEN_ENV: tracker.token}, stdout=log, start_new_session=True)
    child = read_pids(pid_file, 1)[0].pid
    assert oldest_first([child, main.pid, 2 ** 22 + 7]) == [main.pid, child, 2 ** 22 + 7]  # gone: last
    assert stop(tracker, grace=5.0)
    main.wait(timeout=5)
    assert "never" not in out.read_text()
