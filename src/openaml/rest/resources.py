"""Workspaces, datastores and compute targets on the wire.

Field names follow azure-ai-ml's REST models where they exist (``friendlyName``,
``mlFlowTrackingUri``; ``datastoreType: AzureBlob``, ``accountName``, ``containerName``;
``computeType: AmlCompute``, ``computeLocation``, the type's settings under ``properties``);
openaml's own fields (a workspace's ``storage``, an ``S3`` or ``Local`` datastore) follow the
same camelCase rule. Credentials travel only in requests: a datastore's secrets come back only
from ``listSecrets``.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from openaml.entities.compute import AnyCompute, Compute
from openaml.entities.datastore import AnyDatastore, Datastore
from openaml.entities.workspace import Workspace
from openaml.errors import ValidationError
from openaml.rest.envelope import camel, from_properties, resource, snake, to_properties
from openaml.rest.paths import WorkspaceScope, resource_type

_WORKSPACE_RENAMES = {"display_name": "friendlyName", "mlflow_tracking_uri": "mlFlowTrackingUri"}
_DATASTORE_TYPES = {"azure_blob": "AzureBlob", "azure_file": "AzureFile", "azure_data_lake_gen1": "AzureDataLakeGen1",
                    "azure_data_lake_gen2": "AzureDataLakeGen2", "s3": "S3", "local": "Local"}
_COMPUTE_TYPES = {"amlcompute": "AmlCompute", "computeinstance": "ComputeInstance", "kubernetes": "Kubernetes",
                  "virtualmachine": "VirtualMachine"}
_SECRET_RENAMES = {"account_key": "key"}
_DATASTORES: TypeAdapter[Datastore] = TypeAdapter(AnyDatastore)
_COMPUTES: TypeAdapter[Compute] = TypeAdapter(AnyCompute)


def _props(body: Any) -> dict[str, Any]:
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise ValidationError("the request body needs properties (an object)", field="properties")
    return props


# -- workspaces ---------------------------------------------------------------------------------
def workspace_resource(ws: Workspace, scope: WorkspaceScope) -> dict[str, Any]:
    data = ws.model_dump(mode="json", exclude_none=True, exclude={"name", "id", "location", "tags"})
    return resource(scope.base, ws.name, resource_type(),
                    to_properties(data, _WORKSPACE_RENAMES), location=ws.location, tags=ws.tags)


def workspace_from_body(body: Any, name: str) -> Workspace:
    data = from_properties(_props(body), _WORKSPACE_RENAMES)
    for key in ("location", "tags"):
        if isinstance(body, dict) and body.get(key) is not None:
            data[key] = body[key]
    data.pop("id", None)
    return Workspace(**{**data, "name": name})


# -- datastores ---------------------------------------------------------------------------------
def datastore_resource(ds: Datastore, scope: WorkspaceScope, *, is_default: bool) -> dict[str, Any]:
    data = ds.model_dump(mode="json", exclude_none=True, exclude={"name", "id"})
    kind = data.pop("type")
    props = to_properties(data)
    props.update(datastoreType=_DATASTORE_TYPES.get(kind, kind), isDefault=is_default)
    return resource(scope.of("datastores", ds.name), ds.name, resource_type("datastores"), props)


def datastore_from_body(body: Any, name: str) -> Datastore:
    props = dict(_props(body))
    kind = props.pop("datastoreType", None)
    props.pop("isDefault", None)
    back = {v: k for k, v in _DATASTORE_TYPES.items()}
    if kind not in back:
        raise ValidationError(f"datastoreType must be one of {', '.join(back)}, not {kind!r}",
                              field="properties.datastoreType")
    data = from_properties(props)
    data.update(name=name, type=back[kind])
    return _DATASTORES.validate_python(data)


def secrets_body(ds: Datastore) -> dict[str, Any]:
    """``listSecrets``: the secret fields of a datastore's credentials (``{}`` when it has none)."""
    from openaml.entities.secrets import split_secrets
    _, secrets = split_secrets(ds)
    creds = (secrets or {}).get("credentials") or {}
    body = {_SECRET_RENAMES.get(k, camel(k)): v for k, v in creds.items() if v is not None}
    if ds.credentials is not None:
        body["secretsType"] = type(ds.credentials).__name__.removesuffix("Configuration")
    return body


def with_secrets(ds: Datastore, body: dict[str, Any]) -> Datastore:
    """*ds* (as ``get`` returns it) with the secrets a ``listSecrets`` answer holds."""
    back = {v: k for k, v in _SECRET_RENAMES.items()}
    secrets = {back.get(k, snake(k)): v for k, v in body.items() if k != "secretsType"}
    if not secrets or ds.credentials is None:
        return ds
    creds = {**ds.credentials.model_dump(exclude_none=True), **secrets}
    data = ds.model_dump(mode="json", exclude_none=True)
    data["credentials"] = creds
    return _DATASTORES.validate_python(data)


# -- computes -----------------------------------------------------------------------------------
def compute_resource(compute: Compute, scope: WorkspaceScope) -> dict[str, Any]:
    data = compute.model_dump(mode="json", exclude_none=True, exclude={"name", "id"})
    kind = data.pop("type")
    props: dict[str, Any] = {"computeType": _COMPUTE_TYPES.get(kind, kind)}
    for key, azure in (("location", "computeLocation"), ("description", "description")):
        if key in data:
            props[azure] = data.pop(key)
    props["properties"] = to_properties(data)
    return resource(scope.of("computes", compute.name), compute.name, resource_type("computes"), props)


def compute_from_body(body: Any, name: str) -> Compute:
    props = dict(_props(body))
    back = {v: k for k, v in _COMPUTE_TYPES.items()}
    kind = props.pop("computeType", None)
    if kind not in back:
        raise ValidationError(f"computeType must be one of {', '.join(back)}, not {kind!r}",
                              field="properties.computeType")
    inner = props.pop("properties", None) or {}
    if not isinstance(inner, dict):
        raise ValidationError("properties.properties must be an object", field="properties.properties")
    data = from_properties(inner)
    for azure, key in (("computeLocation", "location"), ("description", "description")):
        if props.get(azure) is not None:
            data[key] = props[azure]
    data.update(name=name, type=back[kind])
    return _COMPUTES.validate_python(data)
