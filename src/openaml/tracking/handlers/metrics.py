"""Metrics: log-metric (the hot path) and get-history."""

from __future__ import annotations

from typing import Any

from openaml.tracking.context import JsonResponse, Request, TrackingContext
from openaml.tracking.wire import as_float, as_int, invalid, metric_history_json, required

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
    ctx.store.log_batch(str(required(args, "run_id", "run_uuid")), metrics=[metric_tuple(args)])
    return {}


def get_history(ctx: TrackingContext, req: Request) -> JsonResponse:
    args = req.args
    max_results = as_int(args.get("max_results"), "max_results")
    if max_results is not None and max_results < 0:
        raise invalid(f"Invalid value {max_results} for parameter 'max_results': it must be positive.")
    history = ctx.store.metric_history(
        str(required(args, "run_id", "run_uuid")), str(required(args, "metric_key")),
        max_results=max_results if max_results else None, page_token=args.get("page_token") or None,
    )
    return JsonResponse(metric_history_json(history))
