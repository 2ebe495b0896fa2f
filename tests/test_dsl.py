"""@dsl.pipeline builds the same PipelineJob entity that the equivalent YAML loads into."""

from pathlib import Path

import pytest

from openaml import dsl, load_component
from openaml.entities import Command, Input, Output, Pipeline, PipelineComponent, PipelineJob
from openaml.entities.nodes import stored_component
from openaml.entities.pipeline import step_dependencies
from openaml.errors import ValidationError
from openaml.specs import entity_from_dict, load_job, to_yaml_dict

THREE_STEP = Path(__file__).resolve().parent / "fixtures" / "yaml" / "pipelines" / "three_step"


@pytest.fixture
def components():
    return tuple(load_component(THREE_STEP / f"{n}.yml") for n in ("prep", "train", "score"))


def test_three_step_pipeline(components):
    prep, train, score = components

    @dsl.pipeline(compute="azureml:cpu-cluster", description="demo", experiment_name="exp",
                  default_datastore="workspaceblobstore", continue_on_step_failure=False)
    def pipe(raw: Input, learning_rate: float = 0.1, epochs: int = 3, flag: bool = True, tag: str = "a"):
        p = prep(raw_data=raw)
        t = train(training_data=p.outputs.prep_data, learning_rate=learning_rate, max_epochs=epochs)
        t.outputs.model_output.mode = "upload"
        s = score(model_input=t.outputs.model_output, test_data=p.outputs.prep_data)
        return {"model": t.outputs.model_output, "scores": s.outputs.score_output}

    job = pipe(raw=Input(path="azureml:raw@latest"), epochs=5)
    assert isinstance(job, PipelineJob) and job.display_name == "pipe" and job.name is None
    assert (job.compute, job.description, job.experiment_name) == ("azureml:cpu-cluster", "demo", "exp")
    assert job.settings.default_datastore == "workspaceblobstore"
    assert job.settings.continue_on_step_failure is False and job.settings.force_rerun is None
    assert job.inputs == {"raw": Input(path="azureml:raw@latest"), "learning_rate": 0.1,
                          "epochs": 5, "flag": True, "tag": "a"}
    assert list(job.jobs) == ["p", "t", "s"]  # steps are named after the local variables
    t = job.jobs["t"]
    assert type(t) is Command and t.component is train and t.name == "t"
    assert t.inputs == {"training_data": "${{parent.jobs.p.outputs.prep_data}}",
                        "learning_rate": "${{parent.inputs.learning_rate}}",
                        "max_epochs": "${{parent.inputs.epochs}}"}
    assert t.outputs == {"model_output": "${{parent.outputs.model}}"}
    assert job.outputs == {"model": Output(type="mlflow_model", mode="upload"),
                           "scores": Output(type="uri_folder")}
    assert step_dependencies(job) == {"p": set(), "t": {"p"}, "s": {"t", "p"}}
    # the same entity after a trip through YAML
    assert entity_from_dict("job", to_yaml_dict(job), base_path="/") == job


def test_dsl_and_yaml_give_the_same_steps(components):
    prep, train, score = components

    @dsl.pipeline()
    def pipe(pipeline_job_input: Input, learning_rate: float = 0.05):
        prep_job = prep(raw_data=pipeline_job_input)
        train_job = train(training_data=prep_job.outputs.prep_data,
                          learning_rate=learning_rate, max_epochs=5)
        return {"pipeline_job_trained_model": train_job.outputs.model_output}

    built = pipe(pipeline_job_input=Input(path="x"))
    loaded = load_job(THREE_STEP / "pipeline.yml")
    for step in ("prep_job", "train_job"):
        assert built.jobs[step].inputs == loaded.jobs[step].inputs
        assert built.jobs[step].component == loaded.jobs[step].component
    assert built.jobs["train_job"].outputs == loaded.jobs["train_job"].outputs


def test_settings_can_be_assigned_after_creation(components):
    prep = components[0]

    @dsl.pipeline(default_compute="cpu")
    def pipe(raw: Input):
        prep(raw_data=raw)

    job = pipe(raw=Input(path="x"))
    assert job.settings.default_compute == "cpu"
    job.settings.default_compute = "gpu"
    job.settings.force_rerun = True
    job.settings.something_new = 1
    assert to_yaml_dict(job)["settings"] == {"default_compute": "gpu", "force_rerun": True,
                                             "something_new": 1}
    with pytest.raises(ValidationError):
        job.settings.force_rerun = "not a bool"


def test_unknown_input_name_and_bad_literal(components):
    train = components[1]
    with pytest.raises(ValidationError) as info:
        train(learning_rat=0.1)
    assert "'train_model'" in info.value.message and "'learning_rat'" in info.value.message
    assert "Did you mean 'learning_rate'?" in info.value.message

    @dsl.pipeline()
    def pipe():
        train(learning_rate=2.0)

    with pytest.raises(ValidationError) as info:
        pipe()
    assert "train_model" in info.value.message and "learning_rate" in info.value.message
    assert "greater than max" in info.value.message
    with pytest.raises(ValidationError, match="not a valid integer"):
        train(max_epochs="ten")


def test_typed_parameter_values_are_checked(components):
    @dsl.pipeline()
    def pipe(lr: float = 0.1):
        components[1](learning_rate=lr)

    with pytest.raises(ValidationError, match="'lr'"):
        pipe(lr="fast")
    with pytest.raises(ValidationError, match="unexpected keyword"):
        pipe(rate=0.2)


def test_nested_pipeline(components):
    prep, train, score = components

    @dsl.pipeline(name="train_pipeline", description="inner")
    def inner(data: Input, lr: float = 0.01):
        p = prep(raw_data=data)
        t = train(training_data=p.outputs.prep_data, learning_rate=lr)
        return {"model": t.outputs.model_output}

    @dsl.pipeline(compute="cpu")
    def outer(data: Input):
        training = inner(data=data)
        s = score(model_input=training.outputs.model, test_data=data)
        return {"final_scores": s.outputs.score_output}

    job = outer(data=Input(path="azureml:d:1"))
    assert list(job.jobs) == ["training", "s"]
    node = job.jobs["training"]
    assert type(node) is Pipeline and isinstance(node.component, PipelineComponent)
    assert node.inputs == {"data": "${{parent.inputs.data}}"}
    comp = node.component
    assert (comp.name, comp.description) == ("train_pipeline", "inner")
    assert comp.inputs == {"data": Input(type="uri_folder"), "lr": Input(type="number", default=0.01)}
    assert comp.outputs == {"model": Output(type="mlflow_model")}
    assert list(comp.jobs) == ["p", "t"]
    assert comp.jobs["t"].inputs["learning_rate"] == "${{parent.inputs.lr}}"
    assert comp.jobs["t"].outputs == {"model_output": "${{parent.outputs.model}}"}
    assert job.jobs["s"].inputs["model_input"] == "${{parent.jobs.training.outputs.model}}"
    assert step_dependencies(job) == {"training": set(), "s": {"training"}}
    assert entity_from_dict("job", to_yaml_dict(job), base_path="/") == job


def test_node_attribute_overrides(components):
    train = components[1]

    @dsl.pipeline()
    def pipe():
        t = train(learning_rate=0.2)
        t.compute = "gpu"
        t.set_resources(instance_count=2)
        t.outputs.model_output.path = "azureml://datastores/ds/paths/m"
        assert t.outputs.model_output.type == "mlflow_model"
        with pytest.raises(AttributeError, match="no output 'model'"):
            t.outputs.model  # noqa: B018
        assert t.inputs.learning_rate.value == 0.2

    job = pipe()
    node = job.jobs["t"]
    assert (node.compute, node.resources.instance_count) == ("gpu", 2)
    assert node.outputs["model_output"] == Output(type="mlflow_model",
                                                  path="azureml://datastores/ds/paths/m")


def test_outputs_of_other_pipelines_and_bad_returns_are_refused(components):
    prep = components[0]
    outside = prep(raw_data=Input(path="x"))

    @dsl.pipeline()
    def uses_outside():
        prep(raw_data=outside.outputs.prep_data)

    with pytest.raises(ValidationError, match="inside the @dsl.pipeline"):
        uses_outside()

    @dsl.pipeline()
    def returns_list(raw: Input):
        return [prep(raw_data=raw).outputs.prep_data]

    with pytest.raises(ValidationError, match="must return None or a dict"):
        returns_list(raw=Input(path="x"))


def test_decorator_without_parentheses_and_unknown_option(components):
    @dsl.pipeline
    def bare(raw: Input):
        components[0](raw_data=raw)

    assert list(bare(raw=Input(path="x")).jobs) == ["prep_data"]
    with pytest.raises(ValidationError, match="Did you mean 'default_compute'"):
        dsl.pipeline(default_comptue="cpu")


def test_component_node_outside_a_pipeline_runs_as_a_command_job(components):
    train = components[1]
    node = train(training_data=Input(path="./data"), learning_rate=0.3)
    node.outputs.model_output.mode = "upload"
    job = node.to_command_job()
    assert type(job) is Command and stored_component(job) is None and job.component.command == train.command
    assert job.command == train.command and job.code == train.code
    assert job.environment == train.environment
    assert job.inputs == {"training_data": Input(path="./data"), "learning_rate": 0.3, "max_epochs": 10}
    assert job.outputs == {"model_output": Output(type="mlflow_model", mode="upload")}
