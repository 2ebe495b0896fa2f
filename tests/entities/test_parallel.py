"""ParallelComponent and the Parallel node: construction, binding checks, calls, overrides."""

import pytest

from openaml.entities import Input, Output, ParallelComponent, ParallelTask, RetrySettings
from openaml.entities.parallel import Parallel, effective_component
from openaml.errors import ValidationError


def component(**overrides) -> ParallelComponent:
    fields = dict(
        name="score", inputs={"data": Input(type="uri_folder"), "n": Input(type="integer", default=1)},
        outputs={"scores": Output(type="uri_folder")}, input_data="${{inputs.data}}",
        task=ParallelTask(code="./src", entry_script="score.py", environment="azureml:env:1",
                          program_arguments="--n ${{inputs.n}}", append_row_to="${{outputs.scores}}"))
    return ParallelComponent(**{**fields, **overrides})


def test_defaults_follow_azure():
    comp = component()
    assert comp.type == "parallel" and comp.asset_kind == "components"
    assert (comp.error_threshold, comp.mini_batch_error_threshold, comp.max_concurrency_per_instance) == (-1, -1, 1)
    assert comp.retry_settings == RetrySettings(max_retries=2, timeout=60)
    assert comp.logging_level == "INFO" and comp.mini_batch_size is None
    assert comp.input_data_name == "data" and comp.append_row_to_name == "scores"


@pytest.mark.parametrize("size", [10, "10", "100 kb", "10mb", "1GB"])
def test_mini_batch_size_is_kept_as_given(size):
    assert component(mini_batch_size=size).mini_batch_size == size


@pytest.mark.parametrize(("overrides", "field", "text"), [
    ({"mini_batch_size": "10 tb"}, "mini_batch_size", "size like '100 kb'"),
    ({"mini_batch_size": 0}, "mini_batch_size", "positive"),
    ({"input_data": "${{inputs.nope}}"}, "input_data", "naming a declared input"),
    ({"input_data": "${{inputs.n}}"}, "input_data", "must be a data input"),
    ({"task": ParallelTask(entry_script="s.py", append_row_to="${{outputs.nope}}")}, "task", "declared output"),
    ({"task": ParallelTask(entry_script="s.py", program_arguments="--x ${{inputs.zz}}")}, "task",
     "Invalid data binding expression in task.program_arguments: inputs.zz"),
    ({"logging_level": "TRACE"}, "logging_level", ""),
    ({"error_threshold": -2}, "error_threshold", ""),
    ({"retry_settings": {"max_retries": -1}}, "retry_settings.max_retries", ""),
    ({"task": {"type": "model"}}, "task.type", ""),
])
def test_invalid_fields_are_rejected(overrides, field, text):
    with pytest.raises(ValidationError) as info:
        component(**overrides)
    assert info.value.details["field"] == field and text in info.value.message


def test_logging_level_is_case_insensitive():
    assert component(logging_level="warn").logging_level == "WARNING"
    assert component(logging_level="debug").logging_level == "DEBUG"


def test_calling_the_component_gives_a_parallel_node():
    node = component()(data=Input(path="./data"), n=3)
    assert isinstance(node, Parallel) and node.type == "parallel"
    assert node.inputs["n"] == 3 and node.inputs["data"].path == "./data"
    node.outputs.scores.mode = "upload"
    assert node.outputs["scores"] == Output(type="uri_folder", mode="upload")
    with pytest.raises(ValidationError, match="has no input 'nope'"):
        component()(nope=1)
    with pytest.raises(ValidationError, match="not a valid integer"):
        component()(n="many")


def test_node_settings_override_the_component():
    comp = component(environment_variables={"A": "1", "B": "2"}, mini_batch_size=10)
    node = comp(data="${{parent.inputs.data}}")
    node.mini_batch_size = "1 mb"
    node.retry_settings = RetrySettings(max_retries=5)
    node.environment_variables = {"B": "3"}
    node.set_resources(instance_count=2)
    merged = effective_component(node)
    assert merged.mini_batch_size == "1 mb" and merged.retry_settings.max_retries == 5
    assert merged.environment_variables == {"A": "1", "B": "3"}
    assert merged.resources.instance_count == 2
    assert comp.mini_batch_size == 10  # the component itself is unchanged


def test_a_node_with_a_component_reference_needs_the_resolved_component():
    node = Parallel(component="azureml:score:1", inputs={"data": "${{parent.inputs.d}}"})
    with pytest.raises(TypeError):
        effective_component(node)
    assert effective_component(node, component()).name == "score"
