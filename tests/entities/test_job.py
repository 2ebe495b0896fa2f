"""CommandJob validation, the ``command(...)`` builder and ``ignored_fields``."""

import pytest

import openaml
from openaml.entities import (
    Command, CommandJob, CommandJobLimits, Environment, Input, JobResourceConfiguration,
    MpiDistribution, Output, PyTorchDistribution,
)
from openaml.entities.builders import command
from openaml.entities.job import ignored_fields
from openaml.entities.job_status import JobStatus
from openaml.errors import ValidationError

ENV = "azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest"


def test_minimal_job_defaults():
    job = CommandJob(command="echo hello", environment=ENV)
    assert job.type == "command" and job.is_deterministic is True
    assert job.inputs == {} and job.outputs == {} and job.status is None
    assert job._to_dict() == {"type": "command", "command": "echo hello", "environment": ENV,
                              "inputs": {}, "outputs": {}, "is_deterministic": True}


def test_inputs_literals_stay_scalars_and_mappings_become_inputs():
    job = CommandJob(
        command="python t.py ${{inputs.lr}} ${{inputs.n}} ${{inputs.flag}} ${{inputs.opt}} ${{inputs.data}}",
        inputs={"lr": 0.01, "n": 3, "flag": True, "opt": "adam",
                "data": {"type": "uri_file", "path": "azureml:iris:1"}})
    assert [type(job.inputs[k]) for k in ("lr", "n", "flag", "opt")] == [float, int, bool, str]
    assert job.inputs["data"] == Input(type="uri_file", path="azureml:iris:1")


def test_undeclared_input_binding_is_rejected_with_azure_message():
    with pytest.raises(ValidationError) as info:
        CommandJob(command="python t.py --x ${{inputs.zz}}", inputs={"lr": 0.1}, environment=ENV)
    assert "Invalid data binding expression: inputs.zz" in info.value.message
    assert info.value.details["field"] == "command"


def test_undeclared_output_binding_is_rejected():
    with pytest.raises(ValidationError) as info:
        CommandJob(command="python t.py --o ${{outputs.model}}", outputs={"other": None})
    assert "Invalid data binding expression: outputs.model" in info.value.message


def test_outputs_may_be_empty_and_bind():
    job = CommandJob(command="python t.py --o ${{outputs.model}} --p ${{outputs.model.path}}",
                     outputs={"model": None, "m2": Output(type="mlflow_model", name="m")})
    assert job.outputs["model"] is None and job.outputs["m2"].name == "m"


def test_unbalanced_optional_block_is_rejected():
    with pytest.raises(ValidationError) as info:
        CommandJob(command="python t.py $[[--seed ${{inputs.seed}}", inputs={"seed": 1})
    assert "no matching ']]'" in info.value.message


def test_optional_block_with_declared_optional_input():
    job = CommandJob(command="python t.py $[[--seed ${{inputs.seed}}]]",
                     inputs={"seed": Input(type="integer", optional=True)})
    assert job.inputs["seed"].optional is True


def test_command_is_required_without_component():
    with pytest.raises(ValidationError) as info:
        CommandJob(environment=ENV)
    assert info.value.details["field"] == "command"
    assert "command is required" in info.value.message


def test_component_job_form():
    job = CommandJob(component="azureml:train_model:1", inputs={"learning_rate": 0.1})
    assert job.command is None and job.component == "azureml:train_model:1"
    with pytest.raises(ValidationError) as info:
        CommandJob(component="azureml:train_model:1", command="echo hi")
    assert info.value.details["field"] == "command"


def test_reserved_and_duplicate_port_names():
    with pytest.raises(ValidationError) as info:
        CommandJob(command="echo", inputs={"home": 1})
    assert "reserved" in info.value.message
    with pytest.raises(ValidationError) as info:
        CommandJob(command="echo", inputs={"data": 1}, outputs={"DATA": None})
    assert "Duplicate" in info.value.message


def test_none_input_is_rejected():
    with pytest.raises(ValidationError) as info:
        CommandJob(command="echo", inputs={"x": None})
    assert info.value.details["field"].startswith("inputs.x")


def test_environment_variables_become_strings():
    job = CommandJob(command="echo", environment_variables={"A": 1, "B": True, "C": 0.5, "D": "x"})
    assert job.environment_variables == {"A": "1", "B": "true", "C": "0.5", "D": "x"}


def test_environment_may_be_inline_and_distribution_case_insensitive():
    job = CommandJob(command="echo", environment=Environment(image="python:3.11-slim"),
                     distribution={"type": "PyTorch", "process_count_per_instance": 2})
    assert isinstance(job.environment, Environment)
    assert job.distribution == PyTorchDistribution(process_count_per_instance=2)


def test_limits_timeout_must_be_positive():
    assert CommandJobLimits(timeout=60).timeout == 60
    with pytest.raises(ValidationError):
        CommandJobLimits(timeout=0)


def test_unknown_field_and_read_only_status():
    with pytest.raises(ValidationError) as info:
        CommandJob(command="echo", enviroment=ENV)
    assert info.value.details["field"] == "enviroment"
    job = CommandJob(command="echo", status="Running")
    assert job.status is JobStatus.RUNNING and job._to_dict()["status"] == "Running"


def test_builder_maps_arguments_like_azure():
    job = command(
        name="j1", display_name="Train", experiment_name="exp", compute="local",
        command="python t.py --lr ${{inputs.lr}} --d ${{inputs.data}} --o ${{outputs.model}}",
        code="./src", environment=ENV, environment_variables={"X": 1},
        inputs={"lr": 0.1, "data": Input(type="uri_folder", path="./data")},
        outputs={"model": Output(type="mlflow_model")},
        instance_count=2, instance_type="Standard_DS3_v2", shm_size="4g", docker_args="--ipc=host",
        locations=["westeurope"], timeout=600, job_tier="Standard", priority="low",
        distribution={"type": "mpi", "process_count_per_instance": 4},
        identity={"type": "user_identity"}, parent_job_name="parent",
    )
    assert type(job) is Command and isinstance(job, CommandJob)
    assert job.resources == JobResourceConfiguration(
        instance_count=2, instance_type="Standard_DS3_v2", shm_size="4g", docker_args="--ipc=host",
        locations=["westeurope"])
    assert job.limits == CommandJobLimits(timeout=600)
    assert job.queue_settings == {"job_tier": "Standard", "priority": "low"}
    assert job.distribution == MpiDistribution(process_count_per_instance=4)
    assert job.environment_variables == {"X": "1"} and job.inputs["lr"] == 0.1
    assert (job.name, job.compute, job.parent_job_name) == ("j1", "local", "parent")


def test_builder_without_resources_leaves_them_unset():
    job = command(command="echo hi", environment=ENV)
    assert job.resources is None and job.limits is None and job.queue_settings is None


def test_builder_merges_given_resources_and_rejects_unknown_kwargs():
    job = command(command="echo", resources=JobResourceConfiguration(shm_size="1g"), instance_count=3)
    assert (job.resources.instance_count, job.resources.shm_size) == (3, "1g")
    with pytest.raises(ValidationError) as info:
        command(command="echo", instance_cuont=2)
    assert info.value.details["field"] == "instance_cuont"


def test_builder_validates_bindings_and_component_form():
    with pytest.raises(ValidationError) as info:
        command(command="echo ${{inputs.zz}}", inputs={"a": 1})
    assert "inputs.zz" in info.value.message
    job = command(component="azureml:train_model@latest", inputs={"learning_rate": 0.1})
    assert job.component == "azureml:train_model@latest"


def test_builder_is_exported_from_the_package_root():
    assert openaml.command is command


def test_set_resources_and_limits_update_in_place():
    job = command(command="echo", instance_count=2)
    job.set_resources(shm_size="8g")
    job.set_limits(timeout=30)
    assert (job.resources.instance_count, job.resources.shm_size, job.limits.timeout) == (2, "8g", 30)


def test_ignored_fields():
    assert ignored_fields(CommandJob(command="echo", resources={"instance_count": 2})) == []
    job = command(
        command="echo ${{inputs.d}}", identity={"type": "managed"},
        services={"ssh": {"type": "ssh"}}, priority="high", instance_count=2,
        instance_type="Standard_NC6", docker_args="--x", shm_size="1g",
        inputs={"d": Input(type="uri_folder", path="./d", path_on_compute="/mnt/d")},
    )
    assert ignored_fields(job) == [
        "identity", "queue_settings", "services", "resources.instance_type",
        "resources.docker_args", "resources.shm_size", "inputs.d.path_on_compute"]
