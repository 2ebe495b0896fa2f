"""What every route module shares: the workspace prefix, the request's workspace and caller,
and a JSON body read with a size cap."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from openaml.constants import ListViewType
from openaml.errors import ForbiddenError, PayloadTooLargeError, ValidationError
from openaml.rest.paths import PROVIDER
from openaml.server.state import Scoped, ServerState

if TYPE_CHECKING:
    from openaml.server.auth import Principal

SCOPE = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
WORKSPACES = f"{SCOPE}/providers/{PROVIDER}/workspaces"
WORKSPACE = f"{WORKSPACES}/{{workspaceName}}"
#: Where the server's own routes live (openaml's, not Azure's): the caller, the tokens.
OPENAML = "/openaml"
#: Where :class:`~openaml.server.auth.AuthMiddleware` leaves the caller in the ASGI scope.
PRINCIPAL_KEY = "openaml.principal"
#: The request body a route reads itself (openapi: any JSON object).
JSON_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}


def state_of(request: Request) -> ServerState:
    return request.app.state.openaml


# A Host header we repeat in the URLs we publish: a name or an address, and a port.
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")


def public_base(request: Request) -> str:
    """The server's address as this request's client reaches it: ``--public-url`` when given
    (behind a proxy), else the request's scheme and ``Host`` (the socket's address when the
    header is missing or is not a host and port)."""
    settings = state_of(request).settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = request.headers.get("host", "")
    if not _HOST.match(host):
        address, port = request.scope.get("server") or (settings.host, settings.port)
        host = f"[{address}]:{port}" if ":" in str(address) else f"{address}:{port}"
    return f"{request.scope.get('scheme', 'http')}://{host}{request.scope.get('root_path', '')}"


def principal_of(request: Request) -> "Principal":
    """The caller of a request, as :class:`~openaml.server.auth.AuthMiddleware` admitted it."""
    principal = request.scope.get(PRINCIPAL_KEY)
    if principal is None:  # a public route, or an app built without the middleware: no caller
        raise ForbiddenError("this route needs a caller, and the request has none")
    return principal


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
