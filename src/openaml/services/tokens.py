"""Issuing, listing, revoking and checking the server's access tokens.

A token reads ``oaml_<id>_<secret>``: 16 hex digits of id (public: lists and logs name a token
by it) and 32 random bytes of secret (43 characters of base64url). It is shown once, when
created; the store keeps the sha256 of the whole token. Checking one parses it strictly, finds
its id and compares the hashes in constant time, so that neither a malformed nor a wrong token
costs more than one indexed read, and no message ever repeats what was presented. A valid token
is remembered for :data:`CACHE_SECONDS` (by its hash), so a busy client costs one read per
token every few seconds, not one per request.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from openaml.entities.tokens import WORKSPACE_ROLES, IssuedToken, Role, TokenInfo
from openaml.errors import AuthenticationError, NotFoundError, ValidationError, WorkspaceNotFoundError
from openaml.names import check_name
from openaml.store.tokens import TokenStore

PREFIX = "oaml_"
_FORMAT = re.compile(r"oaml_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_ID = re.compile(r"[0-9a-f]{16}")
#: Longer than any token: what is longer is refused before it is parsed.
MAX_TOKEN_CHARS = 128
MAX_NAME_CHARS = 255
MAX_DESCRIPTION_CHARS = 1024
#: ``last_used_at`` is written when the stored time is older than this, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: A token found valid is believed for this long without reading the store again (a revocation
#: through the same service takes effect at once; one by another process within this time).
CACHE_SECONDS = 2.0
_CACHE_ENTRIES = 10_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def token_digest(token: str) -> str:
    """The sha256 (hex) a token is stored as."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def parse_role(value: str | Role) -> Role:
    """The :class:`Role` *value* names (``owner``, ``contributor``, ``data-scientist``, ``reader``, ``admin``)."""
    try:
        return Role(value)
    except ValueError:
        raise ValidationError(f"role must be one of {', '.join(r.value for r in Role)}, not {value!r}",
                              field="role") from None


def _text(value: str | None, field: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or _CONTROL.search(value):
        raise ValidationError(f"{field} must be text of at most {limit} characters without control "
                              "characters", field=field)
    return value


class TokenService:
    """The tokens in *store*. *workspace_exists* tells whether a workspace exists (a token is
    created only for one that does)."""

    def __init__(self, store: TokenStore, workspace_exists: Callable[[str], bool], *,
                 clock: Callable[[], datetime] = _now, cache_seconds: float = CACHE_SECONDS) -> None:
        self.store = store
        self._exists = workspace_exists
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._valid: dict[str, tuple[TokenInfo, float]] = {}  # token digest -> (record, believed until)

    def create(self, role: Role | str, workspace: str | None = None, *, name: str | None = None,
               description: str | None = None) -> IssuedToken:
        """A new token of *role* for *workspace* (none for ``admin``, which every other role needs)."""
        role = parse_role(role)
        if role.is_admin and workspace is not None:
            raise ValidationError("an admin token is the whole server's: give no workspace", field="workspace")
        if not role.is_admin:
            if workspace is None:
                raise ValidationError(f"a {role.value} token is for one workspace: give --workspace "
                                      f"(roles: {', '.join(r.value for r in WORKSPACE_ROLES)}; admin has none)",
                                      field="workspace")
            check_name("workspace", workspace, field="workspace")
            if not self._exists(workspace):
                raise WorkspaceNotFoundError(f"Workspace '{workspace}' not found: a token is for an existing "
                                             "workspace.", name=workspace)
        token_id = secrets.token_hex(8)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        info = TokenInfo(id=token_id, name=_text(name, "name", MAX_NAME_CHARS) or f"{role.value}-{token_id[:6]}",
                         description=_text(description, "description", MAX_DESCRIPTION_CHARS), role=role,
                         workspace=workspace, created_at=self._clock())
        self.store.add(info, token_digest(token))
        return IssuedToken(info, token)

    def list(self, workspace: str | None = None) -> list[TokenInfo]:
        """Every token (never a secret or its hash), oldest first; only *workspace*'s when given."""
        return self.store.list(workspace)

    def get(self, token_id: str, *, workspace: str | None = None) -> TokenInfo:
        """The token of that id (of *workspace*, when given); :class:`NotFoundError` otherwise."""
        stored = self.store.find(token_id) if isinstance(token_id, str) and _ID.fullmatch(token_id) else None
        if stored is None or (workspace is not None and stored.info.workspace != workspace):
            raise NotFoundError(f"no token {token_id!r}" + (f" in workspace '{workspace}'" if workspace else ""),
                                field="id")
        return stored.info

    def revoke(self, token_id: str, *, workspace: str | None = None) -> TokenInfo:
        """Revoke a token (of *workspace*, when given): it is refused from now on."""
        self.get(token_id, workspace=workspace)
        self.store.revoke(token_id, self._clock())
        self._valid.clear()
        return self.get(token_id)

    def revoke_workspace(self, workspace: str) -> int:
        """Revoke every token of a workspace (it is being deleted); how many were valid."""
        count = self.store.revoke_workspace(workspace, self._clock())
        self._valid.clear()
        return count

    def recently_valid(self, token: str) -> TokenInfo | None:
        """The token's record if it was found valid within the last :data:`CACHE_SECONDS`, else
        None (then :meth:`authenticate` reads the store); never blocks. A malformed token is an
        :class:`AuthenticationError` at once."""
        match = _FORMAT.fullmatch(token) if isinstance(token, str) and len(token) <= MAX_TOKEN_CHARS else None
        if match is None:
            raise AuthenticationError("the bearer token is not an openaml token (oaml_<id>_<secret>)")
        cached = self._valid.get(token_digest(token))
        return cached[0] if cached is not None and cached[1] > time.monotonic() else None

    def authenticate(self, token: str) -> TokenInfo:
        """The token's record if *token* is a valid token, else :class:`AuthenticationError`
        (whose message never holds what was presented)."""
        cached = self.recently_valid(token)
        if cached is not None:
            return cached
        digest = token_digest(token)
        stored = self.store.find(token[len(PREFIX):len(PREFIX) + 16])
        if stored is None or not hmac.compare_digest(stored.secret_sha256, digest):
            raise AuthenticationError("the bearer token is not one this server issued")
        info = stored.info
        if info.revoked:
            raise AuthenticationError(f"token {info.id} was revoked")
        now = self._clock()
        if info.last_used_at is None or now - info.last_used_at >= LAST_USED_RESOLUTION:
            self.store.touch(info.id, now)
            info = dataclasses.replace(info, last_used_at=now)
        if self._cache_seconds > 0:
            if len(self._valid) >= _CACHE_ENTRIES:
                self._valid.clear()
            self._valid[digest] = (info, time.monotonic() + self._cache_seconds)
        return info

    def close(self) -> None:
        self.store.close()
