"""``ml_client.components`` for every component type: pipeline and parallel components, a
``@dsl.pipeline`` function's component, round trips (load -> register -> get -> dump -> load)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from openaml import Input, Output, dsl, load_component
from openaml.entities import CommandComponent, ParallelComponent, PipelineComponent
from openaml.errors import ValidationError
from openaml.specs import dump_yaml

from .conftest import write

PARALLEL = Path(__file__).resolve().parents[1] / "fixtures" / "yaml" / "parallel" / "components" / "score_files.yml"


@pytest.fixture
def train(tmp_path: Path) -> CommandComponent:
    write(tmp_path / "src" / "train.py", "print('train')\n")
    return CommandComponent(
        name="train", version="1", command="python train.py --lr ${{inputs.lr}} --out ${{outputs.model}}",
        code=str(tmp_path / "src"), environment={"image": "python:3.11-slim"},
        inputs={"lr": Input(type="number", default=0.1)}, outputs={"model": Output(type="uri_folder")})


def _without_service_fields(component) -> dict:
    return component.model_dump(mode="json", exclude_none=True, exclude={"id", "creation_context"})


def test_a_dsl_pipeline_function_registers_as_a_pipeline_component(ml_client, train: CommandComponent):
    registered_train = ml_client.components.create_or_update(train)

    @dsl.pipeline(description="train twice")
    def two_trainings(lr: float = 0.2, compute_name: str = "cpu-cluster"):
        first = train(lr=lr)
        first.compute = compute_name
        second = registered_train(lr=0.3)  # a registered component: kept as a reference
        return {"model": second.outputs.model, "first_model": first.outputs.model}

    component = ml_client.components.create_or_update(two_trainings)
    assert isinstance(component, PipelineComponent)
    assert (component.name, component.version, component.description) == ("two_trainings", "1", "train twice")
    assert component.inputs["lr"].default == 0.2 and set(component.outputs) == {"model", "first_model"}
    assert component.jobs["first"].compute == "${{parent.inputs.compute_name}}"
    assert component.jobs["first"].component.code.startswith("azureml://datastores/workspaceblobstore/paths/")
    assert component.jobs["second"].component == "azureml:train:1"
    fetched = ml_client.components.get("two_trainings", version="1")
    assert _without_service_fields(fetched) == _without_service_fields(component)


def test_pipeline_component_round_trip_load_register_get_dump(ml_client, tmp_path: Path,
                                                              train: CommandComponent):
    ml_client.components.create_or_update(train)
    path = write(tmp_path / "pipe.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json
        type: pipeline
        name: pipe
        inputs:
          lr: {type: number, default: 0.01}
        outputs:
          model: {type: mlflow_model}
        jobs:
          step:
            component: azureml:train@latest
            inputs:
              lr: ${{parent.inputs.lr}}
            outputs:
              model: ${{parent.outputs.model}}
            resources:
              instance_count: 2
        """)
    registered = ml_client.components.create_or_update(load_component(path))
    assert registered.version == "1" and registered.jobs["step"].component == "azureml:train:1"
    got = ml_client.components.get("pipe", label="latest")
    again = load_component(io.StringIO(dump_yaml(got)), relative_origin=str(tmp_path))
    assert isinstance(again, PipelineComponent)
    assert _without_service_fields(again) == _without_service_fields(got)
    # what came back registers as the same version: nothing was lost on the way
    assert ml_client.components.create_or_update(again, version="1").version == "1"


def test_parallel_component_round_trip_load_register_get_dump(ml_client, tmp_path: Path):
    registered = ml_client.components.create_or_update(load_component(PARALLEL))
    assert isinstance(registered, ParallelComponent) and registered.version == "1"
    got = ml_client.components.get("score_files", version="1")
    again = load_component(io.StringIO(dump_yaml(got)), relative_origin=str(tmp_path))
    assert _without_service_fields(again) == _without_service_fields(got)
    assert ml_client.components.create_or_update(again).version == "1"
    assert [c.type for c in ml_client.components.list()] == ["parallel"]


def test_registration_checks_names_and_types(ml_client, train: CommandComponent):
    with pytest.raises(ValidationError) as err:
        ml_client.components.create_or_update(PipelineComponent(name="Two-Trainings", jobs={}))
    assert err.value.details["field"] == "name"
    with pytest.raises(ValidationError) as err:
        ml_client.components.create_or_update(
            load_component(PARALLEL).model_copy(update={"name": "score-files"}))
    assert err.value.details["field"] == "name"
    with pytest.raises(TypeError, match="expected a component"):
        ml_client.components.create_or_update(Input(type="uri_folder"))

    @dsl.pipeline(non_pipeline_inputs=["n"])
    def with_raw(n: int = 1):
        train(lr=0.1)

    with pytest.raises(ValidationError, match="non_pipeline_inputs"):
        ml_client.components.create_or_update(with_raw)

    @dsl.pipeline()
    def untyped(x):
        train(lr=x)

    with pytest.raises(ValidationError, match="annotat"):
        ml_client.components.create_or_update(untyped)
