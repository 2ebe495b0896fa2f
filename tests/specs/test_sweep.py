"""Sweep job YAML (sweepJob.schema.json): loading, round trips and the schema's required fields."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from openaml import load_job
from openaml.entities import ParameterizedCommand, SweepJob
from openaml.errors import MissingFileError, ValidationError
from openaml.specs import dump_yaml, load_entity, to_yaml_dict
from openaml.sweep import BanditPolicy, Choice, LogUniform, QLogNormal, QUniform, RandomSamplingAlgorithm

SWEEPS = Path(__file__).resolve().parents[1] / "fixtures" / "yaml" / "sweeps"
FIXTURES = sorted((SWEEPS / "job").glob("*.yml"))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_round_trip(path):
    job = load_job(path)
    assert isinstance(job, SweepJob)
    again = load_entity("job", io.StringIO(dump_yaml(job)), relative_origin="/")
    assert again == job
    assert "$schema" not in to_yaml_dict(job)


def test_azure_shaped_fixture_loads_every_field():
    job = load_job(SWEEPS / "job" / "sweep_random.yml")
    assert job.sampling_algorithm == RandomSamplingAlgorithm(seed=42, rule="random")
    assert job.search_space["lr"] == LogUniform(-6, -1)
    assert job.search_space["optimizer"] == Choice(["sgd", "adam"])
    assert job.search_space["batch"] == QUniform(16, 128, 16)
    assert job.search_space["decay"] == QLogNormal(-3, 1, 1)
    assert (job.objective.goal, job.objective.primary_metric) == ("maximize", "score")
    assert job.limits.max_total_trials == 20 and job.limits.trial_timeout == 600
    assert job.early_termination == BanditPolicy(slack_factor=0.1, evaluation_interval=2, delay_evaluation=5)
    assert isinstance(job.trial, ParameterizedCommand)
    assert job.trial.code == str(SWEEPS / "src")  # resolved against the YAML's folder
    assert job.trial.environment_variables == {"OMP_NUM_THREADS": "1"}
    assert job.inputs["data"].path == str(SWEEPS / "src")
    assert job.tags == {"team": "ml"} and job.compute == "azureml:cpu-cluster"


def test_inline_trial_environment_and_grid():
    job = load_job(SWEEPS / "job" / "sweep_grid.yml")
    assert job.algorithm == "grid" and job.trial.environment.image == "python:3.11-slim"
    assert job.early_termination.truncation_percentage == 20


SWEEP = """\
type: sweep
search_space:
  lr: {type: uniform, min_value: 0.01, max_value: 0.1}
objective: {goal: maximize, primary_metric: acc}
limits: {max_total_trials: 4}
trial:
  command: python t.py --lr ${{search_space.lr}}
  environment: azureml:env@latest
"""


@pytest.mark.parametrize(("drop", "field"), [
    ("objective:", "objective"), ("limits:", "limits.max_total_trials"), ("trial:", "trial"),
])
def test_required_fields(write, drop, field):
    text = SWEEP
    if drop == "trial:":
        text = text.split("trial:")[0]
    else:
        text = "\n".join(line for line in text.splitlines() if not line.startswith(drop))
    with pytest.raises(ValidationError) as info:
        load_job(write("sweep.yml", text))
    assert info.value.details["field"] == field


def test_trial_needs_an_environment(write):
    with pytest.raises(ValidationError) as info:
        load_job(write("sweep.yml", SWEEP.replace("  environment: azureml:env@latest\n", "")))
    assert info.value.details["field"] == "trial.environment"


def test_errors_point_at_the_line(write):
    path = write("sweep.yml", SWEEP.replace("type: uniform, min_value: 0.01", "type: uniform, min_value: 1"))
    with pytest.raises(ValidationError) as info:
        load_job(path)
    assert "min_value (1" in info.value.message
    assert info.value.details["line"] == 3
    path = write("bad.yml", SWEEP.replace("${{search_space.lr}}", "${{search_space.zz}}"))
    with pytest.raises(ValidationError, match="search_space.zz"):
        load_job(path)


def test_missing_trial_code_folder(write):
    with pytest.raises(MissingFileError):
        load_job(write("sweep.yml", SWEEP + "  code: ./nowhere\n"))


def test_overrides_apply(write):
    job = load_job(write("sweep.yml", SWEEP), params_override=[{"limits.max_total_trials": 9}])
    assert job.limits.max_total_trials == 9
