"""Spec errors: file, dotted field path, 1-based line and a suggestion."""

import pytest

from openaml.errors import MissingFileError, ValidationError, YamlParseError
from openaml.specs import (
    entity_from_dict, load_component, load_compute, load_data, load_datastore, load_entity,
    load_model, read_mlmodel_flavors, validate_mltable_folder,
)

COMPONENT = """
name: train
command: python t.py --lr ${{inputs.lr}}
environment: azureml:env:1
inputs:
  lr:
    type: number
    dafault: 0.1
"""


def test_misspelt_nested_field(write):
    spec = write("component.yml", COMPONENT)
    with pytest.raises(ValidationError) as info:
        load_component(spec)
    err = info.value
    assert err.details["field"] == "inputs.lr.dafault"
    assert err.details["line"] == 7
    assert err.details["file"] == str(spec)
    assert f"{spec}:7" in err.message and "inputs.lr.dafault" in err.message
    assert "Did you mean 'default'?" in err.message


def test_misspelt_top_level_field(write):
    spec = write("model.yml", "name: m\ndescripton: x\npath: azureml:x:1\n")
    with pytest.raises(ValidationError) as info:
        load_model(spec)
    assert (info.value.details["field"], info.value.details["line"]) == ("descripton", 2)
    assert "Did you mean 'description'?" in info.value.message


def test_wrong_type(write):
    spec = write("compute.yml", "name: c\ntype: amlcompute\nmax_instances: lots\n")
    with pytest.raises(ValidationError) as info:
        load_compute(spec)
    assert (info.value.details["field"], info.value.details["line"]) == ("max_instances", 3)


def test_wrong_enum_value(write):
    spec = write("model.yml", "name: m\ntype: onnx_model\npath: azureml:x:1\n")
    with pytest.raises(ValidationError) as info:
        load_model(spec)
    assert (info.value.details["field"], info.value.details["line"]) == ("type", 2)


def test_unknown_datastore_type_suggests(write):
    spec = write("ds.yml", "name: d\ntype: azure_blobs\naccount_name: a\ncontainer_name: c\n")
    with pytest.raises(ValidationError) as info:
        load_datastore(spec)
    assert info.value.details["line"] == 2 and "Did you mean 'azure_blob'?" in info.value.message


def test_missing_required_field_points_at_parent(write):
    spec = write("ds.yml", "name: d\ntype: azure_blob\naccount_name: a\n")
    with pytest.raises(ValidationError) as info:
        load_datastore(spec)
    assert info.value.details["field"] == "container_name"


def test_misspelt_credential_field(write):
    spec = write("ds.yml", """
        name: d
        type: azure_data_lake_gen2
        account_name: a
        filesystem: f
        credentials:
          tenant_id: t
          client_id: c
          client_secret: s
          authority_uri: https://login
    """)
    with pytest.raises(ValidationError) as info:
        load_datastore(spec)
    assert info.value.details["field"] == "credentials.authority_uri"
    assert info.value.details["line"] == 9 and "authority_url" in info.value.message
    assert "s\n" not in info.value.message


def test_bad_binding_in_component(write):
    spec = write("c.yml", "name: c\ncommand: echo ${{inputs.zz}}\ninputs:\n  a: {type: string}\n")
    with pytest.raises(ValidationError) as info:
        load_component(spec)
    assert "Invalid data binding expression: inputs.zz" in info.value.message
    assert (info.value.details["field"], info.value.details["line"]) == ("command", 2)


def test_reserved_input_name(write):
    spec = write("c.yml", "name: c\ncommand: echo\ninputs:\n  path: {type: string}\n")
    with pytest.raises(ValidationError) as info:
        load_component(spec)
    assert "reserved" in info.value.message


def test_misspelt_inline_environment_field(write):
    spec = write("c.yml", "name: c\ncommand: echo\nenvironment:\n  imag: python\n")
    with pytest.raises(ValidationError) as info:
        load_component(spec)
    assert info.value.details["field"] == "environment.imag" and info.value.details["line"] == 4
    assert "Did you mean 'image'?" in info.value.message


def test_yaml_syntax_error_has_line(write):
    spec = write("bad.yml", "name: m\npath: [unclosed\ntags: {a: b}\n")
    with pytest.raises(YamlParseError) as info:
        load_model(spec)
    assert info.value.details["file"] == str(spec) and info.value.details["line"] >= 2


def test_top_level_must_be_a_mapping(write):
    with pytest.raises(ValidationError):
        load_model(write("list.yml", "- a\n- b\n"))


def test_missing_yaml_file(tmp_path):
    with pytest.raises(MissingFileError):
        load_model(tmp_path / "absent.yml")


def test_unknown_kind():
    with pytest.raises(ValidationError) as info:
        entity_from_dict("modle", {"name": "m"})
    assert "model" in info.value.message


def test_entity_from_dict_error_without_file():
    with pytest.raises(ValidationError) as info:
        entity_from_dict("data", {"name": "d", "typ": "uri_file"})
    assert info.value.details["field"] == "typ" and "Did you mean 'type'?" in info.value.message


def test_mltable_folder_without_mltable_file(write, tmp_path):
    (tmp_path / "table").mkdir()
    spec = write("data.yml", "name: d\ntype: mltable\npath: ./table\n")
    with pytest.raises(ValidationError) as info:
        load_data(spec)
    assert info.value.details["file"].endswith("MLTable")


def test_mltable_invalid_paths_entry(write, tmp_path):
    write("table/MLTable", "paths:\n  - file: ./a.csv\n  - fil: ./b.csv\n")
    with pytest.raises(ValidationError) as info:
        validate_mltable_folder(tmp_path / "table")
    err = info.value
    assert err.details["field"] == "paths.1.fil" and err.details["line"] == 3
    assert "Did you mean 'file'?" in err.message and err.details["file"].endswith("MLTable")


@pytest.mark.parametrize("text", ["type: mltable\n", "paths: []\n", "paths:\n  - file: 3\n",
                                  "paths:\n  - {file: a, folder: b}\n", "paths: [{file: a}]\ntransforms: []\n"])
def test_mltable_invalid(write, tmp_path, text):
    write("t/MLTable", text)
    with pytest.raises(ValidationError):
        validate_mltable_folder(tmp_path / "t")


def test_mltable_valid(write, tmp_path):
    write("t/MLTable", "paths:\n  - pattern: ./*.csv\ntransformations:\n  - read_delimited: {delimiter: ','}\n")
    assert validate_mltable_folder(tmp_path / "t")["paths"] == [{"pattern": "./*.csv"}]


def test_mlmodel_missing(write, tmp_path):
    (tmp_path / "model").mkdir()
    spec = write("model.yml", "name: m\ntype: mlflow_model\npath: ./model\n")
    with pytest.raises(ValidationError) as info:
        load_model(spec)
    assert "MLmodel" in info.value.message


def test_mlmodel_without_flavors(write, tmp_path):
    write("model/MLmodel", "artifact_path: model\nflavors: []\n")
    with pytest.raises(ValidationError) as info:
        read_mlmodel_flavors(tmp_path / "model")
    assert info.value.details["line"] == 2


def test_error_line_for_list_item(write):
    spec = write("c.yml", "name: c\ncommand: echo\nadditional_includes:\n  - a\n  - 3\n")
    with pytest.raises(ValidationError) as info:
        load_entity("component", spec)
    assert (info.value.details["field"], info.value.details["line"]) == ("additional_includes.1", 5)


def test_misspelt_field_reported_before_missing_path(write):
    spec = write("model.yml", "name: m\npath: ./absent\ndescripton: x\n")
    with pytest.raises(ValidationError) as info:
        load_model(spec)
    assert not isinstance(info.value, MissingFileError)
    assert info.value.details["field"] == "descripton"


def test_billion_laughs_is_refused_not_expanded(write):
    lines = ["name: d", "type: uri_file", "path: azureml://datastores/x/paths/y", "tags:",
             "  l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
    spec = write("data.yml", "\n".join(lines) + "\n")
    with pytest.raises(YamlParseError, match="once its aliases are expanded") as info:
        load_data(spec)
    assert info.value.details["file"] == str(spec)
