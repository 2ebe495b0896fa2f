"""What every route module shares: the workspace prefix, the request's workspace, and a JSON
body read with a size cap."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from openaml.constants import ListViewType
from openaml.errors import PayloadTooLargeError, ValidationError
from openaml.rest.paths import PROVIDER
from openaml.server.state import Scoped, ServerState

SCOPE = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
WORKSPACES = f"{SCOPE}/providers/{PROVIDER}/workspaces"
WORKSPACE = f"{WORKSPACES}/{{workspaceName}}"
#: The request body a route reads itself (openapi: any JSON object).
JSON_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}


def state_of(request: Request) -> ServerState:
    return request.app.state.openaml


async def workspace(request: Request, subscriptionId: str, resourceGroupName: str, workspaceName: str) -> Scoped:
    """Dependency: the request's workspace, opened (404 WorkspaceNotFound when it does not exist).

    Async on purpose: a workspace already open is found without I/O on the event loop, saving
    every request a trip through the thread pool; opening one (its database, its storage) goes
    to the thread pool."""
    state = state_of(request)
    found = state.opened(subscriptionId, resourceGroupName, workspaceName)
    if found is not None:
        return found
    return await run_in_threadpool(state.open, subscriptionId, resourceGroupName, workspaceName)


async def json_body(request: Request) -> Any:
    """Dependency: the request's JSON body, refused past the server's cap before it is all read."""
    cap = state_of(request).settings.max_json_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise PayloadTooLargeError(f"the request body is {declared} bytes; at most {cap} are accepted "
                                   "(files travel to /blobs, not in a spec)", field="body")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > cap:
            raise PayloadTooLargeError(f"the request body is over {cap} bytes", field="body")
    try:
        return json.loads(data or b"{}")
    except ValueError as exc:
        raise ValidationError(f"the request body is not JSON: {exc}", field="body") from None


def view(value: str | None) -> ListViewType:
    """Azure's ``listViewType`` query value."""
    try:
        return ListViewType(value or ListViewType.ACTIVE_ONLY.value)
    except ValueError:
        raise ValidationError(f"listViewType must be one of {', '.join(v.value for v in ListViewType)}, "
                              f"not {value!r}", field="listViewType") from None


def properties(body: Any) -> dict[str, Any]:
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise ValidationError("the request body needs properties (an object)", field="properties")
    return props
