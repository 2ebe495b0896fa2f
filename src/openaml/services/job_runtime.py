"""Running one command job: prepare, run, finalise. Shared by every compute backend.

The backend's agent owns the process (heartbeat, slot, tracking endpoint) and calls
:meth:`JobRuntime.run`. Every status change goes through the job store, which checks the
transition; the job's logs live in its folder so they survive whatever happens to the agent.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from openaml.entities.job_status import JobStatus, is_terminal
from openaml.errors import OpenAMLError, ValidationError
from openaml.paths import safe_join
from openaml.constants import MODEL_TYPES
from openaml.services import containers, contents, job_io
from openaml.services.expressions import expand_command
from openaml.services.fuse_mounts import InputMounts, unmount_under
from openaml.services.job_constants import PARALLEL_DRIVER_PATH
from openaml.services.locations import job_folder
from openaml.services.process_tracking import TOKEN_ENV, ProcessTracker, open_tracker, stop
from openaml.services.settings import Settings
from openaml.services.workspaces import WorkspaceContext, workspace_arm_id
from openaml.store.folders import copy_tree_keeping_links, remove_tree
from openaml.store.secrets import KEY_ENV

# The entities and the registry are imported inside the methods that use them: every job's
# agent imports this module, and importing them here would add ~100 ms to each job's start.

STD_LOG = "user_logs/std_log.txt"
# Folders of the working folder that become the job's artifacts of the same name (Azure's
# convention: ./outputs and ./logs are created for the command and uploaded after it).
ARTIFACT_FOLDERS = ("outputs", "logs")
ENV_LOG = "system_logs/environment_build.txt"
# How often a running job looks at the cancel request and the deadline. A process's exit is
# noticed at once (a thread waits on it), not at this pace.
CANCEL_CHECK_SECONDS = 0.05


class JobCanceled(Exception):
    """Raised inside the runtime when a cancel request arrives."""


@dataclass
class Outcome:
    status: JobStatus
    error: dict[str, Any] | None = None


@dataclass
class RunContext:
    """What the agent provides: where MLflow is served, and how to learn of a cancel."""

    tracking_url: str | None
    cancel: threading.Event = field(default_factory=threading.Event)


class JobRuntime:
    """Prepare, run and finalise one job."""

    def __init__(self, ctx: WorkspaceContext, settings: Settings, job_name: str, builder: Any,
                 run: RunContext) -> None:
        self.ctx, self.settings, self.name, self.builder, self.run_ctx = ctx, settings, job_name, builder, run
        self.record = ctx.jobs.get_job(ctx.name, job_name)
        self.job = self.record.spec["job"]
        self.resolved = self.record.spec["resolved"]
        self.folder = job_folder(ctx, job_name)
        self.workdir = settings.job_scratch_dir(ctx.name, job_name)
        # Remote inputs mounted read-only: unmounted when the job ends, however it ends.
        self.mounts = InputMounts(settings, ctx.name, self.workdir / "mount-logs")

    # -- the lifecycle ------------------------------------------------------------------------
    def run(self) -> Outcome:
        """Drive the job from Queued to a terminal status."""
        (self.folder / "user_logs").mkdir(parents=True, exist_ok=True)
        (self.folder / "system_logs").mkdir(parents=True, exist_ok=True)
        plan: Plan | None = None
        try:
            self._transition(JobStatus.PREPARING)
            with open(self.folder / ENV_LOG, "a", buffering=1) as env_log:
                plan = self._prepare(env_log)
            self._check_cancel()
            self._transition(JobStatus.RUNNING)
            code = self._execute(plan)
            if code != 0:
                self._collect_artifacts(plan)  # as Azure: a failed run's ./outputs and ./logs are kept
                return self._finish(JobStatus.FAILED, {
                    "code": "UserError", "message": f"Execution failed: the command exited with code {code}. "
                    f"See {STD_LOG} (openaml job stream -n {self.name}).", "exit_code": code})
            self._transition(JobStatus.FINALIZING)
            self._finalize(plan)
            return self._finish(JobStatus.COMPLETED)
        except JobCanceled:
            self._collect_artifacts(plan)
            return self._finish(JobStatus.CANCELED)
        except _Timeout as exc:
            self._collect_artifacts(plan)
            return self._finish(JobStatus.FAILED, {"code": "JobTimeout", "message": str(exc)})
        except OpenAMLError as exc:
            self._system_log(f"{type(exc).__name__}: {exc.message}")
            return self._finish(JobStatus.FAILED, {"code": exc.code.value, "message": exc.message})
        except Exception as exc:  # noqa: BLE001 - a job must never stay Running because of us
            self._system_log(traceback.format_exc())
            return self._finish(JobStatus.FAILED, {"code": "SystemError",
                                                   "message": f"{type(exc).__name__}: {exc}"})
        finally:
            self._unmount_inputs()
            remove_tree(self.workdir)

    # -- preparation --------------------------------------------------------------------------
    def _prepare(self, env_log: TextIO) -> "Plan":
        def log(line: str) -> None:
            env_log.write(line.rstrip("\n") + "\n")

        unmount_under(self.workdir)  # what a killed run of this job may have left mounted
        remove_tree(self.workdir)
        self.workdir.mkdir(parents=True)
        env = self.builder.resolve(self._environment(), log=log)
        log(f"Environment ready: {env.description}")
        if env.headline:  # the first line of the job's log: the environment is not what was asked
            with open(self.folder / STD_LOG, "a") as std_log:
                std_log.write(env.headline + "\n")
        self._check_cancel()
        for warning in (self.resolved.get("code") or {}).get("warnings", []):
            self._warn(warning)
        code_dir = self._materialize_code()
        for folder in ARTIFACT_FOLDERS:  # Azure's convention: they exist when the command starts
            if not (code_dir / folder).exists() and not (code_dir / folder).is_symlink():
                (code_dir / folder).mkdir()
        self._check_cancel()
        values: dict[str, Any] = {}
        env_vars: dict[str, str] = {}
        credentials: dict[str, tuple[str, str]] = {}  # variable -> (value, input that set it)
        for name, resolved in self.resolved["inputs"].items():
            given = job_io.materialize_input(self.ctx, name, resolved, self.workdir / "inputs", log=self._info,
                                             mounts=self.mounts)
            values[f"inputs.{name}"] = given.value
            if given.value is not None and resolved["kind"] != "literal":
                env_vars[f"AZURE_ML_INPUT_{name}"] = str(given.value)
            for key, value in given.env.items():
                if key in credentials and credentials[key][0] != value:
                    raise ValidationError(
                        f"inputs '{credentials[key][1]}' and '{name}' are direct inputs on datastores with "
                        f"different credentials, and a job has one {key}; read one of them in another mode",
                        field=f"inputs.{name}.mode")
                credentials[key] = (value, name)
        env_vars.update({key: value for key, (value, _) in credentials.items()})
        outputs: dict[str, Path] = {}
        for name, resolved in self.resolved["outputs"].items():
            path = self._output_dir(name, resolved)
            outputs[name] = path
            values[f"outputs.{name}"] = str(path)
            env_vars[f"AZURE_ML_OUTPUT_{name}"] = str(path)
        command = expand_command(self.job["command"], values)
        return Plan(code_dir=code_dir, command=command, env=env, env_vars=env_vars, outputs=outputs)

    def _environment(self) -> Any:
        from openaml.services.env_pins import pinned_environment
        return pinned_environment(self.ctx, self.resolved["environment"], self.workdir)

    def _materialize_code(self) -> Path:
        code = self.resolved.get("code")
        if not code:
            path = self.workdir / "code"
            path.mkdir()
            return path
        target = self.ctx.artifacts.materialize(code["digest"], self.workdir / "snapshot", overwrite=True)
        return target if target.is_dir() else target.parent

    def _output_dir(self, name: str, resolved: dict[str, Any]) -> Path:
        folder = safe_join(self.workdir, "outputs", name, field=f"outputs.{name}", names=True)
        folder.mkdir(parents=True, exist_ok=True)
        if resolved["type"] == "uri_file":
            return safe_join(folder, PurePosixPath(resolved["path"]).name or name, field=f"outputs.{name}.path")
        return folder

    # -- execution ----------------------------------------------------------------------------
    def _execute(self, plan: "Plan") -> int:
        """Run the command (one process per rank) inside the job's process tracker; whatever
        way it ends, every process it started has ended when this returns or raises. In a
        container, the tracked process is the engine's client; the containers themselves are
        stopped by name, as the engine (not this process) is their parent."""
        ranks = rank_layout(self.job)
        job_vars = self._job_vars(plan)
        timeout = (self.job.get("limits") or {}).get("timeout")
        processes, names = [], []
        master_port = _free_port() if len(ranks) > 1 else None
        tracker = self._open_tracker()
        job_vars[TOKEN_ENV] = tracker.token  # after the user's variables: a job cannot choose its token
        engine = plan.env.engine if plan.env.kind == "container" else None
        if engine is not None:
            self._record_properties({"openaml.container_engine": engine.name})  # for a reaper
        deadline = time.monotonic() + timeout if timeout else None
        ended = False
        try:
            for rank, local_rank in ranks:
                log_name = STD_LOG if len(ranks) == 1 else f"user_logs/std_log_process_{rank}.txt"
                rank_vars = dict(job_vars, **_rank_env(self.job, rank, local_rank, len(ranks), master_port))
                if engine is None:
                    argv, env = ["/bin/bash", "-c", plan.command], self._host_env(plan, rank_vars)
                else:
                    argv, env = self._container(plan, engine, tracker.token, rank, rank_vars)
                    names.append(containers.container_name(tracker.token, rank))
                log = open(self.folder / log_name, "ab", buffering=0)
                # No preexec_fn (it is unsafe with threads, and forces a full fork where vfork would
                # do): if the agent dies, the job's tracker lets the reaper find every process.
                processes.append((subprocess.Popen(
                    tracker.command(argv), cwd=plan.code_dir, env=env,
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True),
                    log))
            code = self._wait(processes, deadline, timeout)
            ended = True
            return code
        finally:
            if engine is not None:  # exited ones are gone already (--rm): only the rest is stopped
                containers.remove_containers(engine, names, 0.0 if ended else self.settings.kill_grace_seconds)
            self._stop_tracked(tracker)
            for _, log in processes:
                log.close()

    def _container(self, plan: "Plan", engine: containers.ContainerEngine, token: str, rank: int,
                   rank_vars: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """The engine client's command line and environment for one rank's container."""
        run = containers.job_container(
            engine, plan.env.image, token=token, rank=rank, job=self.name, workspace=self.ctx.name,
            scratch=self.workdir, inputs=self.workdir / "inputs", code_dir=plan.code_dir, command=plan.command,
            env_names=rank_vars, shm_size=(self.job.get("resources") or {}).get("shm_size"),
            read_only=[PARALLEL_DRIVER_PATH] if str(PARALLEL_DRIVER_PATH) in plan.command else [])
        for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            if self.run_ctx.tracking_url and rank_vars.get(var) == self.run_ctx.tracking_url:
                rank_vars = dict(rank_vars, **{var: containers.container_tracking_url(rank_vars[var], run.network)})
        return containers.container_argv(run), containers.client_env(os.environ, rank_vars)

    def _open_tracker(self) -> ProcessTracker:
        """Choose how this job's processes are tracked, note it on the job before any starts,
        and say so in the first line of its log."""
        tracker = open_tracker(self.settings.process_tracking)
        try:
            self.ctx.jobs.record_processes(self.ctx.name, self.name, token=tracker.token, cgroup=tracker.cgroup)
            with open(self.folder / STD_LOG, "a") as log:
                log.write(tracker.describe() + "\n")
        except BaseException:
            tracker.close()
            raise
        return tracker

    def _stop_tracked(self, tracker: ProcessTracker) -> None:
        """Stop whatever the job left running (daemons of a completed job too): SIGTERM, SIGKILL
        after the grace period. Returns once they are gone, so no status is recorded before."""
        try:
            gone = stop(tracker, self.settings.kill_grace_seconds)
        finally:
            usage = tracker.close()
        if not gone:
            self._system_log(f"some processes of the job could not be stopped: {sorted(tracker.pids())}")
        properties = {"openaml.process_tracking": tracker.kind}
        if usage.cpu_seconds is not None:
            properties["openaml.cpu_seconds"] = f"{usage.cpu_seconds:.3f}"
        if usage.memory_peak_bytes is not None:
            properties["openaml.memory_peak_bytes"] = str(usage.memory_peak_bytes)
        self._record_properties(properties)

    def _record_properties(self, properties: dict[str, str]) -> None:
        try:
            job = dict(self.ctx.jobs.get_job(self.ctx.name, self.name).spec["job"])
            job["properties"] = {**(job.get("properties") or {}), **properties}
            self.ctx.jobs.update_fields(self.ctx.name, self.name, spec={"job": job})
        except OpenAMLError as exc:  # bookkeeping must not fail a job
            self._system_log(f"could not record the job's properties {sorted(properties)}: {exc.message}")

    def _wait(self, processes, deadline: float | None, timeout: float | None) -> int:
        """The exit code once every process ended (or the first that failed); raises on cancel
        and timeout. The caller stops what is still running."""
        exited = threading.Event()  # set each time one of the processes ends
        for p, _ in processes:
            threading.Thread(target=_wait_and_set, args=(p, exited), daemon=True,
                             name=f"wait-{p.pid}").start()
        while True:
            exited.clear()  # before reading the codes: an exit after the read sets it again
            codes = [p.returncode for p, _ in processes]
            failed = [c for c in codes if c not in (None, 0)]
            if failed or all(c is not None for c in codes):
                return failed[0] if failed else 0
            if self.run_ctx.cancel.is_set():
                raise JobCanceled()
            if deadline is not None and time.monotonic() > deadline:
                raise _Timeout(f"The job ran longer than limits.timeout ({int(timeout)} s) and was stopped.")
            left = CANCEL_CHECK_SECONDS if deadline is None else deadline - time.monotonic()
            exited.wait(max(0.0, min(CANCEL_CHECK_SECONDS, left)))

    def _job_vars(self, plan: "Plan") -> dict[str, str]:
        """The variables the job's command sees on top of its environment's own, wherever it
        runs: the environment's, Azure's and MLflow's, inputs and outputs, then the user's."""
        experiment = self.record.experiment_name
        arm = workspace_arm_id(self.ctx.name).split("/")
        env = dict(plan.env.env_vars or {})
        env.update({
            "PYTHONUNBUFFERED": "1",
            "AZUREML_RUN_ID": self.name,
            "AZUREML_ARM_WORKSPACE_NAME": self.ctx.name,
            "AZUREML_ARM_SUBSCRIPTION": arm[2],
            "AZUREML_ARM_RESOURCEGROUP": arm[4],
            "AZUREML_ARM_PROJECT_NAME": experiment,
            "MLFLOW_RUN_ID": self.name,
            "MLFLOW_EXPERIMENT_NAME": experiment,
        })
        if self.run_ctx.tracking_url:
            # The registry too: one the agent inherited (MLFLOW_REGISTRY_URI) must not take the
            # job's models elsewhere; the job's endpoint serves MLflow's model registry.
            env["MLFLOW_TRACKING_URI"] = env["MLFLOW_REGISTRY_URI"] = self.run_ctx.tracking_url
        env.update(plan.env_vars)
        env.update({k: str(v) for k, v in (self.job.get("environment_variables") or {}).items()})
        return env

    @staticmethod
    def _host_env(plan: "Plan", job_vars: dict[str, str]) -> dict[str, str]:
        """On this machine the command also inherits the agent's environment, with the
        environment's ``bin`` first on ``PATH``."""
        # Never the secret key itself: a job that prints its environment would log it (a job that
        # opens the workspace in-process reads the key file that OPENAML_SECRET_KEY_FILE names).
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OPENAML_AGENT_", "VIRTUAL_ENV")) and k != KEY_ENV}
        if plan.env.bin_dir:
            env["PATH"] = f"{plan.env.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env.update(job_vars)
        return env

    # -- finalisation -------------------------------------------------------------------------
    def _finalize(self, plan: "Plan") -> None:
        """Publish every output into the content-addressed store (the commit point is the
        job record naming the manifests), then write explicit datastore paths and register
        named outputs from those manifests."""
        self._collect_artifacts(plan)
        published: dict[str, contents.Content] = {}
        for name in self.resolved["outputs"]:
            content = contents.publish_output(self.ctx, plan.outputs[name], name, self._warn)
            if content is None:
                self._warn(f"output {name} was not written by the command; it has no content")
            else:
                published[name] = content
        # Paths the user chose (on any datastore) first: if one cannot be written, the job fails
        # with no output recorded, and each destination is left as it was (see remote_data).
        for name, resolved in self.resolved["outputs"].items():
            if name in published:
                moved = job_io.deliver_output(self.ctx, self.name, name, resolved, published[name], self._warn)
                if moved:
                    self._info(f"output {name}: {moved}")
        self.ctx.jobs.update_fields(self.ctx.name, self.name, spec={
            contents.PUBLISHED: {name: c.to_dict() for name, c in published.items()}})
        for name, resolved in self.resolved["outputs"].items():
            if name in published and resolved.get("name"):
                self._register_output(name, resolved)

    def _collect_artifacts(self, plan: "Plan | None") -> None:
        """Copy ``./outputs`` and ``./logs`` into the job's folder (its ``outputs``/``logs``
        artifacts, which ``job download --all`` and MLflow list), whatever way the command ended.
        Empty ones are left out, as Azure shows none. Never fails the job's end."""
        if plan is None:
            return
        for folder in ARTIFACT_FOLDERS:
            source = plan.code_dir / folder
            try:
                if source.is_dir() and not source.is_symlink() and any(source.iterdir()):
                    copy_tree_keeping_links(source, self.folder / folder, on_skip=self._skipped(f"./{folder}"))
            except OSError as exc:
                self._warn(f"./{folder} could not be collected: {exc}")

    def _register_output(self, output: str, resolved: dict[str, Any]) -> None:
        from openaml.entities import Data, Model
        from openaml.services.registry import RegistryService

        cls = Model if resolved["type"] in MODEL_TYPES else Data
        asset = cls(name=resolved["name"], version=resolved.get("version"), type=resolved["type"],
                    path=f"azureml://jobs/{self.name}/outputs/{output}", description=f"Output of job {self.name}")
        registered = RegistryService(self.ctx).create_or_update(asset)
        self._system_log(f"Registered output as {cls.__name__.lower()} {registered.name}:{registered.version}")

    def _skipped(self, what: str):
        return lambda item: self._warn(f"{what}: skipped {item.path}: it {item.reason}")

    def _info(self, text: str) -> None:
        """One line about the job's data where the user reads the job's output, and in the system log."""
        with open(self.folder / STD_LOG, "a") as fh:
            fh.write(f"openaml: {text}\n")
        self._system_log(text)

    def _warn(self, text: str) -> None:
        """One warning line where the user reads the job's output, and in the system log."""
        with open(self.folder / STD_LOG, "a") as fh:
            fh.write(f"openaml: warning: {text}\n")
        self._system_log(f"warning: {text}")

    # -- helpers ------------------------------------------------------------------------------
    def _transition(self, status: JobStatus, error: dict[str, Any] | None = None) -> None:
        self.ctx.jobs.transition(self.ctx.name, self.name, status.value, error=error)

    def _check_cancel(self) -> None:
        if self.run_ctx.cancel.is_set():
            raise JobCanceled()

    def _finish(self, status: JobStatus, error: dict[str, Any] | None = None) -> Outcome:
        # Mounts and scratch go first: whoever sees the job ended must find neither.
        self._unmount_inputs()
        remove_tree(self.workdir)
        return end_job(self.ctx, self.name, status, error)

    def _unmount_inputs(self) -> None:
        """Unmount the inputs mounted with FUSE (their servers exit with them); a mount point
        that stays is said in the system log and left out of the scratch folder's removal."""
        for point in self.mounts.close() + unmount_under(self.workdir):
            self._system_log(f"could not unmount {point}")

    def _system_log(self, text: str) -> None:
        with open(self.folder / "system_logs" / "agent.txt", "a") as fh:
            fh.write(text.rstrip("\n") + "\n")


_MLFLOW_STATUS = {JobStatus.COMPLETED: "FINISHED", JobStatus.CANCELED: "KILLED"}


def end_job(ctx: WorkspaceContext, name: str, status: JobStatus, error: dict[str, Any] | None = None) -> Outcome:
    """Move a job to its terminal status and close its MLflow run; shared by every runtime.
    On a workspace on object storage, the job's logs and artifacts are stored there first.

    A job someone else already ended stays as it is; a failure while a cancel was asked for
    is the kill we were asked for, so the job ends Canceled."""
    current = JobStatus(ctx.jobs.get_job(ctx.name, name).status)
    if is_terminal(current):
        return Outcome(current)
    try:  # before the end is recorded: whoever sees the job ended finds its logs on the storage
        contents.store_job_artifacts(ctx, name)
    except (OpenAMLError, OSError) as exc:  # the job's end must be recorded all the same
        message = exc.message if isinstance(exc, OpenAMLError) else f"{type(exc).__name__}: {exc}"
        print(f"job {name}: its logs could not be stored on the workspace's storage: {message}", file=sys.stderr)
    if current == JobStatus.CANCEL_REQUESTED and status == JobStatus.FAILED:
        status, error = JobStatus.CANCELED, None
    ctx.jobs.transition(ctx.name, name, status.value, error=error)
    ctx.tracking.update_run_info(name, status=_MLFLOW_STATUS.get(status, "FAILED"), end_time=int(time.time() * 1000))
    return Outcome(status, error)


@dataclass
class Plan:
    code_dir: Path
    command: str
    env: Any
    env_vars: dict[str, str]
    outputs: dict[str, Path]


class _Timeout(Exception):
    pass


def rank_layout(job: dict[str, Any]) -> list[tuple[int, int]]:
    """(rank, local_rank) for every process: instance_count x processes per instance."""
    instances = max(1, int((job.get("resources") or {}).get("instance_count") or 1))
    dist = job.get("distribution") or {}
    per_instance = dist.get("process_count_per_instance") or dist.get("worker_count") or 1
    if dist.get("type") == "tensorflow":
        instances, per_instance = 1, max(1, int(dist.get("worker_count") or instances))
    return [(i * per_instance + j, j) for i in range(instances) for j in range(int(per_instance))]


def _rank_env(job: dict[str, Any], rank: int, local_rank: int, world: int, port: int | None) -> dict[str, str]:
    if world == 1 and not job.get("distribution"):
        return {}
    env = {"RANK": str(rank), "LOCAL_RANK": str(local_rank), "WORLD_SIZE": str(world),
           "NODE_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port or _free_port()),
           "OMPI_COMM_WORLD_RANK": str(rank), "OMPI_COMM_WORLD_SIZE": str(world),
           "OMPI_COMM_WORLD_LOCAL_RANK": str(local_rank)}
    if (job.get("distribution") or {}).get("type") == "tensorflow":
        import json
        workers = [f"127.0.0.1:{(port or 0) + 1 + i}" for i in range(world)]
        env["TF_CONFIG"] = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": rank}})
    return env


def _wait_and_set(process: subprocess.Popen, exited: threading.Event) -> None:
    """Block until *process* ends (reaping it, so ``returncode`` is set), then set *exited*."""
    process.wait()
    exited.set()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


