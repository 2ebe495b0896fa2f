"""``ParallelComponent`` and the ``Parallel`` node: a script's ``run(mini_batch)`` over an input.

A parallel component (``type: parallel``, azure-ai-ml's ``ParallelComponent``) names an entry
script with ``init()``/``run(mini_batch)`` (its ``task``), the input it splits (``input_data``:
``${{inputs.x}}``), how (``mini_batch_size``, ``partition_keys``), how hard to try
(``retry_settings``, ``error_threshold``, ``mini_batch_error_threshold``) and where the rows
``run`` returns go (``task.append_row_to``: ``${{outputs.y}}``). Calling the component with
inputs gives a :class:`Parallel` node, the pipeline step of ``type: parallel``.

:mod:`openaml.services.parallel` turns either into a command job that runs openaml's driver.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from ._base import Entity, Job, none_is_empty
from .bindings import bindable_int, input_binding_name
from .component import Component, EnvironmentRef, invalid_bindings, outputs_named_apart
from .inputs_outputs import DATA_PORT_TYPES, Input, Output
from .job import JobInput, NodeOutputValue
from .nodes import NodePorts, node_inputs
from .resources import JobResourceConfiguration

MINI_BATCH_SIZE = re.compile(r"^\s*\d+\s*([kKmMgG][bB])?\s*$")
"""A file count (``10``) or a size (``"100 kb"``, ``"10mb"``, ``"1GB"``)."""
LoggingLevel = Literal["DEBUG", "INFO", "WARNING"]
_PORT_BINDING = re.compile(r"^\s*\$\{\{\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$")


def port_of(binding: str | None, kind: str) -> str | None:
    """``"${{inputs.data}}"`` with kind ``inputs`` -> ``"data"``; None if not such a binding."""
    match = _PORT_BINDING.match(binding or "")
    return match.group(2) if match and match.group(1) == kind else None


def _check_mini_batch_size(value: int | str | None) -> int | str | None:
    if value is None:
        return value
    if isinstance(value, bool) or (isinstance(value, int) and value <= 0):
        raise ValueError(f"mini_batch_size must be a positive file count or a size like '100 kb', got {value!r}")
    if isinstance(value, str) and (not MINI_BATCH_SIZE.match(value) or int(re.sub(r"\D", "", value)) == 0):
        raise ValueError(f"mini_batch_size {value!r} must be a file count (10) or a size like '100 kb', "
                         "'10mb' or '1gb'")
    return value


def _upper_level(value: Any) -> Any:
    if isinstance(value, str):
        value = value.upper()
        return "WARNING" if value == "WARN" else value
    return value


class RetrySettings(Entity):
    """How often a failed or timed-out mini-batch is retried, and the per-mini-batch ``timeout``
    in seconds of ``run()`` (azure-ai-ml's ``RetrySettings``)."""

    max_retries: bindable_int(ge=0) = 2  # type: ignore[valid-type]
    timeout: bindable_int(gt=0) = 60  # type: ignore[valid-type]


class ParallelTask(Entity):
    """What runs (``task:``): ``run_function``, the only type Azure supports for parallel jobs."""

    type: Literal["run_function"] = "run_function"
    code: str | None = None
    entry_script: str | None = None
    program_arguments: str | None = None
    environment: EnvironmentRef | None = None
    append_row_to: str | None = None


MiniBatchSize = Annotated[int | str | None, AfterValidator(_check_mini_batch_size)]


def _check_node_mini_batch_size(value: int | str | None) -> int | str | None:
    return value if input_binding_name(value) else _check_mini_batch_size(value)


NodeMiniBatchSize = Annotated[int | str | None, AfterValidator(_check_node_mini_batch_size)]
"""A step's ``mini_batch_size``: as the component's, or ``${{parent.inputs.<name>}}``."""
_AtLeastOne = bindable_int(ge=1)
_AtLeastMinusOne = bindable_int(ge=-1)


class ParallelSettings(Entity):
    """The run settings a :class:`Parallel` node may override; None means the component's.
    Numbers may be ``${{parent.inputs.<name>}}`` (see :mod:`.bindings`)."""

    mini_batch_size: NodeMiniBatchSize = None
    partition_keys: list[str] | None = None
    logging_level: LoggingLevel | None = None
    max_concurrency_per_instance: _AtLeastOne = None  # type: ignore[valid-type]
    error_threshold: _AtLeastMinusOne = None  # type: ignore[valid-type]
    mini_batch_error_threshold: _AtLeastMinusOne = None  # type: ignore[valid-type]
    retry_settings: RetrySettings | None = None
    resources: JobResourceConfiguration | None = None
    environment_variables: dict[str, str] | None = None

    _upper_level = field_validator("logging_level", mode="before")(staticmethod(_upper_level))


class ParallelComponent(Component):
    """A parallel component (``type: parallel``), as azure-ai-ml's ``ParallelComponent``.

    ``mini_batch_size`` is kept as given (``10`` or ``"100 kb"``); the driver parses it.
    ``input_data`` must bind a declared data input and ``task.append_row_to`` a declared output.
    """

    asset_kind: ClassVar[str] = "components"

    type: Literal["parallel"] = "parallel"
    display_name: str | None = None
    is_deterministic: bool = True
    inputs: dict[str, Input] = Field(default_factory=dict)
    outputs: dict[str, Output] = Field(default_factory=dict, validate_default=True)
    task: ParallelTask | None = None
    input_data: str | None = None
    mini_batch_size: MiniBatchSize = None
    partition_keys: list[str] | None = None
    mini_batch_error_threshold: int = Field(default=-1, ge=-1)
    error_threshold: int = Field(default=-1, ge=-1)
    logging_level: LoggingLevel = "INFO"
    max_concurrency_per_instance: int = Field(default=1, ge=1)
    resources: JobResourceConfiguration | None = None
    retry_settings: RetrySettings = Field(default_factory=RetrySettings)
    environment_variables: dict[str, str] | None = None

    _upper_level = field_validator("logging_level", mode="before")(staticmethod(_upper_level))

    _none_is_empty = field_validator("inputs", "outputs", mode="before")(staticmethod(none_is_empty))

    _check_port_names = field_validator("outputs")(staticmethod(outputs_named_apart))

    @field_validator("task")
    @classmethod
    def _check_task(cls, task: ParallelTask | None, info: ValidationInfo) -> ParallelTask | None:
        if task is None or "inputs" not in info.data or "outputs" not in info.data:
            return task  # the ports themselves are invalid; that error is reported
        inputs, outputs = info.data["inputs"], info.data["outputs"]
        if task.append_row_to is not None and port_of(task.append_row_to, "outputs") not in outputs:
            raise ValueError(f"task.append_row_to {task.append_row_to!r} must be ${{{{outputs.<name>}}}} "
                             f"naming a declared output ({', '.join(outputs) or 'none declared'})")
        invalid = invalid_bindings(task.program_arguments or "", inputs, outputs)
        if invalid:
            raise ValueError("Invalid data binding expression in task.program_arguments: " + ", ".join(invalid))
        return task

    @field_validator("input_data")
    @classmethod
    def _check_input_data(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "inputs" not in info.data:
            return value
        name = port_of(value, "inputs")
        port = info.data["inputs"].get(name) if name else None
        if port is None:
            raise ValueError(f"input_data {value!r} must be ${{{{inputs.<name>}}}} naming a declared input "
                             f"({', '.join(info.data['inputs']) or 'none declared'})")
        if port.type not in DATA_PORT_TYPES:
            raise ValueError(f"input_data binds input '{name}' of type {port.type}; it must be a data input "
                             "(uri_folder, uri_file or mltable)")
        return value

    @property
    def input_data_name(self) -> str | None:
        """The input that ``input_data`` binds."""
        return port_of(self.input_data, "inputs")

    @property
    def append_row_to_name(self) -> str | None:
        """The output that ``task.append_row_to`` binds, if any."""
        return port_of(self.task.append_row_to, "outputs") if self.task else None

    def __call__(self, *args: Any, **inputs: Any) -> "Parallel":
        """A :class:`Parallel` node running this component with ``inputs``, as
        ``CommandComponent.__call__`` gives a ``Command`` node: literals, :class:`Input`, or
        (inside ``@dsl.pipeline``) pipeline parameters and other nodes' outputs. Unknown names
        and literals that break an input's type, ``min``/``max`` or ``enum`` raise."""
        if args:
            raise TypeError("a component takes its inputs as keyword arguments, e.g. "
                            f"{self.name}(data=Input(path='./data'))")
        return Parallel(component=self, inputs=node_inputs(self, inputs, f"component {self.name!r}"))


class Parallel(NodePorts, ParallelSettings, Job):
    """A pipeline step of ``type: parallel``: a component, its inputs and outputs, and run
    settings that override the component's (``mini_batch_size``, ``retry_settings``...).

    ``component`` is a :class:`ParallelComponent` or a reference (``./score.yml``,
    ``azureml:name:version``) that the pipeline service resolves. Port values are literals,
    :class:`Input`/:class:`Output` or ``${{parent...}}`` binding strings, as on a ``Command``
    node; ``node.outputs.scores`` gives the DSL's output view (see :mod:`openaml.entities.nodes`).
    """

    type: Literal["parallel"] = "parallel"
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    properties: dict[str, str] | None = None
    experiment_name: str | None = None
    compute: str | None = None
    component: ParallelComponent | str | None = None
    inputs: dict[str, JobInput] = Field(default_factory=dict)
    outputs: dict[str, NodeOutputValue] = Field(default_factory=dict)
    input_data: str | None = None
    task: ParallelTask | None = None
    is_deterministic: bool | None = None

    _none_is_empty = field_validator("inputs", "outputs", mode="before")(staticmethod(none_is_empty))

    def set_resources(self, **resources: Any) -> None:
        """Update ``resources`` (``instance_count``, ``instance_type``...)."""
        current = self.resources._to_dict() if self.resources else {}
        given = {k: v for k, v in resources.items() if v is not None}
        self.resources = JobResourceConfiguration(**{**current, **given})


_OVERRIDABLE = tuple(ParallelSettings.model_fields)


def effective_component(node: Parallel, component: ParallelComponent | None = None) -> ParallelComponent:
    """The node's component with the node's settings (and ``task``/``input_data``) applied.

    ``component`` is the resolved component when ``node.component`` is a reference.
    """
    base = component if component is not None else node.component
    if not isinstance(base, ParallelComponent):
        raise TypeError("the node's component is a reference; resolve it and pass component=")
    updates = {k: getattr(node, k) for k in (*_OVERRIDABLE, "input_data", "task", "is_deterministic")
               if getattr(node, k) is not None}
    if node.environment_variables and base.environment_variables:
        updates["environment_variables"] = {**base.environment_variables, **node.environment_variables}
    data = {**base.model_dump(exclude_none=True), **{k: _dumped(v) for k, v in updates.items()}}
    return ParallelComponent.model_validate(data)


def _dumped(value: Any) -> Any:
    return value.model_dump(exclude_none=True) if isinstance(value, Entity) else value
