"""Component specs: ``commandComponent.schema.json`` and, on ``type: parallel``, the parallel
component (:mod:`openaml.specs.parallel`)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from openaml.entities import CommandComponent, ParallelComponent, PipelineComponent

from ._core import Kind, SpecContext, load
from .environment import prepare_environment
from .parallel import prepare_parallel
from .yamlio import Source


def prepare_component(data: dict[str, Any], ctx: SpecContext) -> None:
    """Resolve ``code``, ``additional_includes`` and an inline ``environment``'s paths."""
    if data.get("type") == "parallel":
        prepare_parallel(data, ctx)
        return
    if data.get("type") == "pipeline":
        from .pipeline import prepare_pipeline_component  # it loads component files with this kind

        prepare_pipeline_component(data, ctx)
        return
    data["code"] = ctx.local_path(data.get("code"), "code")
    if data["code"] is None:
        del data["code"]
    includes = data.get("additional_includes")
    if isinstance(includes, list):
        data["additional_includes"] = [ctx.local_path(p, "additional_includes", i, must_exist=False)
                                       for i, p in enumerate(includes)]
    if isinstance(data.get("environment"), dict):
        prepare_environment(data["environment"], ctx, ("environment",))


COMPONENT = Kind("component", {"command": CommandComponent, "parallel": ParallelComponent,
                                  "pipeline": PipelineComponent},
                 default_type="command", prepare=prepare_component)


def load_component(source: Source, *, relative_origin: str | None = None,
                   params_override: Iterable[Mapping[str, Any]] | None = None,
                   **kwargs: Any) -> CommandComponent | ParallelComponent:
    """Load a component YAML file: ``type`` ``command`` (the default) gives a
    :class:`CommandComponent`, ``parallel`` a :class:`ParallelComponent`."""
    return load(COMPONENT, source, relative_origin=relative_origin, params_override=params_override)
