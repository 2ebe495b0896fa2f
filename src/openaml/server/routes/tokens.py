"""The caller and the server's tokens (openaml's routes).

``GET /openaml/whoami``: the caller's token (any valid token; ``openaml login`` checks a token
with it). ``GET|POST /openaml/tokens``, ``DELETE /openaml/tokens/{id}``: every token, for the
server administrator. ``GET|POST .../workspaces/{ws}/tokens``, ``DELETE .../tokens/{id}``: a
workspace's tokens, for its Owner (Contributors and Readers may list them). A created token is in
the answer once; lists never hold a token or its hash. What each route needs is in
:mod:`openaml.server.actions`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from openaml.entities.tokens import WORKSPACE_ROLES
from openaml.errors import ForbiddenError, ValidationError
from openaml.rest.envelope import collection
from openaml.rest.tokens import issued_resource, token_request, token_resource
from openaml.server.routes._common import JSON_BODY, OPENAML, WORKSPACE, json_body, principal_of, state_of
from openaml.services.tokens import TokenService, parse_role

router = APIRouter(tags=["tokens"])


def _tokens(request: Request) -> TokenService:
    tokens = state_of(request).tokens
    if tokens is None:
        raise ForbiddenError("this server runs with --no-auth: it issues no tokens (start it without --no-auth, "
                             "or create tokens with openaml server token create where its database is)")
    return tokens


@router.get(f"{OPENAML}/whoami", summary="The caller: its token's id, name, role and workspace (openaml's).")
def whoami(request: Request) -> dict[str, Any]:
    principal = principal_of(request)
    if principal.token is None:
        return {"authenticated": False, "role": principal.role.value, "roleName": "anyone (--no-auth)",
                "workspace": None}
    return {"authenticated": True, **token_resource(principal.token)}


@router.get(f"{OPENAML}/tokens", summary="Every token of the server, never one's secret (the administrator's).")
def list_all(request: Request, workspace: str | None = None) -> dict[str, Any]:
    return collection(token_resource(t) for t in _tokens(request).list(workspace))


@router.post(f"{OPENAML}/tokens", status_code=201, openapi_extra=JSON_BODY,
             summary="Create a token of any role (admin: no workspace); the answer holds it, once.")
def create_any(request: Request, body: Any = Depends(json_body)) -> dict[str, Any]:
    fields = token_request(body)
    issued = _tokens(request).create(fields["role"] or "", fields["workspace"], name=fields["name"],
                                     description=fields["description"])
    return issued_resource(issued)


@router.delete(f"{OPENAML}/tokens/{{tokenId}}", summary="Revoke a token.")
def revoke_any(tokenId: str, request: Request) -> dict[str, Any]:
    return token_resource(_tokens(request).revoke(tokenId))


@router.get(f"{WORKSPACE}/tokens", summary="The workspace's tokens, never one's secret (openaml's).")
def list_workspace(request: Request, subscriptionId: str, resourceGroupName: str, workspaceName: str
                   ) -> dict[str, Any]:
    workspace = _existing(request, subscriptionId, resourceGroupName, workspaceName)
    return collection(token_resource(t) for t in _tokens(request).list(workspace))


@router.post(f"{WORKSPACE}/tokens", status_code=201, openapi_extra=JSON_BODY,
             summary="Create a token with a role in the workspace; the answer holds it, once (openaml's).")
def create_in_workspace(request: Request, subscriptionId: str, resourceGroupName: str, workspaceName: str,
                        body: Any = Depends(json_body)) -> dict[str, Any]:
    fields = token_request(body)
    if fields["workspace"] not in (None, workspaceName):
        raise ValidationError("a workspace's token is for the workspace of the path", field="workspace")
    role = parse_role(fields["role"] or "")
    if role not in WORKSPACE_ROLES:
        raise ValidationError(f"a workspace's token has one of the roles {', '.join(r.value for r in WORKSPACE_ROLES)}"
                              " (admin tokens are created through /openaml/tokens)", field="role")
    workspace = _existing(request, subscriptionId, resourceGroupName, workspaceName)
    issued = _tokens(request).create(role, workspace, name=fields["name"],
                                     description=fields["description"])
    return issued_resource(issued)


@router.delete(f"{WORKSPACE}/tokens/{{tokenId}}", summary="Revoke one of the workspace's tokens (openaml's).")
def revoke_in_workspace(tokenId: str, request: Request, subscriptionId: str, resourceGroupName: str,
                        workspaceName: str) -> dict[str, Any]:
    workspace = _existing(request, subscriptionId, resourceGroupName, workspaceName)
    return token_resource(_tokens(request).revoke(tokenId, workspace=workspace))


def _existing(request: Request, subscription: str, resource_group: str, workspace: str) -> str:
    state = state_of(request)
    state.scope(subscription, resource_group, workspace)  # each segment checked
    state.workspaces.get(workspace)  # 404 when there is none
    return workspace
