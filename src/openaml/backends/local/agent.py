"""The agent of one job: ``python -m openaml.backends.local.agent WORKSPACE JOB``.

It heartbeats, watches for a cancel request, waits for a slot on the job's compute, serves
MLflow's tracking API for the job, and runs the job through the shared :class:`JobRuntime`.
"""

from __future__ import annotations

import sys
import threading

from openaml.entities.job_status import JobStatus, is_terminal
from openaml.services.cgroups import leave_job_cgroup
from openaml.services.environments import builder_for
from openaml.services.job_runtime import JobRuntime, RunContext, end_job
from openaml.services.job_constants import HEARTBEAT_SECONDS
from openaml.services.settings import Settings
from openaml.services.workspaces import WorkspaceContext, WorkspaceService
from openaml.backends.local.slots import pool_for

CANCEL_POLL_SECONDS = 0.25


class Heartbeat(threading.Thread):
    """Renews the agent's lease on its job (and on the pipeline steps it runs in-process), turns
    a stored cancel request into an event, and, once a lease, reaps the workspace's abandoned
    jobs (so a dead agent is noticed even while no client looks)."""

    def __init__(self, ctx: WorkspaceContext, job_name: str, run: RunContext, settings: Settings) -> None:
        super().__init__(daemon=True, name="heartbeat")
        self.ctx, self.job_name, self.run_ctx, self.settings = ctx, job_name, run, settings
        self.stopped = threading.Event()

    def run(self) -> None:
        from openaml.services.job_leases import Reaper, this_agent

        lease = self.settings.job_lease_seconds
        me = this_agent()
        ticks_per_beat = max(1, int(min(HEARTBEAT_SECONDS, lease / 3) / CANCEL_POLL_SECONDS))
        ticks_per_reap = max(1, int(lease / CANCEL_POLL_SECONDS))
        tick = 0
        while not self.stopped.wait(CANCEL_POLL_SECONDS if tick else 0):
            try:
                if tick % ticks_per_beat == 0 and tick:  # the agent's claim was the first beat
                    self.ctx.jobs.heartbeat(self.ctx.name, self.job_name, me, lease)
                record = self.ctx.jobs.get_job(self.ctx.name, self.job_name)
                # A job someone else ended (a reaper that judged us gone) must stop running too.
                if record is not None and (record.status == JobStatus.CANCEL_REQUESTED.value
                                           or is_terminal(record.status)):
                    self.run_ctx.cancel.set()
                if tick % ticks_per_reap == ticks_per_reap - 1:
                    Reaper(self.ctx, unleased_grace=lease, runs_dir=self.settings.runs_dir).sweep()
            except Exception as exc:  # noqa: BLE001 - a passing DB hiccup must not kill the agent
                print(f"heartbeat: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            tick += 1


def run_agent(workspace: str, job_name: str) -> int:
    leave_job_cgroup()  # an agent started from inside a job must not end with that job
    settings = Settings.from_env()
    ctx = WorkspaceService(settings).open(workspace)
    if not _claim(ctx, job_name, settings):
        return 0
    record = ctx.jobs.get_job(workspace, job_name)
    run = RunContext(tracking_url=None)
    heartbeat = Heartbeat(ctx, job_name, run, settings)
    heartbeat.start()
    try:
        if record.type != "command":
            return _run_orchestrator(settings, ctx, record, run)
        resolved = record.spec["resolved"]
        slot = pool_for(settings.slots_dir, ctx.name, resolved).acquire(should_stop=run.cancel.is_set)
        if slot is None:  # canceled (or ended by a reaper) while waiting for a slot
            end_job(ctx, job_name, JobStatus.CANCELED)
            return 0
        try:
            return _run_with_tracking(settings, ctx, job_name, run, resolved)
        finally:
            slot.release()
    finally:
        heartbeat.stopped.set()


def _claim(ctx: WorkspaceContext, job_name: str, settings: Settings) -> bool:
    """Take the job before touching it: a job already held by another agent (one launch
    answered twice), ended, or never recorded is left alone."""
    from openaml.errors import NotFoundError
    from openaml.services.job_leases import this_agent

    try:
        if ctx.jobs.claim(ctx.name, job_name, this_agent(), settings.job_lease_seconds):
            return True
        print(f"agent: job {job_name} has ended or another agent holds it; this agent leaves it alone",
              file=sys.stderr, flush=True)
    except NotFoundError:
        print(f"agent: no job {job_name} is recorded in workspace {ctx.name}", file=sys.stderr, flush=True)
    return False


def tracking_server_for(ctx: WorkspaceContext):
    """The job's MLflow endpoint over the workspace (:func:`openaml.tracking.workspace.
    workspace_tracking_context`: the same context the openaml server's MLflow mount serves)."""
    from openaml.tracking.server import serve_tracking_context
    from openaml.tracking.workspace import workspace_tracking_context

    return serve_tracking_context(workspace_tracking_context(ctx))


def _run_orchestrator(settings: Settings, ctx: WorkspaceContext, record, run: RunContext) -> int:
    """Pipelines and sweeps: an orchestrator that runs or submits child jobs and takes no
    compute slot itself, so children can never wait on their parent's slot."""
    from openaml.backends.local.launcher import LocalLauncher
    from openaml.services.jobs import job_kinds

    kind = next(k for k in job_kinds() if k.type == record.type)
    # Steps a pipeline runs in this process log to MLflow through this one endpoint.
    with tracking_server_for(ctx) as server:
        run.tracking_url = server.url
        outcome = kind.make_runtime(ctx, settings, record.name, LocalLauncher(), run).run()
    return 0 if outcome.status == JobStatus.COMPLETED else 1


def _run_with_tracking(settings: Settings, ctx: WorkspaceContext, job_name: str, run: RunContext,
                       resolved: dict) -> int:
    builder = builder_for(settings, resolved)
    with tracking_server_for(ctx) as server:
        run.tracking_url = server.url
        outcome = JobRuntime(ctx, settings, job_name, builder, run).run()
    return 0 if outcome.status == JobStatus.COMPLETED else 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m openaml.backends.local.agent WORKSPACE JOB", file=sys.stderr)
        return 2
    return run_agent(*args)


if __name__ == "__main__":
    sys.exit(main())
