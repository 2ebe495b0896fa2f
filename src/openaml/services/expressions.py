"""Expanding ``${{inputs.x}}``, ``${{outputs.y}}`` and ``$[[ ... ]]`` in a job's command.

A ``$[[ ... ]]`` block is dropped whole when an input it uses has no value; otherwise only its
markers go. Every remaining ``${{...}}`` must have a value, else the job fails with a message
naming the binding.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from openaml.errors import ValidationError

_BINDING = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_BLOCK = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)


def render_value(value: Any) -> str:
    """How a literal appears in a command: numbers as written, booleans as Python spells them."""
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)


def expand_command(command: str, values: Mapping[str, Any]) -> str:
    """Substitute ``values`` (keys like ``inputs.lr``; ``None`` = unset) into ``command``."""

    def block(match: re.Match[str]) -> str:
        body = match.group(1)
        used = [m.group(1) for m in _BINDING.finditer(body)]
        return "" if any(values.get(name) is None for name in used) else body

    text = _BLOCK.sub(block, command)

    def binding(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ValidationError(f"Invalid data binding expression: {name}", field="command")
        if values[name] is None:
            raise ValidationError(
                f"'{name}' has no value; give it a value or put it inside a $[[...]] block "
                "so it drops out when unset", field="command")
        return render_value(values[name])

    return _BINDING.sub(binding, text)
