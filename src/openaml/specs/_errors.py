"""Turn pydantic errors into :class:`openaml.errors.ValidationError` naming file, field and line."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

import pydantic
from pydantic import BaseModel

from openaml.entities._base import error_message
from openaml.errors import ValidationError

from .yamlio import locate


def _flatten(annotation: Any) -> list[Any]:
    """The concrete types inside Optional/Union/Annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [t for arg in typing.get_args(annotation) for t in _flatten(arg)]
    return [annotation]


def _step(annotation: Any, part: str) -> list[Any]:
    out = []
    for ann in _flatten(annotation):
        origin = typing.get_origin(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel) and part in ann.model_fields:
            out.append(ann.model_fields[part].annotation)
        elif origin is dict:
            out.append(typing.get_args(ann)[1])
        elif origin is list and part.isdigit():
            out.append(typing.get_args(ann)[0])
    return out


def known_fields(cls: type[BaseModel], parts: list[str]) -> list[str]:
    """Field names allowed at ``parts`` (the path of the mapping) below ``cls``."""
    annotations: list[Any] = [cls]
    for part in parts:
        annotations = [nxt for ann in annotations for nxt in _step(ann, part)]
    return sorted({name for ann in annotations for t in _flatten(ann)
                   if isinstance(t, type) and issubclass(t, BaseModel) for name in t.model_fields})


def suggest(word: str, candidates: list[str]) -> str:
    """`` Did you mean 'x'?`` for the closest candidate, or ``""``."""
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" Did you mean '{match[0]}'?" if match else ""


def _describe(err: dict[str, Any], cls: type[BaseModel], parts: list[str]) -> str:
    if err["type"] == "extra_forbidden":
        allowed = known_fields(cls, parts[:-1])
        hint = suggest(parts[-1], allowed) if parts else ""
        return f"Unknown field '{parts[-1] if parts else ''}'.{hint}"
    if err["type"] == "missing":
        return "Missing required field."
    return error_message(err)


def from_pydantic(exc: pydantic.ValidationError, cls: type[BaseModel], root: Any,
                  file: str | None) -> ValidationError:
    """The first error as a line-aware ValidationError; the rest listed in the message/details."""
    found = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        line, parts = locate(root, tuple(err["loc"]))
        found.append({"field": ".".join(parts) or None, "line": line,
                      "message": _describe(err, cls, parts)})
    first = found[0]
    message = first["message"]
    if len(found) > 1:
        more = "; ".join(f"{e['field'] or '(top)'}"
                         + (f" (line {e['line']})" if e["line"] else "") + f": {e['message']}"
                         for e in found[1:])
        message += f" Also: {more}"
    return ValidationError(message, file=file, field=first["field"], line=first["line"],
                           errors=found, entity=cls.__name__)
