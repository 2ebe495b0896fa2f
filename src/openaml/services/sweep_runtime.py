"""The orchestrator of one sweep job, run by the sweep's agent (it takes no compute slot).

It keeps up to ``max_concurrent_trials`` trials running, each a child command job with its own
agent, until ``max_total_trials`` were started (or the grid is exhausted). Every poll it reads the
running trials' primary-metric histories from the tracking store, applies the early-termination
policy (stopped trials are canceled) and tells the sampler the results of finished trials. A
cancel of the sweep cancels its running trials; ``limits.timeout`` stops the sweep the same way
but still picks the best trial. The sweep ends ``Completed`` if at least one trial completed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from openaml.entities import Input
from openaml.entities.job_status import JobStatus, is_terminal
from openaml.entities.sweep import ParameterizedCommand, SweepJob
from openaml.errors import NotFoundError
from openaml.names import trial_job_name
from openaml.services import job_io, locations
from openaml.services.expressions import render_value
from openaml.services.job_runtime import JobCanceled, Outcome, RunContext, end_job
from openaml.services.jobs import JobService
from openaml.services.settings import Settings
from openaml.services.sweep_policies import first_stop
from openaml.services.sweep_sampling import Suggestion, make_sampler
from openaml.services.sweeps import trial_job
from openaml.services.workspaces import WorkspaceContext

POLL_SECONDS = 0.2
CANCEL_WAIT_SECONDS = 30.0


@dataclass
class Trial:
    """One trial as the orchestrator follows it."""

    name: str
    key: int
    parameters: dict[str, Any]
    status: str = JobStatus.QUEUED.value
    history: list[float] = field(default_factory=list)
    checked: int = 0  # reports already evaluated by the policy
    stopped_at: int | None = None  # the interval at which the policy stopped it

    @property
    def value(self) -> float | None:
        """The final (latest) value of the primary metric."""
        return self.history[-1] if self.history else None


class SweepRuntime:
    """Run one sweep from Queued to a terminal status."""

    def __init__(self, ctx: WorkspaceContext, settings: Settings, job_name: str, launcher: Any,
                 run: RunContext) -> None:
        self.ctx, self.name, self.run_ctx = ctx, job_name, run
        self.service = JobService(ctx, settings, launcher)
        self.record = ctx.jobs.get_job(ctx.name, job_name)
        self.job = SweepJob.model_validate(self.record.spec["job"])
        resolved = self.record.spec["resolved"]["trial"]
        self.template = ParameterizedCommand.model_validate(resolved["command"])
        self.inputs = {n: Input.model_validate(v) if isinstance(v, dict) else v
                       for n, v in resolved["inputs"].items()}
        self.pinned = resolved["pinned"]
        limits = self.job.limits
        self.max_total = limits.max_total_trials
        self.max_concurrent = limits.max_concurrent_trials or min(self.max_total, int(self.pinned["slots"] or 1))
        self.deadline = time.monotonic() + limits.timeout if limits.timeout else None
        self.goal, self.metric = self.job.objective.goal, self.job.objective.primary_metric
        self.policy = self.job.early_termination
        self.sampler = make_sampler(self.job)
        self.trials: list[Trial] = []
        self.exhausted = False
        self.folder = locations.job_folder(ctx, job_name)

    # -- lifecycle ------------------------------------------------------------------------------
    def run(self) -> Outcome:
        """Drive the sweep and its trials to the end."""
        (self.folder / "user_logs").mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.folder / "user_logs" / "std_log.txt", "a", buffering=1)
        try:
            if self.ctx.jobs.get_job(self.ctx.name, self.name).status == JobStatus.CANCEL_REQUESTED.value:
                raise JobCanceled()
            self._transition(JobStatus.PREPARING)
            self._transition(JobStatus.RUNNING)
            self._log(f"sweep: {self.job.algorithm} sampling, up to {self.max_total} trials, "
                      f"{self.max_concurrent} at a time, {self.goal} {self.metric}")
            self._loop()
            return self._finish()
        except JobCanceled:
            self._log("sweep canceled: canceling its running trials")
            self._cancel_running()
            return self._end(JobStatus.CANCELED)
        except Exception as exc:  # noqa: BLE001 - never leave a sweep Running because of us
            self._log(f"orchestrator error: {type(exc).__name__}: {exc}")
            self._cancel_running()
            return self._end(JobStatus.FAILED, {"code": "SystemError", "message": f"{type(exc).__name__}: {exc}"})
        finally:
            self._log_file.close()

    def _loop(self) -> None:
        while True:
            if self.run_ctx.cancel.is_set():
                raise JobCanceled()
            if self.deadline is not None and time.monotonic() > self.deadline:
                self._log(f"sweep timeout ({self.job.limits.timeout} s) reached: canceling running trials")
                self._cancel_running()
                return
            self._poll()
            self._launch_more()
            if not self._running() and (self.exhausted or len(self.trials) >= self.max_total):
                return
            time.sleep(POLL_SECONDS)

    # -- trials -----------------------------------------------------------------------------------
    def _running(self) -> list[Trial]:
        return [t for t in self.trials if not is_terminal(JobStatus(t.status))]

    def _launch_more(self) -> None:
        while len(self._running()) < self.max_concurrent and len(self.trials) < self.max_total:
            suggestion = self.sampler.ask()
            if suggestion is None:
                self.exhausted = True
                return
            self._submit(suggestion)

    def _submit(self, suggestion: Suggestion) -> None:
        child = trial_job_name(self.name, len(self.trials))
        job = trial_job(self.job, self.template, self.inputs, suggestion.parameters, name=child,
                        experiment_name=self.record.experiment_name)
        pinned = dict(self.pinned)
        pinned["outputs"] = {n: job_io.resolve_output(self.ctx, child, n, v, self.ctx.default_datastore)
                             for n, v in job.outputs.items()}
        spec = {"job": self.service._public_spec(job), "resolved": {**pinned, "warnings": []},
                "sweep_trial": {"parameters": suggestion.parameters, "key": suggestion.key}}
        self.service.create_record(child, "command", spec, experiment=self.record.experiment_name,
                                   display_name=None, parent_job_name=self.name)
        self.ctx.tracking.log_batch(child, params={n: render_value(v) for n, v in suggestion.parameters.items()})
        self.ctx.jobs.transition(self.ctx.name, child, JobStatus.QUEUED.value)
        self.trials.append(Trial(child, suggestion.key, suggestion.parameters))
        self.service.launch(child)
        self._log(f"trial {child} started: {json.dumps(suggestion.parameters)}")

    def _poll(self) -> None:
        for trial in self._running():
            status = self.service.record(trial.name).status
            trial.history = self._history(trial.name)
            if is_terminal(JobStatus(status)):
                self._ended(trial, status)
            elif trial.stopped_at is None:
                self._apply_policy(trial)

    def _history(self, name: str) -> list[float]:
        try:
            return [m.value for m in self.ctx.tracking.get_metric_history(name, self.metric).items]
        except NotFoundError:
            return []

    def _apply_policy(self, trial: Trial) -> None:
        histories = {t.name: t.history for t in self.trials}
        completed = [t.name for t in self.trials if t.status == JobStatus.COMPLETED.value]
        k = first_stop(self.policy, self.goal, trial.name, histories, completed, trial.checked)
        trial.checked = len(trial.history)
        if k is not None:
            trial.stopped_at = k
            self._log(f"trial {trial.name} stopped by the {self.policy.type} policy at interval {k} "
                      f"({self.metric}={trial.history[k - 1]})")
            self.service.cancel(trial.name)

    def _ended(self, trial: Trial, status: str) -> None:
        trial.status = status
        completed = status == JobStatus.COMPLETED.value
        self.sampler.tell(trial.key, trial.value if completed else None)
        self._log(f"trial {trial.name} {status}" + (f": {self.metric}={trial.value}" if trial.history else ""))

    def _cancel_running(self) -> None:
        for trial in self._running():
            try:
                self.service.cancel(trial.name)
            except Exception as exc:  # noqa: BLE001 - keep canceling the others
                self._log(f"trial {trial.name}: cancel failed: {exc}")
        deadline = time.monotonic() + CANCEL_WAIT_SECONDS
        while self._running() and time.monotonic() < deadline:
            self._poll_statuses()
            time.sleep(POLL_SECONDS)

    def _poll_statuses(self) -> None:
        for trial in self._running():
            status = self.service.record(trial.name).status
            if is_terminal(JobStatus(status)):
                trial.history = self._history(trial.name)
                self._ended(trial, status)

    # -- the end ----------------------------------------------------------------------------------
    def best(self) -> Trial | None:
        """The completed trial with the best final primary-metric value."""
        scored = [t for t in self.trials if t.status == JobStatus.COMPLETED.value and t.value is not None]
        if not scored:
            return None
        pick = max if self.goal == "maximize" else min
        return pick(scored, key=lambda t: t.value)

    def _finish(self) -> Outcome:
        best = self.best()
        summary = {t.name: {"parameters": t.parameters, "status": t.status, "value": t.value,
                            "early_terminated_at": t.stopped_at} for t in self.trials}
        patch: dict[str, Any] = {"trials": summary}
        if best is not None:
            patch["best"] = {"name": best.name, "parameters": best.parameters, "value": best.value,
                             "metric": self.metric}
            self.ctx.tracking.log_batch(
                self.name, metrics=[(self.metric, best.value, int(time.time() * 1000), 0)],
                params={"best_child_run_id": best.name,
                        **{n: render_value(v) for n, v in best.parameters.items()}})
            self._log(f"best trial {best.name}: {self.metric}={best.value} {json.dumps(best.parameters)}")
        self.ctx.jobs.update_fields(self.ctx.name, self.name, spec=patch)
        if any(t.status == JobStatus.COMPLETED.value for t in self.trials):
            return self._end(JobStatus.COMPLETED)
        return self._end(JobStatus.FAILED, {"code": "NoTrialCompleted",
                                            "message": f"none of the sweep's {len(self.trials)} trials completed"})

    def _end(self, status: JobStatus, error: dict[str, Any] | None = None) -> Outcome:
        if self.ctx.jobs.get_job(self.ctx.name, self.name).status == JobStatus.CANCEL_REQUESTED.value:
            status, error = JobStatus.CANCELED, None  # a sweep asked to stop ends Canceled
        outcome = end_job(self.ctx, self.name, status, error)
        self._log(f"sweep {outcome.status.value}")
        return outcome

    def _transition(self, status: JobStatus) -> None:
        self.ctx.jobs.transition(self.ctx.name, self.name, status.value)

    def _log(self, line: str) -> None:
        self._log_file.write(f"[{datetime.now().strftime('%H:%M:%S')}] {line}\n")
