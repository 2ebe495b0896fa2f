"""Nested pipelines become steps of their parent: ``outer`` with an inner step ``train``
becomes the step ``outer_train``, inner bindings are rewritten to the outer values, and
outer references to the nested node's outputs point at the inner step that produces them.
One flat graph means one orchestrator, reuse per step, and no agent waiting on another."""

from __future__ import annotations

from typing import Any

from openaml.errors import ValidationError

_SEP = "_"


def _binding(value: Any) -> str | None:
    from openaml.services.pipelines import binding_of
    return binding_of(value)


def _ref(step: str, output: str) -> str:
    return f"${{{{parent.jobs.{step}.outputs.{output}}}}}"


def flatten(jobs: dict[str, Any]) -> dict[str, Any]:
    """Every ``type: pipeline`` node replaced by its (recursively flattened) steps."""
    flat, redirects = _flatten(jobs)
    return {name: _redirect(node, redirects) for name, node in flat.items()}


def _flatten(jobs: dict[str, Any]) -> tuple[dict[str, Any], dict[tuple[str, str], tuple[str, str]]]:
    flat: dict[str, Any] = {}
    redirects: dict[tuple[str, str], tuple[str, str]] = {}
    for name, node in jobs.items():
        if getattr(node, "type", "command") != "pipeline":
            flat[name] = node
            continue
        component = node.component
        if isinstance(component, str) or component is None:
            raise ValidationError(f"step '{name}': nested pipeline component {component!r} must be a file or "
                                  "defined inline (registered pipeline components are not supported yet)",
                                  field=f"jobs.{name}.component")
        inner = flatten(component.jobs)
        rename = {s: f"{name}{_SEP}{s}" for s in inner}
        for inner_name, inner_node in inner.items():
            new_name = rename[inner_name]
            if new_name in jobs or new_name in flat:
                raise ValidationError(f"step '{new_name}' exists twice after expanding nested pipeline '{name}'; "
                                      "rename one of the steps", field=f"jobs.{name}")
            inputs = {k: _inner_input(v, node, component, rename) for k, v in (inner_node.inputs or {}).items()}
            outputs = {}
            for key, value in (inner_node.outputs or {}).items():
                bound = _binding(value) or ""
                if bound.startswith("outputs."):
                    port = bound.split(".")[1]
                    redirects[(name, port)] = (new_name, key)
                    outer = (node.outputs or {}).get(port)
                    outputs[key] = outer if (_binding(outer) or "").startswith("outputs.") else None
                else:
                    outputs[key] = value
            flat[new_name] = inner_node.model_copy(update={"inputs": inputs, "outputs": outputs, "name": new_name})
    return flat, redirects


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
