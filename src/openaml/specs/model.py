"""Model specs (``model.schema.json``): local ``path`` resolution and MLflow flavors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from openaml.entities import Model

from ._core import Kind, SpecContext, is_uri, load
from .mlmodel import read_mlmodel_flavors
from .yamlio import Source


def prepare_model(data: dict[str, Any], ctx: SpecContext) -> None:
    """Resolve a local ``path``; fill ``flavors`` of a local ``mlflow_model`` from its MLmodel."""
    data["path"] = ctx.local_path(data.get("path"), "path")
    path = data.get("path")
    local = isinstance(path, str) and not is_uri(path) and ctx.base_path is not None
    if data.get("type") == "mlflow_model" and local and not data.get("flavors"):
        data["flavors"] = read_mlmodel_flavors(Path(path))
    if data["path"] is None:
        del data["path"]


MODEL = Kind("model", {"model": Model}, default_type="custom_model", prepare=prepare_model)


def load_model(source: Source, *, relative_origin: str | None = None,
               params_override: Iterable[Mapping[str, Any]] | None = None, **kwargs: Any) -> Model:
    """Load a model YAML file (``$schema: .../model.schema.json``) into a :class:`Model`."""
    return load(MODEL, source, relative_origin=relative_origin, params_override=params_override)
