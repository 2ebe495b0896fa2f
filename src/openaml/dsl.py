"""``@dsl.pipeline``: build a :class:`~openaml.entities.pipeline.PipelineJob` from a Python function.

As in azure-ai-ml::

    @dsl.pipeline(compute="cpu-cluster", default_datastore="workspaceblobstore")
    def pipe(data: Input, lr: float = 0.1):
        t = train(training_data=data, learning_rate=lr)   # a Command node
        return {"model": t.outputs.model_output}

    job = pipe(data=Input(path="azureml:mydata@latest"))

The function runs once per call, with each parameter replaced by a placeholder; nodes created
while it runs become the pipeline's ``jobs``, placeholders passed to nodes become
``${{parent.inputs.<param>}}``, node outputs passed on become ``${{parent.jobs.<step>.outputs.<o>}}``,
and a returned dict becomes the pipeline's outputs. Called inside another pipeline function it
makes a ``pipeline`` node whose component is a :class:`PipelineComponent`.

Step names follow azure-ai-ml: the function's local variables are read when it returns, and

1. a node whose ``name`` was set (lower-cased) is named so, else a node held by a local variable
   is named after the variable (the last one in source order when several hold it; ``_`` does not
   count). Such names must be valid node names (``[a-z_][a-z0-9_]*``) and distinct;
2. any other node (never assigned, reassigned, deleted, kept only in a list or dict) is named
   after its component, or after the variable of the last variable-named node of the same
   component, de-duplicated with ``_1``, ``_2``... (``t = train(); train()`` gives ``t``, ``t_1``);
   an explicit name on such a node is de-duplicated the same way.

``node.name`` is None while the function runs (unless set); bindings follow the final names.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
from difflib import get_close_matches
from typing import Any, Callable, Mapping, Sequence

from openaml.entities.inputs_outputs import Input, Output
from openaml.entities.nodes import (NodeOutput, PipelineBuilder, PipelineInput, current_builder,
                                    node_label, pop_builder, push_builder)
from openaml.entities.pipeline import Pipeline, PipelineComponent, PipelineJob, PipelineJobSettings
from openaml.errors import ValidationError

__all__ = ["pipeline"]

_SETTINGS = ("default_datastore", "continue_on_step_failure", "force_rerun", "on_init", "on_finalize")
_OPTIONS = ("compute", "default_compute", "default_compute_target", "non_pipeline_inputs",
            "identity", *_SETTINGS)
_PRIMITIVES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def pipeline(func: Callable[..., Any] | None = None, *, name: str | None = None,
             version: str | None = None, display_name: str | None = None,
             description: str | None = None, experiment_name: str | None = None,
             tags: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """Decorate a function that builds a pipeline; calling it returns a ``PipelineJob``.

    Other keyword arguments: ``compute`` (the pipeline's top-level ``compute``),
    ``default_compute`` (or ``default_compute_target``), ``default_datastore``,
    ``continue_on_step_failure``, ``force_rerun``, ``on_init``, ``on_finalize`` (into
    ``settings``), ``identity`` and ``non_pipeline_inputs`` (parameters passed to the function
    as plain values rather than pipeline inputs). Unknown ones raise ValidationError.
    """
    for key in kwargs:
        if key not in _OPTIONS:
            close = get_close_matches(key, _OPTIONS, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ValidationError(f"@dsl.pipeline got an unknown argument {key!r}.{hint}", field=key)
    options = dict(name=name, version=version, display_name=display_name, description=description,
                   experiment_name=experiment_name, tags=tags, **kwargs)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        definition = _PipelineDefinition(fn, options)

        @functools.wraps(fn)
        def wrapper(*args: Any, **call_kwargs: Any) -> PipelineJob | Pipeline:
            return definition.call(args, call_kwargs)

        wrapper._pipeline_definition = definition  # type: ignore[attr-defined]
        return wrapper

    return decorate(func) if func is not None else decorate


class _PipelineDefinition:
    """One decorated function and its decorator options."""

    def __init__(self, fn: Callable[..., Any], options: Mapping[str, Any]) -> None:
        self.fn = fn
        self.options = dict(options)
        self.signature = inspect.signature(fn)
        self.name = self.options.get("name") or fn.__name__
        self.raw = set(self.options.get("non_pipeline_inputs") or ())

    def call(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> PipelineJob | Pipeline:
        """Run the function and wrap its nodes as a job, or (nested) as a pipeline node."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ValidationError(f"pipeline {self.name!r}: {exc}", field="inputs") from None
        given = dict(bound.arguments)
        bound.apply_defaults()
        values = dict(bound.arguments)
        outer = current_builder()
        specs = {n: self._input_spec(n, v) for n, v in values.items() if n not in self.raw}
        jobs, outputs = self._build(values)
        if outer is not None:
            component = PipelineComponent(
                name=self.name, version=self.options.get("version"),
                display_name=self.options.get("display_name"),
                description=self.options.get("description"), tags=self.options.get("tags"),
                inputs=specs, outputs=outputs, jobs=jobs)
            return component(**{n: v for n, v in given.items()
                                if n not in self.raw and v is not None})
        return self._job(values, specs, jobs, outputs)

    def as_component(self) -> PipelineComponent:
        """The function's pipeline component, built from its parameters' defaults (what
        ``ml_client.components.create_or_update(pipeline_function)`` registers, as azure-ai-ml)."""
        if self.raw:
            raise ValidationError(f"pipeline {self.name!r} has non_pipeline_inputs "
                                  f"({', '.join(sorted(self.raw))}) and cannot be registered as a component",
                                  field="non_pipeline_inputs")
        values: dict[str, Any] = {}
        for name, param in self.signature.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ValidationError(f"pipeline {self.name!r}: *{name} cannot be a component input", field=name)
            if param.annotation is inspect.Parameter.empty and param.default is inspect.Parameter.empty:
                raise ValidationError(f"pipeline {self.name!r}: parameter {name!r} has neither a type "
                                      "annotation nor a default; annotate it to register the component",
                                      field=f"inputs.{name}")
            values[name] = None if param.default is inspect.Parameter.empty else param.default
        specs = {n: self._input_spec(n, v) for n, v in values.items()}
        jobs, outputs = self._build(values)
        o = self.options
        return PipelineComponent(name=self.name, version=o.get("version"), display_name=o.get("display_name"),
                                 description=o.get("description"), tags=o.get("tags"), inputs=specs,
                                 outputs=outputs, jobs=jobs)

    def _build(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Output]]:
        builder = PipelineBuilder(self.name)
        placeholders = {n: v if n in self.raw else PipelineInput(n, v) for n, v in values.items()}
        token = push_builder(builder)
        try:
            returned, variables = _call_keeping_locals(self.fn, placeholders)
            jobs = builder.finish(_node_names(self.name, builder.nodes, variables))
            outputs = _bind_outputs(self.name, returned, builder)
        finally:
            pop_builder(token)
        return jobs, outputs

    def _job(self, values: Mapping[str, Any], specs: Mapping[str, Input],
             jobs: dict[str, Any], outputs: dict[str, Output]) -> PipelineJob:
        o = self.options
        settings = PipelineJobSettings(
            default_compute=o.get("default_compute") or o.get("default_compute_target"),
            **{k: o.get(k) for k in _SETTINGS})
        inputs = {n: self._job_input(n, v, specs[n]) for n, v in values.items()
                  if n not in self.raw and v is not None}
        return PipelineJob(
            display_name=o.get("display_name") or self.name, description=o.get("description"),
            experiment_name=o.get("experiment_name"), tags=o.get("tags"), compute=o.get("compute"),
            identity=o.get("identity"), inputs=inputs, outputs=outputs, settings=settings,
            jobs=jobs)

    def _job_input(self, name: str, value: Any, spec: Input) -> Any:
        if isinstance(value, Input) or not spec.is_primitive:
            return value
        try:
            Input(type=spec.type, default=value)
        except ValidationError:
            raise ValidationError(f"pipeline {self.name!r}: input {name!r}: {value!r} is not a "
                                  f"valid {spec.type}", field=f"inputs.{name}") from None
        return value

    def _input_spec(self, name: str, value: Any) -> Input:
        """The declared input of a parameter: its annotation, else its default's or value's type."""
        param = self.signature.parameters[name]
        annotation, default = param.annotation, param.default
        default = None if default is inspect.Parameter.empty else default
        if isinstance(annotation, Input):
            return annotation.model_copy()
        if annotation is Input or isinstance(value, Input) or isinstance(default, Input):
            given = value if isinstance(value, Input) else default
            kind = given.type if isinstance(given, Input) else "uri_folder"
            return Input(type=kind, optional=True if default is None and value is None else None)
        kind = _PRIMITIVES.get(annotation) or _PRIMITIVES.get(type(default)) or _PRIMITIVES.get(type(value))
        if kind is None:
            return Input()
        try:
            return Input(type=kind, default=default, optional=True if default is None else None)
        except ValidationError:
            return Input(type=kind)


def _call_keeping_locals(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Call ``fn(**kwargs)``; return its result and its local variables as they were when it
    returned (read by a profile function on the ``return`` event of ``fn``'s frame)."""
    code = getattr(fn, "__code__", None) or getattr(type(fn).__call__, "__code__", None) if callable(fn) else None
    variables: dict[str, Any] = {}

    def profiler(frame: Any, event: str, arg: Any) -> None:
        if event == "return" and frame.f_code is code:
            variables.update(frame.f_locals)

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        returned = fn(**kwargs)
    finally:
        sys.setprofile(previous)
    return returned, variables


_NODE_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _sanitize(name: str) -> str:
    """A default step name as azure-ai-ml makes it: lower case, runs of non-word characters and
    underscores as one ``_``, no leading/trailing ``_``, ``n`` before a leading digit."""
    text = re.sub(r" +", " ", re.sub(r"[\W_]", " ", name.lower())).strip()
    return ("n" + text if re.match(r"\d", text) else text).replace(" ", "_")


def _given_name(node: Any) -> str | None:
    """The name set on a node, lower-cased as azure-ai-ml's ``node.name`` setter does."""
    return node.name.lower() if node.name else None


def _node_names(pipeline_name: str, nodes: Sequence[Any], variables: Mapping[str, Any]) -> list[str]:
    """The step name of each node (see the module docstring for the rules)."""
    owned = {id(node) for node in nodes}
    named: dict[int, str] = {}
    counts: dict[str, int] = {}
    taken: set[str] = set()
    for variable, value in variables.items():
        if id(value) not in owned:
            continue
        name = _given_name(value) or variable
        if name == "_":
            continue
        if not _NODE_NAME.fullmatch(name):
            raise ValidationError(
                f"pipeline {pipeline_name!r}: invalid node name {name!r}: a node name must start "
                "with a lower-case letter or underscore and contain only lower-case letters, "
                "digits and underscores", field=f"jobs.{name}")
        if name in taken and id(value) not in named:
            raise ValidationError(f"pipeline {pipeline_name!r}: two nodes are named {name!r} (by a "
                                  "variable or node.name); give them different names",
                                  field=f"jobs.{name}")
        taken.add(name)
        named[id(value)] = name
        counts[name] = 1
    by_component = {_given_name(node) or node.default_node_name(): named[id(node)]
                    for node in nodes if id(node) in named}
    names = []
    for node in nodes:
        if id(node) not in named:
            target = _given_name(node) or node.default_node_name()
            if not node.name and target in by_component:
                target = by_component[target]
            counts[target] = counts.get(target, 0) + 1
            suffix = "" if counts[target] == 1 else f"_{counts[target] - 1}"
            named[id(node)] = _sanitize(str(target)) + suffix
            if named[id(node)] in taken:
                # azure-ai-ml keeps only one of the two nodes here; refuse rather than drop one
                raise ValidationError(
                    f"pipeline {pipeline_name!r}: a {node_label(node)} would get the default name "
                    f"{named[id(node)]!r}, which another node already has; assign the node to a "
                    "variable or set its name", field=f"jobs.{named[id(node)]}")
            taken.add(named[id(node)])
        names.append(named[id(node)])
    return names


def _bind_outputs(pipeline_name: str, returned: Any, builder: PipelineBuilder) -> dict[str, Output]:
    """Turn the returned ``{"name": node.outputs.x}`` dict into pipeline outputs, binding each
    node output to ``${{parent.outputs.<name>}}``."""
    if returned is None:
        return {}
    if not isinstance(returned, Mapping):
        raise ValidationError(f"pipeline {pipeline_name!r} must return None or a dict of node "
                              f"outputs, not {type(returned).__name__}", field="outputs")
    outputs: dict[str, Output] = {}
    for key, value in returned.items():
        if not isinstance(value, NodeOutput) or not builder.owns(value._node):
            raise ValidationError(f"pipeline {pipeline_name!r}: output {key!r} must be an output "
                                  "of a node created in this pipeline", field=f"outputs.{key}")
        node, port = value._node, value._port
        config = node.outputs.get(port)
        if isinstance(config, str):
            raise ValidationError(f"pipeline {pipeline_name!r}: output {key!r}: {port!r} of node "
                                  f"{node.name!r} is already bound to {config}", field=f"outputs.{key}")
        spec = config.model_copy() if isinstance(config, Output) else Output()
        if not isinstance(config, Output) and value.type:
            spec.type = value.type
        outputs[key] = spec
        node.outputs[port] = f"${{{{parent.outputs.{key}}}}}"
    return outputs
