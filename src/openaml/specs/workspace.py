"""Workspace specs (``workspace.schema.json``)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from openaml.entities import Workspace

from ._core import Kind, load
from .yamlio import Source

WORKSPACE = Kind("workspace", {"workspace": Workspace}, default_type="workspace",
                 string_maps=("tags",))


def load_workspace(source: Source, *, relative_origin: str | None = None,
                   params_override: Iterable[Mapping[str, Any]] | None = None,
                   **kwargs: Any) -> Workspace:
    """Load a workspace YAML file into a :class:`Workspace`."""
    return load(WORKSPACE, source, relative_origin=relative_origin, params_override=params_override)
