"""The route table: MLflow REST paths (under every prefix MLflow clients use) to handlers.

Paths are matched after stripping one of :data:`API_PREFIXES`; fixed paths are one dict lookup,
paths with ids (logged models, artifacts) go through a short list of patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from openaml.tracking.handlers import artifacts, experiments, logged_models, meta, metrics, runs

Handler = Callable[..., Any]

API_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow", "/api/3.0/mlflow", "/ajax-api/3.0/mlflow")
ARTIFACTS_PREFIXES = ("/api/2.0/mlflow-artifacts/artifacts", "/ajax-api/2.0/mlflow-artifacts/artifacts")

FIXED: dict[tuple[str, str], Handler] = {
    ("POST", "/experiments/create"): experiments.create,
    ("GET", "/experiments/get"): experiments.get,
    ("GET", "/experiments/get-by-name"): experiments.get_by_name,
    ("POST", "/experiments/search"): experiments.search,
    ("GET", "/experiments/search"): experiments.search,
    ("POST", "/experiments/update"): experiments.update,
    ("POST", "/experiments/delete"): experiments.delete,
    ("POST", "/experiments/restore"): experiments.restore,
    ("POST", "/experiments/set-experiment-tag"): experiments.set_tag,
    ("POST", "/experiments/delete-experiment-tag"): experiments.delete_tag,
    ("POST", "/runs/create"): runs.create,
    ("GET", "/runs/get"): runs.get,
    ("POST", "/runs/update"): runs.update,
    ("POST", "/runs/delete"): runs.delete,
    ("POST", "/runs/restore"): runs.restore,
    ("POST", "/runs/search"): runs.search,
    ("POST", "/runs/set-tag"): runs.set_tag,
    ("POST", "/runs/delete-tag"): runs.delete_tag,
    ("POST", "/runs/log-parameter"): runs.log_param,
    ("POST", "/runs/log-batch"): runs.log_batch,
    ("POST", "/runs/log-model"): runs.log_model,
    ("POST", "/runs/log-inputs"): runs.log_inputs,
    ("POST", "/runs/outputs"): runs.log_outputs,
    ("POST", "/runs/log-metric"): metrics.log_metric,
    ("GET", "/metrics/get-history"): metrics.get_history,
    ("GET", "/metrics/get-history-bulk"): metrics.get_history_bulk,
    ("GET", "/metrics/get-history-bulk-interval"): metrics.get_history_bulk_interval,
    ("GET", "/artifacts/list"): artifacts.list_run,
    ("POST", "/logged-models"): logged_models.create,
    ("POST", "/logged-models/search"): logged_models.search,
    ("GET", "/server-info"): meta.server_info,
}

PATTERNS: list[tuple[str, re.Pattern[str], Handler]] = [
    ("GET", re.compile(r"/logged-models/(?P<model_id>[^/]+)"), logged_models.get),
    ("PATCH", re.compile(r"/logged-models/(?P<model_id>[^/]+)"), logged_models.finalize),
    ("DELETE", re.compile(r"/logged-models/(?P<model_id>[^/]+)"), logged_models.delete),
    ("PATCH", re.compile(r"/logged-models/(?P<model_id>[^/]+)/tags"), logged_models.set_tags),
    ("DELETE", re.compile(r"/logged-models/(?P<model_id>[^/]+)/tags/(?P<tag_key>.+)"), logged_models.delete_tag),
    ("POST", re.compile(r"/logged-models/(?P<model_id>[^/]+)/params"), logged_models.log_params),
]

ARTIFACT_ROUTES: dict[str, Handler] = {
    "PUT": artifacts.upload, "GET": artifacts.download, "DELETE": artifacts.delete,
}

OTHER: dict[tuple[str, str], Handler] = {
    ("GET", "/health"): meta.health,
    ("GET", "/version"): meta.version,
}


def match(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """The handler for *method* and (unquoted) *path*, with its path parameters; None if none."""
    for prefix in API_PREFIXES:
        if path.startswith(prefix + "/"):
            tail = path[len(prefix):]
            handler = FIXED.get((method, tail))
            if handler is not None:
                return handler, {}
            for verb, pattern, handler in PATTERNS:
                found = pattern.fullmatch(tail) if verb == method else None
                if found:
                    return handler, found.groupdict()
            return None
    for prefix in ARTIFACTS_PREFIXES:
        if path == prefix or path == prefix + "/":
            return (artifacts.list_proxied, {}) if method == "GET" else None
        if path.startswith(prefix + "/"):
            handler = ARTIFACT_ROUTES.get(method)
            return (handler, {"path": path[len(prefix) + 1:]}) if handler else None
    handler = OTHER.get((method, path))
    return (handler, {}) if handler else None
