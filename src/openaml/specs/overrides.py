"""Overrides: azure-style ``params_override=[{"a.b": v}]`` and CLI ``--set a.b=v`` strings."""

from __future__ import annotations

import copy
from typing import Any, Iterable, Mapping

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from openaml.errors import ValidationError

_SCALARS = (type(None), bool, int, float, str)


def parse_set_value(text: str) -> Any:
    """Parse a ``--set`` value as a YAML scalar (``3`` -> 3, ``true`` -> True, ``x: y`` -> "x: y").

    Flow collections (``[a, b]``, ``{k: v}``) are parsed too; anything else stays a string.
    """
    if text == "":
        return ""
    try:
        value = YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        return text
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (list, dict)) and text.lstrip()[:1] in "[{":
        return value
    return text


def parse_set_args(values: Iterable[str]) -> list[dict[str, Any]]:
    """Turn CLI ``--set a.b=value`` strings into ``params_override`` form: ``[{"a.b": value}]``."""
    result = []
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--set expects key=value (e.g. tags.stage=prod), got {item!r}",
                                  field=key.strip() or None)
        result.append({key.strip(): parse_set_value(raw)})
    return result


def apply_overrides(data: Mapping[str, Any],
                    overrides: Iterable[Mapping[str, Any]] | None) -> dict[str, Any]:
    """Return a deep copy of ``data`` with each dotted-key override set, in order.

    Missing intermediate mappings are created; a numeric part indexes into a list.
    """
    result = copy.deepcopy(dict(data))
    for override in overrides or ():
        for dotted, value in override.items():
            _set_path(result, str(dotted).split("."), copy.deepcopy(value), str(dotted))
    return result


def _set_path(node: Any, parts: list[str], value: Any, dotted: str) -> None:
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            index = _index(node, part, dotted)
            if last:
                node[index] = value
                return
            node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
                return
            if not isinstance(node.get(part), (dict, list)):
                node[part] = {}
            node = node[part]
        else:
            raise ValidationError(f"Cannot override {dotted!r}: {'.'.join(parts[:i])!r} is not a "
                                  "mapping", field=dotted)


def _index(node: list[Any], part: str, dotted: str) -> int:
    if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
        raise ValidationError(f"Cannot override {dotted!r}: {part!r} is not an index of the list",
                              field=dotted)
    return int(part)
