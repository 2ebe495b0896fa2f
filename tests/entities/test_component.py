"""CommandComponent and Input/Output validation, as azure-ai-ml checks them client-side."""

import pytest

from openaml.entities import CommandComponent, Input, Output
from openaml.entities.component import command_bindings, optional_blocks
from openaml.errors import ValidationError


def _component(**kwargs):
    base = {"name": "train", "command": "echo hi", "environment": "azureml:env:1"}
    return CommandComponent(**{**base, **kwargs})


def test_command_bindings_helper():
    cmd = "python t.py --lr ${{inputs.lr}} $[[--x ${{ inputs.x }}]] --o ${{outputs.m}} ${{inputs.lr}}"
    assert command_bindings(cmd) == ["inputs.lr", "inputs.x", "outputs.m"]
    assert optional_blocks(cmd) == ["--x ${{ inputs.x }}"]


def test_valid_component():
    comp = _component(
        command="python t.py --lr ${{inputs.lr}} $[[--seed ${{inputs.seed}}]] --out ${{outputs.model}}",
        inputs={"lr": Input(type="number", default=0.1, min=0, max=1),
                "seed": {"type": "integer", "optional": True}},
        outputs={"model": Output(type="mlflow_model")},
        distribution={"type": "PyTorch", "process_count_per_instance": 2},
    )
    assert comp.type == "command" and comp.is_deterministic is True
    assert comp.inputs["seed"].optional is True and comp.distribution.type == "pytorch"


def test_undeclared_binding_is_rejected_with_azure_message():
    with pytest.raises(ValidationError) as info:
        _component(command="python t.py ${{inputs.zz}}", inputs={"lr": {"type": "number"}})
    assert "Invalid data binding expression: inputs.zz" in info.value.message
    assert info.value.details["field"] == "command"


def test_unbalanced_optional_block():
    with pytest.raises(ValidationError):
        _component(command="python t.py $[[--x ${{inputs.x}}", inputs={"x": {"type": "string"}})


@pytest.mark.parametrize("name", ["path", "HOME", "ld_library_path"])
def test_reserved_port_names(name):
    with pytest.raises(ValidationError) as info:
        _component(inputs={name: {"type": "string"}})
    assert "reserved" in info.value.message


def test_duplicate_port_names_across_inputs_and_outputs():
    with pytest.raises(ValidationError) as info:
        _component(inputs={"data": {"type": "uri_folder"}}, outputs={"Data": {"type": "uri_folder"}})
    assert "Duplicate" in info.value.message


@pytest.mark.parametrize("name", ["Train", "1train", "train-model", "a" * 256])
def test_component_name_rule(name):
    # The rule is checked where a component is registered (tests/safety/test_names.py), not by
    # the constructor: a component stored under an older rule must still load.
    from openaml.names import check_name

    assert _component(name=name).name == name
    with pytest.raises(ValidationError):
        check_name("component", name)


def test_input_constraints():
    assert Input().type == "uri_folder"
    assert Input(type="integer", default="3", min=1, max=5).default == 3
    for bad in ({"type": "string", "min": 1}, {"type": "integer", "enum": ["a"]},
                {"type": "integer", "default": 9, "max": 5}, {"type": "number", "default": -1, "min": 0},
                {"type": "string", "default": "c", "enum": ["a", "b"]}, {"type": "integer", "default": "x"}):
        with pytest.raises(ValidationError):
            Input(**bad)


def test_output_defaults_and_version_type():
    assert Output().type == "uri_folder"
    with pytest.raises(ValidationError):
        Output(name="m", version=1)
