"""``CommandComponent``: a reusable, versioned command with typed inputs and outputs.

Validation at construction follows azure-ai-ml's client-side checks: the
data-binding expressions of ``command`` (``${{inputs.x}}`` / ``${{outputs.y}}`` must name a
declared port), ``$[[ ... ]]`` optional blocks, reserved and duplicate port names. The name's
rule (:data:`openaml.names.COMPONENT`) is checked when a component is registered, not here, so
that a component stored under an older rule can still be read.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Mapping, Union

from pydantic import Discriminator, Field, Tag, ValidationInfo, field_validator

from ._base import Asset, none_is_empty
from .distribution import Distribution, lower_distribution_type
from .environment import Environment
from .inputs_outputs import Input, Output
from .resources import JobResourceConfiguration

if TYPE_CHECKING:  # pragma: no cover
    from .job import Command

EnvironmentRef = Annotated[
    Union[Annotated[str, Tag("reference")], Annotated[Environment, Tag("inline")]],
    Discriminator(lambda v: "reference" if isinstance(v, str) else "inline"),
]
"""``azureml:env:1`` / ``azureml:env@latest`` / a registry URI, or an inline environment."""

PORT_NAME_PATTERN = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_PORT_NAMES = frozenset({"path", "ld_library_path", "user", "logname", "home", "pwd", "shell"})
_BINDING = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_PORT_ATTRIBUTES = {"inputs": set(Input.model_fields), "outputs": set(Output.model_fields)}


def command_bindings(command: str) -> list[str]:
    """The data-binding expressions used in ``command``, in order, without duplicates.

    ``"python t.py --lr ${{inputs.lr}} $[[--x ${{inputs.x}}]]"`` gives ``["inputs.lr", "inputs.x"]``.
    """
    return list(dict.fromkeys(m.group(1) for m in _BINDING.finditer(command)))


def optional_blocks(command: str) -> list[str]:
    """The bodies of the ``$[[ ... ]]`` blocks in ``command``; raise ValueError if unbalanced or nested."""
    blocks, depth, start = [], 0, 0
    i = 0
    while i < len(command):
        pair = command[i:i + 3] if command.startswith("$[[", i) else command[i:i + 2]
        if pair == "$[[":
            if depth:
                raise ValueError("Invalid optional block: '$[[' blocks cannot be nested")
            depth, start, i = 1, i + 3, i + 3
        elif pair == "]]" and depth:
            blocks.append(command[start:i])
            depth, i = 0, i + 2
        else:
            i += 1
    if depth:
        raise ValueError("Invalid optional block: '$[[' has no matching ']]'")
    return blocks


def check_port_names(names: list[str]) -> None:
    """Raise ValueError for an invalid, reserved or duplicated (case-insensitive) port name."""
    seen: dict[str, str] = {}
    for name in names:
        if not PORT_NAME_PATTERN.match(name):
            raise ValueError(f"{name!r} is not a valid parameter name, must be composed "
                             "letters, numbers, and underscores.")
        if name.lower() in RESERVED_PORT_NAMES:
            raise ValueError(f"{name!r} is a reserved name and cannot be used for an input "
                             f"or output; reserved: {', '.join(sorted(RESERVED_PORT_NAMES))}")
        if name.lower() in seen:
            raise ValueError(f"Duplicate input/output name {name!r} (also {seen[name.lower()]!r}).")
        seen[name.lower()] = name


def invalid_bindings(command: str, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> list[str]:
    """The bindings of ``command`` that name no declared input/output (or no port attribute)."""
    return [e for e in command_bindings(command) if not _is_valid_binding(e, inputs, outputs)]


def _is_valid_binding(expr: str, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> bool:
    parts = expr.split(".")
    ports = {"inputs": inputs, "outputs": outputs}.get(parts[0])
    if ports is None or len(parts) < 2 or parts[1] not in ports:
        return False
    return len(parts) == 2 or (len(parts) == 3 and parts[2] in _PORT_ATTRIBUTES[parts[0]])


def outputs_named_apart(outputs: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
    """Field validator: output names are valid, not reserved, and not also input names."""
    check_port_names([*info.data.get("inputs", {}), *outputs])
    return outputs


class Component(Asset):
    """Base of every component (``CommandComponent``, ``PipelineComponent``,
    ``ParallelComponent``), as azure-ai-ml's ``Component``: ``isinstance(x, Component)``."""

    asset_kind: ClassVar[str] = "components"


class CommandComponent(Component):
    """A command component (``type: command``), as azure-ai-ml's ``CommandComponent``.

    ``inputs``/``outputs`` are declared before ``command`` so the command's bindings can be
    checked against them.
    """

    asset_kind: ClassVar[str] = "components"

    type: Literal["command"] = "command"
    display_name: str | None = None
    is_deterministic: bool = True
    inputs: dict[str, Input] = Field(default_factory=dict)
    outputs: dict[str, Output] = Field(default_factory=dict, validate_default=True)
    command: str | None = None
    code: str | None = None
    environment: EnvironmentRef | None = None
    distribution: Distribution | None = None
    resources: JobResourceConfiguration | None = None
    instance_count: int | None = None
    additional_includes: list[str] | None = None

    _lower_distribution_type = field_validator("distribution", mode="before")(
        staticmethod(lower_distribution_type))

    _none_is_empty = field_validator("inputs", "outputs", mode="before")(staticmethod(none_is_empty))

    _check_port_names = field_validator("outputs")(staticmethod(outputs_named_apart))

    @field_validator("command")
    @classmethod
    def _check_command(cls, command: str | None, info: ValidationInfo) -> str | None:
        if command is None:
            return command
        optional_blocks(command)
        if "inputs" not in info.data or "outputs" not in info.data:
            return command  # the ports themselves are invalid; that error is reported
        inputs, outputs = info.data.get("inputs", {}), info.data.get("outputs", {})
        invalid = invalid_bindings(command, inputs, outputs)
        if invalid:
            raise ValueError("Invalid data binding expression: " + ", ".join(invalid))
        return command

    def __call__(self, *args: Any, **inputs: Any) -> "Command":
        """A :class:`~openaml.entities.job.Command` node running this component with ``inputs``.

        Input values are literals, :class:`Input`, or (inside ``@dsl.pipeline``) pipeline
        parameters and other nodes' outputs, which become ``${{parent...}}`` bindings. Unknown
        names and literals that break the input's type, ``min``/``max`` or ``enum`` raise
        :class:`~openaml.errors.ValidationError`. Outside a pipeline the node can be submitted;
        ``node.to_command_job()`` gives the command job it runs.
        """
        from .job import Command
        from .nodes import node_inputs

        if args:
            raise TypeError("a component takes its inputs as keyword arguments, e.g. "
                            f"{self.name}(learning_rate=0.01)")
        return Command(component=self, inputs=node_inputs(self, inputs, f"component {self.name!r}"))
