"""``.../workspaces/{ws}/computes``: compute targets (secrets are write-only), and this
machine's size and the workspace's usage (openaml's ``vmSizes`` and ``usages``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from openaml.rest.envelope import collection
from openaml.rest.resources import compute_from_body, compute_resource
from openaml.server.routes._common import JSON_BODY, WORKSPACE, json_body, state_of, workspace
from openaml.server.state import Scoped
from openaml.services import compute_usage
from openaml.services.compute import ComputeService

router = APIRouter(tags=["computes"])
BASE = f"{WORKSPACE}/computes"


@router.get(BASE, summary="List compute targets (computeType: only that type).")
def list_computes(ws: Scoped = Depends(workspace), computeType: str | None = None) -> dict[str, Any]:
    return collection(compute_resource(c, ws.scope) for c in ComputeService(ws.ctx).list(computeType))


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
def vm_sizes(request: Request, ws: Scoped = Depends(workspace)) -> dict[str, Any]:
    size = compute_usage.machine_size(state_of(request).settings.workspace_settings.home)
    return collection([size.model_dump(mode="json", exclude_none=True)])


@router.get(f"{WORKSPACE}/usages", summary="vCPUs and job slots the workspace's running jobs hold (openaml's).")
def usages(ws: Scoped = Depends(workspace)) -> dict[str, Any]:
    return collection(u.model_dump(mode="json", exclude_none=True) for u in compute_usage.usage(ws.ctx))
