"""Runs: create, get, update, delete, restore, search, tags, params, log-batch, outputs."""

from __future__ import annotations

from typing import Any

from openaml.store.tracking import DEFAULT_EXPERIMENT_ID
from openaml.tracking.context import Request, TrackingContext
from openaml.tracking.wire import (
    as_int, invalid, pairs, required, run_info_json, run_json, run_status, view_type,
)
from openaml.tracking.handlers.metrics import metric_tuples


def _run_id(args: dict[str, Any]) -> str:
    return str(required(args, "run_id", "run_uuid"))


def create(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    run = ctx.store.create_run(
        str(args.get("experiment_id") or DEFAULT_EXPERIMENT_ID), run_name=args.get("run_name") or None,
        start_time=as_int(args.get("start_time"), "start_time"), tags=pairs(args.get("tags")),
        user_id=args.get("user_id") or None,
    )
    ctx.known_runs.add(run.run_id)
    return {"run": run_json(run)}


def get(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    return {"run": run_json(ctx.store.get_run(_run_id(req.args)))}


def update(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    run = ctx.store.update_run_info(
        _run_id(args), status=run_status(args.get("status")),
        end_time=as_int(args.get("end_time"), "end_time"), run_name=args.get("run_name") or None,
    )
    return {"run_info": run_info_json(run)}


def delete(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    ctx.store.delete_run(_run_id(req.args))
    return {}


def restore(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    ctx.store.restore_run(_run_id(req.args))
    return {}


def search(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    max_results = as_int(args.get("max_results"), "max_results", 1000)
    if not 0 < max_results <= 50000:  # type: ignore[operator]
        raise invalid(f"Invalid value {max_results} for parameter 'max_results'.")
    order_by = args.get("order_by") or []
    page = ctx.store.search_runs(
        [str(e) for e in args.get("experiment_ids") or []], filter_string=args.get("filter") or None,
        run_view_type=view_type(args.get("run_view_type")), max_results=max_results,  # type: ignore[arg-type]
        order_by=[order_by] if isinstance(order_by, str) else list(order_by),
        page_token=args.get("page_token") or None,
    )
    response: dict[str, Any] = {"runs": [run_json(r) for r in page.items]}
    if page.next_page_token:
        response["next_page_token"] = page.next_page_token
    return response


def set_tag(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.store.set_tag(_run_id(args), str(required(args, "key")), str(args.get("value", "")))
    return {}


def delete_tag(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.store.delete_tag(_run_id(args), str(required(args, "key")))
    return {}


def log_param(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.store.log_param(_run_id(args), str(required(args, "key")), str(args.get("value", "")))
    return {}


def log_batch(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.store.log_batch(
        _run_id(args), metrics=metric_tuples(args.get("metrics") or []),
        params=pairs(args.get("params")), tags=pairs(args.get("tags")),
    )
    return {}


def log_model(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    """MLflow 2's ``runs/log-model``: append the model JSON to the ``mlflow.log-model.history`` tag."""
    import json

    args = req.args
    run_id = _run_id(args)
    try:
        model = json.loads(required(args, "model_json"))
    except ValueError:
        raise invalid("Malformed model info: model_json is not valid JSON.") from None
    history = json.loads(ctx.store.get_run(run_id).tags.get("mlflow.log-model.history", "[]"))
    history.append(model)
    ctx.store.set_tag(run_id, "mlflow.log-model.history", json.dumps(history))
    return {}


def log_inputs(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    """Dataset and model inputs are accepted and not stored (openaml tracks job inputs itself)."""
    ctx.store.get_run(_run_id(req.args))
    return {}


def log_outputs(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    models = [(str(required(m, "model_id")), as_int(m.get("step"), "step", 0)) for m in args.get("models") or []]
    ctx.store.log_outputs(_run_id(args), models)  # type: ignore[arg-type]
    return {}
