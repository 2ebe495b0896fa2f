"""Metrics: log-metric (the hot path) and get-history."""

from __future__ import annotations

from typing import Any

from openaml.store.logged_models import ModelMetricRecord
from openaml.tracking.context import Request, TrackingContext
from openaml.tracking.wire import as_float, as_int, metric_json, required


def metric_tuple(m: dict[str, Any]) -> tuple[str, float, int, int]:
    """A metric of a request body as the store's ``(key, value, timestamp, step)``."""
    return (str(required(m, "key")), as_float(required(m, "value"), "value"),
            as_int(required(m, "timestamp"), "timestamp"), as_int(m.get("step"), "step", 0))  # type: ignore[return-value]


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


def get_history(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    max_results = as_int(args.get("max_results"), "max_results")
    page = ctx.store.get_metric_history(
        str(required(args, "run_id", "run_uuid")), str(required(args, "metric_key")),
        max_results=max_results if max_results else None, page_token=args.get("page_token") or None,
    )
    response: dict[str, Any] = {"metrics": [metric_json(m) for m in page.items]}
    if page.next_page_token:
        response["next_page_token"] = page.next_page_token
    return response
