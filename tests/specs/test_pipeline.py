"""Pipeline specs: Azure-shaped pipeline YAML loads into entities; errors name file, field, line."""

import shutil
from pathlib import Path

import pytest

from openaml.entities import (Command, CommandComponent, Input, Output, Pipeline,
                              PipelineComponent, PipelineJob, PipelineJobSettings)
from openaml.entities.nodes import Binding, parse_binding, stored_component
from openaml.entities.pipeline import step_dependencies
from openaml.errors import MissingFileError, ValidationError
from openaml.specs import dump_yaml, entity_from_dict, load_component, load_job, to_yaml_dict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "yaml"
PIPELINES = FIXTURES / "pipelines"
THREE_STEP = PIPELINES / "three_step"


@pytest.mark.parametrize("path", sorted(PIPELINES.glob("*/pipeline.yml")), ids=lambda p: p.parent.name)
def test_round_trip(path):
    job = load_job(path)
    assert type(job) is PipelineJob
    assert entity_from_dict("job", to_yaml_dict(job), base_path="/") == job
    import io
    assert load_job(io.StringIO(dump_yaml(job)), relative_origin="/") == job


def test_three_step_pipeline_fields():
    job = load_job(THREE_STEP / "pipeline.yml")
    assert (job.display_name, job.experiment_name, job.compute) == (
        "3b_pipeline_with_data", "pipeline-samples", "azureml:cpu-cluster")
    assert job.tags == {"stage": "1"}
    assert job.settings == PipelineJobSettings(default_datastore="azureml:workspaceblobstore",
                                               default_compute="azureml:cpu-cluster",
                                               continue_on_step_failure=False, force_rerun=False)
    assert job.inputs["pipeline_job_input"] == Input(type="uri_folder",
                                                     path=str(FIXTURES / "assets" / "folder"))
    assert job.inputs["learning_rate"] == 0.05
    assert job.outputs == {"pipeline_job_trained_model": Output(type="mlflow_model", mode="upload"),
                           "pipeline_job_scored_data": None}
    assert list(job.jobs) == ["prep_job", "train_job", "score_job"]
    prep, train, score = job.jobs.values()
    assert all(type(n) is Command for n in job.jobs.values())
    assert [n.name for n in job.jobs.values()] == ["prep_job", "train_job", "score_job"]
    # component files load relative to the pipeline YAML (file: prefix or not)
    assert isinstance(train.component, CommandComponent) and train.component.name == "train_model"
    assert train.component.code == str(THREE_STEP / "src")
    assert prep.component == load_component(THREE_STEP / "prep.yml")
    # bindings stay verbatim strings; {path: binding} becomes the bare string
    assert train.inputs == {"training_data": "${{parent.jobs.prep_job.outputs.prep_data}}",
                            "learning_rate": "${{parent.inputs.learning_rate}}", "max_epochs": 5}
    assert train.outputs == {"model_output": "${{parent.outputs.pipeline_job_trained_model}}"}
    assert score.inputs["model_input"] == "${{parent.jobs.train_job.outputs.model_output}}"
    assert prep.outputs["prep_data"] == Output(mode="rw_mount")
    assert (train.compute, train.resources.instance_count) == ("azureml:gpu-cluster", 1)
    assert train.environment_variables == {"RETRIES": "3"}
    assert step_dependencies(job) == {"prep_job": set(), "train_job": {"prep_job"},
                                      "score_job": {"train_job", "prep_job"}}


def test_inline_command_steps():
    job = load_job(PIPELINES / "inline_steps" / "pipeline.yml")
    hello, world = job.jobs["hello_job"], job.jobs["world_job"]
    assert stored_component(hello) is None and hello.code == str(PIPELINES / "inline_steps" / "src")
    # read as azure-ai-ml's: the component the inline command describes
    assert hello.component.name == "hello_job" and hello.component.command == hello.command
    assert world.component.inputs["world_input"].type == "uri_folder"
    assert world.code == hello.code and world.environment.image == "python:3.11-slim"
    assert hello.outputs == {"world_output": None}
    assert world.inputs == {"world_input": "${{parent.jobs.hello_job.outputs.world_output}}"}
    assert world.limits.timeout == 600
    assert job.settings.default_compute == "azureml:cpu-cluster"
    assert step_dependencies(job) == {"hello_job": set(), "world_job": {"hello_job"}}


def test_fan_out_with_references_and_inline_component():
    job = load_job(PIPELINES / "fan_out" / "pipeline.yml")
    assert job.jobs["prep"].component == "azureml:prep_data:1"
    assert job.jobs["train_registered"].component == "azureml:train_model@latest"
    assert job.jobs["train_small"].component == job.jobs["train_large"].component
    report = job.jobs["report"].component
    assert isinstance(report, CommandComponent) and report.code == str(THREE_STEP / "src")
    assert job.settings.continue_on_step_failure is True
    assert job.settings.model_extra == {"custom_setting": "kept"}
    deps = step_dependencies(job)
    assert deps["report"] == {"train_small", "train_large"}
    assert all(deps[s] == {"prep"} for s in ("train_small", "train_large", "train_registered"))


def test_nested_pipeline_component_file():
    job = load_job(PIPELINES / "nested" / "pipeline.yml")
    training = job.jobs["training"]
    assert type(training) is Pipeline and isinstance(training.component, PipelineComponent)
    inner = training.component
    assert inner.name == "train_pipeline" and inner.inputs["lr"] == Input(type="number", default=0.01)
    assert inner.jobs["train"].component.name == "train_model"
    assert inner.jobs["train"].outputs == {"model_output": "${{parent.outputs.model}}"}
    assert step_dependencies(inner) == {"prep": set(), "train": {"prep"}}
    assert step_dependencies(job) == {"training": set(), "scoring": {"training"}}
    assert load_component(PIPELINES / "nested" / "train_pipeline.yml") == inner


def test_parse_binding():
    assert parse_binding("${{parent.inputs.lr}}") == Binding("inputs", "lr")
    assert parse_binding("${{ parent.outputs.model }}") == Binding("outputs", "model")
    assert parse_binding("${{parent.jobs.train.outputs.m}}") == Binding("outputs", "m", "train")
    assert parse_binding("${{parent.jobs.train.inputs.lr}}") == Binding("inputs", "lr", "train")
    assert str(Binding("outputs", "m", "train")) == "${{parent.jobs.train.outputs.m}}"
    for text in ("${{inputs.lr}}", "x ${{parent.inputs.lr}}", "${{parent.job.a.outputs.b}}", 3, None):
        assert parse_binding(text) is None


@pytest.fixture
def pipeline_dir(tmp_path):
    """A copy of the three-step pipeline whose YAML a test may edit."""
    folder = tmp_path / "p"
    shutil.copytree(THREE_STEP, folder)
    path = folder / "pipeline.yml"
    path.write_text(path.read_text().replace("../../assets/folder", "./src"))
    return path


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def _line(path, needle):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_misspelt_step_field_is_named_with_its_line(pipeline_dir):
    _edit(pipeline_dir, "    compute: azureml:gpu-cluster", "    comptue: azureml:gpu-cluster")
    with pytest.raises(ValidationError) as info:
        load_job(pipeline_dir)
    err = info.value
    assert "Did you mean 'compute'?" in err.message
    assert (err.details["file"], err.details["field"], err.details["line"]) == (
        str(pipeline_dir), "jobs.train_job.comptue", _line(pipeline_dir, "comptue"))


def test_missing_component_file_is_named_with_its_line(pipeline_dir):
    _edit(pipeline_dir, "component: ./score.yml", "component: ./scor.yml")
    with pytest.raises(MissingFileError) as info:
        load_job(pipeline_dir)
    err = info.value
    assert (err.details["field"], err.details["line"]) == (
        "jobs.score_job.component", _line(pipeline_dir, "./scor.yml"))
    assert err.details["path"].endswith("scor.yml")


def test_unknown_component_input_is_named_with_its_line(pipeline_dir):
    _edit(pipeline_dir, "max_epochs: 5", "max_epoch: 5")
    with pytest.raises(ValidationError) as info:
        load_job(pipeline_dir)
    err = info.value
    assert "Did you mean 'max_epochs'?" in err.message
    assert (err.details["field"], err.details["line"]) == (
        "jobs.train_job.inputs.max_epoch", _line(pipeline_dir, "max_epoch:"))


def test_error_in_a_component_file_names_that_file(pipeline_dir):
    _edit(pipeline_dir.parent / "train.yml", "  max_epochs:\n    type: integer",
          "  max_epochs:\n    tpye: integer")
    with pytest.raises(ValidationError) as info:
        load_job(pipeline_dir)
    assert info.value.details["file"] == str(pipeline_dir.parent / "train.yml")
    assert info.value.details["field"] == "inputs.max_epochs.tpye"


@pytest.mark.parametrize(("old", "new", "field"), [
    ("type: command\n    component: ./prep.yml", "type: comand\n    component: ./prep.yml",
     "jobs.prep_job.type"),
    ("${{parent.jobs.prep_job.outputs.prep_data}}\n      learning_rate",
     "${{parent.job.prep_job.outputs.prep_data}}\n      learning_rate",
     "jobs.train_job.inputs.training_data"),
])
def test_bad_step_type_and_binding(pipeline_dir, old, new, field):
    _edit(pipeline_dir, old, new)
    with pytest.raises(ValidationError) as info:
        load_job(pipeline_dir)
    assert info.value.details["field"] == field and info.value.details["line"]


def test_inline_command_step_needs_an_environment(write):
    spec = write("p.yml", """
        type: pipeline
        jobs:
          hello:
            command: echo hi
    """)
    with pytest.raises(ValidationError) as info:
        load_job(spec)
    assert info.value.details["field"] == "jobs.hello.environment"


def test_command_bindings_of_inline_steps_are_checked(write):
    spec = write("p.yml", """
        type: pipeline
        jobs:
          hello:
            command: echo ${{inputs.missing}}
            environment: azureml:env@latest
    """)
    with pytest.raises(ValidationError) as info:
        load_job(spec)
    assert "inputs.missing" in info.value.message and info.value.details["line"] == 4


def test_sweep_and_parallel_steps_dispatch_by_type(write):
    spec = write("p.yml", """
        type: pipeline
        jobs:
          odd:
            type: spark
    """)
    with pytest.raises(ValidationError) as info:
        load_job(spec)
    assert info.value.details["field"] == "jobs.odd.type"
