"""Load any kind by name: :func:`load_entity` for files, :func:`entity_from_dict` for dicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from openaml.entities import Entity
from openaml.errors import ValidationError

from ._core import Kind, SpecContext, build, load
from ._errors import suggest
from .component import COMPONENT
from .compute import COMPUTE
from .data import DATA
from .datastore import DATASTORE
from .environment import ENVIRONMENT
from .job import JOB
from .model import MODEL
from .workspace import WORKSPACE
from .yamlio import Source

KINDS: dict[str, Kind] = {k.name: k for k in (
    MODEL, DATA, ENVIRONMENT, COMPONENT, DATASTORE, COMPUTE, WORKSPACE, JOB)}


def _kind(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        raise ValidationError(f"Unknown kind '{name}'; expected one of {', '.join(KINDS)}."
                              + suggest(name, list(KINDS)), field="kind")
    return kind


def load_entity(kind: str, source: Source, *, relative_origin: str | None = None,
                params_override: Iterable[Mapping[str, Any]] | None = None,
                **kwargs: Any) -> Entity:
    """Load a YAML file of ``kind`` ("model", "data", "environment", "component", "datastore",
    "compute", "workspace" or "job"); relative paths resolve against the file's folder."""
    return load(_kind(kind), source, relative_origin=relative_origin,
                params_override=params_override)


def entity_from_dict(kind: str, data: Mapping[str, Any], *, base_path: str | Path | None = None,
                     source: str | None = None) -> Entity:
    """Build an entity of ``kind`` from a YAML-shaped dict.

    ``base_path`` resolves relative local paths (and reads conda files); with None, paths are
    kept as given. ``source`` names the origin in error messages. A ruamel ``CommentedMap`` keeps
    its line numbers in errors.
    """
    ctx = SpecContext(file=source, base_path=Path(base_path).absolute() if base_path else None,
                      root=data)
    return build(_kind(kind), data, ctx)
