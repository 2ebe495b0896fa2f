"""``command(...)`` nodes as azure-ai-ml has them: ``.component`` is the CommandComponent the
command describes, and calling the node inside ``@dsl.pipeline`` makes a step."""

from __future__ import annotations

import pytest

from openaml import Input, Output, command, dsl
from openaml.entities import Command, CommandComponent, Environment, PipelineJob
from openaml.entities.nodes import stored_component
from openaml.errors import ValidationError
from openaml.sweep import Choice, Randint, Uniform

ENV = "azureml:sklearn-env:1"


def _prep(**extra) -> Command:
    return command(
        command="python prep.py --raw ${{inputs.raw}} --ratio ${{inputs.ratio}} --out ${{outputs.clean}}",
        inputs={"raw": Input(type="uri_file", path="./data/raw.csv", mode="download"),
                "ratio": Input(type="number", default=0.2, min=0, max=1)},
        outputs={"clean": Output(type="uri_folder", mode="rw_mount", path="azureml://datastores/x/paths/y")},
        environment=ENV, code="./src", **extra)


def test_component_of_a_named_command():
    node = _prep(name="data_prep", display_name="Data preparation", description="splits", tags={"team": "ml"})
    component = node.component
    assert isinstance(component, CommandComponent)
    assert (component.name, component.version) == ("data_prep", None)
    assert (component.display_name, component.description, component.tags) == ("Data preparation", "splits",
                                                                                {"team": "ml"})
    assert component.command == node.command and component.environment == ENV and component.code == "./src"
    assert component.inputs["raw"] == Input(type="uri_file", mode="download")  # no path: a port, not a value
    assert component.inputs["ratio"] == Input(type="number", default=0.2, min=0, max=1)
    assert component.outputs == {"clean": Output(type="uri_folder", mode="rw_mount")}
    assert stored_component(node) is None and node.command is not None  # the node is still a plain command


def test_component_of_an_anonymous_command_types_its_literal_inputs():
    node = command(command="echo ${{inputs.a}} ${{inputs.b}} ${{inputs.c}} ${{inputs.d}} ${{outputs.o}}",
                   inputs={"a": 3, "b": 0.5, "c": True, "d": "text"}, outputs={"o": None}, environment=ENV)
    component = node.component
    assert (component.name, component.version) == ("azureml_anonymous", "1")
    assert {k: (v.type, v.default) for k, v in component.inputs.items()} == {
        "a": ("integer", 3), "b": ("number", 0.5), "c": ("boolean", True), "d": ("string", "text")}
    assert component.outputs == {"o": Output()}


def test_component_of_a_command_with_search_space_inputs():
    node = command(command="t ${{inputs.lr}} ${{inputs.n}} ${{inputs.k}}", inputs={"lr": 0.1, "n": 1, "k": "a"},
                   environment=ENV)(lr=Uniform(0.01, 0.1), n=Randint(5), k=Choice(["a", "b"]))
    assert {k: v.type for k, v in node.component.inputs.items()} == {"lr": "number", "n": "integer", "k": "string"}


def test_a_component_node_keeps_its_component():
    component = CommandComponent(name="train", command="t ${{inputs.x}}", inputs={"x": Input(type="integer")},
                                 environment=ENV)
    node = component(x=1)
    assert node.component is component or node.component == component


def test_the_component_registers_as_the_command(tmp_path, monkeypatch):
    from tests.helpers import new_workspace_client, use_home

    use_home(tmp_path, monkeypatch, host_python=False)
    client = new_workspace_client("ws")
    try:
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "prep.py").write_text("print('prep')\n")
        client.environments.create_or_update(Environment(name="sklearn-env", version="1", image="python:3.11"))
        registered = client.components.create_or_update(_prep(name="data_prep").component)
        assert (registered.name, registered.version) == ("data_prep", "1")
        assert registered.inputs["ratio"].default == 0.2 and registered.outputs["clean"].type == "uri_folder"
    finally:
        client.close()


def test_called_command_nodes_become_steps_bound_to_pipeline_inputs_and_each_other():
    prep = _prep(name="data_prep")
    train = command(command="python train.py --data ${{inputs.data}} --lr ${{inputs.lr}} --model ${{outputs.model}}",
                    inputs={"data": Input(type="uri_folder"), "lr": 0.1},
                    outputs={"model": Output(type="mlflow_model")}, environment=ENV)

    @dsl.pipeline(description="prep then train")
    def pipe(raw: Input, ratio: float = 0.25, lr: float = 0.01):
        prepared = prep(raw=raw, ratio=ratio)
        trained = train(data=prepared.outputs.clean, lr=lr)
        return {"model": trained.outputs.model}

    job = pipe(raw=Input(type="uri_file", path="./data/raw.csv"))
    assert isinstance(job, PipelineJob) and list(job.jobs) == ["prepared", "trained"]
    prepared, trained = job.jobs["prepared"], job.jobs["trained"]
    assert type(prepared) is Command and prepared.command == prep.command
    # a data input bound to a pipeline input keeps its declared type and mode
    assert prepared.inputs["raw"] == Input(type="uri_file", mode="download", path="${{parent.inputs.raw}}")
    assert prepared.inputs["ratio"] == "${{parent.inputs.ratio}}"
    assert trained.inputs["data"] == Input(type="uri_folder", path="${{parent.jobs.prepared.outputs.clean}}")
    assert trained.inputs["lr"] == "${{parent.inputs.lr}}"
    assert trained.outputs["model"] == "${{parent.outputs.model}}"
    assert job.outputs["model"] == Output(type="mlflow_model")
    assert prep.name == "data_prep" and prep.inputs["ratio"] == Input(type="number", default=0.2, min=0, max=1)


def test_a_template_made_inside_the_pipeline_is_not_a_step_but_a_bound_command_is():
    @dsl.pipeline()
    def pipe(x: int = 1):
        template = command(command="echo ${{inputs.x}} > ${{outputs.o}}/x", inputs={"x": 0},
                           outputs={"o": Output()}, environment=ENV)
        first = template(x=x)
        second = template(x=2)
        direct = command(command="ls ${{inputs.d}}", inputs={"d": first.outputs.o},  # noqa: F841 - names the step
                         environment=ENV)
        return {"out": second.outputs.o}

    job = pipe()
    assert list(job.jobs) == ["first", "second", "direct"]
    assert job.jobs["direct"].inputs["d"] == "${{parent.jobs.first.outputs.o}}"


def test_a_node_something_binds_to_stays_a_step_when_called_later():
    @dsl.pipeline()
    def pipe():
        base = command(command="echo > ${{outputs.o}}/x; echo ${{inputs.x}}", inputs={"x": 0},
                       outputs={"o": Output()}, environment=ENV)
        reader = command(command="ls ${{inputs.d}}", inputs={"d": base.outputs.o},  # noqa: F841 - names the step
                         environment=ENV)
        again = base(x=1)
        return {"a": again.outputs.o}

    assert list(pipe().jobs) == ["base", "reader", "again"]


def test_calling_a_command_with_an_unknown_input_names_it():
    with pytest.raises(ValidationError, match="lrr is not an input of this command; its inputs: data, lr") as caught:
        command(command="t ${{inputs.data}} ${{inputs.lr}}", inputs={"data": Input(), "lr": 0.1},
                environment=ENV)(lrr=0.2)
    assert caught.value.details["field"] == "inputs.lrr"


def test_calling_a_component_node_checks_values_against_its_component():
    component = CommandComponent(name="train", command="t ${{inputs.n}}",
                                 inputs={"n": Input(type="integer", min=1)}, environment=ENV)
    with pytest.raises(ValidationError, match="less than min"):
        component(n=2)(n=0)
    assert component(n=2)(n=3).inputs["n"] == 3


def test_a_called_node_outside_a_pipeline_keeps_its_name_and_runs_as_a_job():
    node = _prep(name="data_prep")(ratio=0.5)
    assert node.name == "data_prep" and node.inputs["ratio"] == 0.5 and stored_component(node) is None
