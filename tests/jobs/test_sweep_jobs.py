"""End-to-end sweeps: real agents, trials on the host Python logging MLflow metrics."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from openaml import command
from openaml.sweep import BanditPolicy, Choice, RandomSamplingAlgorithm, Uniform

from tests.helpers import on_both_launches

from .conftest import HOST_ENV, std_log, wait, write

pytestmark = pytest.mark.slow

TRAIN = """
import sys, time
import mlflow
lr, steps = float(sys.argv[1]), int(sys.argv[2])
for step in range(steps):
    mlflow.log_metric("score", 1 - abs(lr - 0.05) * 10 + 0.01 * step, step=step)
    time.sleep(0.15 if lr < 0.1 else 0.3)  # the bad trial never runs ahead of the good one
"""


def _trainer(tmp: Path, steps: str = "3"):
    write(tmp / "src" / "train.py", TRAIN)
    return command(command=f"{sys.executable} train.py ${{{{inputs.lr}}}} {steps}", code=str(tmp / "src"),
                   inputs={"lr": 0.01}, environment=HOST_ENV, experiment_name="sweeps")


@on_both_launches
def test_random_sweep_runs_four_trials_two_at_a_time(ml_client, home: Path, tmp_path: Path):
    sweep = _trainer(tmp_path)(lr=Uniform(0.01, 0.1)).sweep(
        primary_metric="score", goal="maximize", sampling_algorithm=RandomSamplingAlgorithm(seed=3),
        max_total_trials=4, max_concurrent_trials=2)
    submitted = ml_client.jobs.create_or_update(sweep)
    assert submitted.type == "sweep"
    done = wait(ml_client, submitted.name, timeout=90)
    assert done.status == "Completed", std_log(home, submitted.name)
    children = list(ml_client.jobs.list(parent_job_name=submitted.name))
    assert len(children) == 4 and all(c.status == "Completed" for c in children)
    scores = {c.name: ml_client.jobs.get(c.name).metrics["score"] for c in children}
    best = max(scores, key=scores.get)
    assert done.properties["best_child_run_id"] == best
    assert done.metrics["score"] == pytest.approx(scores[best])
    lr = float(ml_client.jobs.get(best).params["lr"])
    assert 0.01 <= lr <= 0.1
    log = std_log(home, submitted.name)
    assert "best trial" in log and "2 at a time" in log


def test_bandit_with_tight_slack_cancels_a_bad_trial(ml_client, home: Path, tmp_path: Path):
    # both trials report 12 values (~2 s); the bad one (lr=0.5) is far outside the 5% slack
    cmd = _trainer(tmp_path, steps="12")
    sweep = cmd(lr=Choice([0.05, 0.5])).sweep(
        primary_metric="score", goal="maximize", sampling_algorithm="grid", max_total_trials=2,
        max_concurrent_trials=2, early_termination_policy=BanditPolicy(slack_factor=0.05))
    submitted = ml_client.jobs.create_or_update(sweep)
    done = wait(ml_client, submitted.name, timeout=90)
    assert done.status == "Completed", std_log(home, submitted.name)
    statuses = {c.name: c.status for c in ml_client.jobs.list(parent_job_name=submitted.name)}
    assert statuses == {f"{submitted.name}_0": "Completed", f"{submitted.name}_1": "Canceled"}, \
        std_log(home, submitted.name)
    assert done.properties["best_child_run_id"] == f"{submitted.name}_0"
    assert "stopped by the bandit policy" in std_log(home, submitted.name)
