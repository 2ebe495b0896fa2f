"""``Workspace``: the top-level container of assets, jobs and resources."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from ._base import Entity, Resource
from .credentials import IdentityConfiguration
from .workspace_storage import WorkspaceStorage


class CustomerManagedKey(Entity):
    """A customer-managed encryption key."""

    key_vault: str | None = None
    key_uri: str | None = None
    cosmosdb_id: str | None = None
    storage_id: str | None = None
    search_id: str | None = None


class Workspace(Resource):
    """A workspace. Linked Azure resources are accepted and kept; ``mlflow_tracking_uri`` and
    ``discovery_url`` are read-only, filled by the service."""

    display_name: str | None = None
    location: str | None = None
    resource_group: str | None = None
    hbi_workspace: bool = False
    storage_account: str | None = None
    container_registry: str | None = None
    key_vault: str | None = None
    application_insights: str | None = None
    customer_managed_key: CustomerManagedKey | None = None
    image_build_compute: str | None = None
    public_network_access: Literal["Enabled", "Disabled"] | None = None
    network_acls: dict[str, Any] | None = None
    identity: IdentityConfiguration | None = None
    primary_user_assigned_identity: str | None = None
    managed_network: dict[str, Any] | None = None
    provision_network_now: bool | None = None
    system_datastores_auth_mode: str | None = None
    enable_data_isolation: bool = False
    allow_roleassignment_on_rg: bool | None = None
    hub_id: str | None = None
    workspace_hub: str | None = None
    serverless_compute: dict[str, Any] | None = None
    # openaml's own: object storage for the default datastore and the artifact store (None: the
    # workspace's folder). A URI alone is accepted: ``storage="s3://bucket/prefix"``.
    storage: WorkspaceStorage | None = None
    mlflow_tracking_uri: str | None = None  # read-only
    discovery_url: str | None = None  # read-only
    provisioning_state: str | None = None  # read-only

    @field_validator("storage", mode="before")
    @classmethod
    def _storage_from_uri(cls, v: Any) -> Any:
        return {"uri": v} if isinstance(v, str) else v

    @field_validator("public_network_access", mode="before")
    @classmethod
    def _capitalise_access(cls, v: Any) -> Any:
        return v.capitalize() if isinstance(v, str) else v
