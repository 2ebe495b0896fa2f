"""Metrics: log-metric (the hot path) and get-history."""

from __future__ import annotations

from typing import Any

from openaml.tracking.context import Request, TrackingContext
from openaml.errors import NotFoundError
from openaml.tracking.wire import as_float, as_int, metric_json, non_empty, required


def metric_tuple(m: dict[str, Any]) -> tuple[str, float, int, int]:
    """A metric of a request body as the store's ``(key, value, timestamp, step)``."""
    return (str(required(m, "key")), as_float(required(m, "value"), "value"),
            as_int(required(m, "timestamp"), "timestamp"), as_int(m.get("step"), "step", 0))  # type: ignore[return-value]


def log_metric(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.store.log_batch(str(required(args, "run_id", "run_uuid")), metrics=[metric_tuple(args)])
    return {}


def get_history(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    max_results = as_int(args.get("max_results"), "max_results")
    try:
        page = ctx.store.get_metric_history(
            str(required(args, "run_id", "run_uuid")), str(required(args, "metric_key")),
            max_results=max_results if max_results else None, page_token=args.get("page_token") or None,
        )
    except NotFoundError:
        return {}  # MLflow: the history of a run it does not have is empty, not an error
    response: dict[str, Any] = non_empty(metrics=[metric_json(m) for m in page.items])
    if page.next_page_token:
        response["next_page_token"] = page.next_page_token
    return response
