"""Access tokens on the wire (openaml's own routes: ``/openaml/whoami``, ``/openaml/tokens``,
``.../workspaces/{ws}/tokens``).

A token's record travels as ``{"id", "name", "description", "role", "roleName", "workspace",
"createdAt", "lastUsedAt", "revokedAt"}``; the token itself only in the answer to its creation
(``"token"``), and its hash never.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openaml.entities.tokens import IssuedToken, Role, TokenInfo
from openaml.errors import ValidationError


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def token_resource(info: TokenInfo) -> dict[str, Any]:
    """A token's record as JSON (never the token)."""
    return {"id": info.id, "name": info.name, "description": info.description, "role": info.role.value,
            "roleName": info.role.display_name, "workspace": info.workspace, "createdAt": _time(info.created_at),
            "lastUsedAt": _time(info.last_used_at), "revokedAt": _time(info.revoked_at)}


def issued_resource(issued: IssuedToken) -> dict[str, Any]:
    """The answer to a creation: the record and, this once, the token."""
    return {**token_resource(issued.info), "token": issued.token}


def token_from_body(body: Any) -> TokenInfo:
    """A token's record from its JSON."""
    if not isinstance(body, dict):
        raise ValidationError("a token's record must be a JSON object", field="body")
    try:
        return TokenInfo(id=str(body["id"]), name=str(body["name"]), description=body.get("description"),
                         role=Role(body["role"]), workspace=body.get("workspace"),
                         created_at=datetime.fromisoformat(body["createdAt"]),
                         last_used_at=_parse(body.get("lastUsedAt")), revoked_at=_parse(body.get("revokedAt")))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(f"not a token's record: {type(exc).__name__} {exc}", field="body") from None


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def issued_from_body(body: Any) -> IssuedToken:
    """The answer to a creation, back to an :class:`IssuedToken`."""
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise ValidationError("the server's answer holds no token", field="token")
    return IssuedToken(token_from_body(body), token)


def token_request(body: Any) -> dict[str, str | None]:
    """The fields of a request to create a token: ``role`` (required), ``workspace``, ``name``,
    ``description`` (strings, or absent)."""
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object", field="body")
    unknown = set(body) - {"role", "workspace", "name", "description"}
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))}", field="body")
    out: dict[str, str | None] = {}
    for key in ("role", "workspace", "name", "description"):
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"{key} must be a string", field=key)
        out[key] = value
    if not out["role"]:
        raise ValidationError("role is required", field="role")
    return out
