"""A child forked by the warm job pool turning into the agent a cold start would have made.

A cold agent is ``python -m openaml.backends.local.agent WS JOB`` started by the launching
process with ``start_new_session=True, close_fds=True``, stdin ``/dev/null``, stdout and stderr
appended to its log file, its working folder the user's home, and the launcher's environment
(less a job's token, plus the settings). It inherits the launcher's umask, resource limits,
niceness, CPU affinity, ignored signals and signal mask. :func:`become_agent` rebuilds each of
these from the request, in the forked child, before any job code runs; the rest of the child
was never touched by a job (the pool only imports modules), and everything process-specific
that openaml caches is keyed by pid or reset here (random seeds, the temp folder).
"""

from __future__ import annotations

import os
import random
import signal
import sys
import tempfile
import time
from dataclasses import dataclass

from openaml.backends.local.pool_wire import RLIMITS, LaunchRequest, ProcessState
from openaml.services.job_leases import AGENT_MODULE

# Python ignores these at start-up, whatever it inherited.
_IGNORED_BY_PYTHON = (signal.SIGPIPE, getattr(signal, "SIGXFSZ", signal.SIGPIPE))


@dataclass(frozen=True)
class ForkedAgent:
    """What a forked child knows when it leaves the pool's loop: the launch it is for."""

    launch: LaunchRequest
    pool_pid: int


def set_title(title: str) -> bool:
    """Show ``title`` as this process's command line (``ps``, ``/proc/<pid>/cmdline``), within
    the room the original command line leaves; the environment block is left as it is."""
    os.environ["SPT_NOENV"] = "1"  # read on the first title set: never overwrite /proc/<pid>/environ
    try:
        import setproctitle

        setproctitle.setproctitle(title)
    except ImportError:
        return False
    finally:
        os.environ.pop("SPT_NOENV", None)
    return True


def become_agent(forked: ForkedAgent) -> int:
    """Set this forked child up as a cold agent for ``forked.launch`` and run the job; returns
    the agent's exit status."""
    launch, state = forked.launch, forked.launch.state
    os.setsid()
    reset_signals(state)
    replace_environment(state.env)
    os.umask(state.umask)
    from openaml.services.settings import Settings

    # From here on, whatever goes wrong is written to the agent's log, as for a cold agent.
    log_file = Settings.from_env().agent_log_file(launch.workspace, launch.job)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    redirect_output(str(log_file))
    close_inherited_fds()
    pool_cwd = os.getcwd()
    os.chdir(state.cwd)
    if sys.path and sys.path[0] == pool_cwd:  # ``python -m`` put its working folder first
        sys.path[0] = state.cwd
    notes = apply_limits(state)
    forget_the_pool()
    from openaml.backends.local import agent

    sys.argv = [agent.__file__, launch.workspace, launch.job]  # as ``python -m`` sets them
    set_title(f"{sys.executable} -m {AGENT_MODULE} {launch.workspace} {launch.job}")
    print(f"agent: forked by the warm job pool (pid {forked.pool_pid})", file=sys.stderr, flush=True)
    for note in notes:
        print(f"agent: {note}", file=sys.stderr, flush=True)
    return agent.run_agent(launch.workspace, launch.job)


def forget_the_pool() -> None:
    """Per-process state a fork copies: a fresh random seed (CPython reseeds ``random`` after a
    fork too; this says it where it matters), the temp folder, chosen again from this
    environment's ``TMPDIR`` rather than the pool's, and the time zone, read again from ``TZ``."""
    random.seed()
    tempfile.tempdir = None
    time.tzset()


def reset_signals(state: ProcessState) -> None:
    """The dispositions and mask a fresh interpreter started by the launcher would have:
    ignored what the launcher ignored (exec keeps that) and what Python ignores, Python's
    KeyboardInterrupt handler for SIGINT unless ignored, the default for everything else."""
    ignored = set(state.ignored_signals) | {int(s) for s in _IGNORED_BY_PYTHON}
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        if sig in ignored:
            handler = signal.SIG_IGN
        elif sig == signal.SIGINT:
            handler = signal.default_int_handler
        else:
            handler = signal.SIG_DFL
        try:
            signal.signal(sig, handler)
        except (OSError, ValueError):  # signals the C library reserves for itself
            continue
    signal.pthread_sigmask(signal.SIG_SETMASK, state.blocked_signals)


def replace_environment(env: dict[str, str]) -> None:
    """Exactly the launcher's environment: none of the pool's (the first launcher's) is left.
    ``os.environ`` changes go through putenv/unsetenv, so the C library's copy follows."""
    os.environ.clear()
    os.environ.update(env)


def apply_limits(state: ProcessState) -> list[str]:
    """The launcher's resource limits, niceness and CPU affinity; a note for each that could not
    be applied (the pool refuses limits it cannot lower to before forking)."""
    import resource

    notes = []
    for name, (soft, hard) in state.rlimits.items():
        if name in RLIMITS and hasattr(resource, name):
            try:
                resource.setrlimit(getattr(resource, name), (soft, hard))
            except (OSError, ValueError) as exc:
                notes.append(f"could not set {name} to the launcher's: {exc}")
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if state.nice != current:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, state.nice)
        except OSError as exc:
            notes.append(f"could not set niceness {state.nice}: {exc}")
    if state.affinity is not None and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, state.affinity)
        except OSError as exc:
            notes.append(f"could not set the launcher's CPU affinity: {exc}")
    return notes


def redirect_output(log_file: str) -> None:
    """stdout and stderr appended to the agent's log, as a cold agent's (created with the
    launcher's umask, which is in force by now)."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def close_inherited_fds() -> None:
    """Close every descriptor above stderr (the pool closed its socket and lock through their
    owners before this; whatever else a preloaded module held is not the agent's)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                os.close(fd)
            except OSError:
                pass
