"""Nested pipelines become steps of their parent: ``outer`` with an inner step ``train``
becomes the step ``outer_train``, inner bindings are rewritten to the outer values, and
outer references to the nested node's outputs point at the inner step that produces them.
One flat graph means one orchestrator, reuse per step, and no agent waiting on another.

Bindings in the inner steps' settings (``compute: ${{parent.inputs.train_compute}}``) get the
node's values too; inner steps without a compute take the node's. An inner step output bound to
the component's output takes that port's type and mode, and the node's own settings for it.
Inputs given to the node that the component does not declare are ignored with one warning line
(Azure accepts them too)."""

from __future__ import annotations

from typing import Any, Callable

from openaml.entities import Input, Output
from openaml.errors import ValidationError
from openaml.services.pipeline_settings import bind_settings

_SEP = "_"
_OUTPUT_FIELDS = ("type", "mode", "path", "name", "version", "description")

Resolve = Callable[[str, str], Any]
"""``resolve(reference, step)``: the pipeline component a ``type: pipeline`` step names."""


def _binding(value: Any) -> str | None:
    from openaml.services.pipelines import binding_of
    return binding_of(value)


def _ref(step: str, output: str) -> str:
    return f"${{{{parent.jobs.{step}.outputs.{output}}}}}"


def flatten(jobs: dict[str, Any], resolve: Resolve | None = None,
            warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every ``type: pipeline`` node replaced by its (recursively flattened) steps; ``resolve``
    loads components given by reference, ``warn`` receives warning lines."""
    flat, redirects = _flatten(jobs, resolve, warn or (lambda _: None))
    return {name: _redirect(node, redirects) for name, node in flat.items()}


def _component(name: str, node: Any, resolve: Resolve | None) -> Any:
    component = node.component
    if isinstance(component, str) and resolve is not None:
        component = resolve(component, name)
    if getattr(component, "type", None) != "pipeline" or not hasattr(component, "jobs"):
        raise ValidationError(f"step '{name}' is a pipeline step, but its component {node.component!r} is not "
                              "a pipeline component", field=f"jobs.{name}.component")
    return component


def _flatten(jobs: dict[str, Any], resolve: Resolve | None, warn: Callable[[str], None]
             ) -> tuple[dict[str, Any], dict[tuple[str, str], tuple[str, str]]]:
    flat: dict[str, Any] = {}
    redirects: dict[tuple[str, str], tuple[str, str]] = {}
    for name, node in jobs.items():
        if getattr(node, "type", "command") != "pipeline":
            flat[name] = node
            continue
        component = _component(name, node, resolve)
        undeclared = [k for k in (node.inputs or {}) if k not in (component.inputs or {})]
        if undeclared:
            warn(f"step '{name}': pipeline component '{component.name}' declares no input "
                 f"{', '.join(repr(k) for k in undeclared)}; ignored (declared: "
                 f"{', '.join(component.inputs or {}) or 'none'})")
        inner = flatten(component.jobs, resolve, warn)
        rename = {s: f"{name}{_SEP}{s}" for s in inner}
        lookup = _node_lookup(name, node, component)
        default_compute = node.compute or (node.settings.default_compute if node.settings else None)
        for inner_name, inner_node in inner.items():
            new_name = rename[inner_name]
            if new_name in jobs or new_name in flat:
                raise ValidationError(f"step '{new_name}' exists twice after expanding nested pipeline '{name}'; "
                                      "rename one of the steps", field=f"jobs.{name}")
            inner_node = bind_settings(inner_node, lookup, new_name)
            inputs = {k: _inner_input(v, node, component, rename) for k, v in (inner_node.inputs or {}).items()}
            outputs = {}
            for key, value in (inner_node.outputs or {}).items():
                bound = _binding(value) or ""
                if bound.startswith("outputs."):
                    port = bound.split(".")[1]
                    redirects[(name, port)] = (new_name, key)
                    outputs[key] = _inner_output(value, (component.outputs or {}).get(port),
                                                 (node.outputs or {}).get(port))
                else:
                    outputs[key] = value
            update = {"inputs": inputs, "outputs": outputs, "name": new_name}
            if default_compute and hasattr(inner_node, "compute") and not inner_node.compute:
                update["compute"] = default_compute
            flat[new_name] = inner_node.model_copy(update=update)
    return flat, redirects


def _config(value: Any) -> dict[str, Any]:
    """The output settings (type, mode, path...) an :class:`Output` was given, without bindings
    (a ``type`` left to its default does not override a component's)."""
    if not isinstance(value, Output):
        return {}
    data = {k: getattr(value, k) for k in _OUTPUT_FIELDS
            if k in value.model_fields_set and getattr(value, k, None) is not None}
    if _binding(data.get("path")):
        del data["path"]
    return data


def _inner_output(value: Any, declared: Any, outer: Any) -> Output | None:
    """An inner step's output that the component exposes as a port: the port's settings over
    what the inner step had, the node's over both; still bound when the node binds it on."""
    config = {**_config(value), **_config(declared), **_config(outer)}
    outer_binding = _binding(outer) or ""
    if outer_binding.startswith("outputs."):
        return Output(**{**config, "path": f"${{{{parent.{outer_binding}}}}}"})
    return Output(**config) if config else None


def _node_lookup(name: str, node: Any, component: Any) -> Callable[[str, str], Any]:
    """What ``${{parent.inputs.x}}`` in an inner step's settings stands for: the node's value
    for ``x`` (a literal, or its own binding to an outer input), else the declared default."""
    def lookup(port: str, field: str) -> Any:
        declared = (component.inputs or {}).get(port)
        if declared is None:
            raise ValidationError(f"{field} binds ${{{{parent.inputs.{port}}}}}, but pipeline component "
                                  f"'{component.name}' (step '{name}') has no input '{port}'", field=field)
        value = (node.inputs or {}).get(port)
        if isinstance(value, Input):
            if value.type not in (None, "string", "integer", "number", "boolean") or value.path:
                raise ValidationError(f"{field} binds input '{port}', which is data; a setting takes a "
                                      "value such as a name or a number", field=field)
            value = value.default
        if value is None:
            return declared.default
        return value
    return lookup


def _inner_input(value: Any, node: Any, component: Any, rename: dict[str, str]) -> Any:
    bound = _binding(value) or ""
    if bound.startswith("inputs."):
        port = bound.split(".")[1]
        if port in (node.inputs or {}):
            return node.inputs[port]
        declared = (component.inputs or {}).get(port)
        if declared is not None and declared.default is not None:
            return declared.default
        return declared.model_copy() if declared is not None else value
    if bound.startswith("jobs."):
        _, step, _, output = bound.split(".")
        return _ref(rename.get(step, step), output)
    return value


def _redirect(node: Any, redirects: dict[tuple[str, str], tuple[str, str]]) -> Any:
    changed = {}
    for key, value in (node.inputs or {}).items():
        bound = _binding(value) or ""
        if bound.startswith("jobs."):
            _, step, _, output = bound.split(".")
            if (step, output) in redirects:
                changed[key] = _ref(*redirects[(step, output)])
    if not changed:
        return node
    return node.model_copy(update={"inputs": {**node.inputs, **changed}})
