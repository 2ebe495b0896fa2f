"""The server's OpenAPI document: FastAPI's, told what the server really answers.

FastAPI documents a 422 with its own error shape for every route that takes parameters; this
server answers a request it cannot take with 400 (or 404, 409, 413...) in Azure's
``ErrorResponse`` shape (:mod:`openaml.rest.errors`), so every operation documents that as its
``default`` response, as Azure's own REST specifications do, and the 422 goes. Collections
document Azure's paged shape (``value``, ``nextLink``). Clients and fuzzers (schemathesis, in
the test suite) check answers against this document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_RESPONSE = {
    "type": "object", "required": ["error"],
    "description": "Azure's error envelope; the SDK rebuilds the exception class of `code`.",
    "properties": {"error": {"$ref": "#/components/schemas/ErrorDetail"}},
}
ERROR_DETAIL = {
    "type": "object", "required": ["code", "message"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "target": {"type": "string"},
        "details": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorDetail"}},
        "additionalInfo": {"type": "array", "items": {
            "type": "object", "properties": {"type": {"type": "string"}, "info": {"type": "object"}}}},
    },
}
#: Azure's paged list (``value`` and, on every page but the last, ``nextLink``).
COLLECTION = {
    "type": "object", "required": ["value"],
    "properties": {"value": {"type": "array", "items": {"type": "object"}},
                   "nextLink": {"type": "string", "description": "The next page: this request with a $skipToken."}},
}
_DEFAULT = {"description": "An error, in Azure's shape.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of *app* (built once, then served from the app's cache)."""
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for operations in doc.get("paths", {}).values():
            for operation in operations.values():
                _describe(operation)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        schemas.update(ErrorResponse=ERROR_RESPONSE, ErrorDetail=ERROR_DETAIL)
        app.openapi_schema = doc
    return app.openapi_schema


def _describe(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    responses["default"] = _DEFAULT
    if any(p.get("name") == "$skipToken" for p in operation.get("parameters", [])):
        ok = next((r for code, r in responses.items() if code.startswith("2")), None)
        if ok is not None:
            ok["content"] = {"application/json": {"schema": COLLECTION}}
