"""MLflow's JSON wire format: records to proto-shaped dicts, request parsing, error mapping.

The shapes follow ``mlflow/protos/service.proto`` as MLflow's ``message_to_json`` prints them:
int64 fields as JSON numbers, enums by name, NaN/inf metric values as "NaN"/"Infinity" strings.
"""

from __future__ import annotations

import json
import math
from typing import Any

from openaml.errors import (
    AlreadyExistsError, AuthenticationError, ForbiddenError, NotFoundError, OpenAMLError, ValidationError,
)
from openaml.store.tracking_records import (
    ExperimentRecord, LoggedModelRecord, MetricHistory, MetricRecord, RunHistory, RunRecord,
)

# Logged-model statuses: the store's short names <-> the proto enum.
MODEL_STATUS_TO_PROTO = {"PENDING": "LOGGED_MODEL_PENDING", "READY": "LOGGED_MODEL_READY",
                         "FAILED": "LOGGED_MODEL_UPLOAD_FAILED"}
MODEL_STATUS_FROM_PROTO = {
    **{v: k for k, v in MODEL_STATUS_TO_PROTO.items()}, "1": "PENDING", "2": "READY", "3": "FAILED",
}
_VIEW_TYPES = {"1": "ACTIVE_ONLY", "2": "DELETED_ONLY", "3": "ALL",
               "ACTIVE_ONLY": "ACTIVE_ONLY", "DELETED_ONLY": "DELETED_ONLY", "ALL": "ALL"}
_RUN_STATUSES = {"1": "RUNNING", "2": "SCHEDULED", "3": "FINISHED", "4": "FAILED", "5": "KILLED"}


class MlflowApiError(Exception):
    """An error in MLflow's shape: ``{"error_code": ..., "message": ...}`` with an HTTP status."""

    def __init__(self, error_code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error_code, self.message, self.status = error_code, message, status

    def to_json(self) -> dict[str, str]:
        return {"error_code": self.error_code, "message": self.message}


def api_error(exc: BaseException) -> MlflowApiError:
    """MLflow's error for any exception a handler raised (errors are data: mapped by class)."""
    if isinstance(exc, MlflowApiError):
        return exc
    if isinstance(exc, NotFoundError):
        return MlflowApiError("RESOURCE_DOES_NOT_EXIST", exc.message, 404)
    if isinstance(exc, AlreadyExistsError):
        return MlflowApiError("RESOURCE_ALREADY_EXISTS", exc.message, 400)
    if isinstance(exc, ValidationError):
        return MlflowApiError("INVALID_PARAMETER_VALUE", exc.message, 400)
    if isinstance(exc, AuthenticationError):  # MLflow's codes for 401 and 403, known to every client
        return MlflowApiError("UNAUTHENTICATED", exc.message, 401)
    if isinstance(exc, ForbiddenError):
        return MlflowApiError("PERMISSION_DENIED", exc.message, 403)
    if isinstance(exc, OpenAMLError):
        return MlflowApiError("INTERNAL_ERROR", exc.message, exc.http_status)
    return MlflowApiError("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}", 500)


def invalid(message: str) -> MlflowApiError:
    return MlflowApiError("INVALID_PARAMETER_VALUE", message, 400)


def required(args: dict[str, Any], name: str, *aliases: str) -> Any:
    """The argument *name* (or an alias, e.g. MLflow 1's ``run_uuid``); missing is an error."""
    for key in (name, *aliases):
        value = args.get(key)
        if value not in (None, ""):
            return value
    raise invalid(f"Missing value for required parameter '{name}'.")


def as_int(value: Any, name: str, default: int | None = None) -> int | None:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"Parameter '{name}' must be an integer, got {value!r}.") from None


def as_float(value: Any, name: str) -> float:
    try:
        return float(value)  # also "NaN", "Infinity", "-Infinity" as MLflow's client sends them
    except (TypeError, ValueError):
        raise invalid(f"Parameter '{name}' must be a number, got {value!r}.") from None


def view_type(value: Any) -> str:
    return _VIEW_TYPES.get(str(value), "ACTIVE_ONLY") if value not in (None, "") else "ACTIVE_ONLY"


def run_status(value: Any) -> str | None:
    return None if value in (None, "") else _RUN_STATUSES.get(str(value), str(value))


def float_json(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def kv_list(items: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in items.items()]


def pairs(items: Any) -> list[tuple[str, str]]:
    """``[{"key": k, "value": v}, ...]`` as tuples (value defaults to "")."""
    return [(str(required(i, "key")), str(i.get("value", ""))) for i in items or []]


def metric_json(m: MetricRecord) -> dict[str, Any]:
    return {"key": m.key, "value": float_json(m.value), "timestamp": m.timestamp, "step": m.step}


def metric_history_json(history: MetricHistory) -> bytes:
    """``GetMetricHistory.Response`` as JSON bytes, built as text in one pass: a history can hold
    100,000 points, and a dict per point for ``json.dumps`` would cost twice as much. The same
    shape as :func:`metric_json` per point (compact separators), NaN/inf as MLflow's strings."""
    points = _points_json(_point_head(history.key), "}", history.points, _PROTO_NON_FINITE)
    token = f',"next_page_token":{json.dumps(history.next_page_token)}' if history.next_page_token else ""
    if not points:  # protobuf's JSON leaves the empty list out
        return f'{{{token.lstrip(",")}}}'.encode()
    return f'{{"metrics":[{points}]{token}}}'.encode()


def run_histories_json(histories: list[RunHistory], *, proto: bool) -> bytes:
    """``{"metrics": [...]}`` of several runs' histories as JSON bytes, one pass as
    :func:`metric_history_json` (a sampled answer holds up to 250,000 points): per point
    :func:`metric_json`'s fields and ``run_id``. *proto*: protobuf's JSON, as MLflow answers
    ``get-history-bulk-interval`` (NaN/inf as strings, no empty list); otherwise the plain JSON
    of ``get-history-bulk`` (NaN/inf as JSON's literals, ``"metrics": []`` when empty)."""
    non_finite = _PROTO_NON_FINITE if proto else _PLAIN_NON_FINITE
    body = ",".join([
        _points_json(_point_head(h.key), f',"run_id":{json.dumps(h.run_id)}}}', h.points, non_finite)
        for h in histories if h.points
    ])
    if not body and proto:
        return b"{}"
    return f'{{"metrics":[{body}]}}'.encode()


def _point_head(key: str) -> str:
    return '{"key":' + json.dumps(key) + ',"value":'


def _points_json(head: str, tail: str, points: list[tuple[float, int, int]], non_finite: dict[str, str]) -> str:
    # float repr is what json.dumps prints for a float; v - v == 0.0 fails only for NaN and
    # +-inf (inf - inf is NaN), which take their spelling from *non_finite*.
    return ",".join([
        f'{head}{repr(v) if v - v == 0.0 else non_finite[str(v)]},"timestamp":{t},"step":{s}{tail}'
        for v, t, s in points
    ])


_PROTO_NON_FINITE = {"nan": '"NaN"', "inf": '"Infinity"', "-inf": '"-Infinity"'}
_PLAIN_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def experiment_json(e: ExperimentRecord) -> dict[str, Any]:
    return {
        "experiment_id": e.experiment_id, "name": e.name, "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage, "last_update_time": e.last_update_time,
        "creation_time": e.creation_time, **non_empty(tags=kv_list(e.tags)),
        # MLflow 3's workspaces (a server-wide switch, off here: server-info says so) put every
        # experiment in "default"; openaml's own workspace is the server the client talks to.
        "workspace": "default",
    }


def run_info_json(r: RunRecord) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": r.run_id, "run_uuid": r.run_id, "run_name": r.run_name or "",
        "experiment_id": r.experiment_id, "user_id": r.user_id or "", "status": r.status,
        "artifact_uri": r.artifact_uri, "lifecycle_stage": r.lifecycle_stage,
    }
    if r.start_time is not None:
        info["start_time"] = r.start_time
    if r.end_time is not None:
        info["end_time"] = r.end_time
    return info


def non_empty(**fields: Any) -> dict[str, Any]:
    """The fields whose value is not an empty list or dict: protobuf's JSON (MLflow's wire
    format) leaves out repeated fields that have no items."""
    return {k: v for k, v in fields.items() if v not in ([], {})}


def page_json(field: str, items: list[Any], next_page_token: str | None) -> dict[str, Any]:
    """One page of a search as MLflow answers it: the items under *field* (left out when there
    are none, as protobuf's JSON does) and the token of the next page, if any."""
    response = non_empty(**{field: items})
    if next_page_token:
        response["next_page_token"] = next_page_token
    return response


def run_json(r: RunRecord) -> dict[str, Any]:
    run: dict[str, Any] = {
        "info": run_info_json(r),
        "data": non_empty(metrics=[metric_json(m) for m in r.metrics], params=kv_list(r.params),
                          tags=kv_list(r.tags)),
        "inputs": {},
        "outputs": non_empty(model_outputs=[{"model_id": m, "step": s} for m, s in r.model_outputs]),
    }
    return run


def logged_model_json(m: LoggedModelRecord) -> dict[str, Any]:
    info = {
        "model_id": m.model_id, "experiment_id": m.experiment_id, "name": m.name,
        "creation_timestamp_ms": m.creation_timestamp, "last_updated_timestamp_ms": m.last_updated_timestamp,
        "artifact_uri": m.artifact_location, "status": MODEL_STATUS_TO_PROTO[m.status],
        "source_run_id": m.source_run_id or "", "model_type": m.model_type or "",
        **non_empty(tags=kv_list(m.tags)),
    }
    return {"info": info, "data": non_empty(params=kv_list(m.params))}
