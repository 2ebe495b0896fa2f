"""One request through MLflow's REST API, whatever carries it: match the route, validate the
arguments, call the handler, and turn its result (or its error) into a :class:`Reply`.

Two transports call :func:`dispatch`: the job's own endpoint (:mod:`openaml.tracking.server`, the
standard library's HTTP server) and the openaml server's per-workspace mount (an ASGI route).
Each reads the request its own way into a :class:`~openaml.tracking.context.Request` and writes
the :class:`Reply` back; everything MLflow's clients can observe (routes, status codes, error
JSON, bodies) is decided here, once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openaml.tracking import routes, validation
from openaml.tracking.context import FileResponse, JsonResponse, Request, TextResponse, TrackingContext
from openaml.tracking.wire import MlflowApiError, api_error

__all__ = ["JSON", "NOT_FOUND", "ErrorMapper", "Reply", "dispatch", "error_reply"]

JSON = "application/json"
NOT_FOUND = MlflowApiError("ENDPOINT_NOT_FOUND", "This API endpoint does not exist on this server.", 404)

#: Maps any exception a request raised to MLflow's error (:func:`openaml.tracking.wire.api_error`
#: unless the transport says otherwise, e.g. to keep an unexpected error's text in its log).
ErrorMapper = Callable[[BaseException], MlflowApiError]


@dataclass(frozen=True)
class Reply:
    """What to answer: a status, a content type and either a body or a file to stream."""

    status: int
    content_type: str
    body: bytes = b""
    file: Path | None = None  # stream this file (an artifact download) instead of ``body``


def error_reply(exc: BaseException, errors: ErrorMapper = api_error) -> Reply:
    """MLflow's ``{"error_code", "message"}`` with its status, for any exception."""
    error = errors(exc)
    return Reply(error.status, JSON, json.dumps(error.to_json()).encode())


def dispatch(context: TrackingContext, request: Request, errors: ErrorMapper = api_error) -> Reply:
    """Answer *request* (its ``path`` unquoted and relative to the API's root, e.g.
    ``/api/2.0/mlflow/runs/get``) over *context*'s workspace. Never raises: every failure is
    MLflow's error JSON. The request's body may be left partly unread (a transport that keeps
    connections alive drains it)."""
    try:
        found = routes.match(request.method, request.path)
        if found is None:
            raise NOT_FOUND
        handler, request.path_params = found
        rules = validation.rules_for(handler)
        if rules is not None:  # artifact transfers have no JSON body to check
            validation.check(rules, request.args)
        result = handler(context, request)
    except Exception as exc:  # noqa: BLE001 - every failure becomes MLflow's error JSON
        return error_reply(exc, errors)
    if isinstance(result, JsonResponse):
        return Reply(200, JSON, result.body)
    if isinstance(result, FileResponse):
        return Reply(200, result.content_type, file=result.path)
    if isinstance(result, TextResponse):
        return Reply(result.status, result.content_type, result.body.encode())
    return Reply(200, JSON, json.dumps(result, separators=(",", ":")).encode())
