"""MLflow 3 logged models: create, get, finalize, search, tags, params, delete."""

from __future__ import annotations

from typing import Any

from openaml.store.tracking_records import LoggedModelRecord
from openaml.tracking.context import Request, TrackingContext
from openaml.tracking.wire import (
    MODEL_STATUS_FROM_PROTO, as_int, float_json, invalid, logged_model_json, page_json, pairs, required,
)


def _json(ctx: TrackingContext, model: LoggedModelRecord) -> dict[str, Any]:
    """The model's JSON with the metrics logged against it (``log_metric(..., model_id=)``)."""
    out = logged_model_json(model)
    metrics = [
        {k: v for k, v in (("key", m.key), ("value", float_json(m.value)), ("timestamp", m.timestamp),
                           ("step", m.step), ("dataset_name", m.dataset_name),
                           ("dataset_digest", m.dataset_digest), ("model_id", model.model_id),
                           ("run_id", m.run_id)) if v is not None}
        for m in ctx.store.logged_models.metrics(model.model_id)
    ]
    if metrics:  # protobuf's JSON leaves an empty list out
        out["data"]["metrics"] = metrics
    return out


def create(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    model = ctx.store.create_logged_model(
        str(required(args, "experiment_id")), name=args.get("name") or None,
        source_run_id=args.get("source_run_id") or None, tags=dict(pairs(args.get("tags"))),
        params=dict(pairs(args.get("params"))), model_type=args.get("model_type") or None,
    )
    return {"model": logged_model_json(model)}


def get(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    allow_deleted = str(req.args.get("allow_deleted", "false")).lower() == "true"
    return {"model": _json(ctx, ctx.store.get_logged_model(req.path_params["model_id"], allow_deleted))}


def finalize(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    status = MODEL_STATUS_FROM_PROTO.get(str(required(req.args, "status")))
    if status is None:
        raise invalid(f"Invalid logged model status {req.args['status']!r}.")
    return {"model": _json(ctx, ctx.store.finalize_logged_model(req.path_params["model_id"], status))}


def delete(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    ctx.store.delete_logged_model(req.path_params["model_id"])
    return {}


def search(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    order_by = []
    for index, item in enumerate(args.get("order_by") or []):
        if not isinstance(item, dict) or not isinstance(item.get("field_name"), str):
            raise invalid(f"order_by[{index}] must be an object with a 'field_name' string.")
        order_by.append((item["field_name"], item.get("ascending", True) is not False))
    page = ctx.store.search_logged_models(
        [str(e) for e in required(args, "experiment_ids")], filter_string=args.get("filter") or None,
        max_results=as_int(args.get("max_results"), "max_results") or None,
        page_token=args.get("page_token") or None, order_by=order_by,
    )
    return page_json("models", [_json(ctx, m) for m in page.items], page.next_page_token)


def set_tags(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    ctx.store.set_logged_model_tags(req.path_params["model_id"], dict(pairs(req.args.get("tags"))))
    return {}


def delete_tag(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    ctx.store.delete_logged_model_tag(req.path_params["model_id"], req.path_params["tag_key"])
    return {}


def log_params(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    ctx.store.log_logged_model_params(req.path_params["model_id"], dict(pairs(req.args.get("params"))))
    return {}
