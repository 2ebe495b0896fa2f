"""Datastore specs (``azureBlob``/``azureFile``/``azureDataLakeGen1``/``azureDataLakeGen2``, ``local``)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from openaml.entities import Datastore
from openaml.entities.datastore import DATASTORE_CLASSES

from ._core import Kind, SpecContext, load
from .yamlio import Source


def prepare_datastore(data: dict[str, Any], ctx: SpecContext) -> None:
    """Resolve a local datastore's ``path`` (the folder may not exist yet)."""
    if data.get("type") == "local":
        data["path"] = ctx.local_path(data.get("path"), "path", must_exist=False)
        if data["path"] is None:
            del data["path"]


DATASTORE = Kind("datastore", DATASTORE_CLASSES, prepare=prepare_datastore)


def load_datastore(source: Source, *, relative_origin: str | None = None,
                   params_override: Iterable[Mapping[str, Any]] | None = None,
                   **kwargs: Any) -> Datastore:
    """Load a datastore YAML file; ``type`` picks the class."""
    return load(DATASTORE, source, relative_origin=relative_origin, params_override=params_override)
