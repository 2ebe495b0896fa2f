"""Who may do what: every request passes :class:`AuthMiddleware` before any route sees it.

The middleware finds the request's rule (:mod:`openaml.server.actions`: the route table, and
MLflow's API by method and path), reads ``Authorization: Bearer <token>``, and lets the request
through only when the token may: a missing, malformed, unknown or revoked token is a 401 with
``WWW-Authenticate: Bearer``; a token whose role does not allow the action a 403
``AuthorizationFailed``; a workspace's token asking for another workspace, or to create one, the
same 404 as a workspace that does not exist. Errors are Azure's envelope, except under MLflow's
mount, where they are MLflow's (``UNAUTHENTICATED``, ``PERMISSION_DENIED``,
``RESOURCE_DOES_NOT_EXIST``: what stock MLflow clients print); no answer or log line repeats a
presented token. Routes read the caller with
:func:`~openaml.server.routes._common.principal_of`.

Being ASGI middleware, it covers whatever the app mounts (MLflow's routes included) without the
mounted code calling it. Under ``--no-auth`` (loopback only) every caller is :data:`NO_AUTH`:
everything but reading datastore secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, MutableMapping

import anyio.to_thread
from fastapi.responses import JSONResponse, Response

from openaml.entities.tokens import Role, TokenInfo
from openaml.errors import AuthenticationError, ForbiddenError, NotFoundError, OpenAMLError
from openaml.rest.errors import to_body
from openaml.server.actions import ActionTable, Resolved, Scope
from openaml.server.routes._common import PRINCIPAL_KEY
from openaml.server.routes.mlflow import MLFLOW_ROOT, is_mlflow_path, mlflow_refusal
from openaml.services.roles import LIST_SECRETS, allows, qualified
from openaml.services.tokens import MAX_TOKEN_CHARS, TokenService

ASGIApp = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
                   Awaitable[None]]
#: An Authorization header longer than this is refused unread.
MAX_HEADER_BYTES = 1024
#: The ``reason`` of the :class:`AuthenticationError` of a request without a token (RFC 6750:
#: its challenge carries no error code).
MISSING = "missing"


@dataclass(frozen=True)
class Principal:
    """The caller of a request: a token's role, in its workspace (None: the whole server), or,
    without a token, :data:`NO_AUTH` (the server runs with ``--no-auth``)."""

    role: Role
    workspace: str | None
    token: TokenInfo | None

    @property
    def authenticated(self) -> bool:
        return self.token is not None

    def may_see(self, workspace: str) -> bool:
        """Whether *workspace* is one the caller may read (the workspace list shows only those)."""
        if self.workspace is not None and self.workspace != workspace:
            return False
        return allows(self.role, "workspaces/read")

    def describe(self) -> str:
        """Who the caller is, for a message: the token's name and id, never the token."""
        if self.token is None:
            return "an unauthenticated caller (the server runs with --no-auth)"
        where = f" of workspace '{self.workspace}'" if self.workspace else ""
        return f"token '{self.token.name}' ({self.token.id}, {self.role.display_name}{where})"


NO_AUTH = Principal(Role.ADMIN, None, None)


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str:
    """The token of the request's ``Authorization: Bearer`` header; :class:`AuthenticationError`
    when there is none, more than one, or one that cannot be a token (too long, not ASCII)."""
    values = [v for k, v in headers if k.lower() == b"authorization"]
    if not values:
        raise AuthenticationError("Authentication failed: the request has no 'Authorization: Bearer <token>' "
                                  "header (openaml login, OPENAML_TOKEN, or MLFLOW_TRACKING_TOKEN for MLflow)",
                                  reason=MISSING)
    if len(values) > 1 or len(values[0]) > MAX_HEADER_BYTES:
        raise AuthenticationError("Authentication failed: the Authorization header is not one bearer token")
    try:
        scheme, _, token = values[0].decode("ascii").strip().partition(" ")
    except UnicodeDecodeError:
        raise AuthenticationError("Authentication failed: the Authorization header is not ASCII") from None
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
        raise AuthenticationError("Authentication failed: the Authorization header must be 'Bearer <token>'")
    return token


class Gate:
    """The decision for one request: authenticate its token, then authorise its rule."""

    def __init__(self, table: ActionTable, tokens: TokenService | None, workspace_exists: Callable[[str], bool],
                 not_found: Callable[[str], NotFoundError]) -> None:
        self.table = table
        self.tokens = tokens  # None: --no-auth
        self._exists = workspace_exists
        self._not_found = not_found

    def authenticate(self, headers: list[tuple[bytes, bytes]]) -> Principal:
        """The caller the headers present (:data:`NO_AUTH` when the server runs without tokens)."""
        if self.tokens is None:
            return NO_AUTH
        info = self.tokens.authenticate(bearer_token(headers))
        return Principal(info.role, info.workspace, info)

    def authorize(self, principal: Principal, resolved: Resolved, path: str) -> None:
        """Raise what the caller may not do: 403 (the role), 404 (another workspace)."""
        rule = resolved.rule
        if rule.scope is Scope.SERVER and not principal.role.is_admin:
            raise ForbiddenError(f"{principal.describe()} may not do this: it is the server administrator's "
                                 "(an admin token: openaml server token create --role admin)")
        if rule.scope is not Scope.WORKSPACE or rule.action is None:
            return
        workspace = resolved.workspace or ""
        if principal.workspace is not None and workspace != principal.workspace:
            raise self._not_found(workspace)
        if rule.creates and not principal.role.is_admin and not self._exists(workspace):
            raise self._not_found(workspace)  # creating a workspace is the administrator's
        if not principal.authenticated and rule.action == LIST_SECRETS:
            raise ForbiddenError("this server runs with --no-auth: it cannot tell the workspace's owner from any "
                                 "other user of the machine, so it does not hand out datastore secrets. Read them "
                                 "where the workspace lives (without --server), or serve with tokens.",
                                 field="include_secrets")
        if not allows(principal.role, rule.action):
            raise ForbiddenError(f"{principal.describe()} does not have authorization to perform action "
                                 f"'{qualified(rule.action)}' over scope '{_scope(path, workspace)}'",
                                 action=qualified(rule.action))

    def admit_now(self, resolved: Resolved | None, path: str, headers: list[tuple[bytes, bytes]]) -> Principal | None:
        """:meth:`admit` when it can decide without blocking (no token store read, no disk):
        the caller, or the error raised; None when :meth:`admit` must run in a thread."""
        if self.tokens is None:
            principal = NO_AUTH
        else:
            info = self.tokens.recently_valid(bearer_token(headers))
            if info is None:
                return None
            principal = Principal(info.role, info.workspace, info)
        if resolved is not None and resolved.rule.creates:
            return None  # may look at the disk
        return self._decide(principal, resolved, path)

    def admit(self, resolved: Resolved | None, path: str, headers: list[tuple[bytes, bytes]]) -> Principal:
        """The caller of a request whose rule is *resolved* (None: no route serves its path) if
        it may proceed, else the error to answer. Blocking: it reads the token store."""
        return self._decide(self.authenticate(headers), resolved, path)

    def _decide(self, principal: Principal, resolved: Resolved | None, path: str) -> Principal:
        if resolved is None:  # no route serves it: the app says so to the admin, 404 to others
            if not principal.role.is_admin:
                raise NotFoundError("no such route; see /openapi.json for what is served")
            return principal
        self.authorize(principal, resolved, path)
        return principal


def _scope(path: str, workspace: str) -> str:
    """Azure's scope of *path*: the workspace's resource id (without MLflow's mount prefix)."""
    marker = f"/workspaces/{workspace}"
    at = path.find(marker)
    scope = path[: at + len(marker)] if at >= 0 else path
    return scope.removeprefix(MLFLOW_ROOT) if is_mlflow_path(scope) else scope


class AuthMiddleware:
    """ASGI middleware: each HTTP request is admitted by the :class:`Gate` or answered with its
    error; the admitted caller is in ``scope["openaml.principal"]``."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no route takes a websocket; refuse one rather than pass it on
            await send({"type": "websocket.close", "code": 1008})
            return
        resolved = self.gate.table.resolve(scope["method"], scope["path"])
        if resolved is not None and resolved.rule.scope is Scope.PUBLIC:
            scope[PRINCIPAL_KEY] = None
            await self.app(scope, receive, send)
            return
        try:
            principal = self.gate.admit_now(resolved, scope["path"], scope["headers"])
            if principal is None:  # the token store (or the disk) must be read: not on the event loop
                principal = await anyio.to_thread.run_sync(self.gate.admit, resolved, scope["path"], scope["headers"])
        except OpenAMLError as error:
            await _refusal(error, scope["method"], scope["path"], routed=resolved is not None)(scope, receive, send)
            return
        scope[PRINCIPAL_KEY] = principal
        await self.app(scope, receive, send)


def _refusal(error: OpenAMLError, method: str, path: str, *, routed: bool) -> Response:
    """The answer to a refused request: Azure's envelope, or MLflow's error under its mount."""
    headers = {}
    if isinstance(error, AuthenticationError):
        missing = error.details.get("reason") == MISSING
        headers["WWW-Authenticate"] = 'Bearer realm="openaml"' if missing else \
            'Bearer realm="openaml", error="invalid_token"'
    if is_mlflow_path(path):
        return mlflow_refusal(error, method, path, routed=routed, headers=headers)
    return JSONResponse(to_body(error), status_code=error.http_status, headers=headers)
