"""Command jobs: submission, queries, cancellation and the detection of dead agents.

Submission pins everything a job depends on (code snapshot, environment, input content, output
locations) into the stored spec, creates the job's MLflow run, and hands the job to a
:class:`JobLauncher` (a detached local agent today; a Ray task later). It returns at once.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import re
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from openaml.constants import ListViewType
from openaml.entities import AmlCompute, ComputeInstance, Environment
from openaml.entities.job import Command, CommandJob, ignored_fields
from openaml.entities.job_status import JobStatus, is_terminal
from openaml.entities.nodes import command_job_of, stored_component
from openaml.entities.search_space import is_distribution
from openaml.errors import AlreadyExistsError, NotFoundError, ValidationError
from openaml.names import check_name
from openaml.services import job_io, locations
from openaml.services.compute import ComputeService
from openaml.services.job_constants import LOCAL_POOL
from openaml.services.job_leases import Reaper, host_id
from openaml.services.paging import Page
from openaml.services.env_pins import pin_environment
from openaml.services.environments import EnvironmentBuilder, builder_for
from openaml.services.references import parse_asset_reference
from openaml.services.registry import RegistryService
from openaml.services.settings import Settings
from openaml.services.snapshots import ignore_matcher
from openaml.services.pipeline_settings import unbound_settings
from openaml.services.uploads import is_local_path, upload_uri
from openaml.services.workspaces import WorkspaceContext
from openaml.store.jobs import AgentIdentity, JobRecord

_SERVERLESS = {None, "", "local", "serverless", "azureml:serverless", "azureml:local"}
_ADJECTIVES = ("amber", "bold", "brave", "calm", "clever", "coral", "crisp", "eager", "gentle",
               "golden", "happy", "ivory", "jolly", "keen", "lively", "lucid", "mellow", "nifty",
               "olive", "plucky", "quiet", "rapid", "shy", "silver", "sleepy", "sunny", "tender",
               "upbeat", "vivid", "witty", "zen")
_NOUNS = ("ant", "badger", "beetle", "camel", "cat", "crane", "deer", "dolphin", "eagle", "fox",
          "gecko", "heron", "ibis", "jackal", "koala", "lemon", "lynx", "mango", "newt", "octopus",
          "otter", "owl", "panda", "pear", "puffin", "quail", "raven", "seal", "tiger", "walrus",
          "yak", "zebra")


class JobLauncher(Protocol):
    """Starts the agent of a job somewhere (a local process, a Ray task)."""

    def launch(self, settings: Settings, workspace: str, job_name: str) -> int | None:
        """Start the job's agent; return its process id when it is a local process."""


def new_job_name() -> str:
    """Azure's shape: ``<adjective>_<noun>_<10 chars of [b-z consonants, 0-9]>``."""
    alphabet = "bcdfghjklmnpqrstvwxz" + string.digits
    tail = "".join(random.choices(alphabet, k=10))
    return f"{random.choice(_ADJECTIVES)}_{random.choice(_NOUNS)}_{tail}"


def default_experiment_name() -> str:
    """As azure-ai-ml: the current folder's name without spaces, else ``Default``. (Control
    characters go too, and the length is capped, so the default always passes the rule.)"""
    name = re.sub(r"[\s\x00-\x1f\x7f-\x9f]+", "", Path.cwd().name)[:255]
    return name or "Default"


@dataclass
class Submission:
    """What submit() returns besides the job: the warnings to show once."""

    job: Any  # None when the caller runs the job itself (submit(..., launch=False))
    warnings: list[str] = field(default_factory=list)


class JobService:
    """Jobs of one workspace."""

    def __init__(self, ctx: WorkspaceContext, settings: Settings, launcher: JobLauncher | None = None) -> None:
        self.ctx, self.settings, self.launcher = ctx, settings, launcher
        self._builder: EnvironmentBuilder | None = None
        self._checked_envs: set[str] = set()

    # -- submit --------------------------------------------------------------------------------
    def submit(self, job: Any, *, experiment_name: str | None = None, compute: str | None = None,
               description: str | None = None, tags: dict[str, str] | None = None,
               parent_job_name: str | None = None, launch: bool = True) -> Submission:
        """Store the job with everything it depends on pinned, then launch its agent (unless
        ``launch`` is false: the caller runs it, as a pipeline's orchestrator does)."""
        job = self._runnable(job)
        kind = self._kind(job)
        updates = {k: v for k, v in {"experiment_name": experiment_name, "compute": compute,
                                     "description": description, "tags": tags}.items() if v is not None}
        job = self._named(job.model_copy(update=updates) if updates else job)
        name, experiment = job.name, job.experiment_name
        # Whatever the name rules allow, a name that would put the job's folders outside their
        # roots (or make its scratch folder another's parent) is refused before anything is stored.
        self.settings.job_scratch_dir(self.ctx.name, name)
        locations.job_folder(self.ctx, name)
        if self.ctx.jobs.get_job(self.ctx.name, name) is not None:
            raise AlreadyExistsError(f"a job named '{name}' already exists; job names are unique "
                                     "in a workspace (omit the name to get a fresh one)", name=name)
        resolved = kind.resolve(self, job)
        self.create_record(name, kind.type, {"job": self._public_spec(job), "resolved": resolved},
                           experiment=experiment, display_name=job.display_name, parent_job_name=parent_job_name)
        self.ctx.jobs.transition(self.ctx.name, name, JobStatus.QUEUED.value)
        if not launch:  # the caller runs it (a pipeline step) and needs no entity back
            return Submission(None, resolved.get("warnings", []))
        finished = getattr(kind, "try_complete", None)
        if finished is None or not finished(self, name):  # e.g. every step of a pipeline reused
            self.launch(name)
        return Submission(self.get(name), resolved.get("warnings", []))

    def create_record(self, name: str, type_: str, spec: dict[str, Any], *, experiment: str,
                      display_name: str | None, parent_job_name: str | None = None,
                      status: str = JobStatus.NOT_STARTED.value) -> JobRecord:
        """Store a job (NotStarted, or Completed for a reused step) and its MLflow run."""
        record = self.ctx.jobs.create_job(self.ctx.name, name, type_, spec, experiment_name=experiment,
                                          display_name=display_name, parent_job_name=parent_job_name,
                                          status=status)
        experiment_id = self.ctx.tracking.get_or_create_experiment(experiment)
        tags = {"mlflow.user": os.environ.get("USER", "openaml")}
        if parent_job_name:
            tags["mlflow.parentRunId"] = parent_job_name
        self.ctx.tracking.create_run(experiment_id, run_id=name, run_name=display_name or name, tags=tags)
        return record

    def launch(self, name: str) -> None:
        """Hand a queued job to the launcher (nothing happens without one, e.g. in tests)."""
        if self.launcher is None:
            return
        try:
            pid = self.launcher.launch(self.settings, self.ctx.name, name)
        except OSError as exc:
            self._fail(name, "LaunchFailed", f"could not start the job's agent: {exc}")
        else:
            if pid is not None:  # the agent's first lease, until it claims the job itself
                self.ctx.jobs.heartbeat(self.ctx.name, name, AgentIdentity(pid, host_id()),
                                        self.settings.job_lease_seconds, if_unclaimed=True)

    def _runnable(self, job: Any) -> Any:
        """The component form (``component:`` plus inputs) becomes the command it describes."""
        if not isinstance(job, CommandJob):
            return job
        for name, value in (job.inputs or {}).items():
            if is_distribution(value):
                raise ValidationError(f"input '{name}' holds a search-space distribution; call "
                                      ".sweep(...) on the command to run it as a sweep", field=f"inputs.{name}")
        component = stored_component(job)
        if component is None:
            return job
        if isinstance(component, str):
            component = self._load_component(component)
        return command_job_of(job.model_copy(update={"component": component}))

    def _load_component(self, reference: str) -> Any:
        if reference.startswith("azureml:"):
            name, version, label = parse_asset_reference(reference)
            return RegistryService(self.ctx).get("components", name, version=version, label=label)
        from openaml.specs import load_component
        return load_component(reference[len("file:"):] if reference.startswith("file:") else reference)

    def _kind(self, job: Any) -> "JobKind":
        for kind in job_kinds():
            if isinstance(job, kind.entity):
                return kind
        raise ValidationError(f"{type(job).__name__} is not a job this workspace can run", field="type")

    def check(self, job: Any) -> list[str]:
        """Validate a job as submission would, without storing or running it; return warnings."""
        job = self._named(job)
        return self._kind(job).resolve(self, job).get("warnings", [])

    @staticmethod
    def _named(job: Any) -> Any:
        """The job with its name (checked, or a fresh one) and experiment (checked, or the default)."""
        name = check_name("job", job.name) if job.name else new_job_name()
        experiment = job.experiment_name or default_experiment_name()
        check_name("experiment", experiment, field="experiment_name")
        return job.model_copy(update={"name": name, "experiment_name": experiment})

    def _public_spec(self, job: CommandJob) -> dict[str, Any]:
        return job.model_dump(mode="json", exclude_none=True,
                              exclude={"status", "id", "creation_context", "studio_url", "log_files",
                                       "error", "metrics", "params"})

    def _resolve(self, job: CommandJob) -> dict[str, Any]:
        if not job.command:
            raise ValidationError("a command job needs a command", field="command")
        unbound_settings(job)  # ${{parent.inputs.x}} belongs to pipeline steps
        warnings = [f"'{f}' does not apply to local compute and is ignored" for f in ignored_fields(job)]
        pool, slots = self._compute(job.compute)
        code = self._snapshot_code(job.code)
        warnings += (code or {}).get("warnings", [])
        return {
            "code": code,
            "environment": self._checked(self._environment(job.environment)),
            "inputs": {n: job_io.resolve_input(self.ctx, n, v) for n, v in (job.inputs or {}).items()},
            "outputs": {n: job_io.resolve_output(self.ctx, job.name, n, v, self.ctx.default_datastore)
                        for n, v in (job.outputs or {}).items()},
            "compute": pool, "slots": slots,
            "allow_host_python": self.settings.allow_host_python,
            "container_runtime": self.settings.container_runtime,
            "warnings": warnings,
        }

    def _compute(self, compute: str | None) -> tuple[str, int]:
        if compute in _SERVERLESS:
            return LOCAL_POOL, os.cpu_count() or 1
        name = compute[len("azureml:"):] if compute.startswith("azureml:") else compute
        try:
            target = ComputeService(self.ctx).get(name)
        except NotFoundError:
            raise NotFoundError(f"compute '{name}' not found in workspace '{self.ctx.name}'. Create it "
                                f"(openaml compute create -n {name} --type amlcompute) or omit compute "
                                "to run on this machine's default pool", field="compute") from None
        if isinstance(target, AmlCompute):
            return name, max(1, target.max_instances or 1)
        return name, 1 if isinstance(target, ComputeInstance) else (os.cpu_count() or 1)

    def _snapshot_code(self, code: str | None) -> dict[str, Any] | None:
        if not code:
            return None
        uploaded = job_io.local_upload(code)
        if uploaded:  # a registered component's snapshot: already in the artifact store
            manifest = self.ctx.artifacts.get_manifest(uploaded[0])
            return {"digest": uploaded[0], "root": manifest.root, "kind": manifest.kind, "uri": code}
        if not is_local_path(code):
            raise ValidationError(f"code {code!r}: only local folders are supported for now", field="code")
        local = Path(code).expanduser().resolve()
        if not local.exists():
            raise ValidationError(f"code folder {local} does not exist", field="code")
        ignore = ignore_matcher(local) if local.is_dir() else None
        skipped: list[str] = []
        # Links inside the folder stay links; one that leaves it (or dangles, or loops) is not
        # followed: a snapshot never carries files from outside the code folder.
        digest, manifest = self.ctx.artifacts.put_path(
            local, ignore=ignore, links="keep",
            on_skip=lambda item: skipped.append(f"code snapshot: skipped {item.path}: it {item.reason}"))
        return {"digest": digest, "root": manifest.root, "kind": manifest.kind,
                "uri": upload_uri(self.ctx, digest, manifest.root), "warnings": skipped}

    def _checked(self, env: dict[str, Any]) -> dict[str, Any]:
        """Fail at submission, not minutes later, on an environment that cannot resolve here
        (unknown conda packages, a bad image reference, an engine named in
        ``OPENAML_CONTAINER_RUNTIME`` that cannot run)."""
        if self._builder is None:  # one per service: a pipeline checks many steps' environments
            self._builder = builder_for(self.settings)
        builder = self._builder
        seen = json.dumps(env, sort_keys=True, default=str)
        if seen in self._checked_envs:
            return env
        if env["kind"] == "curated":
            builder.normalise(env["ref"])
        elif not env["spec"].get("build"):  # a build context is read when the job prepares
            builder.normalise(Environment.model_validate(env["spec"]))
        self._checked_envs.add(seen)
        return env

    def _environment(self, env: str | Environment | None) -> dict[str, Any]:
        return pin_environment(self.ctx, env)

    # -- read ----------------------------------------------------------------------------------
    def get(self, name: str) -> CommandJob:
        """A job with its status, error, latest metrics and params."""
        return self._to_entity(self._reap(self._record(name)))

    def list(self, parent_job_name: str | None = None, view: ListViewType = ListViewType.ACTIVE_ONLY,
             max_results: int | None = None) -> list[CommandJob]:
        # As az ml: without a parent, the top-level jobs; steps and trials are listed under theirs.
        records = self.ctx.jobs.list_jobs(self.ctx.name, parent_job_name=parent_job_name, view=view,
                                          max_results=max_results, top_level_only=parent_job_name is None)
        return [self._to_entity(self._reap(r), with_metrics=False) for r in records]

    def page(self, parent_job_name: str | None = None, view: ListViewType = ListViewType.ACTIVE_ONLY, *,
             after: int | None = None, limit: int = 100) -> Page[CommandJob]:
        """One page of :meth:`list`, newest first: the jobs submitted before the one whose
        sequence number is *after* (None: from the newest)."""
        if after is not None and (not isinstance(after, int) or isinstance(after, bool)):
            raise ValidationError(f"a position in the jobs list is a sequence number, not {after!r}", field="after")
        records = self.ctx.jobs.list_jobs(self.ctx.name, parent_job_name=parent_job_name, view=view,
                                          max_results=limit + 1, top_level_only=parent_job_name is None,
                                          before_seq=after)
        shown = records[:limit]
        items = [self._to_entity(self._reap(r), with_metrics=False) for r in shown]
        return Page(items, shown[-1].seq if len(records) > limit else None)

    def record(self, name: str) -> JobRecord:
        return self._reap(self._record(name))

    # -- change --------------------------------------------------------------------------------
    def cancel(self, name: str) -> JobRecord:
        """Ask the agent to stop the job; it records Canceled once the job's processes are gone.
        A job no agent holds is canceled here, after its leftover processes are stopped."""
        record = self._reap(self._record(name))
        if is_terminal(JobStatus(record.status)) or record.status == JobStatus.CANCEL_REQUESTED.value:
            return record
        record = self.ctx.jobs.transition(self.ctx.name, name, JobStatus.CANCEL_REQUESTED.value)
        if record.agent_pid is None and record.lease_expires_at is None:  # never launched
            return self._cancel_now(record)
        return self._reap(record)  # Canceled at once if its agent is gone

    def wait(self, name: str, timeout: float | None = None, poll: float = 0.2) -> JobRecord:
        """Block until the job is terminal (or ``timeout`` seconds pass)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self.record(name)
            if is_terminal(JobStatus(record.status)):
                return record
            if deadline is not None and time.monotonic() > deadline:
                return record
            time.sleep(poll)

    def archive(self, name: str) -> None:
        self._record(name)
        self.ctx.jobs.set_archived(self.ctx.name, name, True)

    def restore(self, name: str) -> None:
        self._record(name)
        self.ctx.jobs.set_archived(self.ctx.name, name, False)

    def update(self, name: str, *, display_name: str | None = None, description: str | None = None,
               tags: dict[str, str] | None = None, properties: dict[str, str] | None = None) -> CommandJob:
        """Change the mutable fields of a job."""
        record = self._record(name)
        job = dict(record.spec["job"])
        for key, value in (("display_name", display_name), ("description", description),
                           ("tags", tags), ("properties", properties)):
            if value is not None:
                job[key] = value
        self.ctx.jobs.update_fields(self.ctx.name, name, spec={**record.spec, "job": job},
                                    display_name=job.get("display_name"))
        return self.get(name)

    # -- internals -----------------------------------------------------------------------------
    def _record(self, name: str) -> JobRecord:
        record = self.ctx.jobs.get_job(self.ctx.name, name)
        if record is None:
            raise NotFoundError(f"job '{name}' not found in workspace '{self.ctx.name}'. "
                                "See recent jobs with: openaml job list", name=name)
        return record

    def _reaper(self) -> Reaper:
        # With a launcher, a job it never started (the client died between storing and
        # launching it) counts as abandoned once a lease's time has passed since it was created.
        grace = self.settings.job_lease_seconds if self.launcher is not None else None
        return Reaper(self.ctx, unleased_grace=grace, runs_dir=self.settings.runs_dir)

    def _reap(self, record: JobRecord) -> JobRecord:
        """Fail (or, when a cancel was asked, cancel) a job whose agent is dead or hung, after
        stopping its leftover processes; see :mod:`openaml.services.job_leases`."""
        return self._reaper().reap(record)

    def _cancel_now(self, record: JobRecord) -> JobRecord:
        self._reaper().stop_processes(record)
        return self.ctx.jobs.transition(self.ctx.name, record.name, JobStatus.CANCELED.value)

    def _fail(self, name: str, code: str, message: str) -> JobRecord:
        return self.ctx.jobs.transition(self.ctx.name, name, JobStatus.FAILED.value,
                                        error={"code": code, "message": message})

    def _to_entity(self, record: JobRecord, *, with_metrics: bool = True) -> Any:
        for kind in job_kinds():
            if kind.type == record.type:
                return kind.to_entity(self, record, with_metrics=with_metrics)
        raise ValidationError(f"job {record.name} has unknown type {record.type!r}")

    def read_only_fields(self, record: JobRecord, *, with_metrics: bool = True) -> dict[str, Any]:
        """What the service fills in on every job entity: name, status, id, where its files are,
        when it ran, its error, and (from its MLflow run) the latest metrics and params."""
        fields: dict[str, Any] = {
            "name": record.name, "status": record.status, "error": record.error,
            "id": self.ctx.asset_id("jobs", record.name),
            "studio_url": locations.job_folder(self.ctx, record.name).as_uri(),
            "creation_context": {
                "created_at": record.created_at.isoformat(),
                "start_time": record.started_at.isoformat() if record.started_at else None,
                "end_time": record.ended_at.isoformat() if record.ended_at else None},
        }
        if with_metrics:
            try:
                run = self.ctx.tracking.get_run(record.name)
            except NotFoundError:
                run = None
            if run is not None:
                fields["metrics"] = {m.key: m.value for m in run.metrics}
                fields["params"] = dict(run.params)
        return fields

    def command_entity(self, record: JobRecord, *, with_metrics: bool = True) -> CommandJob:
        """The entity of a command job record (used by the command kind)."""
        data = dict(record.spec["job"])
        data.update(self.read_only_fields(record, with_metrics=with_metrics))
        outputs = data.get("outputs") or {}
        for out_name, resolved in record.spec["resolved"]["outputs"].items():
            current = outputs.get(out_name) or {}
            outputs[out_name] = {**current, "path": resolved["uri"]}
        if outputs:
            data["outputs"] = outputs
        return Command.model_validate(data)


class JobKind(Protocol):
    """One job type: how it is resolved at submission and rebuilt from its record."""

    type: str
    entity: type

    def resolve(self, service: "JobService", job: Any) -> dict[str, Any]: ...

    def to_entity(self, service: "JobService", record: JobRecord, *, with_metrics: bool = True) -> Any: ...


class CommandKind:
    """``type: command``."""

    type = "command"
    entity = CommandJob

    def resolve(self, service: "JobService", job: CommandJob) -> dict[str, Any]:
        return service._resolve(job)

    def to_entity(self, service: "JobService", record: JobRecord, *, with_metrics: bool = True) -> CommandJob:
        return service.command_entity(record, with_metrics=with_metrics)


def job_kinds() -> list[JobKind]:
    """Every job type, the optional ones imported lazily (they pull in more of the package)."""
    kinds: list[JobKind] = [CommandKind()]
    for module, attr in (("openaml.services.pipelines", "PipelineKind"), ("openaml.services.sweeps", "SweepKind")):
        try:
            kinds.append(getattr(importlib.import_module(module), attr)())
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return kinds

