"""Pipeline entities: step dispatch, bindings, port access and the pure DAG helpers."""

import copy

import pytest

from openaml.entities import (Command, CommandComponent, Input, Output, Pipeline, PipelineComponent,
                              PipelineJob, PipelineJobSettings)
from openaml.entities import pipeline as pipeline_module
from openaml.entities.pipeline import step_dependencies
from openaml.errors import ValidationError


@pytest.fixture
def train():
    return CommandComponent(
        name="train", inputs={"data": Input(), "lr": Input(type="number", min=0, max=1)},
        outputs={"model": Output(type="mlflow_model")}, environment="azureml:env@latest",
        command="python t.py ${{inputs.data}} ${{inputs.lr}} ${{outputs.model}}")


def test_steps_dispatch_on_type(train):
    job = PipelineJob(jobs={
        "a": {"component": train, "inputs": {"lr": 0.1}},
        "b": {"type": "command", "command": "echo hi", "environment": "azureml:env:1"},
        "c": {"type": "pipeline", "component": "azureml:inner:1"},
        "d": {"component": "azureml:train@latest", "inputs": {"data": "${{parent.jobs.a.outputs.model}}"}},
    })
    assert [type(n) for n in job.jobs.values()] == [Command, Command, Pipeline, Command]
    assert [n.name for n in job.jobs.values()] == ["a", "b", "c", "d"]
    assert job.settings == PipelineJobSettings()
    assert step_dependencies(job) == {"a": set(), "b": set(), "c": set(), "d": {"a"}}


def test_unknown_and_unavailable_step_types(monkeypatch):
    with pytest.raises(ValidationError, match="unknown step type 'spark'"):
        PipelineJob(jobs={"x": {"type": "spark"}})
    monkeypatch.setitem(pipeline_module._LAZY_STEPS, "sweep", ("openaml.entities.no_such", ("Sweep",)))
    with pytest.raises(ValidationError, match="type 'sweep' steps are not supported yet"):
        PipelineJob(jobs={"x": {"type": "sweep"}})


def test_jobs_or_component():
    with pytest.raises(ValidationError, match="needs jobs or a component"):
        PipelineJob()
    job = PipelineJob(component="azureml:train_pipeline:1", inputs={"lr": 0.1})
    assert job.component == "azureml:train_pipeline:1"
    with pytest.raises(ValidationError, match="not both"):
        PipelineJob(component="azureml:p:1", jobs={"a": {"command": "echo", "environment": "azureml:e:1"}})


def test_component_inputs_and_bindings_are_checked(train):
    with pytest.raises(ValidationError, match="has no input 'rate'"):
        PipelineJob(jobs={"a": Command(component=train, inputs={"rate": 0.1})})
    with pytest.raises(ValidationError, match="invalid binding"):
        PipelineJob(jobs={"a": {"component": train, "inputs": {"data": "${{parent.job.x.outputs.y}}"}}})
    with pytest.raises(ValidationError, match="parent.outputs"):
        Command(component=train, outputs={"model": "${{parent.jobs.a.outputs.m}}"})


def test_settings_allow_unknown_keys_and_assignment():
    settings = PipelineJobSettings(default_compute="cpu", priority_hint="high")
    settings.force_rerun = True
    assert settings._to_dict() == {"default_compute": "cpu", "force_rerun": True,
                                   "priority_hint": "high"}


def test_node_ports_by_attribute(train):
    node = train(lr=0.5)
    assert node.outputs.model.type == "mlflow_model" and node.outputs.model.mode is None
    node.outputs.model.mode = "upload"
    node.outputs.model.name = "registered"
    assert node.outputs["model"] == Output(type="mlflow_model", mode="upload", name="registered")
    with pytest.raises(AttributeError, match="has no output 'modle'"):
        node.outputs.modle  # noqa: B018
    with pytest.raises(ValidationError):
        node.outputs.model.mode = "sideways"
    assert node.inputs.lr.value == 0.5
    # copies keep attribute access and are independent
    clone = copy.deepcopy(node)
    clone.outputs.model.mode = "rw_mount"
    assert node.outputs["model"].mode == "upload" and clone.outputs["model"].mode == "rw_mount"
    job = PipelineJob(jobs={"t": node}, outputs={"m": Output()})
    job.outputs.m.mode = "upload"
    assert job.outputs["m"].mode == "upload"


def test_component_call_checks_literals(train):
    with pytest.raises(ValidationError, match="'lr'.*greater than max"):
        train(lr=3)
    with pytest.raises(ValidationError, match="no input 'rate'"):
        train(rate=0.1)
    with pytest.raises(TypeError):
        train(0.1)


def test_pipeline_component_call_and_dump(train):
    comp = PipelineComponent(name="inner", inputs={"lr": Input(type="number")},
                             outputs={"m": Output(type="mlflow_model")},
                             jobs={"t": {"component": train, "inputs": {"lr": "${{parent.inputs.lr}}"},
                                         "outputs": {"model": "${{parent.outputs.m}}"}}})
    node = comp(lr=0.2)
    assert type(node) is Pipeline and node.inputs == {"lr": 0.2}
    assert node.outputs.m._to_binding  # a NodeOutput view
    dumped = comp._to_dict()
    assert "name" not in dumped["jobs"]["t"] and dumped["type"] == "pipeline"
    assert PipelineComponent.model_validate(dumped) == comp
