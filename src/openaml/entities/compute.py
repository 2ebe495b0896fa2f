"""Computes: ``amlcompute`` clusters, ``computeinstance``, ``kubernetes`` and attached VMs.

``type`` is the discriminator. Locally a compute is a name mapped to an executor; the Azure
fields are accepted and kept so users' YAML files load unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator

from ._base import Entity, Resource, SecretText
from .credentials import IdentityConfiguration


class AmlComputeSshSettings(Entity):
    """SSH access to cluster nodes. ``admin_password`` is a secret: stored encrypted, never
    returned by ``get``/``list`` and never shown. ``ssh_key_value`` is the PUBLIC key."""

    admin_username: str
    admin_password: SecretText = None
    ssh_key_value: str | None = None


class ComputeInstanceSshSettings(Entity):
    """SSH access to a compute instance."""

    ssh_key_value: str | None = None
    admin_username: str | None = None  # read-only
    ssh_port: int | None = None  # read-only


class VirtualMachineSshSettings(Entity):
    """SSH access to an attached VM. ``admin_password`` is a secret, as on clusters;
    ``ssh_private_key_file`` is the path of a key file on this machine (the key is never read)."""

    admin_username: str | None = None
    admin_password: SecretText = None
    ssh_port: int | None = 22
    ssh_private_key_file: str | None = None


class NetworkSettings(Entity):
    """Virtual network and subnet of a compute."""

    vnet_name: str | None = None
    subnet: str | None = None
    public_ip_address: str | None = None  # read-only
    private_ip_address: str | None = None  # read-only


class AssignedUserConfiguration(Entity):
    """The user a compute instance is created on behalf of."""

    user_tenant_id: str
    user_object_id: str


class Compute(Resource):
    """Base of computes. Read-only ``provisioning_state``/``status`` may be present."""

    type: str
    location: str | None = None
    resource_id: str | None = None
    provisioning_state: str | None = None  # read-only
    status: str | None = None  # read-only


class AmlCompute(Compute):
    """A cluster that scales between ``min_instances`` and ``max_instances`` nodes."""

    type: Literal["amlcompute"] = "amlcompute"
    size: str = "STANDARD_DS3_V2"
    tier: Literal["dedicated", "low_priority"] | None = None
    min_instances: int = Field(default=0, ge=0)
    max_instances: int = Field(default=4, ge=1)
    idle_time_before_scale_down: int = Field(default=120, ge=0)
    ssh_public_access_enabled: bool | None = None
    ssh_settings: AmlComputeSshSettings | None = None
    network_settings: NetworkSettings | None = None
    identity: IdentityConfiguration | None = None
    enable_node_public_ip: bool = True

    @field_validator("tier", mode="before")
    @classmethod
    def _lower_tier(cls, v: Any) -> Any:
        return v.lower().replace("lowpriority", "low_priority") if isinstance(v, str) else v

    @field_validator("max_instances")
    @classmethod
    def _max_ge_min(cls, v: int, info: Any) -> int:
        low = info.data.get("min_instances")
        if low is not None and v < low:
            raise ValueError(f"max_instances ({v}) must be >= min_instances ({low})")
        return v


class ComputeInstance(Compute):
    """A single-user development VM."""

    type: Literal["computeinstance"] = "computeinstance"
    size: str | None = None
    create_on_behalf_of: AssignedUserConfiguration | None = None
    ssh_public_access_enabled: bool | None = None
    ssh_settings: ComputeInstanceSshSettings | None = None
    network_settings: NetworkSettings | None = None
    identity: IdentityConfiguration | None = None
    schedules: dict[str, Any] | None = None
    idle_time_before_shutdown: str | None = None
    idle_time_before_shutdown_minutes: int | None = None
    setup_scripts: dict[str, Any] | None = None
    custom_applications: list[dict[str, Any]] | None = None
    enable_node_public_ip: bool = True
    enable_sso: bool = True
    enable_root_access: bool = True
    release_quota_on_stop: bool = False
    enable_os_patching: bool = False
    state: str | None = None  # read-only


class KubernetesCompute(Compute):
    """An attached Kubernetes cluster."""

    type: Literal["kubernetes"] = "kubernetes"
    namespace: str = "default"
    properties: dict[str, Any] | None = None
    identity: IdentityConfiguration | None = None


class VirtualMachineCompute(Compute):
    """An attached virtual machine (``resource_id`` is required)."""

    type: Literal["virtualmachine"] = "virtualmachine"
    resource_id: str
    ssh_settings: VirtualMachineSshSettings | None = None


COMPUTE_CLASSES: dict[str, type[Compute]] = {
    "amlcompute": AmlCompute,
    "computeinstance": ComputeInstance,
    "kubernetes": KubernetesCompute,
    "virtualmachine": VirtualMachineCompute,
}

AnyCompute = Annotated[
    Union[AmlCompute, ComputeInstance, KubernetesCompute, VirtualMachineCompute],
    Field(discriminator="type"),
]
"""Any compute, chosen by ``type`` (for ``pydantic.TypeAdapter``)."""
