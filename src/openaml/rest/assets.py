"""Versioned assets on the wire: model, data, environment and component versions and their
containers, and code versions (uploads), with azure-ai-ml's REST field names.

A version's ``properties`` are its entity's fields in camelCase, with Azure's names where they
differ (``modelUri``/``modelType``, ``dataUri``/``dataType``, ``condaFile`` as text,
``build.contextUri``, a component's whole spec under ``componentSpec``), plus ``isArchived``
and ``isAnonymous``; the version's name is its ``name`` and the asset's name is in its ``id``.
"""

from __future__ import annotations

import json
from typing import Any

from openaml.entities._base import Asset
from openaml.errors import ValidationError
from openaml.rest.envelope import from_properties, resource, system_data, times, to_properties
from openaml.rest.paths import WorkspaceScope, last_segments, resource_type

KINDS = ("models", "data", "environments", "components")
_RENAMES: dict[str, dict[str, str]] = {
    "models": {"path": "modelUri", "type": "modelType"},
    "data": {"path": "dataUri", "type": "dataType"},
    "environments": {},
    "components": {},
}
_SERVICE_FIELDS = ("name", "version", "id", "creation_context", "latest_version")
_HEAD_FIELDS = ("description", "tags", "properties")


def entity_class(kind: str, data: dict[str, Any]) -> type[Asset]:
    """The entity class of a *kind*'s version (a component's by its spec's ``type``)."""
    from openaml.entities import Data, Environment, Model
    if kind == "components":
        from openaml.services.component_assets import component_class
        return component_class(data)
    return {"models": Model, "data": Data, "environments": Environment}[kind]


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValidationError(f"unknown asset collection {kind!r}; one of {', '.join(KINDS)}", field="kind")
    return kind


def asset_properties(kind: str, asset: Asset) -> dict[str, Any]:
    """An asset's ``properties`` (what a create request carries)."""
    data = asset.model_dump(mode="json", exclude_none=True)
    archived = bool((data.get("creation_context") or {}).get("archived", False))
    for key in _SERVICE_FIELDS:
        data.pop(key, None)
    if kind == "components":
        spec = {k: v for k, v in asset.model_dump(mode="json", exclude_none=True).items()
                if k not in ("id", "creation_context", "latest_version")}
        props = to_properties({k: data[k] for k in _HEAD_FIELDS if k in data})
        props["componentSpec"] = spec
    else:
        if kind == "environments":
            data = _environment_out(data)
        props = to_properties(data, _RENAMES[kind])
    props.update(isArchived=archived, isAnonymous=False)
    return props


def _environment_out(data: dict[str, Any]) -> dict[str, Any]:
    if isinstance(data.get("conda_file"), dict):
        data["conda_file"] = json.dumps(data["conda_file"])  # Azure's condaFile is the file's text
    build = data.get("build")
    if isinstance(build, dict):
        data["build"] = {"contextUri": build.get("path"), "dockerfilePath": build.get("dockerfile_path")}
        data["build"] = {k: v for k, v in data["build"].items() if v is not None}
    return data


def _environment_in(data: dict[str, Any]) -> dict[str, Any]:
    conda = data.get("conda_file")
    if isinstance(conda, str) and conda.lstrip().startswith("{"):
        try:
            data["conda_file"] = json.loads(conda)
        except ValueError:
            raise ValidationError("condaFile is not valid JSON", field="properties.condaFile") from None
    build = data.get("build")
    if isinstance(build, dict):
        data["build"] = {k: v for k, v in (("path", build.get("contextUri")),
                                           ("dockerfile_path", build.get("dockerfilePath"))) if v is not None}
    return data


def asset_from_properties(kind: str, props: dict[str, Any], name: str | None, version: str | None) -> Asset:
    """The entity a create request (or a version resource) describes, named *name*, *version*."""
    if not isinstance(props, dict):
        raise ValidationError("properties must be an object", field="properties")
    props = dict(props)
    archived = props.pop("isArchived", None)
    for key in ("isAnonymous", "provisioningState", "latestVersion", "nextVersion"):
        props.pop(key, None)
    if kind == "components":
        spec = props.get("componentSpec")
        if not isinstance(spec, dict):
            raise ValidationError("a component version needs componentSpec (an object)",
                                  field="properties.componentSpec")
        data = dict(spec)
        data.update(from_properties({k: v for k, v in props.items() if k != "componentSpec"}))
    else:
        data = from_properties(props, _RENAMES[kind])
        if kind == "environments":
            data = _environment_in(data)
    data.update(name=name, version=version)
    if archived is not None:
        data["_archived"] = bool(archived)
    return _validated(kind, data)


def _validated(kind: str, data: dict[str, Any]) -> Asset:
    extra = {k: data.pop(k) for k in ("_archived", "creation_context", "id") if k in data}
    cls = entity_class(kind, data)
    data.pop("latest_version", None)
    entity = cls(**{k: v for k, v in data.items() if v is not None})
    if "creation_context" in extra or "id" in extra:
        entity = entity.model_copy(update={k: v for k, v in extra.items() if k in ("creation_context", "id")})
    return entity


def version_resource(kind: str, asset: Asset, scope: WorkspaceScope) -> dict[str, Any]:
    """A registered version in Azure's envelope."""
    context = asset.creation_context or {}
    return resource(scope.of(kind, asset.name or "", "versions", asset.version or ""), asset.version or "",
                    resource_type(kind, "versions"), asset_properties(kind, asset),
                    system_data(context.get("created_at"), context.get("last_modified_at")))


def version_from_resource(kind: str, body: dict[str, Any]) -> Asset:
    """The entity of a version resource (as the in-process registry returns it)."""
    name = last_segments(str(body.get("id", "")), 3)[0]
    props = dict(body.get("properties") or {})
    archived = bool(props.get("isArchived", False))
    asset = asset_from_properties(kind, props, name, str(body.get("name")))
    context = {**times(body.get("systemData")), "archived": archived}
    return asset.model_copy(update={"id": f"azureml:{body.get('id')}", "creation_context": context})


def container_resource(kind: str, latest: Asset, scope: WorkspaceScope, *, expand: bool) -> dict[str, Any]:
    """A name's container: its latest version, and (``expand``, openaml's) that version whole."""
    context = latest.creation_context or {}
    props: dict[str, Any] = to_properties({"description": latest.description, "tags": latest.tags})
    props.update(isArchived=bool(context.get("archived", False)), latestVersion=latest.version)
    if expand:
        props["latestVersionResource"] = version_resource(kind, latest, scope)
    return resource(scope.of(kind, latest.name or ""), latest.name or "", resource_type(kind), props,
                    system_data(context.get("created_at"), context.get("last_modified_at")))


def code_resource(scope: WorkspaceScope, digest: str, uri: str) -> dict[str, Any]:
    """A code version: an upload (a manifest in the workspace's store) and its ``codeUri``."""
    return resource(scope.of("codes", digest, "versions", "1"), "1", resource_type("codes", "versions"),
                    {"codeUri": uri, "isAnonymous": True, "isArchived": False})
