"""Pipeline specs (``pipelineJob.schema.json``, ``pipelineComponent.schema.json``).

Each step's ``component`` is resolved against the YAML's folder: ``./train.yml`` or
``file:./train.yml`` is loaded (a :class:`CommandComponent`, ``ParallelComponent`` or
:class:`PipelineComponent`, errors naming that file), ``azureml:`` references stay strings, and
an inline mapping has its paths resolved. Inline command steps (``command``/``code``/
``environment`` without ``component``) resolve ``code`` and local input paths. Binding strings
(``${{parent...}}``) are kept verbatim; an input written ``{path: ${{parent...}}}`` becomes the
bare string, so YAML and ``@dsl.pipeline`` give the same entity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openaml.entities import Entity
from openaml.entities.nodes import looks_like_binding, parse_binding, stored_component
from openaml.entities.pipeline import STEP_TYPES, Pipeline, PipelineComponent, PipelineJob
from openaml.entities.job import READ_ONLY_FIELDS, Command

from ._core import SpecContext, _as_string, is_uri, load
from ._errors import suggest
from .environment import prepare_environment
from .mltable import validate_mltable_folder

_SERVICE_KEYS = (*READ_ONLY_FIELDS, "parameters")


@dataclass
class NestedContext(SpecContext):
    """A :class:`SpecContext` for a part of the file: field paths get ``prefix`` in front."""

    parent: SpecContext | None = None
    prefix: tuple[Any, ...] = ()

    @classmethod
    def under(cls, ctx: SpecContext, *prefix: Any) -> "NestedContext":
        """The context of the mapping at ``prefix`` inside ``ctx``'s file."""
        return cls(file=ctx.file, base_path=ctx.base_path, root=ctx.root, parent=ctx, prefix=prefix)

    def line(self, *parts: Any) -> int | None:
        return self.parent.line(*self.prefix, *parts)  # type: ignore[union-attr]

    def fail(self, message: str, *parts: Any, **kwargs: Any) -> Any:
        return self.parent.fail(message, *self.prefix, *parts, **kwargs)  # type: ignore[union-attr]

    def local_path(self, value: Any, *parts: Any, must_exist: bool = True) -> Any:
        return self.parent.local_path(value, *self.prefix, *parts,  # type: ignore[union-attr]
                                      must_exist=must_exist)


def prepare_pipeline_job(data: dict[str, Any], ctx: SpecContext) -> None:
    """Resolve a pipeline job's paths and components in place (the ``prepare`` of ``type: pipeline``)."""
    for key in _SERVICE_KEYS:
        data.pop(key, None)
    if data.get("component") is not None:
        data["component"] = _component(data["component"], ctx, "pipeline")
    _prepare_ports(data, ctx)
    _prepare_steps(data, ctx)


def prepare_pipeline_component(data: dict[str, Any], ctx: SpecContext) -> None:
    """Resolve a pipeline component's steps in place (``type: pipeline`` in ``load_component``)."""
    _prepare_steps(data, ctx)


def _prepare_steps(data: dict[str, Any], ctx: SpecContext) -> None:
    jobs = data.get("jobs")
    if not isinstance(jobs, dict):
        return
    for name, step in jobs.items():
        if isinstance(step, dict):
            _prepare_step(step, NestedContext.under(ctx, "jobs", name))


def _prepare_step(step: dict[str, Any], ctx: SpecContext) -> None:
    kind = str(step.get("type", "command")).lower()
    if kind not in STEP_TYPES:
        raise ctx.fail(f"Unknown step type '{step.get('type')}'; expected one of "
                       f"{', '.join(STEP_TYPES)}.{suggest(kind, list(STEP_TYPES))}", "type")
    step["type"] = kind
    for key in _SERVICE_KEYS:
        step.pop(key, None)
    if step.get("component") is not None:
        step["component"] = _component(step["component"], ctx, kind)
        if kind != "pipeline":  # Azure takes undeclared inputs of a pipeline component (see pipeline_flatten)
            _check_input_names(step, ctx)
    if kind == "command":
        if step.get("code") is not None:
            step["code"] = ctx.local_path(step["code"], "code")
        if isinstance(step.get("environment"), dict):
            prepare_environment(step["environment"], ctx, ("environment",))
        env = step.get("environment_variables")
        if isinstance(env, dict):
            step["environment_variables"] = {str(k): _as_string(v) for k, v in env.items()}
    elif kind == "parallel":
        from .parallel import prepare_parallel

        prepare_parallel(step, ctx)
    elif kind == "sweep" and isinstance(step.get("trial"), str):
        step["trial"] = _component(step["trial"], ctx, "command", "trial")
    elif kind == "sweep":
        from .sweep import prepare_trial

        prepare_trial(step, ctx)  # the trial's code and inline environment, relative to this file
    for key in ("tags", "properties"):
        if isinstance(step.get(key), dict):
            step[key] = {str(k): _as_string(v) for k, v in step[key].items()}
    _check_bindings(step, ctx)
    _prepare_ports(step, ctx)


def _check_bindings(step: dict[str, Any], ctx: SpecContext) -> None:
    for direction in ("inputs", "outputs"):
        ports = step.get(direction)
        for name, value in (ports.items() if isinstance(ports, dict) else ()):
            text = value.get("path") if isinstance(value, dict) else value
            if looks_like_binding(text) and parse_binding(text) is None:
                raise ctx.fail(f"Invalid binding {text!r}; expected ${{{{parent.inputs.<name>}}}}, "
                               "${{parent.outputs.<name>}} or "
                               "${{parent.jobs.<step>.outputs.<name>}}", direction, name)


def _component(value: Any, ctx: SpecContext, kind: str, field: str = "component") -> Any:
    """A component file is loaded, an inline mapping prepared; ``azureml:`` references stay."""
    from .component import COMPONENT, prepare_component

    if isinstance(value, str):
        path = value.removeprefix("file:")
        if path == value and is_uri(path):
            return value
        resolved = ctx.local_path(path, field)
        if Path(resolved).is_dir():
            raise ctx.fail(f"'{field}' must name a component YAML file, not a folder: {resolved}",
                           field)
        return load(COMPONENT, resolved)
    if isinstance(value, dict):
        value.setdefault("type", kind if kind in ("pipeline", "parallel") else "command")
        for key in _SERVICE_KEYS + ("$schema", "creation_context", "latest_version"):
            value.pop(key, None)
        if value.get("version") is not None:
            value["version"] = _as_string(value["version"])
        prepare_component(value, NestedContext.under(ctx, field))
    return value


def _check_input_names(step: dict[str, Any], ctx: SpecContext) -> None:
    """A step may only set inputs its component declares (error at ``jobs.<s>.inputs.<name>``)."""
    component, inputs = step.get("component"), step.get("inputs")
    declared = (component.inputs if isinstance(component, Entity) else
                (component.get("inputs") if isinstance(component, dict) else None))
    if not isinstance(declared, dict) or not isinstance(inputs, dict):
        return
    for name in inputs:
        if name not in declared:
            cname = getattr(component, "name", None) or (
                component.get("name") if isinstance(component, dict) else None)
            raise ctx.fail(f"Unknown input '{name}': component '{cname}' declares "
                           f"{', '.join(declared) or 'no inputs'}.{suggest(name, list(declared))}",
                           "inputs", name)


def _prepare_ports(data: dict[str, Any], ctx: SpecContext) -> None:
    inputs = data.get("inputs")
    for name, value in (inputs.items() if isinstance(inputs, dict) else ()):
        if not isinstance(value, dict):
            continue
        path = value.get("path")
        if parse_binding(path) is not None and set(value) == {"path"}:
            inputs[name] = path  # {path: ${{parent...}}} is the bare binding
        elif isinstance(path, str) and not looks_like_binding(path):
            value["path"] = ctx.local_path(path, "inputs", name, "path")
            if value.get("type") == "mltable" and not is_uri(path) and ctx.base_path is not None:
                validate_mltable_folder(Path(value["path"]))
    outputs = data.get("outputs")
    for name, value in (outputs.items() if isinstance(outputs, dict) else ()):
        if isinstance(value, dict):
            if value.get("version") is not None:
                value["version"] = _as_string(value["version"])
            path = value.get("path")
            if isinstance(path, str) and not looks_like_binding(path) and "${{" not in path:
                value["path"] = ctx.local_path(path, "outputs", name, "path", must_exist=False)


def check_pipeline(job: Entity, ctx: SpecContext, prefix: tuple[Any, ...] = ()) -> None:
    """Schema rules beyond the entity: an inline command step needs an ``environment``."""
    jobs = getattr(job, "jobs", None) or {}
    for name, step in jobs.items():
        if isinstance(step, Command) and stored_component(step) is None and step.environment is None:
            raise ctx.fail("Missing required field: an inline command step needs an environment "
                           "(e.g. azureml:<name>@latest or an inline image).",
                           *prefix, "jobs", name, "environment")
        if isinstance(step, Pipeline) and isinstance(step.component, PipelineComponent):
            check_pipeline(step.component, ctx, (*prefix, "jobs", name, "component"))


__all__ = ["prepare_pipeline_job", "prepare_pipeline_component", "check_pipeline",
           "NestedContext", "PipelineJob", "PipelineComponent"]
