"""Data specs (``data.schema.json``): local ``path`` resolution and MLTable checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from openaml.entities import Data

from ._core import Kind, SpecContext, is_uri, load
from .mltable import validate_mltable_folder
from .yamlio import Source


def prepare_data(data: dict[str, Any], ctx: SpecContext) -> None:
    """Resolve a local ``path``; check the MLTable file of a local ``mltable`` folder."""
    if data.get("path") is None:
        data.pop("path", None)
        return
    data["path"] = ctx.local_path(data["path"], "path")
    path = data["path"]
    if data.get("type") == "mltable" and isinstance(path, str) and not is_uri(path) \
            and ctx.base_path is not None:
        validate_mltable_folder(Path(path))


DATA = Kind("data", {"data": Data}, default_type="uri_folder", prepare=prepare_data)


def load_data(source: Source, *, relative_origin: str | None = None,
              params_override: Iterable[Mapping[str, Any]] | None = None, **kwargs: Any) -> Data:
    """Load a data YAML file (``$schema: .../data.schema.json``) into a :class:`Data`."""
    return load(DATA, source, relative_origin=relative_origin, params_override=params_override)
