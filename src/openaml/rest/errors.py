"""Errors on the wire, in Azure's shape, and back to the same exception class.

The body of an error response is ARM's ``ErrorResponse``::

    {"error": {"code": "NotFound", "message": "...", "target": "<field, if any>",
               "details": [{"code": "Validation", "message": "...", "target": "<field>"}],
               "additionalInfo": [{"type": "OpenAMLErrorDetails", "info": {<the error's details>}}]}}

``details`` is Azure's list of sub-errors (one per field of a validation error);
openaml's own facts about the error (file, field, line, name...) travel in ``additionalInfo``
so that azure-core's parser reads the body as it reads Azure's. :func:`from_body` rebuilds the
:class:`~openaml.errors.OpenAMLError` subclass of the code, with its message and details.
"""

from __future__ import annotations

from typing import Any

from openaml.errors import ErrorCode, OpenAMLError

INFO_TYPE = "OpenAMLErrorDetails"
# The facts that name a place; anything else in details stays on the server's side of the wire
# unless it is plain data (strings, numbers, lists of them): a detail never carries an object.
_PLAIN = (str, int, float, bool, type(None))


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) or (isinstance(v, dict) and all(_plain(x) for x in v.values())) for v in value)
    return isinstance(value, _PLAIN)


def to_body(error: OpenAMLError) -> dict[str, Any]:
    """The response body of *error*."""
    info = {k: v for k, v in error.details.items() if _plain(v)}
    body: dict[str, Any] = {"code": error.code.value, "message": error.message}
    field = info.get("field")
    if field:
        body["target"] = str(field)
    subs = info.get("errors")
    body["details"] = [{"code": error.code.value, "message": str(e.get("message", "")),
                        "target": str(e.get("field", ""))} for e in subs if isinstance(e, dict)] \
        if isinstance(subs, list) else []
    body["additionalInfo"] = [{"type": INFO_TYPE, "info": info}]
    return {"error": body}


def from_body(body: Any, status: int) -> OpenAMLError:
    """The exception a response body describes (an :class:`OpenAMLError` of the code's class;
    a body that is not ours becomes an internal error naming the HTTP status)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not error.get("message"):
        return OpenAMLError(f"the server answered HTTP {status} without an error description")
    info: dict[str, Any] = {}
    for extra in error.get("additionalInfo") or []:
        if isinstance(extra, dict) and extra.get("type") == INFO_TYPE and isinstance(extra.get("info"), dict):
            info = extra["info"]
    code = error.get("code")
    known = {c.value for c in ErrorCode}
    data = {"code": code if code in known else ErrorCode.INTERNAL.value,
            "message": str(error["message"]), "details": info}
    return OpenAMLError.from_dict(data)
