"""The sweep orchestrator against a fake launcher that "runs" each trial in-process.

The fake stands in for the local agent (the JobLauncher protocol): it logs the trial's metric
history computed from the sampled parameters and completes the trial, or leaves it running so
that the early-termination policy has something to stop. The real agents are exercised by
``tests/jobs/test_sweep_jobs.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from openaml.entities import CommandComponent, Environment, Input, Workspace
from openaml.entities.job_status import JobStatus
from openaml.errors import ValidationError
from openaml.services.job_runtime import RunContext
from openaml.services.jobs import JobService
from openaml.services.settings import Settings
from openaml.services.sweep_runtime import SweepRuntime
from openaml.services.workspaces import WorkspaceService
from openaml.sweep import BanditPolicy, Choice, RandomSamplingAlgorithm, SweepJob, Uniform

ENV = Environment(image="python:3.11-slim")


class FakeLauncher:
    """Runs a trial at launch: logs ``history(params)`` as the metric ``score``, then completes it
    unless ``keep_running(params)``."""

    def __init__(self, ctx, history: Callable[[dict], list[float]], keep_running=lambda p: False) -> None:
        self.ctx, self.history, self.keep_running = ctx, history, keep_running
        self.launched: list[str] = []

    def launch(self, settings, workspace, name):
        record = self.ctx.jobs.get_job(workspace, name)
        params = record.spec["sweep_trial"]["parameters"]
        self.launched.append(name)
        for status in ("Preparing", "Running"):
            self.ctx.jobs.transition(workspace, name, status)
        for step, value in enumerate(self.history(params)):
            self.ctx.tracking.log_metric(name, "score", value, step=step)
        if not self.keep_running(params):
            self.ctx.jobs.transition(workspace, name, "Completed")
        return None


@pytest.fixture
def ws(tmp_path: Path):
    settings = Settings(home=tmp_path / "home", allow_host_python=True)
    service = WorkspaceService(settings)
    service.create(Workspace(name="ws"))
    ctx = service.open("ws")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "t.py").write_text("print('hi')\n")
    yield ctx, settings, tmp_path / "src"
    service.close()


def submit(ws, **fields):
    ctx, settings, code = ws
    base = dict(search_space={"lr": Uniform(0.0, 1.0)}, objective={"goal": "maximize", "primary_metric": "score"},
                limits={"max_total_trials": 4, "max_concurrent_trials": 2},
                trial={"command": "python t.py --lr ${{search_space.lr}}", "code": str(code), "environment": ENV},
                experiment_name="exp")
    return JobService(ctx, settings).submit(SweepJob(**{**base, **fields}))


def run(ws, name, launcher):
    ctx, settings, _ = ws
    return SweepRuntime(ctx, settings, name, launcher, RunContext(tracking_url=None)).run()


def test_random_sweep_runs_its_trials_and_records_the_best(ws):
    ctx, settings, _ = ws
    sub = submit(ws, sampling_algorithm=RandomSamplingAlgorithm(seed=1))
    launcher = FakeLauncher(ctx, lambda p: [p["lr"] / 2, p["lr"]])
    outcome = run(ws, sub.job.name, launcher)
    assert outcome.status == JobStatus.COMPLETED
    service = JobService(ctx, settings)
    children = service.list(parent_job_name=sub.job.name)
    assert sorted(c.name for c in children) == [f"{sub.job.name}_{i}" for i in range(4)]
    values = {c.name: ctx.tracking.get_run(c.name).metrics[0].value for c in children}
    best = max(values, key=values.get)
    sweep = service.get(sub.job.name)
    assert sweep.status == "Completed"
    assert sweep.properties["best_child_run_id"] == best
    assert float(sweep.properties["score"]) == values[best]
    assert sweep.metrics == {"score": values[best]}
    assert sweep.params["best_child_run_id"] == best
    child = service.get(best)
    assert child.params == {"lr": sweep.params["lr"]}  # hyperparameters are the trial's params
    assert child.command == f"python t.py --lr {child.params['lr']}"
    assert child.parent_job_name == sub.job.name


def test_grid_stops_when_exhausted_and_minimizes(ws):
    ctx, _, _ = ws
    sub = submit(ws, sampling_algorithm="grid", search_space={"lr": Choice([0.3, 0.1, 0.2])},
                 objective={"goal": "minimize", "primary_metric": "score"}, limits={"max_total_trials": 10})
    launcher = FakeLauncher(ctx, lambda p: [p["lr"]])
    assert run(ws, sub.job.name, launcher).status == JobStatus.COMPLETED
    assert len(launcher.launched) == 3
    record = ctx.jobs.get_job("ws", sub.job.name)
    assert record.spec["best"]["parameters"] == {"lr": 0.1}


def test_bandit_cancels_a_bad_running_trial(ws):
    ctx, _, _ = ws
    sub = submit(ws, sampling_algorithm="grid", search_space={"lr": Choice([0.9, 0.1, 0.8])},
                 limits={"max_total_trials": 3, "max_concurrent_trials": 3},
                 early_termination=BanditPolicy(slack_factor=0.1))
    launcher = FakeLauncher(ctx, lambda p: [p["lr"]], keep_running=lambda p: p["lr"] < 0.5)
    assert run(ws, sub.job.name, launcher).status == JobStatus.COMPLETED
    statuses = {r.name: r.status for r in ctx.jobs.list_jobs("ws", parent_job_name=sub.job.name)}
    assert statuses == {f"{sub.job.name}_0": "Completed", f"{sub.job.name}_1": "Canceled",
                        f"{sub.job.name}_2": "Completed"}
    trials = ctx.jobs.get_job("ws", sub.job.name).spec["trials"]
    assert trials[f"{sub.job.name}_1"]["early_terminated_at"] == 1


def test_no_completed_trial_fails_the_sweep(ws):
    ctx, _, _ = ws
    sub = submit(ws, limits={"max_total_trials": 2, "timeout": 1})
    launcher = FakeLauncher(ctx, lambda p: [], keep_running=lambda p: True)
    outcome = run(ws, sub.job.name, launcher)
    assert outcome.status == JobStatus.FAILED and outcome.error["code"] == "NoTrialCompleted"
    assert {r.status for r in ctx.jobs.list_jobs("ws", parent_job_name=sub.job.name)} == {"Canceled"}


def test_a_canceled_sweep_cancels_its_trials(ws):
    ctx, settings, _ = ws
    sub = submit(ws)
    launcher = FakeLauncher(ctx, lambda p: [0.5], keep_running=lambda p: True)
    run_ctx = RunContext(tracking_url=None)
    runtime = SweepRuntime(ctx, settings, sub.job.name, launcher, run_ctx)
    runtime._launch_more = _then_cancel(runtime._launch_more, run_ctx)
    assert runtime.run().status == JobStatus.CANCELED
    assert {r.status for r in ctx.jobs.list_jobs("ws", parent_job_name=sub.job.name)} == {"Canceled"}


def _then_cancel(launch_more, run_ctx):
    """After the first trials start, the sweep is canceled as JobService.cancel + the agent's
    heartbeat would do it."""
    def wrapped():
        launch_more()
        runtime_ctx = launch_more.__self__.ctx
        runtime_ctx.jobs.transition(runtime_ctx.name, launch_more.__self__.name, "CancelRequested")
        run_ctx.cancel.set()
    return wrapped


def test_bayesian_sweep(ws):
    ctx, _, _ = ws
    sub = submit(ws, sampling_algorithm="bayesian", limits={"max_total_trials": 8, "max_concurrent_trials": 2})
    launcher = FakeLauncher(ctx, lambda p: [-(p["lr"] - 0.3) ** 2])
    assert run(ws, sub.job.name, launcher).status == JobStatus.COMPLETED
    assert len(launcher.launched) == 8


def test_submission_checks_and_pins(ws, tmp_path):
    ctx, settings, code = ws
    with pytest.raises(ValidationError) as info:
        submit(ws, limits=None)
    assert info.value.details["field"] == "limits.max_total_trials"
    with pytest.raises(ValidationError) as info:
        submit(ws, trial={"command": "python t.py ${{search_space.lr}}"})
    assert info.value.details["field"] == "trial.environment"
    sub = submit(ws, sampling_algorithm=RandomSamplingAlgorithm(rule="sobol"), identity={"type": "managed"})
    assert any("sobol" in w for w in sub.warnings) and any("identity" in w for w in sub.warnings)
    pinned = ctx.jobs.get_job("ws", sub.job.name).spec["resolved"]["trial"]["pinned"]
    assert pinned["code"]["digest"]  # the code is snapshotted once, at submission


def test_a_component_trial_gets_the_values_through_its_inputs(ws):
    ctx, settings, code = ws
    component = CommandComponent(name="train", command="python t.py --lr ${{inputs.lr}} --n ${{inputs.n}}",
                                 inputs={"lr": Input(type="number", default=0.1),
                                         "n": Input(type="integer", default=3)},
                                 code=str(code), environment=ENV)
    sub = submit(ws, trial=component, sampling_algorithm=RandomSamplingAlgorithm(seed=2),
                 limits={"max_total_trials": 1})
    launcher = FakeLauncher(ctx, lambda p: [1.0])
    assert run(ws, sub.job.name, launcher).status == JobStatus.COMPLETED
    child = JobService(ctx, settings).get(f"{sub.job.name}_0")
    assert child.command.startswith(f"python t.py --lr {child.params['lr']} --n ${{{{inputs.n}}}}")
    assert child.inputs["n"].default == 3
