"""openaml: Azure Machine Learning v2, local-first.

``from openaml import MLClient, load_model`` works as ``from azure.ai.ml import ...`` does.
"""

from openaml.client.ml_client import MLClient
from openaml.entities import Input, Output
from openaml.specs import (load_component, load_compute, load_data, load_datastore, load_environment,
                           load_model, load_workspace)

__version__ = "0.1.0"

__all__ = [
    "MLClient",
    "Input",
    "Output",
    "load_component",
    "load_compute",
    "load_data",
    "load_datastore",
    "load_environment",
    "load_model",
    "load_workspace",
    "__version__",
]
