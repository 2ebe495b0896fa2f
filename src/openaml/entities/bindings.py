"""Step settings that may bind a pipeline input, as Azure's node schemas allow.

In a pipeline step every setting except ``type``, ``component``, ``trial`` and ``inputs`` may be
a ``${{parent.inputs.<name>}}`` expression (``compute: ${{parent.inputs.compute_name}}``,
``resources.instance_count``, ``limits.timeout``, ``distribution.process_count_per_instance``,
``environment_variables`` values...). String fields take such text anywhere in them
(``gpu-${{parent.inputs.size}}``); numeric fields are either a number or exactly one
expression. :func:`bindable_int` types a numeric field so that it accepts both; the pipeline
service replaces the expressions with the pipeline's values at submission, and a job that is
not a pipeline step is refused if one is left.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import PlainValidator

from .nodes import looks_like_binding, to_port_value

INPUT_BINDING = re.compile(r"\$\{\{\s*parent\.inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
"""One ``${{parent.inputs.<name>}}`` expression (group 1: the input's name)."""


def input_binding_name(value: Any) -> str | None:
    """The input's name when ``value`` is exactly one ``${{parent.inputs.<name>}}``; else None."""
    if not isinstance(value, str):
        return None
    match = INPUT_BINDING.fullmatch(value.strip())
    return match.group(1) if match else None


def _int_checker(gt: int | None, ge: int | None):
    def check(value: Any) -> Any:
        value = to_port_value(value)  # a @dsl.pipeline parameter becomes its binding
        if value is None:
            return None
        if isinstance(value, str):
            if input_binding_name(value):
                return value.strip()
            if looks_like_binding(value):
                raise ValueError(f"invalid binding {value!r}; a setting binds ${{{{parent.inputs.<name>}}}}")
            try:
                value = int(value.strip())
            except ValueError:
                raise ValueError(f"{value!r} is not an integer (nor a ${{{{parent.inputs.<name>}}}} binding)") from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r} is not an integer (nor a ${{{{parent.inputs.<name>}}}} binding)")
        if gt is not None and value <= gt:
            raise ValueError(f"must be greater than {gt}, got {value}")
        if ge is not None and value < ge:
            raise ValueError(f"must be at least {ge}, got {value}")
        return value
    return check


def bindable_int(*, gt: int | None = None, ge: int | None = None) -> Any:
    """An optional integer field that may instead hold one ``${{parent.inputs.<name>}}``."""
    return Annotated[int | str | None, PlainValidator(_int_checker(gt, ge))]


BindableInt = bindable_int()
"""An optional integer, or one ``${{parent.inputs.<name>}}`` expression."""
PositiveBindableInt = bindable_int(gt=0)
"""An optional integer above 0, or one ``${{parent.inputs.<name>}}`` expression."""


def bindable_text(value: Any) -> Any:
    """Before-validator of a text setting: a ``@dsl.pipeline`` parameter becomes its binding."""
    return to_port_value(value)
