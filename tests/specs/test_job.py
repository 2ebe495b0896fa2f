"""Job specs: Azure-shaped fixtures load with their paths resolved; errors name file, field, line."""

import io
from pathlib import Path

import pytest

from openaml.entities import (
    Command, CommandJob, CommandJobLimits, Environment, Input, Output, PyTorchDistribution,
)
from openaml.errors import MissingFileError, ValidationError
from openaml.specs import dump_yaml, entity_from_dict, load_entity, load_job, to_yaml_dict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "yaml"
JOBS = FIXTURES / "jobs"
ASSETS = FIXTURES / "assets"


@pytest.mark.parametrize("path", sorted(JOBS.glob("*.yml")), ids=lambda p: p.name)
def test_round_trip_through_a_dict(path):
    job = load_job(path)
    again = entity_from_dict("job", to_yaml_dict(job), base_path="/")
    assert again == job and type(again) is Command


def test_hello_job():
    job = load_job(JOBS / "hello.yml")
    assert isinstance(job, CommandJob) and job.type == "command"
    assert job.command == "echo hello"
    assert job.environment == "azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest"
    assert load_entity("job", JOBS / "hello.yml") == job


def test_training_job_fields():
    job = load_job(JOBS / "train.yml")
    assert job.code == str(ASSETS / "src")
    assert (job.inputs["learning_rate"], job.inputs["epochs"], job.inputs["fast"],
            job.inputs["optimizer"]) == (0.01, 10, True, "adam")
    assert job.inputs["seed"] == Input(type="integer", optional=True)
    assert job.inputs["training_data"] == Input(type="uri_folder", path=str(ASSETS / "folder"),
                                                mode="download")
    assert job.inputs["table"].path == str(ASSETS / "mltable")
    assert job.inputs["csv"] == Input(type="uri_file", path=str(ASSETS / "data.csv"))
    assert job.inputs["registered"].path == "azureml:iris-data:1"
    assert job.inputs["blob"].path == "azureml://datastores/workspaceblobstore/paths/x"
    assert job.outputs["model_output"] == Output(type="mlflow_model", name="trained-model",
                                                 version="3")
    assert job.outputs["logs"] is None
    assert job.environment_variables == {
        "AZUREML_COMPUTE_USE_COMMON_RUNTIME": "true", "NCCL_DEBUG": "INFO", "RETRIES": "3"}
    assert job.limits == CommandJobLimits(timeout=3600)
    assert job.resources.instance_count == 2
    assert job.distribution == PyTorchDistribution(process_count_per_instance=2)
    assert job.identity == {"type": "user_identity"} and set(job.services) == {
        "my_jupyter", "my_tensorboard"}
    assert job.tags == {"team": "ml", "stage": "1"} and job.compute == "azureml:cpu-cluster"


def test_inline_environment_reads_the_conda_file():
    job = load_job(JOBS / "inline_env.yml")
    assert isinstance(job.environment, Environment)
    assert job.environment.conda_file["name"] == "train-env"
    assert job.outputs == {"model_dir": None}
    build = load_job(JOBS / "build_env.yml").environment.build
    assert build.path == str(ASSETS / "docker")


def test_component_job_resolves_the_component_file():
    job = load_job(JOBS / "component_job.yml")
    assert job.component == str(FIXTURES / "component" / "train.yml")
    assert job.command is None and job.inputs["learning_rate"] == 0.05


def test_azureml_component_reference_is_kept(write):
    spec = write("job.yml", "component: azureml:train_model@latest\ninputs:\n  lr: 0.1\n")
    assert load_job(spec).component == "azureml:train_model@latest"


def test_dump_yaml_then_load(tmp_path):
    job = load_job(JOBS / "train.yml")
    again = load_job(io.StringIO(dump_yaml(job)), relative_origin=str(tmp_path))
    assert again == job


def test_params_override(tmp_path):
    job = load_job(JOBS / "hello.yml", params_override=[{"compute": "local"},
                                                        {"limits.timeout": 5}])
    assert job.compute == "local" and job.limits.timeout == 5


def test_read_only_keys_are_ignored(write):
    spec = write("job.yml", """
        command: echo hi
        environment: azureml:env:1
        status: Completed
        studio_url: http://x
        log_files: {a: b}
        metrics: {loss: 1}
        """)
    job = load_job(spec)
    assert job.status is None and job.studio_url is None and job.metrics is None


def test_unknown_input_in_command(write):
    spec = write("job.yml", """
        command: python t.py --lr ${{inputs.lr}} --x ${{inputs.zz}}
        environment: azureml:env:1
        inputs:
          lr: 0.1
        """)
    with pytest.raises(ValidationError) as info:
        load_job(spec)
    err = info.value
    assert "Invalid data binding expression: inputs.zz" in err.message
    assert (err.details["file"], err.details["field"], err.details["line"]) == (str(spec), "command", 1)
    assert f"{spec}:1" in err.message


def test_misspelt_field_suggests(write):
    spec = write("job.yml", """
        command: echo hi
        environment: azureml:env:1
        resources:
          instance_cont: 2
        """)
    with pytest.raises(ValidationError) as info:
        load_job(spec)
    assert (info.value.details["field"], info.value.details["line"]) == ("resources.instance_cont", 4)
    assert "Did you mean 'instance_count'?" in info.value.message


def test_misspelt_input_field(write):
    spec = write("job.yml", """
        command: echo ${{inputs.d}}
        environment: azureml:env:1
        inputs:
          d:
            type: uri_folder
            pth: azureml:x:1
        """)
    with pytest.raises(ValidationError) as info:
        load_job(spec)
    assert (info.value.details["field"], info.value.details["line"]) == ("inputs.d.pth", 6)
    assert "Did you mean 'path'?" in info.value.message


def test_missing_code_folder(write):
    spec = write("job.yml", "command: echo hi\nenvironment: azureml:env:1\ncode: ./nowhere\n")
    with pytest.raises(MissingFileError) as info:
        load_job(spec)
    assert (info.value.details["field"], info.value.details["line"]) == ("code", 3)
    assert "nowhere" in info.value.message


def test_missing_local_input(write):
    spec = write("job.yml", """
        command: echo ${{inputs.d}}
        environment: azureml:env:1
        inputs:
          d:
            type: uri_file
            path: ./missing.csv
        """)
    with pytest.raises(MissingFileError) as info:
        load_job(spec)
    assert info.value.details["field"] == "inputs.d.path"


def test_missing_component_file(write):
    spec = write("job.yml", "component: file:./nope.yml\n")
    with pytest.raises(MissingFileError) as info:
        load_job(spec)
    assert info.value.details["field"] == "component"


def test_local_output_path_need_not_exist(write, tmp_path):
    spec = write("job.yml", """
        command: echo ${{outputs.o}}
        environment: azureml:env:1
        outputs:
          o:
            path: ./out
        """)
    assert load_job(spec).outputs["o"].path == str(tmp_path / "out")


def test_missing_environment(write):
    spec = write("job.yml", "command: echo hi\n")
    with pytest.raises(ValidationError) as info:
        load_job(spec)
    assert info.value.details["field"] == "environment"


@pytest.mark.parametrize("job_type", ["pipeline", "Pipeline"])
def test_a_pipeline_without_jobs_is_refused_clearly(write, job_type):
    spec = write("job.yml", f"$schema: x\ntype: {job_type}\njobs: {{}}\n")
    with pytest.raises(ValidationError) as info:
        load_job(spec)
    err = info.value
    assert "needs jobs or a component" in err.message
    assert err.details["file"] == str(spec)


def test_unknown_type_suggests(write):
    spec = write("job.yml", "type: comand\ncommand: echo\n")
    with pytest.raises(ValidationError) as info:
        load_job(spec)
    assert "Did you mean 'command'?" in info.value.message
    spec = write("spark.yml", "type: spark\n")
    with pytest.raises(ValidationError) as info:
        load_job(spec)
    assert "not supported by openaml" in info.value.message
