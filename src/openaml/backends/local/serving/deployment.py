"""A deployment served by its endpoint's router: prepared (environment, model, code), started,
probed, restarted, scaled and stopped.

Preparation is Azure's storage initializer: the model is materialised read-only under
``<deployment>/azureml-models/<name>/<version>`` (``AZUREML_MODEL_DIR``, laid out as Azure
does: a folder model as ``<dir>/<folder>/...``, a file model as ``<dir>/<file>``), the code
under ``<deployment>/code`` (``AML_APP_ROOT``), and the environment resolved by the job
environments' builder (a cached uv venv). Its log is the deployment's ``storage-initializer``
log; each worker writes ``inference-server-<i>.log``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import traceback
from pathlib import Path
from typing import Any, Awaitable, Callable

from openaml.backends.local.serving.instances import (RESTART_BACKOFF, START_PROBE_INTERVAL, Balancer, Instance,
                                                      Launch, Limits, Probe, desired_instances, worker_env)
from openaml.services import contents
from openaml.services.endpoint_runtime import ProvisioningState, deployment_dir, log_file
from openaml.services.env_pins import pinned_environment
from openaml.services.environments import builder_for
from openaml.services.process_tracking import TOKEN_ENV
from openaml.services.settings import Settings
from openaml.services.workspaces import WorkspaceContext
from openaml.store.endpoints import DeploymentRecord
from openaml.store.folders import remove_tree

StateWriter = Callable[[str, ProvisioningState, str | None], Awaitable[None]]


def prepare(ctx: WorkspaceContext, settings: Settings, endpoint: str, record: DeploymentRecord,
            token: str) -> Launch:
    """Materialise the model and code and resolve the environment (blocking: run in a thread).

    Each version of the deployment gets a folder of its own (``v<updated_at in ms>``), so an
    update never changes files under the workers that still serve the previous version; the
    router removes the other versions' folders once the new workers serve (:func:`prune`)."""
    folder = version_dir(settings, ctx.name, endpoint, record)
    log_path = log_file(settings, ctx.name, endpoint, record.name, "storage-initializer")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as log:
        def say(line: str) -> None:
            log.write(line.rstrip("\n") + "\n")
            log.flush()
        resolved = record.resolved
        env_vars: dict[str, str] = {}
        model = resolved.get("model")
        if model is not None:
            model_dir = folder / "azureml-models" / model["name"] / model["version"]
            say(f"model {model['name']}:{model['version']} -> {model_dir} (read-only)")
            ctx.artifacts.materialize(model["digest"], model_dir, overwrite=True, read_only=True,
                                      share=contents.can_share_blobs())
            env_vars["AZUREML_MODEL_DIR"] = str(model_dir)
        else:
            env_vars["AZUREML_MODEL_DIR"] = str(folder / "azureml-models")
        cwd = folder
        code = resolved.get("code")
        if code is not None:
            app_root = ctx.artifacts.materialize(code["digest"], folder / "code", overwrite=True)
            say(f"code -> {app_root}")
            env_vars["AML_APP_ROOT"] = str(app_root)
            env_vars["AZUREML_ENTRY_SCRIPT"] = resolved["scoring_script"]
            cwd = app_root
        pinned = {"container_runtime": "none", "allow_host_python": resolved.get("allow_host_python", False)}
        builder = builder_for(settings, pinned)
        env = builder.resolve(pinned_environment(ctx, resolved["environment"], folder / "env"), log=say)
        say(f"environment ready: {env.description}")
        if env.headline:
            say(env.headline)
    base = dict(os.environ)
    base.update(env.env_vars)
    if env.bin_dir is not None:
        base["PATH"] = f"{env.bin_dir}{os.pathsep}{base.get('PATH', '')}"
    user = record.spec.get("environment_variables") or {}
    extra = {**user, **env_vars, "OPENAML_WORKER_MODE": resolved.get("mode", "script"), TOKEN_ENV: token}
    limits = Limits.of(record.spec)
    extra.setdefault("WORKER_COUNT", str(limits.concurrency))
    return Launch(python=str(env.python), env=worker_env(base, extra), cwd=str(cwd), logs=log_path.parent)


def version_dir(settings: Settings, workspace: str, endpoint: str, record: DeploymentRecord) -> Path:
    """The folder of one version of a deployment (model, code, build context)."""
    stamp = int(record.updated_at.timestamp() * 1000)
    return deployment_dir(settings, workspace, endpoint, record.name) / f"v{stamp}"


def prune(settings: Settings, workspace: str, endpoint: str, record: DeploymentRecord) -> None:
    """Remove the folders of the deployment's other versions (blocking: run in a thread)."""
    keep = version_dir(settings, workspace, endpoint, record)
    for old in keep.parent.glob("v*"):
        if old != keep and old.is_dir():
            remove_tree(old)


class DeploymentRuntime:
    """The workers of one deployment and the tasks that look after them."""

    def __init__(self, record: DeploymentRecord, write_state: StateWriter, grace: float,
                 storage_log: Path) -> None:
        self.record = record
        self.storage_log = storage_log
        self.name = record.name
        self.limits = Limits.of(record.spec)
        self.liveness = Probe.of(record.spec.get("liveness_probe"))
        self.readiness = Probe.of(record.spec.get("readiness_probe"))
        self.balancer = Balancer(self.limits)
        self.state = (ProvisioningState.UPDATING if record.state == ProvisioningState.UPDATING.value
                      else ProvisioningState.CREATING)
        self.error: str | None = None
        self.launch: Launch | None = None
        self._write_state = write_state
        self._grace = grace
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._next_index = 0

    @property
    def instances(self) -> list[Instance]:
        return self.balancer.instances

    def fingerprint(self) -> tuple[Any, Any]:
        return (self.record.spec, self.record.resolved)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _set(self, state: ProvisioningState, error: str | None = None) -> None:
        self.state, self.error = state, error
        await self._write_state(self.name, state, error)

    async def start(self, make_launch: Callable[[], Awaitable[Launch]]) -> bool:
        """Prepare and start every instance; Succeeded once all answer their readiness probe,
        Failed (with the reason) if one exits or never answers."""
        try:
            self.launch = await make_launch()
        except Exception as exc:  # noqa: BLE001 - any preparation failure is the deployment's
            await self._set(ProvisioningState.FAILED, f"preparing the deployment failed: {exc}")
            self.storage_log.parent.mkdir(parents=True, exist_ok=True)
            with open(self.storage_log, "a", encoding="utf-8") as log:
                log.write(traceback.format_exc())
            return False
        results = await asyncio.gather(*(self._add_instance() for _ in range(self.limits.instances)))
        failures = [r for r in results if r is not True]
        if failures:
            failed = str(failures[0])
            await self.stop()
            await self._set(ProvisioningState.FAILED, failed)
            return False
        await self._set(ProvisioningState.SUCCEEDED)
        if self.limits.autoscale:
            self._spawn(self._scale())
        return True

    async def _add_instance(self) -> bool | str:
        inst = Instance(self._next_index, self.launch)  # type: ignore[arg-type]
        self._next_index += 1
        self.instances.append(inst)
        await inst.start()
        why = await self._until_ready(inst, self.readiness.start_deadline)
        if why is not None:
            return why
        self._spawn(self._supervise(inst))
        return True

    async def _until_ready(self, inst: Instance, deadline: float) -> str | None:
        """None once the instance answers ``GET /``; else why it never did."""
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        while loop.time() < end:
            if inst.proc is not None and inst.proc.returncode is not None:
                return f"instance {inst.index} exited with code {inst.proc.returncode} before it was ready " \
                       "(init() failed?)"
            if await inst.probe(min(self.readiness.timeout, max(0.05, end - loop.time()))):
                inst.ready = True
                await self.balancer.notify()
                return None
            await asyncio.sleep(START_PROBE_INTERVAL)
        return (f"instance {inst.index} did not answer its readiness probe within {deadline:g} s "
                "(readiness_probe: initial_delay + period * failure_threshold)")

    async def _supervise(self, inst: Instance) -> None:
        """Restart the instance when it exits or fails its liveness probe ``failure_threshold``
        times in a row."""
        failures = 0
        while not self._stopping and not inst.stopping:
            assert inst.proc is not None
            waiter = asyncio.ensure_future(inst.proc.wait())
            done, _ = await asyncio.wait({waiter}, timeout=self.liveness.period)
            if self._stopping or inst.stopping:
                waiter.cancel()
                return
            if not done:
                failures = 0 if await inst.probe(self.liveness.timeout) else failures + 1
                if failures < self.liveness.failure_threshold:
                    continue
                inst.signal(signal.SIGKILL)
                await inst.proc.wait()
            inst.ready = False
            failures = 0
            delay = RESTART_BACKOFF[min(inst.restarts, len(RESTART_BACKOFF) - 1)]
            inst.restarts += 1
            await asyncio.sleep(delay)
            if self._stopping or inst.stopping:
                return
            await inst.start()
            await self._until_ready(inst, self.readiness.start_deadline)

    async def _scale(self) -> None:
        """Every ``polling_interval`` seconds, add or remove a worker to keep utilization near
        the target (``TargetUtilizationScaleSettings``)."""
        samples: list[float] = []
        while not self._stopping:
            end = asyncio.get_running_loop().time() + self.limits.polling_interval
            while asyncio.get_running_loop().time() < end and not self._stopping:
                samples.append(self.balancer.utilization())
                await asyncio.sleep(0.05)
            live = [i for i in self.instances if not i.stopping]
            average = sum(samples) / len(samples) if samples else 0.0
            samples.clear()
            wanted = desired_instances(len(live), average, self.limits)
            if wanted > len(live):
                for _ in range(wanted - len(live)):
                    self._spawn(self._add_instance())
            elif wanted < len(live):
                idle = [i for i in live[1:] if i.inflight == 0]  # never one with a request in flight
                if idle:
                    victim = idle[-1]
                    victim.ready = False
                    self.instances.remove(victim)
                    await victim.stop(self._grace)

    async def stop(self) -> None:
        """Stop every worker (SIGTERM, SIGKILL after the grace period) and the tasks."""
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*(inst.stop(self._grace) for inst in self.instances), return_exceptions=True)

