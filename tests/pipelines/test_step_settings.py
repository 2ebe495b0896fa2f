"""Step settings bound to pipeline inputs, checked at submission (nothing runs here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openaml import command, load_job
from openaml.entities import AmlCompute, JobResourceConfiguration
from openaml.entities.job import CommandJobLimits
from openaml.errors import NotFoundError, ValidationError

from .conftest import write


def _pipeline(tmp_path: Path, step_settings: str, inputs: str = "compute_name: cpu-cluster") -> Path:
    write(tmp_path / "echo.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
        name: echo
        type: command
        inputs:
          data: {type: uri_folder, optional: true}
        environment:
          image: python:3.11-slim
        command: echo hi
        """)
    return write(tmp_path / "pipeline.yml", f"""
        $schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
        type: pipeline
        inputs:
          {inputs}
          raw:
            type: uri_folder
            path: ./
          nothing:
            type: string
            optional: true
        jobs:
          echo:
            component: file:./echo.yml
            {step_settings}
        """)


def _check(ml_client, path: Path) -> None:
    ml_client.jobs.validate(load_job(path), raise_on_failure=True)


@pytest.fixture
def cluster(ml_client):
    ml_client.compute.begin_create_or_update(AmlCompute(name="cpu-cluster")).result()


@pytest.mark.parametrize(("settings", "field", "words"), [
    ("compute: ${{parent.inputs.missing}}", "jobs.echo.compute", "has no input 'missing'"),
    ("compute: ${{parent.inputs.raw}}", "jobs.echo.compute", "which is data"),
    ("resources: {instance_count: '${{parent.inputs.compute_name}}'}", "jobs.echo.resources.instance_count",
     "'cpu-cluster' is not an integer"),
    ("limits: {timeout: '${{parent.inputs.compute_name}}'}", "jobs.echo.limits.timeout", "not an integer"),
    ("environment_variables: {X: 'a-${{parent.inputs.nothing}}'}", "jobs.echo.environment_variables.X",
     "has no value"),
])
def test_a_bad_binding_in_a_setting_is_refused_naming_the_setting(ml_client, cluster, tmp_path: Path,
                                                                  settings: str, field: str, words: str):
    with pytest.raises(ValidationError) as err:
        _check(ml_client, _pipeline(tmp_path, settings))
    assert err.value.details["field"] == field and words in err.value.message, err.value.message


def test_a_bound_compute_that_does_not_exist_is_refused_at_submission(ml_client, tmp_path: Path):
    with pytest.raises(NotFoundError) as err:
        _check(ml_client, _pipeline(tmp_path, "compute: ${{parent.inputs.compute_name}}"))
    assert err.value.details["field"] == "jobs.echo.compute" and "cpu-cluster" in err.value.message


def test_an_optional_input_with_no_value_leaves_the_setting_unset(ml_client, cluster, tmp_path: Path):
    _check(ml_client, _pipeline(tmp_path, "compute: ${{parent.inputs.nothing}}"))  # the default pool


def test_a_job_outside_a_pipeline_cannot_bind_a_pipeline_input(ml_client):
    job = command(command="echo hi", environment="azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
                  compute="${{parent.inputs.compute_name}}")
    with pytest.raises(ValidationError) as err:
        ml_client.jobs.validate(job, raise_on_failure=True)
    assert err.value.details["field"] == "compute" and "not a step of a pipeline" in err.value.message
    job = command(command="echo hi", environment="azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
                  resources=JobResourceConfiguration(instance_count="${{parent.inputs.n}}"))
    with pytest.raises(ValidationError) as err:
        ml_client.jobs.validate(job, raise_on_failure=True)
    assert err.value.details["field"] == "resources"


def test_numeric_settings_take_a_number_or_one_binding():
    assert JobResourceConfiguration(instance_count="3").instance_count == 3
    assert JobResourceConfiguration(instance_count=" ${{parent.inputs.n}} ").instance_count == "${{parent.inputs.n}}"
    for bad in ("three", "${{parent.inputs.n}}-x", True, 1.5):
        with pytest.raises(ValidationError):
            JobResourceConfiguration(instance_count=bad)
    with pytest.raises(ValidationError, match="greater than 0"):
        CommandJobLimits(timeout=0)
