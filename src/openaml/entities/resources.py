"""``ResourceConfiguration`` and ``JobResourceConfiguration``: node count, VM size and container
settings of a command."""

from __future__ import annotations

from typing import Any

from ._base import Entity
from .bindings import BindableInt


class ResourceConfiguration(Entity):
    """How many instances of which size (azure-ai-ml's ``ResourceConfiguration``)."""

    instance_count: int | None = None
    instance_type: str | None = None
    properties: dict[str, Any] | None = None


class JobResourceConfiguration(ResourceConfiguration):
    """Resources of a command (``resources:`` in YAML); ``shm_size`` as Docker's, e.g. ``2g``.

    In a pipeline step the counts may be ``${{parent.inputs.<name>}}`` (see :mod:`.bindings`)."""

    instance_count: BindableInt = None
    instance_type: str | list[str] | None = None
    shm_size: str | None = None
    docker_args: str | list[str] | None = None
    locations: list[str] | None = None
    max_instance_count: BindableInt = None
    properties: dict[str, Any] | None = None
