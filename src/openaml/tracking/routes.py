"""The route table: MLflow REST paths (under every prefix MLflow clients use) to handlers.

Paths are matched after stripping one of :data:`API_PREFIXES`; fixed paths are one dict lookup,
paths with ids (logged models, artifacts) go through a short list of patterns.

What is not served answers as MLflow clients can act on it: a served path with another method is
405 (as ``mlflow server``); any other path under MLflow's API prefixes, and MLflow's own paths
outside them (GraphQL, OTLP traces, multipart and presigned artifact transfers), is 501
NOT_IMPLEMENTED naming the feature (traces, the AI gateway, evaluation datasets, ...) where known,
never 404; anything else is 404 ENDPOINT_NOT_FOUND.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from openaml.tracking import unserved
from openaml.tracking.handlers import (
    artifacts, experiments, logged_models, meta, metrics, model_versions, registered_models, runs,
)
from openaml.tracking.wire import MlflowApiError

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
    # The model registry (the workspace's models; 501 on a server without a registry).
    ("POST", "/registered-models/create"): registered_models.create,
    ("GET", "/registered-models/get"): registered_models.get,
    ("POST", "/registered-models/rename"): registered_models.rename,
    ("PATCH", "/registered-models/update"): registered_models.update,
    ("DELETE", "/registered-models/delete"): registered_models.delete,
    ("GET", "/registered-models/search"): registered_models.search,
    ("GET", "/registered-models/get-latest-versions"): registered_models.get_latest_versions,
    ("POST", "/registered-models/get-latest-versions"): registered_models.get_latest_versions,
    ("POST", "/registered-models/set-tag"): registered_models.set_tag,
    ("DELETE", "/registered-models/delete-tag"): registered_models.delete_tag,
    ("POST", "/registered-models/alias"): registered_models.set_alias,
    ("DELETE", "/registered-models/alias"): registered_models.delete_alias,
    ("GET", "/registered-models/alias"): registered_models.get_by_alias,
    ("POST", "/model-versions/create"): model_versions.create,
    ("GET", "/model-versions/get"): model_versions.get,
    ("PATCH", "/model-versions/update"): model_versions.update,
    ("DELETE", "/model-versions/delete"): model_versions.delete,
    ("GET", "/model-versions/search"): model_versions.search,
    ("POST", "/model-versions/set-tag"): model_versions.set_tag,
    ("DELETE", "/model-versions/delete-tag"): model_versions.delete_tag,
    ("POST", "/model-versions/transition-stage"): model_versions.transition_stage,
    ("GET", "/model-versions/get-download-uri"): model_versions.get_download_uri,
}
FIXED_PATHS = frozenset(path for _, path in FIXED)

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

# Multipart and presigned transfers of proxied artifacts (server-info says they are off).
ARTIFACTS_UNSERVED_PREFIXES = tuple(p.removesuffix("/artifacts") + "/" for p in ARTIFACTS_PREFIXES)

# MLflow's reads sent as POST (a body holds their filters): what a role that may only read may call.
READS_BY_POST = frozenset({"/runs/search", "/experiments/search", "/logged-models/search",
                           "/registered-models/get-latest-versions"})

OTHER: dict[tuple[str, str], Handler] = {
    ("GET", "/health"): meta.health,
    ("GET", "/version"): meta.version,
}


def _not_allowed(method: str, path: str) -> MlflowApiError:
    return MlflowApiError("BAD_REQUEST", f"Method {method} is not allowed for {path}.", 405)


def not_served(method: str, path: str, tail: str | None = None) -> MlflowApiError:
    """501 for an MLflow endpoint openaml does not implement, naming it and, where known, the
    MLflow feature it belongs to (:mod:`openaml.tracking.unserved`)."""
    return unserved.not_served(unserved.feature_of(tail, path), f"{method} {path}")


def _match_api(method: str, path: str, tail: str) -> tuple[Handler, dict[str, str]] | None:
    handler = FIXED.get((method, tail))
    if handler is not None:
        return handler, {}
    other_method = tail in FIXED_PATHS
    for verb, pattern, handler in PATTERNS:
        found = pattern.fullmatch(tail)
        if found and verb == method:
            return handler, found.groupdict()
        other_method = other_method or found is not None
    if other_method:
        raise _not_allowed(method, path)
    # Under MLflow's API prefixes nothing is a plain 404: an endpoint of a newer MLflow, or of a
    # feature openaml does not serve, is named so that clients stop instead of retrying.
    raise not_served(method, path, tail)


def match(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """The handler for *method* and (unquoted) *path*, with its path parameters; None for a path
    that is not MLflow's (404). Raises 405 for a served path with another method and 501 for an
    MLflow endpoint that is not served."""
    for prefix in API_PREFIXES:
        if path.startswith(prefix + "/"):
            return _match_api(method, path, path[len(prefix):])
    for prefix in ARTIFACTS_PREFIXES:
        if path == prefix or path == prefix + "/":
            if method != "GET":
                raise _not_allowed(method, path)
            return artifacts.list_proxied, {}
        if path.startswith(prefix + "/"):
            handler = ARTIFACT_ROUTES.get(method)
            if handler is None:
                raise _not_allowed(method, path)
            return handler, {"path": path[len(prefix) + 1:]}
    if path.startswith(ARTIFACTS_UNSERVED_PREFIXES) or unserved.feature_of(None, path):
        raise not_served(method, path)
    handler = OTHER.get((method, path))
    if handler is None and any(p == path for _, p in OTHER):
        raise _not_allowed(method, path)
    return (handler, {}) if handler else None


def reads_only(method: str, path: str) -> bool:
    """Whether the request *method* *path* (as :func:`match` takes it) can only read: a GET, or
    one of MLflow's searches sent as POST. For an authorisation check that tells readers from
    writers; anything unknown counts as a write."""
    if method == "GET":
        return True
    if method != "POST":
        return False
    return any(path.startswith(prefix + "/") and path[len(prefix):] in READS_BY_POST for prefix in API_PREFIXES)
