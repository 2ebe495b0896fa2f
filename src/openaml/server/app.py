"""``create_app(settings)``: the ASGI app. One route module per resource under
:mod:`openaml.server.routes`, each a thin edge over the services the in-process SDK calls;
every request passes :class:`~openaml.server.auth.AuthMiddleware` first (tokens and roles).

Errors leave as Azure's ``{"error": {...}}`` with the status of their code
(:mod:`openaml.rest.errors`); anything unexpected is a 500 whose body names only its class,
never its text (which might hold a secret); the server's log has the traceback.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

import pydantic
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from openaml.server.settings import VERSION as __version__
from openaml.entities._base import error_message, loc_to_path
from openaml.errors import ErrorCode, NotFoundError, OpenAMLError, ValidationError
from openaml.rest.errors import to_body
from openaml.server.actions import ActionTable
from openaml.server.auth import AuthMiddleware, Gate
from openaml.server.openapi import document
from openaml.server.routes import ROUTERS
from openaml.server.routes.mlflow import is_mlflow_path, mlflow_http_error
from openaml.server.settings import ServerSettings
from openaml.server.state import ServerState

log = logging.getLogger("openaml.server")


def error_response(error: OpenAMLError) -> JSONResponse:
    return JSONResponse(to_body(error), status_code=error.http_status)


def _pydantic(exc: pydantic.ValidationError | RequestValidationError) -> ValidationError:
    errors = list(exc.errors())
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = tuple(p for p in first.get("loc", ()) if p != "body")
    return ValidationError(error_message(first), field=loc_to_path(loc) or None,
                           errors=[{"field": loc_to_path(tuple(e.get("loc", ()))), "message": error_message(e)}
                                   for e in errors[:20]])


def create_app(settings: ServerSettings) -> FastAPI:
    """The app serving the workspaces of ``settings.workspace_settings.home``."""
    state = ServerState(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        state.close()

    # No redirects between "x" and "x/": a name that decodes to "/" must be a 404, not a 307
    # that sends the client to another resource (found by tests/server/test_hostile.py).
    app = FastAPI(title="openaml", version=__version__, lifespan=lifespan, redirect_slashes=False,
                  description="Azure Machine Learning v2's REST layout, served by openaml. "
                              "See docs/server.md of the openaml project.")
    app.state.openaml = state

    @app.exception_handler(OpenAMLError)
    async def _openaml(_request: Request, exc: OpenAMLError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(_pydantic(exc))

    @app.exception_handler(pydantic.ValidationError)
    async def _entity(_request: Request, exc: pydantic.ValidationError) -> JSONResponse:
        return error_response(_pydantic(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if is_mlflow_path(request.url.path) and exc.status_code in (404, 405):  # MLflow's clients read these
            return mlflow_http_error(exc.status_code, request.method, request.url.path)
        if exc.status_code == 404:
            return error_response(NotFoundError("no such route; see /openapi.json for what is served"))
        error = OpenAMLError(str(exc.detail))
        return JSONResponse({"error": {**to_body(error)["error"], "code": _http_code(exc.status_code)}},
                            status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error serving %s %s", request.method, request.url.path)
        error = OpenAMLError(f"internal error ({type(exc).__name__}); the server's log has the details")
        return error_response(error)

    for router in ROUTERS:
        app.include_router(router)
    # What each route needs is checked when the app is built: a route without a rule stops the start.
    table = ActionTable((method, route.path) for router in ROUTERS for route in router.routes  # type: ignore[attr-defined]
                        for method in route.methods)  # type: ignore[attr-defined]
    app.add_middleware(AuthMiddleware, gate=Gate(table, state.tokens, state.workspaces.exists,
                                                 state.workspaces.not_found))
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
    return app


def _http_code(status: int) -> str:
    return {405: "MethodNotAllowed", 413: ErrorCode.PAYLOAD_TOO_LARGE.value}.get(status, f"Http{status}")


def state_of(request: Request) -> ServerState:
    """The server's state, for a route handler."""
    return request.app.state.openaml


