"""Where the files of a model version MLflow registers come from: a run's artifacts.

MLflow clients register from ``runs:/<run_id>/<path>``, from the run's artifact URI
(``mlflow-artifacts:/<experiment>/<run_id>/artifacts/<path>``, or its ``http(s)://.../api/2.0/
mlflow-artifacts/artifacts/...`` form), or from an MLflow 3 logged model (``models:/<model_id>``,
whose files live in its run's artifacts). Each resolves to a folder (or file) under the run's
artifact root, joined by :func:`openaml.paths.safe_join`: no source leads outside a run.
``models:/<name>/<version>`` (a copy of a registered version) is the service's business.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from openaml.errors import NotFoundError, ValidationError
from openaml.paths import check_relative, safe_join
from openaml.store.tracking import TrackingStore

ArtifactRoot = Callable[[str], Path]

_RUNS = re.compile(r"runs:/(?P<run>[^/]+)/?(?P<path>.*)", re.DOTALL)
_LOGGED_MODEL = re.compile(r"models:/(?P<model>[^/@]+)/?", re.DOTALL)
_PROXY_ROUTE = "/api/2.0/mlflow-artifacts/artifacts/"
_ACCEPTED = ("runs:/<run_id>/<path>, models:/<model_id>, models:/<name>/<version>, or the "
             "mlflow-artifacts: URI of a run's artifacts")


@dataclass(frozen=True)
class RunFiles:
    """Files inside a run's artifacts: ``relative`` is the path under the run's root."""

    run_id: str
    relative: str
    local: Path
    model_id: str | None = None
    storage_location: str = ""


def invalid_source(source: str, why: str) -> ValidationError:
    return ValidationError(f"Invalid model version source: {source[:300]!r}. {why}", field="source")


def _relative(source: str, path: str) -> str:
    checked = check_relative(path.strip("/"), field="source", allow_empty=True)
    decoded = unquote(checked)
    if decoded != checked:  # MLflow refuses what only decoding shows (%2e%2e): so do we
        check_relative(decoded, field="source", allow_empty=True)
    return checked


def _artifacts_path(source: str) -> str | None:
    """The path under ``mlflow-artifacts:`` of a proxied-artifact source, or None."""
    parts = urlsplit(source)
    if parts.scheme == "mlflow-artifacts":
        return parts.path
    if parts.scheme in ("http", "https") and _PROXY_ROUTE in parts.path:
        return parts.path.split(_PROXY_ROUTE, 1)[1]
    return None


class SourceResolver:
    """Resolves MLflow sources to run files, with the tracking store and the runs' roots."""

    def __init__(self, tracking: TrackingStore, root_for_run: ArtifactRoot) -> None:
        self.tracking, self.root_for_run = tracking, root_for_run

    def resolve(self, source: str, run_id: str | None, model_id: str | None) -> RunFiles:
        """The run files *source* names; the request's *run_id* / *model_id*, when given, must
        name the run or logged model that holds them (as MLflow checks)."""
        if any(ord(c) < 32 for c in source):
            raise invalid_source(source, "It holds control characters.")
        found = _RUNS.fullmatch(source)
        if found:
            files = self._in_run(source, found["run"], _relative(source, found["path"]))
        elif _LOGGED_MODEL.fullmatch(source):
            files = self._logged_model(source, _LOGGED_MODEL.fullmatch(source)["model"])
        else:
            path = _artifacts_path(source)
            if path is None:
                raise invalid_source(source, f"openaml registers model versions from {_ACCEPTED}.")
            parts = _relative(source, path).split("/")
            if len(parts) < 3 or parts[2] != "artifacts":
                raise invalid_source(source, "It is not inside a run's artifacts "
                                             "(mlflow-artifacts:/<experiment>/<run_id>/artifacts/...).")
            files = self._in_run(source, parts[1], "/".join(parts[3:]))
        if run_id and run_id != files.run_id:
            raise invalid_source(source, "The run_id request parameter must identify the resource that "
                                         "contains the source.")
        if model_id and files.model_id and model_id != files.model_id:
            raise invalid_source(source, "The model_id request parameter must identify the resource that "
                                         "contains the source.")
        if model_id and not files.model_id:
            self._logged_model_record(source, model_id)
            return RunFiles(files.run_id, files.relative, files.local, model_id, files.storage_location)
        return files

    def _in_run(self, source: str, run_id: str, relative: str) -> RunFiles:
        try:
            run = self.tracking.get_run(run_id)
        except NotFoundError:
            raise invalid_source(source, f"There is no run {run_id!r} in this workspace.") from None
        local = safe_join(self.root_for_run(run_id), relative, field="source")
        if not local.exists():
            raise invalid_source(source, f"Run {run_id} has no artifact at {relative or '.'!r}.")
        location = f"{run.artifact_uri.rstrip('/')}/{relative}" if relative else run.artifact_uri
        return RunFiles(run_id, relative, local, storage_location=location)

    def _logged_model_record(self, source: str, model_id: str):
        try:
            return self.tracking.get_logged_model(model_id)
        except NotFoundError:
            raise invalid_source(source, f"There is no logged model {model_id!r} in this workspace.") from None

    def _logged_model(self, source: str, model_id: str) -> RunFiles:
        model = self._logged_model_record(source, model_id)
        if not model.source_run_id:
            raise invalid_source(source, "The logged model has no run; openaml registers logged models that "
                                         "were logged inside a run.")
        run = self.tracking.get_run(model.source_run_id)
        prefix = run.artifact_uri.rstrip("/") + "/"
        if not model.artifact_location.startswith(prefix):
            raise invalid_source(source, "The logged model's files are not inside its run's artifacts.")
        files = self._in_run(source, run.run_id, _relative(source, model.artifact_location[len(prefix):]))
        return RunFiles(files.run_id, files.relative, files.local, model_id, model.artifact_location)
