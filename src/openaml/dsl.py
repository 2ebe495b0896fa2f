"""``@dsl.pipeline``: build a :class:`~openaml.entities.pipeline.PipelineJob` from a Python function.

As in azure-ai-ml::

    @dsl.pipeline(compute="cpu-cluster", default_datastore="workspaceblobstore")
    def pipe(data: Input, lr: float = 0.1):
        t = train(training_data=data, learning_rate=lr)   # a Command node
        return {"model": t.outputs.model_output}

    job = pipe(data=Input(path="azureml:mydata@latest"))

The function runs once per call, with each parameter replaced by a placeholder; nodes created
while it runs become the pipeline's ``jobs`` (named after their component, de-duplicated
``train``, ``train_1``... unless ``node.name`` is set), placeholders passed to nodes become
``${{parent.inputs.<param>}}``, node outputs passed on become ``${{parent.jobs.<step>.outputs.<o>}}``,
and a returned dict becomes the pipeline's outputs. Called inside another pipeline function it
makes a ``pipeline`` node whose component is a :class:`PipelineComponent`.
"""

from __future__ import annotations

import functools
import inspect
from difflib import get_close_matches
from typing import Any, Callable, Mapping

from openaml.entities.inputs_outputs import Input, Output
from openaml.entities.nodes import (NodeOutput, PipelineBuilder, PipelineInput, current_builder,
                                    pop_builder, push_builder)
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

    def _build(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Output]]:
        builder = PipelineBuilder(self.name)
        placeholders = {n: v if n in self.raw else PipelineInput(n, v) for n, v in values.items()}
        token = push_builder(builder)
        try:
            returned = self.fn(**placeholders)
            jobs = builder.finish()
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
