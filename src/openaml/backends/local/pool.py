"""The warm job pool of one home: ``python -m openaml.backends.local.pool``.

A cold agent is a new interpreter that spends ~0.35 s importing openaml before it reads its job.
The pool imports all of that once, then forks one child per launch request; the child sets
itself up exactly as a cold agent would have been (:mod:`openaml.backends.local.pool_child`)
and runs the job. The pool itself never opens a store, starts a thread or runs job code, so
nothing it holds can be shared across a fork.

One pool per home: whoever holds ``flock`` on ``$OPENAML_HOME/pool.lock`` is it. It listens on
``$OPENAML_HOME/pool/pool.sock`` (folder 0700, socket 0600, peers checked with
``SO_PEERCRED``) and leaves when no launch came for ``OPENAML_POOL_IDLE_SECONDS``, when its
home or socket disappears, when asked, or when openaml's files change under it (the next
launch starts a fresh one). Launchers that cannot reach it start agents cold.
"""

from __future__ import annotations

import gc
import importlib
import os
import select
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass

from openaml.backends.local.pool_child import ForkedAgent, become_agent, set_title
from openaml.backends.local.pool_wire import (
    LaunchRequest, PoolError, PoolStatus, Reply, RequestKind, SocketAddress, interpreter_variables,
    make_private_dir, open_lock, parse_request, peer_gid, peer_uid, pool_dir, receive_message, reply_message, send_message, socket_path,
    try_lock,
)
from openaml.errors import ValidationError
from openaml.services.job_leases import AGENT_MODULE
from openaml.services.settings import Settings

#: Imported once by the pool, so no agent pays for them: the agent and what running a job loads.
WARM_MODULES = (
    AGENT_MODULE, "openaml.tracking", "openaml.tracking.server", "openaml.tracking.routes",
    "openaml.services.job_runtime", "openaml.services.job_leases", "openaml.services.job_io",
    "openaml.services.contents", "openaml.services.environments", "openaml.services.process_tracking",
    "openaml.services.cgroups", "openaml.services.mlflow_registry", "openaml.services.pipeline_runtime",
    "openaml.services.sweep_runtime", "openaml.services.parallel", "openaml.store.tracking",
    "openaml.entities.environment", "psutil", "filelock", "mimetypes", "socketserver", "unicodedata",
    "stringprep", "encodings.idna",
)
# How often the pool wakes while idle: reaps its children, checks its home and socket.
TICK_SECONDS = 1.0
# A connected client has this long to send its request.
REQUEST_TIMEOUT_SECONDS = 2.0
_LISTEN_BACKLOG = 64


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} pool {os.getpid()}: {message}", flush=True)


@dataclass
class Interpreter:
    """What a launcher must share with the pool for a forked agent to run the same code as a
    cold one: the interpreter, the openaml install and the variables Python reads at start
    (``PYTHON*``, the locale, ``HOME``)."""

    executable: str
    package: str
    python_env: dict[str, str]

    @classmethod
    def of(cls, executable: str, package: str, env: dict[str, str]) -> "Interpreter":
        return cls(executable, package, interpreter_variables(env))


class Pool:
    """The listening socket, the lock and the loop. ``serve`` returns None in the pool when it
    leaves, and a :class:`ForkedAgent` in each forked child (which then becomes the agent)."""

    def __init__(self, settings: Settings, lock_fd: int) -> None:
        from openaml.backends.local.pool_client import package_dir

        self.settings, self.lock_fd, self.pid = settings, lock_fd, os.getpid()
        self.interpreter = Interpreter.of(sys.executable, package_dir(), dict(os.environ))
        self.started_at, self.last_launch, self.forked = time.time(), time.monotonic(), 0
        self.path = socket_path(settings.home)
        self.listener: socket.socket | None = None
        self.inode: int | None = None
        self.sources = _sources(self.interpreter.package)

    # -- lifecycle ---------------------------------------------------------------------------
    def bind(self) -> None:
        make_private_dir(pool_dir(self.settings.home))
        try:
            self.path.unlink()  # a dead pool's socket: we hold the lock, so no live pool owns it
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket file is created 0600
        try:
            with SocketAddress(self.path) as address:
                listener.bind(address)
        finally:
            os.umask(old)
        listener.listen(_LISTEN_BACKLOG)
        self.listener, self.inode = listener, os.stat(self.path).st_ino

    def serve(self) -> ForkedAgent | None:
        self.last_launch = time.monotonic()  # idle from now, not from before the warm-up
        try:
            while True:
                reason = self._reason_to_leave()
                if reason:
                    log(f"leaving: {reason}")
                    return None
                ready, _, _ = select.select([self.listener], [], [], TICK_SECONDS)
                self._reap_children()
                if ready:
                    outcome = self._accept()
                    if outcome is not None:
                        return outcome if isinstance(outcome, ForkedAgent) else None
        finally:
            self.close()

    def close(self) -> None:
        """In the pool: remove the socket (if still ours) and release the lock. In a forked
        child: only close its copies, which releases nothing of the pool's."""
        if self.listener is not None:
            if os.getpid() == self.pid and self._socket_is_ours():
                self.path.unlink(missing_ok=True)
            self.listener.close()
            self.listener = None
        if self.lock_fd >= 0:
            os.close(self.lock_fd)  # flock: released once the pool's own descriptor closes
            self.lock_fd = -1

    # -- one connection ----------------------------------------------------------------------
    def _accept(self) -> ForkedAgent | bool | None:
        """None to go on serving; True to leave (asked to); a ForkedAgent in a forked child."""
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return None
        with conn:
            conn.settimeout(REQUEST_TIMEOUT_SECONDS)
            try:
                if peer_uid(conn) != os.getuid():
                    log("refused a connection from another user")
                    return None
                request = parse_request(receive_message(conn))
                if request.kind is RequestKind.STATUS:
                    self._answer(conn, Reply(ok=True, status=self.status()))
                elif request.kind is RequestKind.STOP:
                    self._answer(conn, Reply(ok=True))
                    log("leaving: asked to stop")
                    return True
                else:
                    refusal = self._refusal(conn, request.launch)
                    if refusal:
                        log(f"refused a launch: {refusal}")
                        self._answer(conn, Reply(ok=False, error=refusal))
                        return True if refusal.startswith(_STALE) else None
                    return self._fork(conn, request.launch)
            except (OSError, PoolError, ValidationError) as exc:
                log(f"refused a request: {exc}")
                self._answer(conn, Reply(ok=False, error=str(exc)[:300]))
        return None

    def _fork(self, conn: socket.socket, launch: LaunchRequest) -> ForkedAgent | None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            conn.close()  # the child's copy; the pool answers on its own
            return ForkedAgent(launch, pool_pid=self.pid)
        self.forked += 1
        self.last_launch = time.monotonic()
        self._answer(conn, Reply(ok=True, pid=pid))
        return None

    def _refusal(self, conn: socket.socket, launch: LaunchRequest) -> str | None:
        """Why this launch cannot be forked here (the launcher then starts it cold), or None."""
        state = launch.state
        if Interpreter.of(state.executable, state.package, state.env) != self.interpreter:
            return ("the launcher runs another interpreter or openaml install, or other PYTHON*, locale or HOME "
                    "variables, than the pool")
        if self._changed_sources():
            return f"{_STALE} openaml's files changed since the pool started"
        try:
            home = Settings.from_env(state.env).home
        except ValidationError as exc:
            return str(exc)[:300]
        if home != self.settings.home:
            return "the launch is for another OPENAML_HOME"
        if peer_gid(conn) != os.getgid():
            return "the launcher runs with another group"
        if threading.active_count() != 1:  # never fork a threaded process (it never should be)
            return "the pool has a thread running"
        if not os.path.isdir(state.cwd):
            return "the launcher's home folder is not a folder"
        return _limits_refusal(state.rlimits, state.nice)

    def _answer(self, conn: socket.socket, reply: Reply) -> None:
        try:
            send_message(conn, reply_message(reply))
        except (OSError, PoolError):
            pass  # a launcher that left falls back to a cold start; the claim prevents a double run

    # -- upkeep ------------------------------------------------------------------------------
    def status(self) -> PoolStatus:
        return PoolStatus(pid=self.pid, home=str(self.settings.home), forked=self.forked,
                          started_at=self.started_at, idle_seconds=self.settings.pool_idle_seconds)

    def _reason_to_leave(self) -> str | None:
        if time.monotonic() - self.last_launch > self.settings.pool_idle_seconds:
            return f"no launch for {self.settings.pool_idle_seconds:g} s"
        if not self._socket_is_ours():
            return "its socket was removed or replaced"
        return None

    def _socket_is_ours(self) -> bool:
        try:
            return os.stat(self.path).st_ino == self.inode
        except OSError:
            return False

    def _changed_sources(self) -> bool:
        return _sources(self.interpreter.package) != self.sources

    @staticmethod
    def _reap_children() -> None:
        """Collect ended agents, so none lingers as a zombie that looks alive."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return


_STALE = "stale:"


def _sources(package: str) -> dict[str, int]:
    """Modification times of the openaml modules this process has loaded."""
    out = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.startswith(package):
            try:
                out[path] = os.stat(path).st_mtime_ns
            except OSError:
                out[path] = -1
    return out


def _limits_refusal(rlimits: dict[str, tuple[int, int]], nice: int) -> str | None:
    """A child can lower its limits and priority, not raise them: refuse what it could not set."""
    import resource

    if os.geteuid() == 0:
        return None
    for name, (_, hard) in rlimits.items():
        if not hasattr(resource, name):
            continue
        _, own = resource.getrlimit(getattr(resource, name))
        if own != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or hard > own):
            return f"the launcher's hard {name} is above the pool's"
    if nice < os.getpriority(os.PRIO_PROCESS, 0):
        return "the launcher runs at a higher priority (lower nice) than the pool"
    return None


def warm_up() -> None:
    """Import what agents need, then freeze the heap so forks share it (copy-on-write)."""
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a module that cannot load is loaded by the agent, or fails there
            log(f"could not preload {name}: {type(exc).__name__}: {exc}")
    import mimetypes

    mimetypes.init()
    gc.collect()
    gc.freeze()


def main() -> int:
    from openaml.backends.local.pool_client import pool_supported
    from openaml.services.cgroups import leave_job_cgroup

    if pool_supported() is not None:
        print(pool_supported(), file=sys.stderr)
        return 2
    leave_job_cgroup()  # a pool started from inside a job must not end with that job
    settings = Settings.from_env()
    lock_fd = open_lock(settings.home)
    if not try_lock(lock_fd):
        os.close(lock_fd)
        return 0  # another pool runs for this home
    if not set_title(f"{sys.executable} -m openaml.backends.local.pool"):
        # Without it a forked agent would not show an agent's command line, which the reaper
        # checks before it kills a hung agent: every launch stays cold.
        log("setproctitle is not installed; no pool")
        os.close(lock_fd)
        return 1
    signal.signal(signal.SIGTERM, _leave)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    pool = Pool(settings, lock_fd)
    warm_up()
    pool.sources = _sources(pool.interpreter.package)
    try:
        pool.bind()
    except OSError as exc:
        log(f"cannot listen on {pool.path}: {exc}")
        pool.close()
        return 1
    log(f"serving {settings.home} (idle exit after {settings.pool_idle_seconds:g} s)")
    forked = pool.serve()
    if forked is None:
        return 0
    return become_agent(forked)


def _leave(signum: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
