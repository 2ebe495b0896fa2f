"""Model versions: create, get, update, delete, search, tags, transition-stage, download URI.

A version is a workspace model version (see :mod:`openaml.services.mlflow_registry`); without a
registry these answer 501.
"""

from __future__ import annotations

from typing import Any

from openaml.tracking.context import Request, TrackingContext
from openaml.tracking.registry_wire import flag, model_version_json, refuse_prompts, tag_dict, text, text_list
from openaml.tracking.wire import as_int, invalid, page_json


def _name_version(args: dict[str, Any]) -> tuple[str, str]:
    version = args.get("version")
    if isinstance(version, int) and not isinstance(version, bool):  # a number in a JSON body
        version = str(version)
    if isinstance(version, str) and version and not version.lstrip("-").isdigit():
        # MLflow's versions are integers; an openaml version such as "1.0" is not reachable here.
        raise invalid(f"Parameter 'version' must be an integer, got '{version}'.")
    return text(args, "name"), text({"version": version}, "version")  # type: ignore[return-value]


def create(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    tags = tag_dict(args)
    refuse_prompts(tags)
    version = ctx.registry(req).create_model_version(
        text(args, "name"), text(args, "source"), run_id=text(args, "run_id", required=False), tags=tags,
        run_link=text(args, "run_link", required=False), description=text(args, "description", required=False),
        model_id=text(args, "model_id", required=False))
    return {"model_version": model_version_json(version)}


def get(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    return {"model_version": model_version_json(ctx.registry(req).get_model_version(*_name_version(req.args)))}


def update(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    version = ctx.registry(req).update_model_version(*_name_version(args), text(args, "description", required=False))
    return {"model_version": model_version_json(version)}


def delete(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    ctx.registry(req).delete_model_version(*_name_version(req.args))
    return {}


def search(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    page = ctx.registry(req).search_model_versions(
        text(args, "filter", required=False), as_int(args.get("max_results"), "max_results"),
        text_list(req, "order_by"), text(args, "page_token", required=False))
    return page_json("model_versions", [model_version_json(v) for v in page.items], page.next_page_token)


def set_tag(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.registry(req).set_model_version_tag(*_name_version(args), text(args, "key"),
                                            text(args, "value", required=False) or "")
    return {}


def delete_tag(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.registry(req).delete_model_version_tag(*_name_version(args), text(args, "key"))
    return {}


def transition_stage(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    version = ctx.registry(req).transition_model_version_stage(
        *_name_version(args), text(args, "stage"), flag(args, "archive_existing_versions"))
    return {"model_version": model_version_json(version)}


def get_download_uri(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    return {"artifact_uri": ctx.registry(req).get_model_version_download_uri(*_name_version(req.args))}
