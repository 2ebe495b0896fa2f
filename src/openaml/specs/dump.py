"""Entities back to YAML, in Azure's shape: None dropped, well-known keys first."""

from __future__ import annotations

from typing import Any

from openaml.entities import Entity

from .yamlio import dump_text

_FIRST = ("$schema", "name", "version", "type", "display_name", "description", "tags")


def to_yaml_dict(entity: Entity) -> dict[str, Any]:
    """The YAML-shaped dict of ``entity`` (None fields dropped; input defaults stay typed)."""
    data = entity._to_dict()
    ordered = {k: data[k] for k in _FIRST if k in data}
    ordered.update((k, v) for k, v in data.items() if k not in ordered)
    return ordered


def dump_yaml(entity: Entity) -> str:
    """YAML text of ``entity``; loading it back gives an equal entity."""
    return dump_text(to_yaml_dict(entity))
