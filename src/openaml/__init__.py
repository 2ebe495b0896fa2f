"""openaml: Azure Machine Learning v2, local-first.

``from openaml import MLClient, command, Input, Output, load_job`` works as
``from azure.ai.ml import ...`` does. Names are imported on first use, so that processes which
need little of the package (a job's agent) start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "MLClient": "openaml.client.ml_client",
    "Input": "openaml.entities",
    "Output": "openaml.entities",
    "MpiDistribution": "openaml.entities",
    "PyTorchDistribution": "openaml.entities",
    "TensorFlowDistribution": "openaml.entities",
    "RayDistribution": "openaml.entities",
    "command": "openaml.entities.builders",
    "dsl": "openaml.dsl",  # a module: ``from openaml import dsl``
    "load_component": "openaml.specs",
    "load_compute": "openaml.specs",
    "load_data": "openaml.specs",
    "load_datastore": "openaml.specs",
    "load_environment": "openaml.specs",
    "load_job": "openaml.specs",
    "load_model": "openaml.specs",
    "load_online_deployment": "openaml.specs",
    "load_online_endpoint": "openaml.specs",
    "load_workspace": "openaml.specs",
}

__all__ = [*_EXPORTS, "__version__"]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from openaml.client.ml_client import MLClient
    from openaml.entities import (Input, MpiDistribution, Output, PyTorchDistribution, RayDistribution,
                                  TensorFlowDistribution)
    from openaml import dsl
    from openaml.entities.builders import command
    from openaml.specs import (load_component, load_compute, load_data, load_datastore,
                               load_environment, load_job, load_model, load_online_deployment,
                               load_online_endpoint, load_workspace)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'openaml' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if module == f"{__name__}.{name}" else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
