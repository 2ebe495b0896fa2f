"""Specs: YAML <-> entities, with line-aware errors, ``type`` dispatch, relative paths and overrides.

``$schema`` is accepted and ignored; ``type`` and the loader decide the class, as in azure-ai-ml.
"""

from .component import load_component
from .compute import load_compute
from .data import load_data
from .datastore import load_datastore
from .dump import dump_yaml, to_yaml_dict
from .endpoint import (deployment_from_dict, endpoint_from_dict, load_online_deployment,
                       load_online_endpoint)
from .environment import load_environment
from .job import load_job
from .loaders import KINDS, entity_from_dict, load_entity
from .mlmodel import read_mlmodel_flavors
from .mltable import validate_mltable_folder
from .model import load_model
from .overrides import apply_overrides, parse_set_args
from .workspace import load_workspace
from .yamlio import read_yaml_file

__all__ = [
    "load_model", "load_data", "load_environment", "load_component", "load_datastore",
    "load_compute", "load_workspace", "load_job", "load_entity", "entity_from_dict", "KINDS",
    "dump_yaml", "to_yaml_dict", "apply_overrides", "parse_set_args",
    "validate_mltable_folder", "read_mlmodel_flavors", "read_yaml_file",
    "load_online_endpoint", "load_online_deployment", "endpoint_from_dict", "deployment_from_dict",
]
