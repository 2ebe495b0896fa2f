"""Parallel components as command jobs: the driver's command line, and one job end to end."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from openaml import load_component
from openaml.entities import CommandComponent, Input, Output, RetrySettings
from openaml.entities.job import Command
from openaml.errors import ValidationError
from openaml.services.parallel import (DIGEST_VARIABLE, DRIVER_PATH, driver_command, driver_digest,
                                       parallel_to_command, to_command_component)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "yaml" / "parallel"


@pytest.fixture
def files_component():
    return load_component(FIXTURES / "components" / "score_files.yml")


def _args(command: str) -> list[str]:
    return shlex.split(command.split(" -- ")[0])


def test_the_command_runs_the_driver_with_the_component_settings(files_component):
    args = _args(driver_command(files_component))
    assert args[:2] == ["python", str(DRIVER_PATH)]
    option = {args[i]: args[i + 1] for i in range(2, len(args) - 1) if args[i].startswith("--")}
    assert option["--input"] == "${{inputs.data}}" and option["--append-row-to"] == "${{outputs.scores}}"
    assert option["--input-type"] == "uri_folder" and option["--mini-batch-size"] == "2"
    assert option["--max-concurrency"] == "4"  # 2 per instance x instance_count 2, on this machine
    assert (option["--max-retries"], option["--timeout"]) == ("3", "30")
    assert option["--mini-batch-error-threshold"] == "5" and option["--logging-level"] == "DEBUG"
    assert driver_command(files_component).endswith(
        " -- --prefix ${{inputs.prefix}} --error_threshold 10")


def test_parallel_to_command_makes_a_submittable_command_job(files_component):
    job = parallel_to_command(files_component, {"data": Input(path="./data")}, experiment_name="exp")
    assert isinstance(job, Command) and job.experiment_name == "exp"
    assert job.code == str(FIXTURES / "src") and job.environment == files_component.task.environment
    assert job.inputs["data"] == Input(type="uri_folder", path="./data")
    assert job.inputs["prefix"] == "row-"  # the declared default
    assert job.outputs == {"scores": Output(type="uri_folder")}
    assert job.environment_variables == {"BATCH_MODE": "1", DIGEST_VARIABLE: driver_digest()}
    assert job.resources is None  # instance_count became worker processes
    with pytest.raises(ValidationError, match="required input 'data'"):
        parallel_to_command(files_component)
    with pytest.raises(ValidationError, match="no input 'nope'"):
        parallel_to_command(files_component, {"data": "x", "nope": 1})


def test_a_node_is_converted_with_its_overrides(files_component):
    node = files_component(data=Input(path="./data"), prefix="p-")
    node.mini_batch_size = "1 mb"
    node.retry_settings = RetrySettings(max_retries=0, timeout=5)
    node.display_name = "scoring"
    job = parallel_to_command(node)
    assert job.display_name == "scoring" and job.inputs["prefix"] == "p-"
    assert "--mini-batch-size '1 mb'" in job.command and "--max-retries 0 --timeout 5" in job.command


def test_to_command_component_for_pipeline_steps(files_component):
    node = files_component(data="${{parent.inputs.images}}")
    node.environment_variables = {"BATCH_MODE": "2"}
    comp = to_command_component(node)
    assert isinstance(comp, CommandComponent) and comp.name == "score_files"
    assert comp.inputs == files_component.inputs and comp.outputs == files_component.outputs
    assert comp.command.startswith(f"BATCH_MODE=2 {DIGEST_VARIABLE}={driver_digest()} python ")
    assert comp.code == files_component.task.code and comp.resources is None


def test_a_reference_component_must_be_resolved_first(files_component):
    from openaml.entities.parallel import Parallel
    node = Parallel(component="azureml:score_files:1", inputs={"data": "${{parent.inputs.x}}"})
    with pytest.raises(ValidationError, match="resolve it first"):
        to_command_component(node)
    assert to_command_component(node, component=files_component).name == "score_files"


@pytest.mark.slow
def test_a_parallel_component_runs_as_a_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from openaml import MLClient
    from openaml.entities import Environment, Workspace

    from ..jobs.conftest import std_log, wait

    home = tmp_path / "home"
    monkeypatch.setenv("OPENAML_HOME", str(home))
    monkeypatch.setenv("OPENAML_ALLOW_HOST_PYTHON", "1")
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    for i in range(5):
        (data / f"doc{i}.txt").write_text(f"text {i}\n")
    comp = load_component(FIXTURES / "components" / "score_files.yml")
    comp.task.environment = Environment(image="python:3.11-slim")  # the host Python, allowed above
    with MLClient(workspace_name="jobs") as client:
        client.workspaces.begin_create(Workspace(name="jobs")).result()
        job = client.jobs.create_or_update(parallel_to_command(comp, {"data": Input(path=str(data))}))
        done = wait(client, job.name, timeout=120)
        assert done.status == "Completed", (done.error, std_log(home, job.name))
        client.jobs.download(job.name, download_path=tmp_path / "dl", output_name="scores")
    rows = (tmp_path / "dl" / "named-outputs" / "scores" / "parallel_run_step.txt").read_text().splitlines()
    assert rows == [f"row-doc{i}.txt text {i}" for i in range(5)]
    log = std_log(home, job.name)
    assert "mini-batches total=3 succeeded=3 failed=0" in log
