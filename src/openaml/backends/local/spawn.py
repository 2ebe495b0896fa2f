"""Starting a detached Python process of ours (a job's agent, the home's watchdog)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from openaml.services.process_tracking import TOKEN_ENV
from openaml.services.settings import Settings


def agent_environment(settings: Settings) -> dict[str, str]:
    """The environment a detached process of ours starts with: this process's, with the settings
    in it. A job's token is left out: an agent started from inside a job (a job that submits
    jobs) supervises a job of its own, which must not end with the first."""
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    env.update(settings.agent_env())
    return env


def spawn_detached(settings: Settings, module_args: list[str], log_path: Path,
                   env: dict[str, str] | None = None) -> int:
    """``python -m <module_args>`` in a session of its own, so it outlives the client (Ctrl-C in
    the terminal, a closed notebook), with the settings in its environment; returns its pid.

    The environment is ``env`` if given, else :func:`agent_environment`."""
    env = agent_environment(settings) if env is None else env
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", *module_args], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, env=env, start_new_session=True, close_fds=True, cwd=str(Path.home()))
    # Reap the child when it ends so it never lingers as a zombie that looks alive.
    threading.Thread(target=process.wait, daemon=True, name=f"reap-{process.pid}").start()
    return process.pid
