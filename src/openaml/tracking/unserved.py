"""MLflow's features openaml does not serve, named, so a client fails at once with a clear 501.

A 404 makes MLflow's clients retry (and a tracing client hang); ``501 NOT_IMPLEMENTED`` with the
feature's name stops them and tells the user why. The table maps the first segments of a path
after the API prefix (``/api/2.0/mlflow``, ``/api/3.0/mlflow``, ``/ajax-api/...``) to a feature;
paths outside the API prefixes (GraphQL, OTLP) are listed whole.
"""

from __future__ import annotations

from openaml.tracking.wire import MlflowApiError

# (path prefix after the API prefix, feature name); the longest matching prefix wins.
API_FEATURES: tuple[tuple[str, str], ...] = (
    ("/traces", "MLflow Tracing (traces)"),
    ("/unified-traces", "MLflow Tracing (traces)"),
    ("/get-online-trace-details", "MLflow Tracing (traces)"),
    ("/get-trace-artifact", "MLflow Tracing (traces)"),
    ("/gateway", "the MLflow AI Gateway"),
    ("/gateway-proxy", "the MLflow AI Gateway"),
    ("/endpoints", "the MLflow AI Gateway"),
    ("/issues", "MLflow issues"),
    ("/datasets", "MLflow evaluation datasets"),
    ("/experiments/search-datasets", "MLflow evaluation datasets"),
    ("/runs/create-promptlab-run", "the MLflow prompt lab"),
    ("/prompt-optimization", "MLflow prompt optimization"),
    ("/genai", "MLflow GenAI evaluation"),
    ("/scorers", "MLflow GenAI scorers"),
    ("/label-schemas", "MLflow GenAI labeling"),
    ("/review-queues", "MLflow GenAI labeling"),
    ("/webhooks", "MLflow webhooks"),
    ("/workspaces", "MLflow workspaces (openaml's workspaces are Azure ML's)"),
    ("/jobs", "MLflow server jobs"),
    ("/demo", "the MLflow demo data"),
    ("/artifacts/presigned-upload-url", "presigned artifact transfers"),
    ("/artifacts/presigned-download-url", "presigned artifact transfers"),
    ("/upload-artifact", "the MLflow UI's artifact upload"),
)

OTHER_FEATURES: tuple[tuple[str, str], ...] = (
    ("/graphql", "MLflow's GraphQL API"),
    ("/v1/traces", "OpenTelemetry trace ingestion (OTLP)"),
    ("/api/2.0/mlflow-artifacts/mpu", "multipart artifact uploads"),
    ("/ajax-api/2.0/mlflow-artifacts/mpu", "multipart artifact uploads"),
    ("/api/2.0/mlflow-artifacts/presigned", "presigned artifact transfers"),
    ("/ajax-api/2.0/mlflow-artifacts/presigned", "presigned artifact transfers"),
)


def _longest(path: str, table: tuple[tuple[str, str], ...]) -> str | None:
    best: tuple[int, str] | None = None
    for prefix, feature in table:
        if (path == prefix or path.startswith(prefix + "/")) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), feature)
    return best[1] if best else None


def feature_of(api_tail: str | None, path: str) -> str | None:
    """The feature a request is for: *api_tail* is the path after an API prefix (None when the
    path has no API prefix), *path* the whole path."""
    if api_tail is not None:
        found = _longest(api_tail, API_FEATURES)
        if found:
            return found
    return _longest(path, OTHER_FEATURES)


def not_served(feature: str | None, path: str) -> MlflowApiError:
    """MLflow's error shape for a route openaml does not serve: 501, naming the feature."""
    what = f"{feature} ({path})" if feature else path
    return MlflowApiError("NOT_IMPLEMENTED", f"openaml does not serve {what} yet: it serves MLflow's "
                          "tracking, logged-model, artifact and model-registry APIs.", 501)
