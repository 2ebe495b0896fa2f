"""Starting a job's agent as a detached process on this machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from openaml.backends.local.spawn import spawn_detached
from openaml.services.job_leases import AGENT_MODULE
from openaml.services.settings import Settings

if TYPE_CHECKING:
    from openaml.services.job_runtime import Outcome, RunContext
    from openaml.services.workspaces import WorkspaceContext


class LocalLauncher:
    """Starts a job's agent in its own session, so that the job outlives the client (Ctrl-C in
    the terminal, a closed notebook): forked by the home's warm job pool where one answers
    (:mod:`openaml.backends.local.pool`), else as a new ``python -m
    openaml.backends.local.agent`` (a cold start), starting the pool for the launches after
    this one. It also makes sure the home's watchdog runs, so that an agent that dies is
    noticed even when no client looks."""

    def launch(self, settings: Settings, workspace: str, job_name: str) -> int:
        """Start the job's agent, and the home's watchdog if none runs; return the agent's pid."""
        # Imported here: the watchdog and the pool run as ``python -m`` of their own modules,
        # which must not be loaded already by this package's __init__.
        from openaml.backends.local.pool_client import PoolClient, ensure_pool, pool_enabled
        from openaml.backends.local.watchdog import ensure_watchdog

        log_file = settings.agent_log_file(workspace, job_name)
        pid = None
        if pool_enabled(settings):
            pid = PoolClient(settings).launch(workspace, job_name)
            if pid is None:
                ensure_pool(settings)
        if pid is None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            pid = spawn_detached(settings, [AGENT_MODULE, workspace, job_name], log_file)
        ensure_watchdog(settings)
        return pid

    def run_inline(self, settings: Settings, ctx: "WorkspaceContext", job_name: str, run: "RunContext") -> "Outcome":
        """Run a queued command job in this process (a pipeline's orchestrator runs its steps
        this way: no interpreter start per step). Takes a slot of the job's compute first."""
        from openaml.backends.local.slots import pool_for
        from openaml.entities.job_status import JobStatus
        from openaml.services.environments import builder_for
        from openaml.services.job_runtime import JobRuntime, end_job

        record = ctx.jobs.get_job(ctx.name, job_name)
        resolved = record.spec["resolved"]
        slot = pool_for(settings.slots_dir, ctx.name, resolved).acquire(should_stop=run.cancel.is_set)
        if slot is None:
            return end_job(ctx, job_name, JobStatus.CANCELED)
        try:
            builder = builder_for(settings, resolved)
            return JobRuntime(ctx, settings, job_name, builder, run).run()
        finally:
            slot.release()
