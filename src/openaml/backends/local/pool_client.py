"""Asking the home's warm job pool to start an agent, and starting the pool when none runs.

:meth:`PoolClient.launch` returns the forked agent's pid, or None whenever the pool cannot be
used (none runs yet, it refused, it died, it answered late): the launcher then starts the agent
cold, as before the pool existed, so the pool is never a single point of failure.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import sys
from pathlib import Path

from openaml.backends.local.pool_wire import (
    RLIMITS, LaunchRequest, PoolError, PoolStatus, ProcessState, Reply, Request, RequestKind, SocketAddress,
    interpreter_variables, lock_is_free, parse_reply, peer_uid, receive_message, request_message, send_message, socket_path,
)
from openaml.backends.local.spawn import agent_environment, spawn_detached
from openaml.services.settings import Settings

#: How long a launcher waits for the pool's answer before starting the agent cold.
REPLY_TIMEOUT_SECONDS = 5.0
POOL_MODULE = "openaml.backends.local.pool"
# Room for "<python> -m openaml.backends.local.agent <workspace> <job>" with the longest names.
TITLE_ROOM = 340


def pool_supported() -> str | None:
    """None where the pool may run; else why not. Linux only: on macOS, fork without exec is
    unsafe once system frameworks are loaded (Apple's libraries abort or deadlock in a forked
    child), and Windows has no fork; there every job starts cold."""
    if sys.platform != "linux":
        return f"the warm job pool runs on Linux only (this is {sys.platform}); jobs start cold"
    return None


def pool_enabled(settings: Settings) -> bool:
    """Whether launches go through the pool (``OPENAML_POOL=auto``, the default, on Linux)."""
    return settings.pool == "auto" and pool_supported() is None


class PoolClient:
    """Talks to the pool of one home (one request per connection)."""

    def __init__(self, settings: Settings, *, timeout: float = REPLY_TIMEOUT_SECONDS) -> None:
        self.settings, self.timeout = settings, timeout

    def launch(self, workspace: str, job_name: str) -> int | None:
        """The pid of the job's agent forked by the pool; None if the pool did not start it."""
        request = Request(RequestKind.LAUNCH, LaunchRequest(workspace, job_name, current_state(self.settings)))
        try:
            reply = self._ask(request)
        except (OSError, PoolError):
            return None
        return reply.pid if reply.ok else None

    def status(self) -> PoolStatus | None:
        """The running pool's status, or None when none answers."""
        try:
            reply = self._ask(Request(RequestKind.STATUS))
        except (OSError, PoolError):
            return None
        return reply.status

    def stop(self) -> bool:
        """Ask the pool to leave now (agents it started run on); True if one answered."""
        try:
            return self._ask(Request(RequestKind.STOP)).ok
        except (OSError, PoolError):
            return False

    def _ask(self, request: Request) -> Reply:
        path = socket_path(self.settings.home)
        _check_private(path.parent)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock, SocketAddress(path) as address:
            sock.settimeout(self.timeout)
            sock.connect(address)
            # Whoever listens there receives this process's environment: only our own pool.
            if peer_uid(sock) != os.getuid():
                raise PoolError("the pool's socket belongs to another user")
            send_message(sock, request_message(request))
            return parse_reply(receive_message(sock))


def _check_private(folder: Path) -> None:
    """The pool's folder must be ours, a real folder, and closed to everyone else."""
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PoolError(f"{folder} is not a private folder of this user")


def current_state(settings: Settings) -> ProcessState:
    """This process as a detached agent would inherit it (see :func:`spawn_detached`)."""
    import resource

    limits = {}
    for name in RLIMITS:
        if hasattr(resource, name):
            soft, hard = resource.getrlimit(getattr(resource, name))
            limits[name] = (soft, hard)
    ignored = tuple(int(s) for s in signal.valid_signals()
                    if s not in (signal.SIGKILL, signal.SIGSTOP) and signal.getsignal(s) == signal.SIG_IGN)
    try:
        affinity = tuple(sorted(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        affinity = None
    return ProcessState(
        env=agent_environment(settings), cwd=str(Path.home()), umask=current_umask(),
        nice=os.getpriority(os.PRIO_PROCESS, 0), rlimits=limits, affinity=affinity, ignored_signals=ignored,
        blocked_signals=tuple(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
        executable=sys.executable, package=package_dir())


def package_dir() -> str:
    """The folder openaml is imported from (a pool serves only launchers of the same install)."""
    return str(Path(__file__).resolve().parents[2])


def current_umask() -> int:
    """This process's umask, read without changing it where Linux shows it (a set-and-restore
    would race with other threads creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def ensure_pool(settings: Settings) -> bool:
    """Start the home's pool unless one runs (or is starting); True if this call started one.
    Costs one lock probe when one runs. Two racing callers may both start one: the second exits."""
    if pool_supported() is not None or not lock_is_free(settings.home):
        return False
    log = settings.runs_dir / "agent-logs" / "pool.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    # The pool renames each forked agent's process to the agent's command line, within the room
    # its own command line leaves: make room for the longest workspace and job names.
    spawn_detached(settings, [POOL_MODULE, "-" * TITLE_ROOM], log, env=pool_environment(settings))
    return True


def pool_environment(settings: Settings) -> dict[str, str]:
    """The pool's own environment: only what shapes its interpreter and the settings. Each
    forked agent replaces it with its launcher's whole environment, so no launcher's other
    variables (secrets included) ever reach another's jobs, nor ``/proc/<agent>/environ``."""
    env = interpreter_variables(dict(os.environ))
    env.update(settings.agent_env())
    return env
