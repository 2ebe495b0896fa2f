"""Sweep entities: distributions, policies, the SweepJob's Azure rules and the command builder."""

from __future__ import annotations

import pytest

from openaml import Input, command
from openaml.entities import Command, ParameterizedCommand, Sweep, SweepJob
from openaml.errors import ValidationError
from openaml.sweep import (BanditPolicy, BayesianSamplingAlgorithm, Choice, GridSamplingAlgorithm, LogNormal,
                           LogUniform, MedianStoppingPolicy, Normal, Objective, QLogNormal, QLogUniform, QNormal,
                           QUniform, Randint, RandomSamplingAlgorithm, SweepJobLimits,
                           TruncationSelectionPolicy, Uniform)

TRIAL = {"command": "python t.py --lr ${{search_space.lr}}", "environment": "azureml:env@latest"}


def sweep(**fields):
    base = {"search_space": {"lr": Uniform(0.01, 0.1)}, "trial": TRIAL,
            "objective": Objective(goal="maximize", primary_metric="acc")}
    return SweepJob(**{**base, **fields})


def test_distributions_take_positional_arguments_as_azure():
    assert Choice([1, 2]).values == [1, 2]
    assert (Uniform(0.1, 1).min_value, Uniform(0.1, 1).max_value) == (0.1, 1)
    assert QUniform(16, 128, 16).q == 16
    assert Randint(4).upper == 4
    assert LogUniform(-6, -1).type == "loguniform"
    assert (Normal(0, 1).mu, QNormal(0, 1, 2).q, LogNormal(0, 1).sigma, QLogNormal(1, 2, 3).q) == (0, 2, 1, 3)
    assert QLogUniform(min_value=1, max_value=2, q=1)._to_dict() == {
        "type": "qloguniform", "min_value": 1, "max_value": 2, "q": 1}


@pytest.mark.parametrize("make", [
    lambda: Uniform(1, 1), lambda: Choice([]), lambda: Randint(0), lambda: Normal(0, 0),
    lambda: QUniform(0, 1, 0), lambda: Uniform(1, 2, 3),
])
def test_invalid_distributions_are_refused(make):
    with pytest.raises((ValidationError, TypeError)):
        make()


def test_policies_and_algorithms():
    assert BanditPolicy(slack_factor=0.1).evaluation_interval == 1
    with pytest.raises(ValidationError, match="exactly one of slack_factor or slack_amount"):
        BanditPolicy()
    with pytest.raises(ValidationError):
        BanditPolicy(slack_factor=0.1, slack_amount=0.2)
    assert MedianStoppingPolicy(delay_evaluation=2).delay_evaluation == 2
    with pytest.raises(ValidationError):
        TruncationSelectionPolicy(truncation_percentage=0)
    assert RandomSamplingAlgorithm(seed=1, rule="Sobol").rule == "sobol"
    assert GridSamplingAlgorithm().type == "grid" and BayesianSamplingAlgorithm().type == "bayesian"
    assert Objective("Maximize", "acc").goal == "maximize"


def test_sweep_job_shape():
    job = sweep(sampling_algorithm="Random", limits=SweepJobLimits(max_total_trials=4),
                early_termination={"type": "median_stopping"})
    assert job.type == "sweep" and job.algorithm == "random"
    assert isinstance(job.trial, ParameterizedCommand)
    assert isinstance(job.early_termination, MedianStoppingPolicy)
    assert Sweep is SweepJob
    assert "inputs" not in job._to_dict()


def test_grid_takes_only_choice():
    with pytest.raises(ValidationError, match="grid sampling supports only choice"):
        sweep(sampling_algorithm="grid")
    assert sweep(sampling_algorithm="grid", search_space={"lr": Choice([0.1, 0.2])}).algorithm == "grid"


def test_bayesian_rules():
    with pytest.raises(ValidationError, match="choice, uniform and quniform"):
        sweep(sampling_algorithm="bayesian", search_space={"lr": LogUniform(-3, -1)})
    with pytest.raises(ValidationError, match="does not support an early termination"):
        sweep(sampling_algorithm=BayesianSamplingAlgorithm(), early_termination=BanditPolicy(slack_amount=0.1))


def test_bindings_must_name_the_search_space_and_inputs():
    with pytest.raises(ValidationError, match="search_space.x, inputs.y"):
        sweep(trial={**TRIAL, "command": "python t.py ${{search_space.x}} ${{inputs.y}}"})
    ok = sweep(inputs={"y": 1}, outputs={"m": None},
               trial={**TRIAL, "command": "t ${{search_space.lr}} ${{inputs.y}} ${{outputs.m}}"})
    assert ok.inputs == {"y": 1}


def test_a_refused_assignment_leaves_the_job_unchanged():
    job = sweep()
    with pytest.raises(ValidationError):
        job.sampling_algorithm = "grid"
    assert job.sampling_algorithm is None


def test_set_limits_and_objective_merge():
    job = sweep()
    job.set_limits(max_total_trials=10)
    job.set_limits(timeout=60)
    assert (job.limits.max_total_trials, job.limits.timeout) == (10, 60)
    job.set_objective(goal="minimize")
    assert (job.objective.goal, job.objective.primary_metric) == ("minimize", "acc")


def test_a_command_job_as_trial_gives_its_body():
    cmd = command(command="python t.py", environment="azureml:env@latest", code="./src")
    job = sweep(trial=cmd)
    assert job.trial == ParameterizedCommand(command="python t.py", environment="azureml:env@latest",
                                             code="./src")


# -- the builder ----------------------------------------------------------------------------------
def _cmd(**kwargs):
    return command(command="python t.py --lr ${{inputs.lr}} --b ${{ inputs.b }} --d ${{inputs.d}}",
                   inputs={"lr": 0.1, "b": 3, "d": Input(type="uri_folder", path="./data")},
                   environment="azureml:env@latest", code="./src", compute="cpu", timeout=30,
                   experiment_name="exp", **kwargs)


def test_calling_a_command_sets_inputs_on_a_copy():
    cmd = _cmd()
    swept = cmd(lr=Uniform(0.01, 0.1), b=Choice([1, 2]))
    assert isinstance(swept, Command) and swept is not cmd
    assert swept.inputs["lr"] == Uniform(0.01, 0.1) and cmd.inputs["lr"] == 0.1
    assert cmd(b=5).inputs["b"] == 5
    with pytest.raises(ValidationError, match="zz is not an input"):
        cmd(zz=1)


def test_sweep_maps_the_command_to_a_sweep_job():
    policy = BanditPolicy(slack_factor=0.2, evaluation_interval=2)
    job = _cmd()(lr=Uniform(0.01, 0.1), b=Choice([1, 2])).sweep(
        primary_metric="acc", goal="Maximize", sampling_algorithm="random", max_total_trials=8,
        max_concurrent_trials=2, timeout=600, early_termination_policy=policy)
    assert isinstance(job, SweepJob)
    assert job.search_space == {"lr": Uniform(0.01, 0.1), "b": Choice([1, 2])}
    assert list(job.inputs) == ["d"]
    assert job.trial.command == "python t.py --lr ${{search_space.lr}} --b ${{search_space.b}} --d ${{inputs.d}}"
    assert (job.trial.code, job.trial.environment) == ("./src", "azureml:env@latest")
    assert job.objective == Objective(goal="maximize", primary_metric="acc")
    assert job.limits == SweepJobLimits(max_total_trials=8, max_concurrent_trials=2, timeout=600, trial_timeout=30)
    assert job.early_termination == policy
    assert (job.compute, job.experiment_name, job.algorithm) == ("cpu", "exp", "random")


def test_sweep_takes_search_space_argument_and_later_limits():
    job = _cmd().sweep(primary_metric="acc", goal="minimize", search_space={"b": Randint(5)},
                       compute="gpu")
    assert job.limits.trial_timeout == 30 and job.compute == "gpu"
    assert "${{search_space.b}}" in job.trial.command and "${{inputs.lr}}" in job.trial.command
    job.set_limits(max_total_trials=3)
    assert job.limits.max_total_trials == 3


def test_command_inputs_with_distributions_round_trip():
    swept = _cmd()(lr=LogUniform(-4, -1))
    assert Command.model_validate(swept._to_dict()).inputs["lr"] == LogUniform(-4, -1)
