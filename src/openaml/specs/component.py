"""Command component specs (``commandComponent.schema.json``)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from openaml.entities import CommandComponent

from ._core import Kind, SpecContext, load
from .environment import prepare_environment
from .yamlio import Source


def prepare_component(data: dict[str, Any], ctx: SpecContext) -> None:
    """Resolve ``code``, ``additional_includes`` and an inline ``environment``'s paths."""
    data["code"] = ctx.local_path(data.get("code"), "code")
    if data["code"] is None:
        del data["code"]
    includes = data.get("additional_includes")
    if isinstance(includes, list):
        data["additional_includes"] = [ctx.local_path(p, "additional_includes", i, must_exist=False)
                                       for i, p in enumerate(includes)]
    if isinstance(data.get("environment"), dict):
        prepare_environment(data["environment"], ctx, ("environment",))


COMPONENT = Kind("component", {"command": CommandComponent}, default_type="command",
                 prepare=prepare_component)


def load_component(source: Source, *, relative_origin: str | None = None,
                   params_override: Iterable[Mapping[str, Any]] | None = None,
                   **kwargs: Any) -> CommandComponent:
    """Load a command component YAML file into a :class:`CommandComponent`."""
    return load(COMPONENT, source, relative_origin=relative_origin, params_override=params_override)
