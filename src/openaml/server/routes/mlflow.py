"""MLflow's REST API for every workspace, inside the app: ``/mlflow/v2.0`` + the workspace's
path, then MLflow's own paths (``/api/2.0/mlflow/...``, ``/ajax-api/...``, ``/api/3.0/...``,
``/api/2.0/mlflow-artifacts/artifacts/...``). A workspace's ``mlflow_tracking_uri`` points here.

Requests go to :func:`openaml.tracking.dispatch.dispatch` with the workspace's tracking context:
the route table, validation and handlers a job's own endpoint serves, so the answers (and
MLflow's error JSON and status codes) are the same. Handlers are synchronous and may block: each
request runs in the server's thread pool. Artifact uploads stream from the socket into the
handler chunk by chunk, and downloads stream from the file; neither is held in memory.

Every route stays inside the app (no sub-application, no second server), so the app's token
check (:class:`~openaml.server.auth.AuthMiddleware`) covers these too; what it refuses here it
answers in MLflow's shape (:func:`mlflow_refusal`), which stock MLflow clients print as
``UNAUTHENTICATED: ...``, ``PERMISSION_DENIED: ...`` or ``RESOURCE_DOES_NOT_EXIST: ...``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.requests import ClientDisconnect

from openaml.errors import NotFoundError, OpenAMLError
from openaml.rest.paths import WorkspaceScope
from openaml.server.routes._common import WORKSPACE, public_base, state_of
from openaml.tracking.context import Request as TrackingRequest
from openaml.tracking.dispatch import NOT_FOUND, Reply, dispatch, error_reply
from openaml.tracking.wire import MlflowApiError, api_error

log = logging.getLogger("openaml.server")

#: Where every workspace's MLflow API starts (Azure's layout has ``/mlflow/v1.0``; ours is v2.0).
MLFLOW_ROOT = "/mlflow/v2.0"
MOUNT = f"{MLFLOW_ROOT}{WORKSPACE}"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: A body declared at most this long is read on the event loop before the handler runs (MLflow's
#: JSON requests: one hand-over instead of one per chunk); a longer one, or one of unknown length
#: (chunked), streams to the handler as it arrives.
PREREAD_BYTES = 256 * 1024

router = APIRouter(tags=["mlflow"])


def mlflow_tracking_uri(request: Request, scope: WorkspaceScope) -> str:
    """The workspace's ``mlflow_tracking_uri``: this server's public address and the mount."""
    return f"{public_base(request)}{MLFLOW_ROOT}{scope.base}"


def is_mlflow_path(path: str) -> bool:
    """Whether *path* is under the MLflow mount (its errors are then MLflow's shape)."""
    return path.startswith(MLFLOW_ROOT + "/")


def mlflow_http_error(status: int, method: str, path: str) -> Response:
    """MLflow's answer for what the app's router refuses on a mount path: 404
    ENDPOINT_NOT_FOUND, or 405 for a method MLflow has no route for (as ``mlflow server``)."""
    error = NOT_FOUND if status == 404 else MlflowApiError(
        "BAD_REQUEST", f"Method {method} is not allowed for {path}.", status)
    reply = error_reply(error)
    return Response(reply.body, status_code=reply.status, media_type=reply.content_type)


def mlflow_refusal(error: OpenAMLError, method: str, path: str, *, routed: bool,
                   headers: dict[str, str]) -> Response:
    """MLflow's answer for a request under the mount that the token check refused: 401
    UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 RESOURCE_DOES_NOT_EXIST (another workspace's, as
    one that does not exist), with the check's message and *headers* (``WWW-Authenticate``).
    A path no route serves (``routed`` false) is the 404 ENDPOINT_NOT_FOUND the router would
    answer. Stock clients read only ``error_code`` and ``message``: Azure's envelope would reach
    their users as ``INTERNAL_ERROR: Response: {...}`` (MLflow 2 clients fail on its code)."""
    if not routed and isinstance(error, NotFoundError):
        return mlflow_http_error(404, method, path)
    reply = error_reply(error)
    return Response(reply.body, status_code=reply.status, media_type=reply.content_type, headers=headers)


def server_errors(exc: BaseException) -> MlflowApiError:
    """MLflow's error for *exc*, as :func:`openaml.tracking.wire.api_error` maps it, except that an
    unexpected failure names only its class (its text might hold a secret: a database URL, a
    path); the server's log has the traceback."""
    if isinstance(exc, ClientDisconnect):
        return MlflowApiError("INVALID_PARAMETER_VALUE", "The client closed the connection mid-body.")
    if isinstance(exc, MlflowApiError | OpenAMLError):
        return api_error(exc)
    log.error("unexpected error serving MLflow's API", exc_info=exc)
    return MlflowApiError("INTERNAL_ERROR", f"internal error ({type(exc).__name__}); the server's log has "
                          "the details", 500)


class _Body:
    """The request body as the synchronous chunks a handler reads, from the worker thread: each
    chunk is received on the event loop as it arrives, so an upload never sits whole in memory."""

    def __init__(self, request: Request) -> None:
        self._stream = request.stream()

    async def _next(self) -> bytes | None:
        try:
            return await self._stream.__anext__()
        except StopAsyncIteration:
            return None

    def chunks(self) -> Iterator[bytes]:
        while (chunk := anyio.from_thread.run(self._next)) is not None:
            if chunk:
                yield chunk

    async def close(self) -> None:
        await self._stream.aclose()


def _response(reply: Reply) -> Response:
    if reply.file is not None:
        return FileResponse(reply.file, media_type=reply.content_type)
    return Response(reply.body, status_code=reply.status, media_type=reply.content_type)


async def _body_of(request: Request) -> tuple[Callable[[], Iterator[bytes]], _Body | None]:
    """The request's body as a handler reads it, and the stream to close once it has run."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) <= PREREAD_BYTES:
        data = await request.body()
        return (lambda: iter((data,) if data else ())), None
    body = _Body(request)
    return body.chunks, body


async def mlflow_api(request: Request, subscriptionId: str, resourceGroupName: str, workspaceName: str,
                     mlflowPath: str) -> Response:
    """One MLflow request against one workspace, answered in a worker thread."""
    state = state_of(request)
    try:
        chunks, stream = await _body_of(request)
    except ClientDisconnect:  # gone before its body arrived: nobody reads an answer
        return Response(status_code=400)
    query = parse_qs(request.scope.get("query_string", b"").decode("latin-1"))

    def answer() -> Reply:
        try:
            context = state.tracking(subscriptionId, resourceGroupName, workspaceName)
        except Exception as exc:  # noqa: BLE001 - a missing or invalid workspace is MLflow's error JSON
            return error_reply(exc, server_errors)
        tracking_request = TrackingRequest(request.method, "/" + mlflowPath, query, request.headers, chunks)
        return dispatch(context, tracking_request, server_errors)

    try:
        reply = await anyio.to_thread.run_sync(answer)
    finally:
        if stream is not None:
            await stream.close()
    return _response(reply)


_DESCRIPTION = ("MLflow's REST API (tracking, proxied artifacts, model registry) over the workspace: "
                "`mlflowPath` is what an MLflow client appends to its tracking URI, e.g. "
                "`api/2.0/mlflow/runs/search` or `api/2.0/mlflow-artifacts/artifacts/<path>`. Answers and "
                "errors are MLflow's (`{\"error_code\", \"message\"}`); MLflow endpoints openaml does not "
                "serve answer 501 NOT_IMPLEMENTED, as a job's endpoint does. See docs/mlflow.md.")

_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such workspace (RESOURCE_DOES_NOT_EXIST) or endpoint (ENDPOINT_NOT_FOUND)"},
    501: {"description": "An MLflow endpoint openaml does not serve (NOT_IMPLEMENTED)"},
}

# One route per method (one OpenAPI operation each), all on the same handler.
for _method in METHODS:
    router.add_api_route(f"{MOUNT}/{{mlflowPath:path}}", mlflow_api, methods=[_method],
                         name=f"mlflow_api_{_method.lower()}", summary=f"MLflow's REST API ({_method}).",
                         description=_DESCRIPTION, responses=_RESPONSES, response_class=Response)
