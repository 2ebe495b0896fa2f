"""Job specs (``commandJob.schema.json``): ``type`` dispatch and the job's relative paths.

``type`` defaults to ``command``; ``sweep`` and ``pipeline`` (:mod:`openaml.specs.pipeline`) load
their own classes; other Azure job types are refused as unsupported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from openaml.entities import Command, CommandJob, Entity
from openaml.entities.job import READ_ONLY_FIELDS
from openaml.entities.nodes import stored_component
from openaml.entities.sweep import SweepJob

from ._core import Kind, SpecContext, is_uri, load
from ._errors import suggest
from .environment import prepare_environment
from .mltable import validate_mltable_folder
from .pipeline import PipelineJob, check_pipeline, prepare_pipeline_job
from .sweep import check_sweep, prepare_trial
from .yamlio import Source

PLANNED_TYPES: tuple[str, ...] = ()
"""Job types that openaml will load later; refused with "not supported yet"."""
OTHER_AZURE_TYPES = ("spark", "parallel", "import", "data_transfer", "automl", "finetuning",
                     "distillation")
"""Azure job types openaml does not run."""
_SERVICE_KEYS = (*READ_ONLY_FIELDS, "parameters")  # "parameters" is dump-only in Azure


@dataclass(frozen=True)
class JobKind(Kind):
    """The ``job`` kind: refuses pipeline/sweep (and other Azure types) by name."""

    def entity_class(self, data: dict[str, Any], ctx: SpecContext) -> type[Entity]:
        """The class ``type`` selects; planned and foreign Azure job types get a clear error."""
        value = str(data.get("type", self.default_type)).lower()
        if value in PLANNED_TYPES:
            raise ctx.fail(f"type '{value}' jobs are not supported yet; openaml runs 'command' "
                           "jobs today.", "type")
        if value in OTHER_AZURE_TYPES:
            raise ctx.fail(f"type '{value}' jobs are not supported by openaml; it runs 'command' "
                           "jobs.", "type")
        if value not in self.classes:
            hint = suggest(value, [*self.classes, *PLANNED_TYPES])
            raise ctx.fail(f"Unknown job type '{data.get('type')}'; expected one of {', '.join(self.classes)}.{hint}", "type")
        data["type"] = value
        return self.classes[value]


def prepare_job(data: dict[str, Any], ctx: SpecContext) -> None:
    """Drop service-filled keys; resolve ``code``, ``component``, local input/output paths and an
    inline ``environment`` against the YAML's folder."""
    if data.get("type") == "pipeline":
        prepare_pipeline_job(data, ctx)
        return
    for key in _SERVICE_KEYS:
        data.pop(key, None)
    if data.get("code") is not None:
        data["code"] = ctx.local_path(data["code"], "code")
    if isinstance(data.get("component"), str):
        data["component"] = _component_path(data["component"], ctx)
    for name, value in _mapping(data.get("inputs")).items():
        if isinstance(value, dict):
            _prepare_input(value, ctx, name)
    for name, value in _mapping(data.get("outputs")).items():
        if isinstance(value, dict) and isinstance(value.get("path"), str):
            value["path"] = ctx.local_path(value["path"], "outputs", name, "path", must_exist=False)
    if isinstance(data.get("environment"), dict):
        prepare_environment(data["environment"], ctx, ("environment",))
    if data.get("type") == "sweep":
        prepare_trial(data, ctx)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _component_path(value: str, ctx: SpecContext) -> str:
    """``file:./c.yml`` or ``./c.yml`` becomes an absolute path; ``azureml:`` refs stay."""
    path = value.removeprefix("file:")
    if path != value or not is_uri(path):
        return ctx.local_path(path, "component")
    return value


def _prepare_input(value: dict[str, Any], ctx: SpecContext, name: str) -> None:
    path = value.get("path")
    if not isinstance(path, str):
        return
    value["path"] = ctx.local_path(path, "inputs", name, "path")
    if value.get("type") == "mltable" and not is_uri(path) and ctx.base_path is not None:
        validate_mltable_folder(Path(value["path"]))


def check_job(job: Entity, ctx: SpecContext) -> None:
    """As Azure's schema: a job with a ``command`` needs an ``environment``."""
    if isinstance(job, CommandJob) and stored_component(job) is None and job.environment is None:
        raise ctx.fail("Missing required field: a command job needs an environment "
                       "(e.g. azureml:<name>@latest or an inline image).", "environment")
    if isinstance(job, SweepJob):
        check_sweep(job, ctx)
    if isinstance(job, PipelineJob):
        check_pipeline(job, ctx)


JOB = JobKind("job", {"command": Command, "sweep": SweepJob, "pipeline": PipelineJob}, default_type="command", prepare=prepare_job,
              check=check_job, string_maps=("tags", "properties", "environment_variables"))


def load_job(source: Source, *, relative_origin: str | None = None,
             params_override: Iterable[Mapping[str, Any]] | None = None,
             **kwargs: Any) -> CommandJob:
    """Load a job YAML file; ``type`` decides the class (``command``, the default, gives a
    :class:`Command`). Relative paths resolve against the file's folder (or ``relative_origin``)."""
    return load(JOB, source, relative_origin=relative_origin, params_override=params_override)
