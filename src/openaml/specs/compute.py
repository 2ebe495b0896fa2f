"""Compute specs (``amlCompute``/``computeInstance``/``kubernetesCompute``/``vmCompute``)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from openaml.entities import Compute
from openaml.entities.compute import COMPUTE_CLASSES

from ._core import Kind, load
from .yamlio import Source

COMPUTE = Kind("compute", COMPUTE_CLASSES, string_maps=("tags",))


def load_compute(source: Source, *, relative_origin: str | None = None,
                 params_override: Iterable[Mapping[str, Any]] | None = None,
                 **kwargs: Any) -> Compute:
    """Load a compute YAML file; ``type`` picks the class."""
    return load(COMPUTE, source, relative_origin=relative_origin, params_override=params_override)
