"""``.../workspaces/{ws}/datastores``: datastores. ``GET`` never returns a secret; ``POST
.../listSecrets`` (Azure's) does, to the roles allowed its action (Owner, Contributor, the
server administrator), and never under ``--no-auth`` (:mod:`openaml.server.auth` decides)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from openaml.rest.resources import datastore_from_body, datastore_resource, secrets_body
from openaml.server.routes._common import JSON_BODY, WORKSPACE, json_body, workspace
from openaml.server.routes._paging import PageRequest, page_items, page_request
from openaml.server.state import Scoped
from openaml.services.datastores import DatastoreService

router = APIRouter(tags=["datastores"])
BASE = f"{WORKSPACE}/datastores"


@router.get(BASE, summary="List datastores (isDefault=true: only the default one).")
def list_datastores(ws: Scoped = Depends(workspace), isDefault: bool | None = None,
                    pages: PageRequest = Depends(page_request)) -> dict[str, Any]:
    default = ws.ctx.default_datastore
    items = DatastoreService(ws.ctx).list()
    if isDefault is not None:
        items = [d for d in items if (d.name == default) == isDefault]
    page = page_items(items, lambda d: d.name, pages)
    return pages.respond(page, lambda d: datastore_resource(d, ws.scope, is_default=d.name == default))


@router.get(BASE + "/{name}", summary="Get a datastore (without its secrets).")
def get_datastore(name: str, ws: Scoped = Depends(workspace)) -> dict[str, Any]:
    found = DatastoreService(ws.ctx).get(name)
    return datastore_resource(found, ws.scope, is_default=name == ws.ctx.default_datastore)


@router.put(BASE + "/{name}", openapi_extra=JSON_BODY,
            summary="Create or replace a datastore; its credentials are stored encrypted and never returned.")
def put_datastore(name: str, ws: Scoped = Depends(workspace), body: Any = Depends(json_body)) -> dict[str, Any]:
    stored = DatastoreService(ws.ctx).create_or_update(datastore_from_body(body, name))
    return datastore_resource(stored, ws.scope, is_default=name == ws.ctx.default_datastore)


@router.delete(BASE + "/{name}", summary="Forget a datastore (its files stay where they are).")
def delete_datastore(name: str, ws: Scoped = Depends(workspace)) -> dict[str, Any]:
    DatastoreService(ws.ctx).delete(name)
    return {}


@router.post(BASE + "/{name}/listSecrets",
             summary="A datastore's secrets (Azure's listSecrets): for Owners and Contributors; never with --no-auth.")
def list_secrets(name: str, ws: Scoped = Depends(workspace)) -> dict[str, Any]:
    return secrets_body(DatastoreService(ws.ctx).get(name, include_secrets=True))
