"""Azure's resource envelope and collections, and field names between snake_case (entities)
and camelCase (Azure's REST models).

Only a resource's own field names change case: the keys of maps the user wrote (tags,
properties, inputs by name, a component's spec) are data and cross unchanged.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

_UPPER = re.compile(r"[A-Z]")


def camel(name: str) -> str:
    """``conda_file`` -> ``condaFile``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake(name: str) -> str:
    """``condaFile`` -> ``conda_file`` (the inverse of :func:`camel` on entity field names)."""
    return _UPPER.sub(lambda m: "_" + m.group(0).lower(), name)


def to_properties(data: Mapping[str, Any], renames: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Entity fields (snake_case) as Azure's property names; *renames* where Azure's differ."""
    renames = renames or {}
    return {renames.get(k, camel(k)): v for k, v in data.items() if v is not None}


def from_properties(props: Mapping[str, Any], renames: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The inverse of :func:`to_properties`."""
    back = {v: k for k, v in (renames or {}).items()}
    return {back.get(k, snake(k)): v for k, v in props.items() if v is not None}


def system_data(created_at: str | None, modified_at: str | None = None, created_by: str | None = None
                ) -> dict[str, Any]:
    """ARM's ``systemData`` (times as the ISO strings the stores keep)."""
    data = {"createdAt": created_at, "createdBy": created_by, "createdByType": "User" if created_by else None,
            "lastModifiedAt": modified_at or created_at}
    return {k: v for k, v in data.items() if v is not None}


def times(system: Mapping[str, Any] | None) -> dict[str, Any]:
    """``systemData`` back to the ``creation_context`` keys entities carry."""
    system = system or {}
    out = {"created_at": system.get("createdAt"), "last_modified_at": system.get("lastModifiedAt"),
           "created_by": system.get("createdBy")}
    return {k: v for k, v in out.items() if v is not None}


def resource(id: str, name: str, type: str, properties: dict[str, Any],
             system: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """One resource in Azure's envelope; *top* adds ARM's other top-level fields (location, tags)."""
    body: dict[str, Any] = {"id": id, "name": name, "type": type, **{k: v for k, v in top.items() if v is not None},
                            "properties": properties}
    if system:
        body["systemData"] = system
    return body


def collection(items: Iterable[dict[str, Any]], next_link: str | None = None) -> dict[str, Any]:
    """Azure's paged list: ``{"value": [...], "nextLink": ...}`` (nextLink omitted on the last page)."""
    body: dict[str, Any] = {"value": list(items)}
    if next_link:
        body["nextLink"] = next_link
    return body
