"""``JobResourceConfiguration``: node count, VM size and container settings of a command."""

from __future__ import annotations

from typing import Any

from ._base import Entity
from .bindings import BindableInt


class JobResourceConfiguration(Entity):
    """Resources of a command (``resources:`` in YAML); ``shm_size`` as Docker's, e.g. ``2g``.

    In a pipeline step the counts may be ``${{parent.inputs.<name>}}`` (see :mod:`.bindings`)."""

    instance_count: BindableInt = None
    instance_type: str | list[str] | None = None
    shm_size: str | None = None
    docker_args: str | list[str] | None = None
    locations: list[str] | None = None
    max_instance_count: BindableInt = None
    properties: dict[str, Any] | None = None
