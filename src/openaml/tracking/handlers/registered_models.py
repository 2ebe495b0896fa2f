"""Registered models: create, get, rename, update, delete, search, latest versions, tags, aliases.

Each maps onto the workspace's models through ``ctx.registry`` (see
:mod:`openaml.services.mlflow_registry`); without a registry they answer 501.
"""

from __future__ import annotations

from typing import Any

from openaml.tracking.context import Request, TrackingContext
from openaml.tracking.registry_wire import (
    model_version_json, refuse_prompts, registered_model_json, tag_dict, text, text_list,
)
from openaml.tracking.wire import as_int, page_json


def create(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    tags = tag_dict(args)
    refuse_prompts(tags)
    model = ctx.registry(req).create_registered_model(text(args, "name"), tags, text(args, "description", required=False))
    return {"registered_model": registered_model_json(model)}


def get(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    return {"registered_model": registered_model_json(ctx.registry(req).get_registered_model(text(req.args, "name")))}


def rename(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    model = ctx.registry(req).rename_registered_model(text(args, "name"), text(args, "new_name"))
    return {"registered_model": registered_model_json(model)}


def update(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    model = ctx.registry(req).update_registered_model(text(args, "name"), text(args, "description", required=False))
    return {"registered_model": registered_model_json(model)}


def delete(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    ctx.registry(req).delete_registered_model(text(req.args, "name"))
    return {}


def search(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    page = ctx.registry(req).search_registered_models(
        text(args, "filter", required=False), as_int(args.get("max_results"), "max_results"),
        text_list(req, "order_by"), text(args, "page_token", required=False))
    return page_json("registered_models", [registered_model_json(m) for m in page.items], page.next_page_token)


def get_latest_versions(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    versions = ctx.registry(req).get_latest_versions(text(req.args, "name"), text_list(req, "stages"))
    return {"model_versions": [model_version_json(v) for v in versions]} if versions else {}


def set_tag(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.registry(req).set_registered_model_tag(text(args, "name"), text(args, "key"),
                                               text(args, "value", required=False) or "")
    return {}


def delete_tag(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.registry(req).delete_registered_model_tag(text(args, "name"), text(args, "key"))
    return {}


def set_alias(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.registry(req).set_registered_model_alias(text(args, "name"), text(args, "alias"), text(args, "version"))
    return {}


def delete_alias(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.registry(req).delete_registered_model_alias(text(args, "name"), text(args, "alias"))
    return {}


def get_by_alias(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    version = ctx.registry(req).get_model_version_by_alias(text(args, "name"), text(args, "alias"))
    return {"model_version": model_version_json(version)}
