"""Running a pipeline: steps in dependency order, independent steps at once, each a child job.

Before a step is submitted its reuse key is computed; an earlier successful run with the same
key (and reuse allowed) is linked instead of run: the child job is recorded Completed at once,
its outputs are the earlier run's, its logs folder points at the earlier run's and its metrics
are copied. The pipeline's own log (``user_logs/std_log.txt``) says, step by step, what was
reused and why anything ran again.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from datetime import datetime
from typing import Any

from openaml.entities import Environment, Input, Output
from openaml.entities.job import CommandJob
from openaml.entities.job_status import JobStatus, is_terminal
from openaml.errors import NotFoundError
from openaml.names import step_job_name
from openaml.services import contents, job_io, locations
from openaml.services.environments import EnvironmentBuilder, builder_for
from openaml.services.job_runtime import JobCanceled, Outcome, RunContext, end_job
from openaml.services.job_leases import this_agent
from openaml.services.jobs import JobService
from openaml.services.reuse import changed_parts, digest_json, reuse_key
from openaml.services.settings import Settings
from openaml.services.uploads import upload_uri
from openaml.services.workspaces import WorkspaceContext

POLL_SECONDS = 0.1


class PipelineRuntime:
    """The orchestrator of one pipeline job."""

    def __init__(self, ctx: WorkspaceContext, settings: Settings, job_name: str, launcher: Any,
                 run: RunContext) -> None:
        self.ctx, self.settings, self.name, self.run_ctx = ctx, settings, job_name, run
        self.service = JobService(ctx, settings, launcher)
        self.record = ctx.jobs.get_job(ctx.name, job_name)
        self.resolved = self.record.spec["resolved"]
        self.steps: dict[str, dict[str, Any]] = self.resolved["steps"]
        self.force = self.resolved["settings"]["force_rerun"]
        self.keep_going = self.resolved["settings"]["continue_on_step_failure"]
        self.children: dict[str, str] = {}
        self.state: dict[str, str] = {s: "pending" for s in self.steps}
        self.digests: dict[str, dict[str, str]] = {}
        self.parts: dict[str, dict[str, Any]] = {}
        self.folder = locations.job_folder(ctx, job_name)
        self._env_keys: dict[str, str] = {}
        self._env_builder: EnvironmentBuilder | None = None
        # Command steps run in this process when the backend can (no interpreter per step);
        # their threads report on this queue, and each has its own cancel event.
        self.launcher = launcher
        self.inline = hasattr(launcher, "run_inline")
        self.finished: queue.Queue[str] = queue.Queue()
        self.step_runs: dict[str, RunContext] = {}
        self._last_beat = 0.0

    # -- lifecycle ------------------------------------------------------------------------------
    def run(self) -> Outcome:
        (self.folder / "user_logs").mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.folder / "user_logs" / "std_log.txt", "a", buffering=1)
        try:
            self._log_warnings()
            self._transition(JobStatus.PREPARING)
            self._transition(JobStatus.RUNNING)
            self._loop()
            return self._finish()
        except JobCanceled:
            self._cancel_children()
            return self._end(JobStatus.CANCELED)
        except Exception as exc:  # noqa: BLE001 - never leave a pipeline Running because of us
            self._log(f"orchestrator error: {type(exc).__name__}: {exc}")
            self._cancel_children()
            return self._end(JobStatus.FAILED, {"code": "SystemError", "message": f"{type(exc).__name__}: {exc}"})
        finally:
            self._log_file.close()

    def link_all_if_reused(self) -> bool:
        """Complete the pipeline at once, without an orchestrator process, when every step can
        be reused; change nothing and return False as soon as one cannot."""
        if self.force:
            return False
        plan = []
        for step in self.resolved["order"]:
            spec = self.steps[step]
            if spec.get("kind") == "sweep" or not spec["is_deterministic"]:
                return False
            inputs = {k: self._input_value(v, spec["declared_inputs"].get(k, {})) for k, v in spec["inputs"].items()}
            parts = self._key_parts(step, spec, inputs)
            hit = self.ctx.step_runs.find_reusable(self.ctx.name, reuse_key(parts))
            if hit is None:
                return False
            self.digests[step] = dict(hit.output_digests)
            self.children[step] = step_job_name(self.name, step)  # what downstream bindings will name
            plan.append((step, spec, inputs, hit, parts))
        (self.folder / "user_logs").mkdir(parents=True, exist_ok=True)
        with open(self.folder / "user_logs" / "std_log.txt", "a", buffering=1) as self._log_file:
            self._log_warnings()
            self._transition(JobStatus.PREPARING)
            self._transition(JobStatus.RUNNING)
            for step, spec, inputs, hit, parts in plan:
                self.parts[step] = {"key": reuse_key(parts), "parts": parts}
                self._link(step, spec, inputs, hit)
            self._finish()
        return True

    def _loop(self) -> None:
        deps = _dependencies(self.steps)
        stopping = False
        while True:
            if self.run_ctx.cancel.is_set():
                raise JobCanceled()
            started = True
            while started and not stopping:  # a linked step can make its dependants ready at once
                ready = self._ready(deps)
                for step in ready:
                    self._start(step)
                started = bool(ready)
            self._heartbeat_inline()
            progressed = self._poll()
            if any(self.state[s] == "failed" for s in self.steps) and not self.keep_going and not stopping:
                stopping = True
                self._log("a step failed and continue_on_step_failure is false: stopping the other steps")
                self._cancel_children()
            self._skip_unreachable(deps)
            if not any(v in ("running",) for v in self.state.values()) and (stopping or not self._ready(deps)):
                if stopping or all(v != "pending" for v in self.state.values()):
                    return
            if not progressed:
                try:
                    self.finished.put(self.finished.get(timeout=POLL_SECONDS))  # wake on a finish
                except queue.Empty:
                    pass

    def _ready(self, deps: dict[str, set[str]]) -> list[str]:
        return [s for s in self.resolved["order"] if self.state[s] == "pending"
                and all(self.state[d] == "done" for d in deps[s])]

    def _skip_unreachable(self, deps: dict[str, set[str]]) -> None:
        changed = True
        while changed:
            changed = False
            for step in self.steps:
                if self.state[step] == "pending" and any(self.state[d] in ("failed", "skipped") for d in deps[step]):
                    self.state[step] = "skipped"
                    self._log(f"step {step}: not run, an upstream step failed")
                    changed = True

    # -- one step -----------------------------------------------------------------------------
    def _start(self, step: str) -> None:
        spec = self.steps[step]
        if spec.get("kind") == "sweep":
            self._start_sweep(step, spec)
            return
        inputs = {k: self._input_value(v, spec["declared_inputs"].get(k, {})) for k, v in spec["inputs"].items()}
        parts = self._key_parts(step, spec, inputs)
        key = reuse_key(parts)
        self.parts[step] = {"key": key, "parts": parts}
        identity = f"{self.record.experiment_name}/{self.record.display_name or 'pipeline'}/{step}"
        if spec["is_deterministic"] and not self.force:
            hit = self.ctx.step_runs.find_reusable(self.ctx.name, key)
            if hit is not None:
                self._link(step, spec, inputs, hit)
                return
        reason = self._rerun_reason(spec, identity, parts)
        child = step_job_name(self.name, step)
        job = self._child_job(step, child, spec, inputs, reason)
        self.service.submit(job, parent_job_name=self.name, experiment_name=self.record.experiment_name,
                            launch=not self.inline)
        self.children[step] = child
        self.state[step] = "running"
        if self.inline:
            self._run_inline(step, child)
        self._log(f"step {step}: running as job {child} ({reason})")

    def _run_inline(self, step: str, child: str) -> None:
        run = RunContext(tracking_url=self.run_ctx.tracking_url)
        self.step_runs[step] = run
        # The step is held by this process: its lease is renewed with the orchestrator's own.
        self.ctx.jobs.heartbeat(self.ctx.name, child, this_agent(), self.settings.job_lease_seconds)

        def work() -> None:
            try:
                self.launcher.run_inline(self.settings, self.ctx, child, run)
            except Exception as exc:  # noqa: BLE001 - the step fails, the pipeline goes on
                self._log(f"step {step}: {type(exc).__name__}: {exc}")
                try:
                    self.service._fail(child, "SystemError", f"{type(exc).__name__}: {exc}")
                except Exception:  # noqa: BLE001 - already terminal
                    pass
            finally:
                self.finished.put(step)

        threading.Thread(target=work, name=f"step-{step}", daemon=True).start()

    def _heartbeat_inline(self) -> None:
        """Steps run in this process renew their leases (the agent's heartbeat does too, when
        this loop is busy), and learn of a cancel of their own."""
        now = time.monotonic()
        if not self.step_runs or now - self._last_beat < 1.0:
            return
        self._last_beat = now
        self.ctx.jobs.renew_leases(self.ctx.name, this_agent(), self.settings.job_lease_seconds)
        for step, run in self.step_runs.items():
            if self.state[step] != "running":
                continue
            child = self.children[step]
            record = self.ctx.jobs.get_job(self.ctx.name, child)
            if record is not None and record.status == JobStatus.CANCEL_REQUESTED.value:
                run.cancel.set()

    def _start_sweep(self, step: str, spec: dict[str, Any]) -> None:
        from openaml.entities.sweep import SweepJob
        node = dict(spec["node"])
        inputs = dict(node.get("inputs") or {})
        for key, value in spec["inputs"].items():
            if "bind" in value:
                inputs[key] = self._input_value(value, spec["declared_inputs"].get(key, {}))
        child = step_job_name(self.name, step)
        node.update(name=child, inputs=inputs, display_name=spec["display_name"])
        node["outputs"] = {k: v for k, v in (node.get("outputs") or {}).items() if not isinstance(v, str)}
        node["properties"] = {**(node.get("properties") or {}), "openaml.pipeline_step": step,
                              "openaml.rerun_reason": "sweeps are not reused"}
        self.service.submit(SweepJob.model_validate(node), parent_job_name=self.name,
                            experiment_name=self.record.experiment_name)
        self.children[step] = child
        self.state[step] = "running"
        self.parts[step] = {"key": "", "parts": {}}
        self._log(f"step {step}: running as sweep job {child}")

    def _input_value(self, value: dict[str, Any], declared: dict[str, Any]) -> Any:
        if "literal" in value:
            return value["literal"]
        if "unset" in value:
            return Input(type=declared.get("type", "string"), optional=True)
        if "input" in value:
            return self._input_from_resolved(value["input"], declared)
        parts = value["bind"].split(".")
        if parts[0] == "inputs":
            resolved = self.resolved["inputs"][parts[1]]
            if resolved["kind"] == "literal":
                return resolved["value"]
            if resolved["kind"] == "unset":
                return Input(type=declared.get("type", "string"), optional=True)
            return self._input_from_resolved(resolved, declared)
        upstream, output = parts[1], parts[3]
        produced = self.steps[upstream]
        out_type = ((produced["outputs"].get(output) or {}).get("output", {}).get("type")
                    or produced["declared_outputs"].get(output, {}).get("type", "uri_folder"))
        return Input(type=out_type, path=f"azureml://jobs/{self.children[upstream]}/outputs/{output}",
                     mode=declared.get("mode"))

    def _input_from_resolved(self, resolved: dict[str, Any], declared: dict[str, Any]) -> Input:
        """A pinned pipeline input as a child's input; uploads are named by their digest so the
        child reuses the stored content instead of uploading again."""
        path = resolved.get("uri")
        if resolved.get("kind") == "artifact":
            path = upload_uri(self.ctx, resolved["digest"], resolved["root"])
        return Input(type=resolved.get("type") or declared.get("type", "uri_folder"), path=path,
                     mode=resolved.get("mode"))

    def _key_parts(self, step: str, spec: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
        values = {}
        for key, value in inputs.items():
            bind = (spec["inputs"][key].get("bind") or "")
            if bind.startswith("jobs."):
                _, upstream, _, output = bind.split(".")
                values[key] = "data:" + self.digests[upstream].get(output, "")
            elif isinstance(value, Input):
                values[key] = "data:" + self._data_digest(spec["inputs"][key], bind)
            else:
                values[key] = "value:" + repr(value)
        return {
            "component": digest_json([spec["command"], spec["declared_inputs"], spec["declared_outputs"]]),
            "code": (spec.get("code") or {}).get("digest"),
            "environment": self._environment_key(spec["environment"]),
            "inputs": values,
            "settings": digest_json([spec.get(k) for k in ("resources", "distribution", "environment_variables",
                                                          "limits")] + [spec["outputs"]]),
        }

    def _data_digest(self, value: dict[str, Any], bind: str) -> str:
        """The manifest digest of a step's data input (its content, wherever it lives)."""
        resolved = self.resolved["inputs"][bind.split(".")[1]] if bind.startswith("inputs.") else value.get("input", {})
        if resolved.get("kind") in job_io.DATA_KINDS:
            try:
                return job_io.input_digest(self.ctx, resolved)
            except NotFoundError:
                return digest_json(resolved)  # the step itself will fail, naming the input
        return digest_json(resolved)

    def _environment_key(self, env: dict[str, Any]) -> str:
        raw = digest_json(env)
        if raw not in self._env_keys:
            if self._env_builder is None:  # one per run: it probes the container engine once
                self._env_builder = builder_for(self.settings)
            builder = self._env_builder
            target = env["ref"] if env["kind"] == "curated" else env
            try:
                if env["kind"] != "curated":
                    if env["spec"].get("build"):
                        raise ValueError("build contexts are keyed by their upload")
                    target = Environment.model_validate(env["spec"])
                self._env_keys[raw] = builder.key(target)
            except Exception:  # noqa: BLE001 - fall back to the pinned definition itself
                self._env_keys[raw] = raw
        return self._env_keys[raw]

    def _rerun_reason(self, spec: dict[str, Any], identity: str, parts: dict[str, Any]) -> str:
        if not spec["is_deterministic"]:
            reason = "not reused: the component is not deterministic"
        elif self.force:
            reason = "not reused: force_rerun is set"
        else:
            earlier = self.ctx.step_runs.latest_for_step(self.ctx.name, identity)
            if earlier is None:
                reason = "first run of this step"
            else:
                changed = changed_parts(earlier.key_parts, parts)
                reason = ("changed since job " + earlier.job_name + ": " + ", ".join(changed)) if changed \
                    else f"earlier job {earlier.job_name} cannot be reused"
        spec["_identity"] = identity
        return reason

    def _child_job(self, step: str, child: str, spec: dict[str, Any], inputs: dict[str, Any],
                   reason: str) -> CommandJob:
        outputs = {}
        datastore = self.resolved["settings"].get("default_datastore")
        for key, declared in spec["declared_outputs"].items():
            override = dict((spec["outputs"].get(key) or {}).get("output", {}))
            if datastore and not override.get("path"):  # settings.default_datastore: where outputs go
                override["path"] = f"azureml://datastores/{datastore.removeprefix('azureml:')}/paths/azureml/${{{{name}}}}/${{{{output_name}}}}/"
            outputs[key] = Output(**{**{k: v for k, v in declared.items() if k in ("type", "mode")}, **override})
        env = spec["environment_ref"]
        environment = Environment.model_validate(env["inline"]) if isinstance(env, dict) and "inline" in env else env
        code = (spec.get("code") or {}).get("uri")
        return CommandJob(
            name=child, display_name=spec["display_name"], command=spec["command"], code=code,
            environment=environment, inputs=inputs, outputs=outputs, compute=spec.get("compute"),
            resources=spec.get("resources"), distribution=spec.get("distribution"),
            environment_variables=spec.get("environment_variables"), limits=spec.get("limits"),
            is_deterministic=spec["is_deterministic"],
            properties={"openaml.pipeline_step": step, "openaml.component": spec["component_id"],
                        "openaml.reuse_key": self.parts[step]["key"], "openaml.rerun_reason": reason})

    def _link(self, step: str, spec: dict[str, Any], inputs: dict[str, Any], hit: Any) -> None:
        """Record the step as done by an earlier job: outputs, logs and metrics linked."""
        earlier = self.ctx.jobs.get_job(self.ctx.name, hit.job_name)
        child = step_job_name(self.name, step)
        job = self._child_job(step, child, spec, inputs, f"reused job {hit.job_name}")
        public = self.service._public_spec(job)
        public["properties"] = {**public.get("properties", {}), "azureml.isreused": "true",
                                "azureml.reusedrunid": hit.job_name}
        resolved = {**earlier.spec["resolved"], "warnings": []}
        # A reused step is born Completed: it never runs, so it has no lifecycle to walk.
        stored = {"job": public, "resolved": resolved, "reused_from": hit.job_name}
        if contents.PUBLISHED in earlier.spec:  # the earlier run's outputs are this step's
            stored[contents.PUBLISHED] = earlier.spec[contents.PUBLISHED]
        self.service.create_record(child, "command", stored,
                                   experiment=self.record.experiment_name, display_name=spec["display_name"],
                                   parent_job_name=self.name, status=JobStatus.COMPLETED.value)
        self._link_artifacts(hit.job_name, child)
        self._deliver_outputs(child, job, earlier)
        self.children[step] = child
        self.digests[step] = dict(hit.output_digests)
        self.state[step] = "done"
        self._log(f"step {step}: reused job {hit.job_name} (same component, code, environment, inputs and settings)")

    def _deliver_outputs(self, child: str, job: CommandJob, earlier: Any) -> None:
        """A reused step's outputs still reach the paths this pipeline chose for them."""
        for key, content in contents.published_outputs(earlier).items():
            if key in (job.outputs or {}):
                resolved = job_io.resolve_output(self.ctx, child, key, job.outputs[key], self.ctx.default_datastore)
                job_io.deliver_output(self.ctx, child, key, resolved, content)

    def _link_artifacts(self, earlier: str, child: str) -> None:
        source, target = locations.job_folder(self.ctx, earlier), locations.job_folder(self.ctx, child)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.exists() and not target.exists():
            os.symlink(source, target, target_is_directory=True)
        run = self.ctx.tracking.get_run(earlier)
        metrics = [(m.key, m.value, m.timestamp, m.step) for m in run.metrics]
        params = list(run.params.items())
        if metrics or params:
            self.ctx.tracking.log_batch(child, metrics=metrics, params=params, tags=[])

    # -- polling ------------------------------------------------------------------------------
    def _poll(self) -> bool:
        progressed = False
        while True:  # drain what finished; the statuses are read below
            try:
                self.finished.get_nowait()
            except queue.Empty:
                break
        for step, child in self.children.items():
            if self.state[step] != "running":
                continue
            record = self.ctx.jobs.get_job(self.ctx.name, child)
            if record is None or not is_terminal(JobStatus(record.status)):
                continue
            progressed = True
            if record.status == JobStatus.COMPLETED.value:
                self._completed(step, child, record)
            else:
                self.state[step] = "failed"
                self._log(f"step {step}: job {child} ended {record.status}")
        return progressed

    def _completed(self, step: str, child: str, record: Any) -> None:
        spec = self.steps[step]
        if spec.get("kind") == "sweep":
            self.digests[step] = {o: self._output_digest(child, o) for o in spec["declared_outputs"]}
            self.state[step] = "done"
            self._log(f"step {step}: sweep {child} completed")
            return
        digests = {o: c.digest for o, c in contents.published_outputs(record).items()}
        self.digests[step] = digests
        self.ctx.step_runs.record(self.ctx.name, child, reuse_key=self.parts[step]["key"],
                                  step_identity=spec.get("_identity", step), key_parts=self.parts[step]["parts"],
                                  output_digests=digests,
                                  reusable=spec["is_deterministic"] and not self.force)
        self.state[step] = "done"
        self._log(f"step {step}: job {child} completed")

    def _output_digest(self, job: str, output: str) -> str:
        try:
            return contents.job_output(self.ctx, job, output).digest
        except NotFoundError:
            return ""

    # -- ending -------------------------------------------------------------------------------
    def _cancel_children(self) -> None:
        for step, child in self.children.items():
            if self.state[step] == "running":
                if step in self.step_runs:
                    self.step_runs[step].cancel.set()
                try:
                    self.service.cancel(child)
                except Exception as exc:  # noqa: BLE001 - keep cancelling the others
                    self._log(f"step {step}: cancel failed: {exc}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = [c for s, c in self.children.items() if self.state[s] == "running"
                       and not is_terminal(JobStatus(self.service.record(c).status))]
            if not running:
                break
            time.sleep(POLL_SECONDS)
        for step in self.steps:
            if self.state[step] == "running":
                self.state[step] = "canceled"

    def _finish(self) -> Outcome:
        failed = [s for s, v in self.state.items() if v == "failed"]
        outputs = {o: f"azureml://jobs/{self.children[s]}/outputs/{so}"
                   for o, (s, so) in self.resolved["outputs_map"].items() if s in self.children}
        if outputs:
            self.ctx.jobs.update_fields(self.ctx.name, self.name, spec={"pipeline_outputs": outputs})
        if failed:
            return self._end(JobStatus.FAILED, {"code": "StepFailed",
                                                "message": f"step(s) failed: {', '.join(sorted(failed))}",
                                                "failed_steps": sorted(failed)})
        return self._end(JobStatus.COMPLETED)

    def _end(self, status: JobStatus, error: dict[str, Any] | None = None) -> Outcome:
        outcome = end_job(self.ctx, self.name, status, error)
        self._log(f"pipeline {outcome.status.value}")
        return outcome

    def _transition(self, status: JobStatus) -> None:
        self.ctx.jobs.transition(self.ctx.name, self.name, status.value)

    def _log_warnings(self) -> None:
        """What submission warned about (undeclared inputs of a pipeline component...), once."""
        for warning in self.resolved.get("warnings", []):
            self._log(f"warning: {warning}")

    def _log(self, line: str) -> None:
        self._log_file.write(f"[{datetime.now().strftime('%H:%M:%S')}] {line}\n")


def _dependencies(steps: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    from openaml.services.pipelines import dependencies
    return dependencies(steps)


