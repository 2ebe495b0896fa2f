"""Distribution settings of a command: ``mpi``, ``pytorch``, ``tensorflow`` or ``ray``."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field

from ._base import Entity
from .bindings import BindableInt


class MpiDistribution(Entity):
    """MPI: ``process_count_per_instance`` processes on each node."""

    type: Literal["mpi"] = "mpi"
    process_count_per_instance: BindableInt = None


class PyTorchDistribution(Entity):
    """PyTorch (torchrun-style): ``process_count_per_instance`` workers per node."""

    type: Literal["pytorch"] = "pytorch"
    process_count_per_instance: BindableInt = None


class TensorFlowDistribution(Entity):
    """TensorFlow parameter-server / worker layout (``TF_CONFIG``)."""

    type: Literal["tensorflow"] = "tensorflow"
    worker_count: BindableInt = None
    parameter_server_count: BindableInt = 0


class RayDistribution(Entity):
    """A Ray cluster over the job's nodes."""

    type: Literal["ray"] = "ray"
    port: int | None = None
    address: str | None = None
    include_dashboard: bool | None = None
    dashboard_port: int | None = None
    head_node_additional_args: str | None = None
    worker_node_additional_args: str | None = None


Distribution = Annotated[
    Union[MpiDistribution, PyTorchDistribution, TensorFlowDistribution, RayDistribution],
    Field(discriminator="type"),
]


def lower_distribution_type(value: Any) -> Any:
    """Distribution ``type`` is case-insensitive in Azure (``PyTorch``); lower it before validation."""
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return {**value, "type": value["type"].lower()}
    return value
