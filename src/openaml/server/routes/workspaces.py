"""``.../workspaces`` and ``.../workspaces/{name}``: the server's workspaces."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from openaml.errors import AlreadyExistsError
from openaml.entities import Workspace
from openaml.rest.paths import WorkspaceScope
from openaml.rest.resources import workspace_from_body, workspace_resource
from openaml.server.routes._common import JSON_BODY, WORKSPACE, WORKSPACES, json_body, principal_of, state_of
from openaml.server.routes.mlflow import mlflow_tracking_uri
from openaml.server.routes._paging import PageRequest, page_items, page_request

router = APIRouter(tags=["workspaces"])


def _resource(request: Request, ws: Workspace, scope: WorkspaceScope) -> dict[str, Any]:
    """A workspace on the wire, with its ``mlFlowTrackingUri``: this server's MLflow mount."""
    served = ws.model_copy(update={"mlflow_tracking_uri": mlflow_tracking_uri(request, scope)})
    return workspace_resource(served, scope)


@router.get(WORKSPACES, summary="List the workspaces the caller may read.")
def list_workspaces(request: Request, subscriptionId: str, resourceGroupName: str,
                    pages: PageRequest = Depends(page_request)) -> dict[str, Any]:
    state = state_of(request)
    scope = state.scope(subscriptionId, resourceGroupName)
    caller = principal_of(request)
    visible = [ws for ws in state.workspaces.list() if caller.may_see(ws.name)]
    page = page_items(visible, lambda ws: ws.name, pages)
    return pages.respond(page, lambda ws: _resource(request, ws, WorkspaceScope(scope.subscription,
                                                                                scope.resource_group, ws.name)))


@router.get(WORKSPACE, summary="Get a workspace.")
def get_workspace(request: Request, subscriptionId: str, resourceGroupName: str, workspaceName: str
                  ) -> dict[str, Any]:
    state = state_of(request)
    scope = state.scope(subscriptionId, resourceGroupName, workspaceName)
    return _resource(request, state.workspaces.get(workspaceName), scope)


@router.put(WORKSPACE, summary="Create a workspace, or update description, display name and tags.",
            description="With `If-None-Match: *`, an existing workspace is a 409 conflict.",
            openapi_extra=JSON_BODY)
def put_workspace(request: Request, response: Response, subscriptionId: str, resourceGroupName: str,
                  workspaceName: str, body: Any = Depends(json_body)) -> dict[str, Any]:
    state = state_of(request)
    scope = state.scope(subscriptionId, resourceGroupName, workspaceName)
    entity = workspace_from_body(body, workspaceName)
    create_only = request.headers.get("if-none-match") == "*"
    if not state.workspaces.exists(workspaceName):
        try:
            created = state.create_workspace(entity)
        except AlreadyExistsError:
            if create_only:
                raise
            # Another server on the database created it since: an update then, as for any PUT.
        else:
            response.status_code = 201
            return _resource(request, created, scope)
    elif create_only:
        raise AlreadyExistsError(f"Workspace '{workspaceName}' already exists.", name=workspaceName)
    return _resource(request, state.workspaces.update(entity), scope)


@router.delete(WORKSPACE, summary="Delete a workspace and everything in it; its tokens are revoked.",
               status_code=200)
def delete_workspace(request: Request, subscriptionId: str, resourceGroupName: str, workspaceName: str
                     ) -> dict[str, Any]:
    state = state_of(request)
    state.scope(subscriptionId, resourceGroupName, workspaceName)
    state.delete_workspace(workspaceName)
    return {}


@router.post(f"{WORKSPACE}/updateStorageCredentials", openapi_extra=JSON_BODY,
             summary="Replace the credentials of the workspace's object storage (openaml's).",
             description="Body: `{\"credentials\": {...}}` as a workspace's storage takes them; checked against "
                         "the storage first. The answer never holds them.")
def update_storage_credentials(request: Request, subscriptionId: str, resourceGroupName: str, workspaceName: str,
                               body: Any = Depends(json_body)) -> dict[str, Any]:
    from openaml.entities import WorkspaceStorage
    state = state_of(request)
    scope = state.scope(subscriptionId, resourceGroupName, workspaceName)
    current = state.workspaces.get(workspaceName).storage
    creds = body.get("credentials") if isinstance(body, dict) else None
    credentials = None
    if current is not None and creds is not None:  # the credential class comes from the storage's kind
        credentials = WorkspaceStorage(**current.model_dump(exclude={"credentials"}), credentials=creds).credentials
    return _resource(request, state.workspaces.update_storage_credentials(workspaceName, credentials), scope)
