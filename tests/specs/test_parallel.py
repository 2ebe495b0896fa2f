"""Parallel component YAML: ``load_component`` dispatch, relative task.code, round trips, errors."""

import io
from pathlib import Path

import pytest

from openaml.entities import Environment, ParallelComponent
from openaml.errors import MissingFileError, ValidationError
from openaml.specs import dump_yaml, load_component, load_entity, to_yaml_dict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "yaml" / "parallel"
CASES = sorted((FIXTURES / "components").glob("*.yml"))


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_round_trip(path):
    comp = load_component(path)
    assert isinstance(comp, ParallelComponent)
    again = load_component(io.StringIO(dump_yaml(comp)), relative_origin="/")
    assert again == comp
    assert "$schema" not in to_yaml_dict(comp)
    assert load_entity("component", path) == comp


def test_fields_and_relative_code():
    comp = load_component(FIXTURES / "components" / "score_files.yml")
    assert comp.task.code == str(FIXTURES / "src") and comp.task.entry_script == "score.py"
    assert comp.task.environment == Environment(image="python:3.11-slim")
    assert comp.mini_batch_size == "2" and comp.logging_level == "DEBUG"
    assert comp.retry_settings.max_retries == 3 and comp.retry_settings.timeout == 30
    assert comp.environment_variables == {"BATCH_MODE": "1"}  # YAML numbers become strings
    assert comp.version == "1" and comp.resources.instance_count == 2
    table = load_component(FIXTURES / "components" / "score_table.yml")
    assert table.mini_batch_size == "100 kb" and table.partition_keys == ["region"]
    assert table.task.environment == "azureml:sklearn-env@latest"


def test_missing_code_folder_names_the_field(write):
    path = write("p.yml", """
        name: p
        type: parallel
        inputs: {data: {type: uri_folder}}
        input_data: ${{inputs.data}}
        task:
          code: ./missing
          entry_script: score.py
          environment: azureml:e:1
    """)
    with pytest.raises(MissingFileError) as info:
        load_component(path)
    assert info.value.details["field"] == "task.code" and info.value.details["line"] == 6


def test_bad_binding_is_reported_with_its_line(write):
    path = write("p.yml", """
        name: p
        type: parallel
        inputs: {data: {type: uri_folder}}
        outputs: {out: {type: uri_folder}}
        input_data: ${{inputs.other}}
        task:
          entry_script: score.py
          environment: azureml:e:1
          append_row_to: ${{outputs.out}}
    """)
    with pytest.raises(ValidationError) as info:
        load_component(path)
    assert info.value.details["line"] == 5 and "input_data" in info.value.message


def test_overrides_apply(write):
    comp = load_component(FIXTURES / "components" / "score_table.yml",
                          params_override=[{"mini_batch_size": "5mb"}, {"retry_settings.max_retries": 0}])
    assert comp.mini_batch_size == "5mb" and comp.retry_settings.max_retries == 0
