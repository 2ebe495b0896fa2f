"""Starting a job's agent as a detached process on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from typing import TYPE_CHECKING

from openaml.services.settings import Settings

if TYPE_CHECKING:
    from openaml.services.job_runtime import Outcome, RunContext
    from openaml.services.workspaces import WorkspaceContext


class LocalLauncher:
    """Launches ``python -m openaml.backends.local.agent`` in its own session, so that the job
    outlives the client (Ctrl-C in the terminal, a closed notebook) and can be cancelled as a
    whole process group."""

    def launch(self, settings: Settings, workspace: str, job_name: str) -> int:
        log_file = settings.agent_log_file(workspace, job_name)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, OPENAML_HOME=str(settings.home),
                   OPENAML_ALLOW_HOST_PYTHON="1" if settings.allow_host_python else "0")
        with open(log_file, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "openaml.backends.local.agent", workspace, job_name],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, close_fds=True, cwd=str(Path.home()))
        # Reap the child when it ends so it never lingers as a zombie that looks alive.
        threading.Thread(target=process.wait, daemon=True, name=f"reap-{job_name}").start()
        return process.pid

    def run_inline(self, settings: Settings, ctx: "WorkspaceContext", job_name: str, run: "RunContext") -> "Outcome":
        """Run a queued command job in this process (a pipeline's orchestrator runs its steps
        this way: no interpreter start per step). Takes a slot of the job's compute first."""
        from openaml.backends.local.slots import pool_for
        from openaml.entities.job_status import JobStatus
        from openaml.services.environments import EnvironmentBuilder
        from openaml.services.job_runtime import JobRuntime, Outcome

        record = ctx.jobs.get_job(ctx.name, job_name)
        resolved = record.spec["resolved"]
        slot = pool_for(settings.slots_dir, ctx.name, resolved).acquire(should_stop=run.cancel.is_set)
        if slot is None:
            ctx.jobs.transition(ctx.name, job_name, JobStatus.CANCELED.value)
            return Outcome(JobStatus.CANCELED)
        try:
            builder = EnvironmentBuilder(settings.envs_dir, allow_host_python=bool(resolved.get("allow_host_python")),
                                 docker_available=False)  # no job runs inside an image yet
            return JobRuntime(ctx, settings, job_name, builder, run).run()
        finally:
            slot.release()

    def is_alive(self, pid: int) -> bool:
        """True when ``pid`` runs and is not a zombie."""
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        return state not in ("Z", "X")
