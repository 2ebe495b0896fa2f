"""Relative path resolution, conda files, $schema/read-only keys, params_override and --set."""

from pathlib import Path

import pytest

from openaml.errors import MissingFileError, ValidationError
from openaml.specs import (
    apply_overrides, entity_from_dict, load_component, load_data, load_datastore,
    load_environment, load_model, parse_set_args,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "yaml"

ASSETS = FIXTURES / "assets"


def test_local_paths_resolve_against_the_yaml_folder():
    assert Path(load_model(FIXTURES / "model/custom.yml").path) == ASSETS / "custom_model"
    assert Path(load_data(FIXTURES / "data/uri_file.yml").path) == ASSETS / "data.csv"
    assert Path(load_component(FIXTURES / "component/train.yml").code) == ASSETS / "src"
    assert Path(load_environment(FIXTURES / "environment/build.yml").build.path) == ASSETS / "docker"
    assert Path(load_datastore(FIXTURES / "datastore/local.yml").path) == ASSETS / "folder"


def test_uris_are_left_alone():
    assert load_data(FIXTURES / "data/datastore_uri.yml").path == \
        "azureml://datastores/workspaceblobstore/paths/raw/"
    for uri in ("azureml:raw:1", "https://x.blob.core.windows.net/c/p", "runs:/abc/model",
                "wasbs://c@a.blob.core.windows.net/p", "abfss://f@a.dfs.core.windows.net/p",
                "adl://s.azuredatalakestore.net/p", "s3://bucket/key"):
        assert entity_from_dict("model", {"name": "m", "path": uri}, base_path="/tmp").path == uri


def test_relative_origin_overrides_the_yaml_folder(write, tmp_path):
    (tmp_path / "elsewhere" / "m").mkdir(parents=True)
    spec = write("specs/model.yml", "name: m\npath: m\n")
    model = load_model(spec, relative_origin=str(tmp_path / "elsewhere"))
    assert Path(model.path) == tmp_path / "elsewhere" / "m"


def test_open_file_source(write, tmp_path):
    (tmp_path / "m").mkdir()
    spec = write("model.yml", "name: m\npath: ./m\n")
    with open(spec) as fh:
        assert Path(load_model(fh).path) == tmp_path / "m"


def test_conda_file_is_read_into_a_dict():
    env = load_environment(FIXTURES / "environment/image_conda.yml")
    assert env.conda_file["name"] == "train-env"
    comp = load_component(FIXTURES / "component/inline_env.yml")
    assert comp.environment.conda_file["channels"] == ["conda-forge"]


def test_missing_conda_file_names_the_file(write):
    spec = write("env.yml", "name: e\nimage: python\nconda_file: ./nope.yml\n")
    with pytest.raises(MissingFileError) as info:
        load_environment(spec)
    assert "nope.yml" in info.value.message and info.value.details["line"] == 3


def test_missing_local_model_path(write):
    spec = write("model.yml", "name: m\npath: ./absent\n")
    with pytest.raises(MissingFileError) as info:
        load_model(spec)
    assert info.value.details["field"] == "path" and "absent" in info.value.message


def test_schema_and_read_only_keys_ignored(write):
    spec = write("ws.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/data.schema.json
        name: d
        path: azureml://datastores/x/paths/y
        id: azureml:/subscriptions/s/data/d/versions/1
        creation_context: {created_by: me}
        latest_version: "3"
    """)
    data = load_data(spec)
    assert data.id is None and data.creation_context is None


def test_params_override_applied_before_validation(write):
    spec = write("data.yml", "name: d\nversion: 1\npath: azureml://datastores/x/paths/y\n")
    data = load_data(spec, params_override=[{"version": 7}, {"description": "new"}, {"tags.team": "ml"}])
    assert (data.version, data.description, data.tags) == ("7", "new", {"team": "ml"})


def test_parse_set_args_values_are_yaml_scalars():
    assert parse_set_args(["version=3", "tags.k=v", "is_deterministic=false", "description=a: b",
                           "inputs.lr.enum=[a, b]", "empty="]) == [
        {"version": 3}, {"tags.k": "v"}, {"is_deterministic": False}, {"description": "a: b"},
        {"inputs.lr.enum": ["a", "b"]}, {"empty": ""}]
    with pytest.raises(ValidationError):
        parse_set_args(["no-equals-sign"])


def test_set_overrides_through_the_loader(write):
    spec = write("model.yml", "name: m\npath: azureml://datastores/x/paths/y\ntags: {a: b}\n")
    model = load_model(spec, params_override=parse_set_args(["version=3", "tags.k=v", "stage=Production"]))
    assert model.version == "3" and model.tags == {"a": "b", "k": "v"} and model.stage == "Production"


def test_apply_overrides_does_not_mutate_and_indexes_lists():
    data = {"a": {"b": 1}, "items": [{"x": 1}, {"x": 2}]}
    result = apply_overrides(data, [{"a.c": 2}, {"items.1.x": 9}, {"new.deep": True}])
    assert result == {"a": {"b": 1, "c": 2}, "items": [{"x": 1}, {"x": 9}], "new": {"deep": True}}
    assert data == {"a": {"b": 1}, "items": [{"x": 1}, {"x": 2}]}
    with pytest.raises(ValidationError):
        apply_overrides(data, [{"items.5.x": 1}])
