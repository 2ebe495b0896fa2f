"""Tracking a job's processes, so that every one of them ends with the job.

Two trackers, chosen once per job by :func:`open_tracker`:

- :class:`~openaml.services.cgroups.CgroupTracker`: a cgroup v2 of its own per job, where the
  host lets us create one (Linux). Every process the job starts is in it whatever it does
  (``setsid``, a double fork, ignoring SIGTERM); ``cgroup.kill`` ends them all at once, and
  ``cpu.stat`` (and ``memory.peak`` where that controller is on) tell what the job used.
- :class:`TokenTracker`: everywhere else (macOS, hosts whose cgroups are not writable). Each
  process of the job inherits a random 128-bit ``OPENAML_JOB_TOKEN`` in its environment, and a scan
  of the host's processes finds the ones that carry exactly this token. Never the job's name: a
  job of the same name in another workspace or home has another token. A process that replaces
  its whole environment (``env -i``) escapes it; a cgroup has no such hole.

A cgroup tracker scans for its token too, since a root process can move itself out of a cgroup.
:func:`stop` sends SIGTERM, waits for the grace period, sends SIGKILL, and returns once nothing
is left; a job's terminal status is recorded only after that.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

#: The variable every process of a job inherits.
TOKEN_ENV = "OPENAML_JOB_TOKEN"
_TOKEN = re.compile(r"[0-9a-f]{32}")
# How long stop() keeps sending SIGKILL before it reports that something survived (a process in
# uninterruptible sleep cannot die until its I/O returns).
GIVE_UP_SECONDS = 30.0


@dataclass(frozen=True)
class Usage:
    """What a job's processes used, where the tracker can tell (a cgroup can; a token cannot)."""

    cpu_seconds: float | None = None
    memory_peak_bytes: int | None = None


class ProcessTracker(Protocol):
    """Finds and ends every process of one job."""

    kind: str          # "cgroup" or "token", as recorded on the job
    token: str         # the job's OPENAML_JOB_TOKEN
    cgroup: str | None  # the cgroup's path, when the tracker has one

    def describe(self) -> str:
        """One line for the job's log saying how its processes are tracked."""

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` started so that the process is tracked from its first instruction."""

    def pids(self) -> set[int]:
        """The job's live processes."""

    def terminate(self) -> None:
        """Send SIGTERM to every process of the job."""

    def kill(self) -> None:
        """Send SIGKILL to every process of the job."""

    def close(self) -> Usage:
        """Release what the tracker holds (the cgroup's folder); call once the job is stopped."""


def new_token() -> str:
    """A fresh random job token (128 bits, hex)."""
    return secrets.token_hex(16)


def is_token(value: object) -> bool:
    """True for a well-formed token; anything else (empty, a name) must never be scanned for."""
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def open_tracker(mode: str, token: str | None = None) -> ProcessTracker:
    """The strongest tracker this host offers for a new job (``mode`` is the setting:
    ``auto`` tries a cgroup first, ``token`` never does)."""
    token = token or new_token()
    reason = "OPENAML_PROCESS_TRACKING=token"
    if mode == "auto":
        from openaml.services.cgroups import open_cgroup

        tracker, reason = open_cgroup(token)
        if tracker is not None:
            return tracker
    return TokenTracker(token, reason=reason)


def tracker_for(token: str | None, cgroup: str | None) -> ProcessTracker | None:
    """The tracker of a job that some other process started (a dead agent's job), rebuilt from
    what its record holds; None when it holds nothing usable. The cgroup path is only trusted
    when it is a job cgroup named after this very token under a cgroup2 mount."""
    if not is_token(token):
        return None
    if cgroup:
        from openaml.services.cgroups import CgroupTracker

        attached = CgroupTracker.attach(cgroup, token)
        if attached is not None:
            return attached
    return TokenTracker(token)


def stop(tracker: ProcessTracker, grace: float, *, give_up_after: float = GIVE_UP_SECONDS) -> bool:
    """End every process of the job: SIGTERM, then SIGKILL to whatever is left after ``grace``
    seconds (at once when it is 0). Returns True once none is left, False if some process
    still stood after ``give_up_after`` seconds of SIGKILL."""
    if not tracker.pids():
        return True
    if grace > 0:
        tracker.terminate()
        if wait_until_empty(tracker, grace):
            return True
    deadline = time.monotonic() + give_up_after
    while True:
        tracker.kill()
        if wait_until_empty(tracker, 0.5):
            return True
        if time.monotonic() > deadline:
            return False


def wait_until_empty(tracker: ProcessTracker, timeout: float) -> bool:
    """Poll ``tracker.pids()`` (quickly at first) until it is empty or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    pause = 0.002
    while tracker.pids():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.05)
    return True


class TokenTracker:
    """Processes found by the exact ``OPENAML_JOB_TOKEN=<token>`` in their environment."""

    kind = "token"
    cgroup = None

    def __init__(self, token: str, *, reason: str = "") -> None:
        if not is_token(token):
            raise ValueError("a job token is 32 hex digits")
        self.token, self.reason = token, reason

    def describe(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return f"openaml: processes tracked by process token{why}"

    def command(self, argv: list[str]) -> list[str]:
        return list(argv)  # the token comes with the environment

    def pids(self) -> set[int]:
        return scan_token(self.token)

    def terminate(self) -> None:
        send(self.pids(), signal.SIGTERM, self._carries_token)

    def kill(self) -> None:
        send(self.pids(), signal.SIGKILL, self._carries_token)

    def close(self) -> Usage:
        return Usage()

    def _carries_token(self, pid: int) -> bool:
        return carries_token(pid, self.token)


def scan_token(token: str) -> set[int]:
    """Pids of the live processes whose environment holds exactly ``OPENAML_JOB_TOKEN=<token>``
    (this process excluded). Reads ``/proc`` directly where there is one (10x faster than
    psutil), psutil elsewhere."""
    if not is_token(token):
        raise ValueError("a job token is 32 hex digits")
    me = os.getpid()
    if os.path.exists("/proc/self/environ"):
        found = {int(n) for n in os.listdir("/proc") if n.isdigit() and _proc_has(n, token)}
    else:
        found = scan_token_psutil(token)
    found.discard(me)
    return found


def scan_token_psutil(token: str) -> set[int]:
    """:func:`scan_token` through psutil (the portable path; macOS has no ``/proc``)."""
    import psutil

    found = set()
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(TOKEN_ENV) == token and proc.status() != psutil.STATUS_ZOMBIE:
                found.add(proc.pid)
        except (psutil.Error, OSError):
            continue  # gone, a zombie, or another user's process (not one the job could start)
    return found


def carries_token(pid: int, token: str) -> bool:
    """Whether process ``pid`` carries exactly this token now."""
    if os.path.exists("/proc/self/environ"):
        return _proc_has(str(pid), token)
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.environ().get(TOKEN_ENV) == token and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, OSError):
        return False


def _proc_has(pid: str, token: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            data = fh.read()
    except OSError:  # gone, or not ours to read
        return False
    # A zombie's environment reads empty, so only live processes match.
    return f"{TOKEN_ENV}={token}".encode() in data.split(b"\0")


def send(pids: Iterable[int], sig: int, still_ours: Callable[[int], bool]) -> None:
    """Signal each pid that ``still_ours`` confirms, oldest process first: a parent is hit before
    its children, so it cannot see one die and run on (``(sleep & wait); echo never``). On
    Linux the pid is pinned with a pidfd before the check, so a pid that is reused between the
    scan and the signal is never hit."""
    me = os.getpid()
    for pid in oldest_first(pids):
        if pid == me:
            continue
        try:
            _send_one(pid, sig, still_ours)
        except (ProcessLookupError, PermissionError):
            continue


def oldest_first(pids: Iterable[int]) -> list[int]:
    """``pids`` by start time, then pid; a pid that is gone sorts last (it needs no signal)."""
    return sorted(pids, key=lambda pid: (_start_time(pid), pid))


def _start_time(pid: int) -> float:
    if os.path.exists("/proc/self/stat"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                return float(fh.read().rsplit(b")", 1)[1].split()[19])  # starttime, in clock ticks
        except (OSError, IndexError, ValueError):
            return float("inf")
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return float("inf")


def _send_one(pid: int, sig: int, still_ours: Callable[[int], bool]) -> None:
    pidfd_open = getattr(os, "pidfd_open", None)
    pidfd_send = getattr(signal, "pidfd_send_signal", None)
    if pidfd_open is None or pidfd_send is None:
        if still_ours(pid):
            os.kill(pid, sig)
        return
    try:
        fd = pidfd_open(pid)
    except OSError as exc:
        if isinstance(exc, (ProcessLookupError, PermissionError)):
            raise
        if still_ours(pid):  # pidfds unsupported by this kernel
            os.kill(pid, sig)
        return
    try:
        if still_ours(pid):
            pidfd_send(fd, sig)  # ESRCH if the pinned process ended meanwhile
    finally:
        os.close(fd)
