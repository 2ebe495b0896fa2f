"""Metrics: log-metric (the hot path) and get-history."""

from __future__ import annotations

from typing import Any

from openaml.errors import NotFoundError
from openaml.store.logged_models import ModelMetricRecord
from openaml.tracking.context import JsonResponse, Request, TrackingContext
from openaml.tracking.wire import (
    as_float, as_int, invalid, metric_history_json, required, run_histories_json,
)

MetricTuple = tuple[str, float, int, int]


def metric_tuple(m: dict[str, Any]) -> MetricTuple:
    """A metric of a request body as the store's ``(key, value, timestamp, step)``."""
    return (str(required(m, "key")), as_float(required(m, "value"), "value"),
            as_int(required(m, "timestamp"), "timestamp"), as_int(m.get("step"), "step", 0))  # type: ignore[return-value]


def metric_tuples(items: list[Any]) -> list[MetricTuple]:
    """:func:`metric_tuple` of each item, in one comprehension for the well-formed batch (the
    1,000 metrics of a log-batch); anything else takes :func:`metric_tuple` one by one, which
    names what is wrong."""
    try:
        found = [(m["key"], float(m["value"]), int(m["timestamp"]), int(m.get("step") or 0)) for m in items]
    except (KeyError, TypeError, ValueError, AttributeError):
        found = None
    # A key must be a non-empty string; "" values and absent ones were caught above
    # (float("") and int("") raise), except an empty value string for a key.
    if found is None or not all(type(k) is str and k for k, _, _, _ in found):
        return [metric_tuple(m) for m in items]
    return found


def log_metric(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    run_id = str(required(args, "run_id", "run_uuid"))
    ctx.store.log_batch(run_id, metrics=[metric_tuple(args)])
    if args.get("model_id"):
        log_model_metrics(ctx, run_id, [args])
    return {}


def log_model_metrics(ctx: TrackingContext, run_id: str, metrics: list[dict[str, Any]]) -> None:
    """Record the metrics that name a ``model_id`` against that logged model too (MLflow 3)."""
    by_model: dict[str, list[ModelMetricRecord]] = {}
    for m in metrics:
        if m.get("model_id"):
            key, value, timestamp, step = metric_tuple(m)
            by_model.setdefault(str(m["model_id"]), []).append(ModelMetricRecord(
                key, value, timestamp, step, run_id, m.get("dataset_name") or None, m.get("dataset_digest") or None))
    for model_id, records in by_model.items():
        ctx.store.logged_models.log_metrics(model_id, records)


def get_history(ctx: TrackingContext, req: Request) -> JsonResponse:
    args = req.args
    max_results = as_int(args.get("max_results"), "max_results")
    if max_results is not None and max_results < 0:
        raise invalid(f"Invalid value {max_results} for parameter 'max_results': it must be positive.")
    try:
        history = ctx.store.metric_history(
            str(required(args, "run_id", "run_uuid")), str(required(args, "metric_key")),
            max_results=max_results if max_results else None, page_token=args.get("page_token") or None,
        )
    except NotFoundError:
        return JsonResponse(b"{}")  # MLflow: the history of a run it does not have is empty, not an error
    return JsonResponse(metric_history_json(history))


# MLflow's limits for the multi-run histories (mlflow.server.handlers).
MAX_RUNS_PER_BULK_REQUEST = 100
MAX_BULK_HISTORY_RESULTS = 25000
MAX_SAMPLED_RESULTS_PER_RUN = 2500


def _run_ids(req: Request, name: str, request_name: str) -> list[str]:
    run_ids = req.query_list(name) or _as_list(req.args.get(name))
    if not run_ids:
        raise invalid(f"{request_name} request must specify at least one {name.rstrip('s')}.")
    if len(run_ids) > MAX_RUNS_PER_BULK_REQUEST:
        raise invalid(f"{request_name} request cannot specify more than {MAX_RUNS_PER_BULK_REQUEST} {name}. "
                      f"Received {len(run_ids)} {name}.")
    if not all(isinstance(r, str) for r in run_ids):
        raise invalid(f"Parameter '{name}' must be a list of strings.")
    return run_ids


def _as_list(value: Any) -> list[Any]:
    return [] if value in (None, "") else value if isinstance(value, list) else [value]


def get_history_bulk(ctx: TrackingContext, req: Request) -> JsonResponse:
    """MLflow's ``metrics/get-history-bulk`` (``run_id`` repeated): every value, by run."""
    run_ids = _run_ids(req, "run_id", "GetMetricHistoryBulk")
    key = req.args.get("metric_key")
    if not key:
        raise invalid("GetMetricHistoryBulk request must specify a metric_key.")
    limit = as_int(req.args.get("max_results"), "max_results", MAX_BULK_HISTORY_RESULTS)
    history = ctx.store.histories.bulk(run_ids, str(key), min(max(limit or 0, 0), MAX_BULK_HISTORY_RESULTS))
    # MLflow answers this (UI) endpoint with plain dicts, not protobuf JSON: a NaN value is JSON's
    # NaN literal there, not the string "NaN"; clients of either server read the same numbers.
    return JsonResponse(run_histories_json(history, proto=False))


def get_history_bulk_interval(ctx: TrackingContext, req: Request) -> JsonResponse:
    """MLflow's ``metrics/get-history-bulk-interval`` (``run_ids`` repeated): at most
    ``max_results`` values per run, sampled evenly (see :mod:`openaml.store.metric_history`)."""
    run_ids = _run_ids(req, "run_ids", "GetMetricHistoryBulkInterval")
    args = req.args
    key = str(required(args, "metric_key"))
    max_results = as_int(args.get("max_results"), "max_results", MAX_SAMPLED_RESULTS_PER_RUN)
    if not 1 <= max_results <= MAX_SAMPLED_RESULTS_PER_RUN:  # type: ignore[operator]
        raise invalid(f"max_results must be between 1 and {MAX_SAMPLED_RESULTS_PER_RUN}.")
    start, end = as_int(args.get("start_step"), "start_step"), as_int(args.get("end_step"), "end_step")
    if (start is None) != (end is None):
        raise invalid("If either start step or end step are specified, both must be specified.")
    if start is not None and end is not None and start > end:
        raise invalid(f"end_step must be greater than start_step. Found start_step={start} and end_step={end}.")
    history = ctx.store.histories.sampled(run_ids, key, max_results, start, end)  # type: ignore[arg-type]
    return JsonResponse(run_histories_json(history, proto=True))
