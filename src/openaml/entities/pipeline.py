"""Pipelines: ``PipelineJob`` (``type: pipeline``), ``PipelineComponent`` and the ``Pipeline`` node.

``jobs`` maps step names to nodes, chosen by ``type`` (default ``command``): ``command`` ->
:class:`~openaml.entities.job.Command`, ``pipeline`` -> :class:`Pipeline`, and ``sweep`` /
``parallel`` -> the classes of ``openaml.entities.sweep`` / ``openaml.entities.parallel``,
imported when first needed. Node ports hold literals, :class:`Input`/:class:`Output` or binding
strings (``${{parent.jobs.train.outputs.model}}``); see :mod:`openaml.entities.nodes`.

:func:`step_dependencies` gives the data edges of a pipeline's DAG.
"""

from __future__ import annotations

import importlib
from difflib import get_close_matches
from typing import Annotated, Any, ClassVar, Literal, Mapping, Union

from pydantic import (BeforeValidator, ConfigDict, Discriminator, Field, Tag, field_validator,
                      model_validator)

from ._base import Entity, Job, none_is_empty
from .component import Component, outputs_named_apart
from .credentials import JobIdentity
from .inputs_outputs import Input, Output
from .job import Command, JobInput, NodeOutputValue
from .job_status import JobStatus
from .nodes import NodePorts, bind_pipeline_ports, check_port_value, port_binding, stored_component

STEP_TYPES = ("command", "pipeline", "sweep", "parallel")
"""Step types a pipeline accepts; ``sweep`` and ``parallel`` load their classes lazily."""
_LAZY_STEPS = {"sweep": ("openaml.entities.sweep", ("Sweep", "SweepJob")),
               "parallel": ("openaml.entities.parallel", ("Parallel",))}


def _step_type(value: Any) -> str:
    raw = value.get("type") if isinstance(value, Mapping) else getattr(value, "type", None)
    return str(raw).lower() if raw is not None else "command"


def _step_tag(value: Any) -> str:
    return {"command": "Command", "pipeline": "Pipeline"}.get(_step_type(value), "Other")


def _other_step(value: Any) -> Any:
    """Validate a ``sweep``/``parallel`` step with its lazily imported class."""
    kind = _step_type(value)
    if kind not in _LAZY_STEPS:
        close = get_close_matches(kind, STEP_TYPES, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"unknown step type '{kind}'; expected one of "
                         f"{', '.join(STEP_TYPES)}.{hint}")
    module_name, class_names = _LAZY_STEPS[kind]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        module = None
    klass = next((getattr(module, n) for n in class_names if hasattr(module, n)), None)
    if klass is None:
        raise ValueError(f"type '{kind}' steps are not supported yet")
    if isinstance(value, klass):
        return value
    if isinstance(value, Mapping):
        return klass.model_validate(dict(value))
    raise ValueError(f"a '{kind}' step must be a {klass.__name__} or a mapping, "
                     f"not {type(value).__name__}")


Step = Annotated[
    Union[Annotated[Command, Tag("Command")], Annotated["Pipeline", Tag("Pipeline")],
          Annotated[Any, BeforeValidator(_other_step), Tag("Other")]],
    Discriminator(_step_tag),
]
"""A pipeline step, chosen by its ``type``."""


def _check_steps(jobs: dict[str, Any]) -> dict[str, Any]:
    """Every step is named after its key; port values hold well-formed bindings."""
    for key, node in jobs.items():
        if getattr(node, "name", None) != key and hasattr(node, "name"):
            node.name = key
        for direction in ("inputs", "outputs"):
            for port, value in (getattr(node, direction, None) or {}).items():
                check_port_value(f"{key}.{direction}", port, value)
        component = stored_component(node)
        declared = getattr(component, "inputs", None)
        # A pipeline component's undeclared inputs are accepted (Azure warns at submission).
        if isinstance(declared, dict) and getattr(node, "type", None) != "pipeline":
            unknown = [n for n in (node.inputs or {}) if n not in declared]
            if unknown:
                raise ValueError(f"step '{key}': component {component.name!r} has no input "
                                 f"{unknown[0]!r}; its inputs are: {', '.join(declared) or '(none)'}")
    return jobs


def _dump_steps(data: dict[str, Any]) -> dict[str, Any]:
    """Steps are keyed by name, so their ``name`` is not written (as in Azure's YAML)."""
    for key, step in (data.get("jobs") or {}).items():
        if isinstance(step, dict) and step.get("name") == key:
            del step["name"]
        component = step.get("component") if isinstance(step, dict) else None
        if isinstance(component, dict) and component.get("type") == "pipeline":
            _dump_steps(component)
    return data


class PipelineJobSettings(Entity):
    """A pipeline job's ``settings``. Unknown keys are kept, as Azure's schema allows them."""

    model_config = ConfigDict(extra="allow")

    default_compute: str | None = None
    default_datastore: str | None = None
    continue_on_step_failure: bool | None = None
    force_rerun: bool | None = None
    on_init: str | None = None
    on_finalize: str | None = None


class PipelineComponent(Component):
    """A pipeline component (``type: pipeline``): typed inputs/outputs and the ``jobs`` that use
    them through ``${{parent.inputs.x}}`` and ``${{parent.outputs.o}}``. Calling it makes a
    :class:`Pipeline` node."""

    asset_kind: ClassVar[str] = "components"

    type: Literal["pipeline"] = "pipeline"
    display_name: str | None = None
    is_deterministic: bool | None = None
    inputs: dict[str, Input] = Field(default_factory=dict)
    outputs: dict[str, Output] = Field(default_factory=dict, validate_default=True)
    jobs: dict[str, Step] = Field(default_factory=dict)

    _none_is_empty = field_validator("inputs", "outputs", "jobs", mode="before")(staticmethod(none_is_empty))

    _check_port_names = field_validator("outputs")(staticmethod(outputs_named_apart))

    _check_steps = field_validator("jobs")(staticmethod(_check_steps))

    def model_post_init(self, context: Any, /) -> None:
        bind_pipeline_ports(self)

    def _to_dict(self) -> dict[str, Any]:
        return _dump_steps(super()._to_dict())

    def __call__(self, *args: Any, **inputs: Any) -> "Pipeline":
        """A :class:`Pipeline` node running this component with the given inputs."""
        from .nodes import node_inputs

        if args:
            raise TypeError("a component takes its inputs as keyword arguments")
        return Pipeline(component=self, inputs=node_inputs(self, inputs, f"pipeline {self.name!r}"))


class Pipeline(NodePorts, Job):
    """A step of ``type: pipeline``: a pipeline component run inside another pipeline."""

    type: Literal["pipeline"] = "pipeline"
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    properties: dict[str, str] | None = None
    compute: str | None = None
    component: PipelineComponent | str
    inputs: dict[str, JobInput] = Field(default_factory=dict)
    outputs: dict[str, NodeOutputValue] = Field(default_factory=dict)
    settings: PipelineJobSettings | None = None

    _none_is_empty = field_validator("inputs", "outputs", mode="before")(staticmethod(none_is_empty))


class PipelineJob(Job):
    """A pipeline job (``type: pipeline``), as azure-ai-ml's ``PipelineJob``.

    ``jobs`` holds the steps; alternatively ``component`` names a pipeline component (its file,
    ``azureml:name:version`` or the component itself) whose jobs run. ``compute`` is the default
    for steps without one (as ``settings.default_compute``). ``status``, ``id``,
    ``creation_context``, ``studio_url`` and ``error`` are read-only.
    """

    type: Literal["pipeline"] = "pipeline"
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    properties: dict[str, str] | None = None
    experiment_name: str | None = None
    compute: str | None = None
    component: PipelineComponent | str | None = None
    inputs: dict[str, JobInput] = Field(default_factory=dict)
    outputs: dict[str, Output | None] = Field(default_factory=dict, validate_default=True)
    settings: PipelineJobSettings = Field(default_factory=PipelineJobSettings)
    jobs: dict[str, Step] = Field(default_factory=dict)
    identity: JobIdentity = None
    # Read-only: filled by the service.
    status: JobStatus | None = None
    id: str | None = None
    creation_context: dict[str, Any] | None = None
    studio_url: str | None = None
    error: dict[str, Any] | None = None

    _none_is_empty = field_validator("inputs", "outputs", "jobs", mode="before")(staticmethod(none_is_empty))

    @field_validator("settings", mode="before")
    @classmethod
    def _none_is_default(cls, v: Any) -> Any:
        return PipelineJobSettings() if v is None else v

    _check_port_names = field_validator("outputs")(staticmethod(outputs_named_apart))

    _check_steps = field_validator("jobs")(staticmethod(_check_steps))

    @model_validator(mode="after")
    def _jobs_or_component(self) -> "PipelineJob":
        if self.jobs and self.component is not None:
            raise ValueError("a pipeline job has either jobs or a component, not both")
        if not self.jobs and self.component is None:
            raise ValueError("a pipeline job needs jobs or a component")
        return self

    def model_post_init(self, context: Any, /) -> None:
        bind_pipeline_ports(self)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in ("inputs", "outputs"):
            bind_pipeline_ports(self)

    def _to_dict(self) -> dict[str, Any]:
        data = _dump_steps(super()._to_dict())
        if data.get("settings") == {}:
            del data["settings"]
        return data


Pipeline.model_rebuild()
PipelineComponent.model_rebuild()
PipelineJob.model_rebuild()


def step_dependencies(pipeline: PipelineJob | PipelineComponent) -> dict[str, set[str]]:
    """For each step, the steps it reads from (``${{parent.jobs.<step>...}}`` in its inputs).

    Steps named in bindings but absent from ``jobs`` are included as given; the caller decides
    whether that is an error.
    """
    deps: dict[str, set[str]] = {}
    for name, node in pipeline.jobs.items():
        upstream = set()
        for value in (getattr(node, "inputs", None) or {}).values():
            binding = port_binding(value)
            if binding is not None and binding.step is not None:
                upstream.add(binding.step)
        deps[name] = upstream
    return deps


__all__ = ["PipelineJob", "PipelineJobSettings", "PipelineComponent", "Pipeline",
           "step_dependencies", "STEP_TYPES"]
