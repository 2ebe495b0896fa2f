"""``.../workspaces/{ws}/computes``: compute targets (secrets are write-only), and this
machine's size and the workspace's usage (openaml's ``vmSizes`` and ``usages``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from openaml.rest.resources import compute_from_body, compute_resource
from openaml.server.routes._common import JSON_BODY, WORKSPACE, json_body, state_of, workspace
from openaml.server.routes._paging import PageRequest, page_items, page_request
from openaml.server.state import Scoped
from openaml.services import compute_usage
from openaml.services.compute import ComputeService

router = APIRouter(tags=["computes"])
BASE = f"{WORKSPACE}/computes"


@router.get(BASE, summary="List compute targets (computeType: only that type).")
def list_computes(ws: Scoped = Depends(workspace), computeType: str | None = None,
                  pages: PageRequest = Depends(page_request)) -> dict[str, Any]:
    page = page_items(ComputeService(ws.ctx).list(computeType), lambda c: c.name, pages)
    return pages.respond(page, lambda c: compute_resource(c, ws.scope))


@router.get(BASE + "/{name}", summary="Get a compute target.")
def get_compute(name: str, ws: Scoped = Depends(workspace)) -> dict[str, Any]:
    return compute_resource(ComputeService(ws.ctx).get(name), ws.scope)


@router.put(BASE + "/{name}", openapi_extra=JSON_BODY, summary="Create or replace a compute target.")
def put_compute(name: str, ws: Scoped = Depends(workspace), body: Any = Depends(json_body)) -> dict[str, Any]:
    return compute_resource(ComputeService(ws.ctx).create_or_update(compute_from_body(body, name)), ws.scope)


@router.delete(BASE + "/{name}", summary="Delete a compute target.")
def delete_compute(name: str, ws: Scoped = Depends(workspace)) -> dict[str, Any]:
    ComputeService(ws.ctx).delete(name)
    return {}


@router.get(f"{WORKSPACE}/vmSizes", summary="The size every local compute has: this machine's (openaml's).")
def vm_sizes(request: Request, ws: Scoped = Depends(workspace), pages: PageRequest = Depends(page_request)
             ) -> dict[str, Any]:
    size = compute_usage.machine_size(state_of(request).settings.workspace_settings.home)
    return pages.respond(page_items([size], lambda s: s.name or "", pages), _json)


@router.get(f"{WORKSPACE}/usages", summary="vCPUs and job slots the workspace's running jobs hold (openaml's).")
def usages(ws: Scoped = Depends(workspace), pages: PageRequest = Depends(page_request)) -> dict[str, Any]:
    items = sorted(compute_usage.usage(ws.ctx), key=lambda u: u.id or "")
    return pages.respond(page_items(items, lambda u: u.id or "", pages), _json)


def _json(item: Any) -> dict[str, Any]:
    return item.model_dump(mode="json", exclude_none=True)
