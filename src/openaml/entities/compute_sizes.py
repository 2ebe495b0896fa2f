"""``VmSize`` and ``Usage``: what ``ml_client.compute.list_sizes()`` and ``list_usage()`` return.

The fields are azure-ai-ml's. Locally there is one size, this machine (its cores, memory and
GPUs), and usage counts the cores the jobs running now hold against it.
"""

from __future__ import annotations

from enum import Enum

from ._base import Entity


class VmSize(Entity):
    """A machine size (azure-ai-ml's ``VmSize``); ``v_cp_us`` is the number of vCPUs."""

    name: str | None = None
    family: str | None = None
    v_cp_us: int | None = None
    gpus: int | None = None
    os_vhd_size_mb: int | None = None
    max_resource_volume_mb: int | None = None
    memory_gb: float | None = None
    low_priority_capable: bool | None = None
    premium_io: bool | None = None
    supported_compute_types: list[str] | None = None


class UsageUnit(str, Enum):
    """The unit of a :class:`Usage` (azure-ai-ml has only ``Count``)."""

    COUNT = "Count"


class UsageName(Entity):
    """A usage's name: ``value`` (the key) and ``localized_value`` (for people)."""

    value: str | None = None
    localized_value: str | None = None


class Usage(Entity):
    """How much of a quota is in use (azure-ai-ml's ``Usage``): ``current_value`` of ``limit``."""

    id: str | None = None
    aml_workspace_location: str | None = None
    type: str | None = None
    unit: UsageUnit | None = None
    current_value: int | None = None
    limit: int | None = None
    name: UsageName | None = None
