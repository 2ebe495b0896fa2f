"""Experiments: create, get, get-by-name, search, update, delete, restore, tags."""

from __future__ import annotations

import os
from typing import Any

from openaml.errors import NotFoundError
from openaml.tracking.context import Request, TrackingContext
from openaml.tracking.wire import as_int, experiment_json, page_json, pairs, required, view_type


def _absolute_location(location: str | None) -> str | None:
    """MLflow makes a relative local artifact location absolute (against the server's working
    folder); URIs are kept as they are. The location is the client's to write to: the server
    never writes there (its artifacts are the job's folder)."""
    if not location or "://" in location or ":/" in location or os.path.isabs(location):
        return location or None
    return os.path.abspath(location)


def create(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    experiment_id = ctx.store.create_experiment(
        required(args, "name"), artifact_location=_absolute_location(args.get("artifact_location")),
        tags=pairs(args.get("tags")),
    )
    return {"experiment_id": experiment_id}


def get(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    experiment = ctx.store.get_experiment(required(req.args, "experiment_id"))
    return {"experiment": experiment_json(experiment)}


def get_by_name(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    name = required(req.args, "experiment_name")
    experiment = ctx.store.get_experiment_by_name(name)
    if experiment is None:
        raise NotFoundError(f"Could not find experiment with name '{name}'", name=name)
    return {"experiment": experiment_json(experiment)}


def search(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    order_by = args.get("order_by") or req.query_list("order_by")
    page = ctx.store.search_experiments(
        view_type=view_type(args.get("view_type")), max_results=as_int(args.get("max_results"), "max_results", 1000),
        filter_string=args.get("filter") or None,
        order_by=[order_by] if isinstance(order_by, str) else list(order_by),
        page_token=args.get("page_token") or None,
    )
    return page_json("experiments", [experiment_json(e) for e in page.items], page.next_page_token)


def update(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    if args.get("new_name"):
        ctx.store.rename_experiment(required(args, "experiment_id"), args["new_name"])
    return {}


def delete(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    ctx.store.delete_experiment(required(req.args, "experiment_id"))
    return {}


def restore(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    ctx.store.restore_experiment(required(req.args, "experiment_id"))
    return {}


def set_tag(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.store.set_experiment_tag(required(args, "experiment_id"), required(args, "key"), str(args.get("value", "")))
    return {}


def delete_tag(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.store.set_experiment_tag(required(args, "experiment_id"), required(args, "key"), None)
    return {}
