"""``${{parent.inputs.<name>}}`` in a pipeline step's settings, replaced by the pipeline's values.

Azure lets every setting of a step except ``type``, ``component``, ``trial`` and ``inputs`` bind
a pipeline input: ``compute: ${{parent.inputs.compute_name}}``, ``resources.instance_count``,
``limits.timeout``, ``distribution.process_count_per_instance``, ``environment_variables``
values, a parallel step's ``mini_batch_size``... :func:`bind_settings` replaces them, once per
level: a nested pipeline's steps get the values (or the outer bindings) their pipeline node was
given, and the top level gets the pipeline job's literal values at submission. A setting that
names an input with no value is dropped (the component's own setting, or the default, applies).
:func:`unbound_settings` finds any left in a job that is not a pipeline step.
"""

from __future__ import annotations

from typing import Any, Callable

import pydantic
from pydantic import BaseModel

from openaml.entities._base import error_message, loc_to_path
from openaml.entities.bindings import INPUT_BINDING, input_binding_name
from openaml.errors import ValidationError

Lookup = Callable[[str, str], Any]
"""``lookup(input name, field path)``: the value a binding stands for (None: no value); raises
:class:`ValidationError` naming the field when there is no such input or it is data."""

_NOT_SETTINGS = frozenset({"type", "name", "component", "trial", "inputs", "outputs", "jobs"})
_JOB_SETTINGS = ("compute", "resources", "distribution", "environment_variables", "limits")


def _dumped(value: Any) -> Any:
    return value.model_dump(mode="json", exclude_none=True) if isinstance(value, BaseModel) else value


def mentions_binding(value: Any) -> bool:
    """Whether a (dumped) setting holds a ``${{parent.`` expression anywhere."""
    if isinstance(value, str):
        return "${{" in value and "parent." in value
    if isinstance(value, dict):
        return any(mentions_binding(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(mentions_binding(v) for v in value)
    return False


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def substitute(value: Any, lookup: Lookup, field: str) -> Any:
    """``value`` (a dumped setting) with its ``${{parent.inputs.x}}`` expressions replaced: a
    whole expression by the value itself (so a number stays a number), one inside text by its text."""
    if isinstance(value, str):
        name = input_binding_name(value)
        if name is not None:
            return lookup(name, field)

        def text(match: Any) -> str:
            found = lookup(match.group(1), field)
            if found is None:
                raise ValidationError(f"{field}: {match.group(0)} has no value to put into {value!r}",
                                      field=field)
            return _text(found)

        return INPUT_BINDING.sub(text, value)
    if isinstance(value, dict):
        out = {k: substitute(v, lookup, f"{field}.{k}") for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None}
    if isinstance(value, list):
        return [substitute(v, lookup, f"{field}.{i}") for i, v in enumerate(value)]
    return value


def bind_settings(node: Any, lookup: Lookup, step: str) -> Any:
    """``node`` with the bindings in its settings replaced (the same node when it has none);
    a value that does not fit its setting raises, naming ``jobs.<step>.<setting>``."""
    updates = {}
    for field in type(node).model_fields:
        if field in _NOT_SETTINGS:
            continue
        raw = _dumped(getattr(node, field, None))
        if mentions_binding(raw):
            updates[field] = substitute(raw, lookup, f"jobs.{step}.{field}")
    if not updates:
        return node
    data = {k: getattr(node, k) for k in node.model_fields_set}
    data.update(updates)
    try:
        return type(node).model_validate(data)
    except pydantic.ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = loc_to_path(error["loc"])
        raise ValidationError(f"step '{step}': {where}: {error_message(error)} (after putting in the "
                              "pipeline's values for ${{parent.inputs...}})", field=f"jobs.{step}.{where}") from None


def unbound_settings(job: Any) -> None:
    """Refuse a job (not a pipeline step) whose settings still bind a pipeline input."""
    for field in _JOB_SETTINGS:
        raw = _dumped(getattr(job, field, None))
        if mentions_binding(raw):
            raise ValidationError(f"'{field}' binds a pipeline input ({_first(raw)}), but this job is not a "
                                  "step of a pipeline; give the value itself", field=field)


def _first(value: Any) -> str:
    if isinstance(value, str):
        return value
    items = value.values() if isinstance(value, dict) else value
    return next(_first(v) for v in items if mentions_binding(v))


def pipeline_lookup(inputs: dict[str, dict[str, Any]]) -> Lookup:
    """The lookup of a pipeline job's own (resolved) inputs."""
    def lookup(name: str, field: str) -> Any:
        if name not in inputs:
            raise ValidationError(f"{field} binds ${{{{parent.inputs.{name}}}}}, but the pipeline has no input "
                                  f"'{name}' (it has: {', '.join(inputs) or 'none'})", field=field)
        resolved = inputs[name]
        if resolved["kind"] == "literal":
            return resolved["value"]
        if resolved["kind"] == "unset":
            return None
        raise ValidationError(f"{field} binds input '{name}', which is data ({resolved.get('type')}); a setting "
                              "takes a value such as a name or a number", field=field)
    return lookup
