"""Environment specs (``environment.schema.json``): conda files read, build context resolved."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from openaml.entities import Environment

from ._core import Kind, SpecContext, is_uri, load
from .yamlio import Source, read_yaml_file


def prepare_environment(data: dict[str, Any], ctx: SpecContext, prefix: tuple[str, ...] = ()) -> None:
    """Read a local ``conda_file`` into a dict and resolve ``build.path`` (under ``prefix``)."""
    conda = data.get("conda_file")
    if isinstance(conda, str) and not is_uri(conda) and ctx.base_path is not None:
        data["conda_file"] = read_yaml_file(Path(ctx.local_path(conda, *prefix, "conda_file")))
    build = data.get("build")
    if isinstance(build, dict) and isinstance(build.get("path"), str):
        build["path"] = ctx.local_path(build["path"], *prefix, "build", "path")


def _prepare(data: dict[str, Any], ctx: SpecContext) -> None:
    prepare_environment(data, ctx)


ENVIRONMENT = Kind("environment", {"environment": Environment}, default_type="environment",
                   prepare=_prepare)


def load_environment(source: Source, *, relative_origin: str | None = None,
                     params_override: Iterable[Mapping[str, Any]] | None = None,
                     **kwargs: Any) -> Environment:
    """Load an environment YAML file into an :class:`Environment`."""
    return load(ENVIRONMENT, source, relative_origin=relative_origin, params_override=params_override)
