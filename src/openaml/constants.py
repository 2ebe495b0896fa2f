"""Public constants, named as in ``azure.ai.ml.constants`` (those that mean something locally:
no ``TimeZone``, since there are no schedules yet)."""

from __future__ import annotations

import enum


class AssetTypes:
    URI_FILE = "uri_file"
    URI_FOLDER = "uri_folder"
    MLTABLE = "mltable"
    CUSTOM_MODEL = "custom_model"
    MLFLOW_MODEL = "mlflow_model"
    TRITON_MODEL = "triton_model"


class InputTypes:
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"


class InputOutputModes:
    RO_MOUNT = "ro_mount"
    RW_MOUNT = "rw_mount"
    MOUNT = "mount"
    DOWNLOAD = "download"
    UPLOAD = "upload"
    DIRECT = "direct"
    EVAL_MOUNT = "eval_mount"
    EVAL_DOWNLOAD = "eval_download"


class JobType:
    """The ``type`` of a job or pipeline step."""

    COMMAND = "command"
    PIPELINE = "pipeline"
    SWEEP = "sweep"
    PARALLEL = "parallel"
    COMPONENT = "component"


class DistributionType:
    """The ``type`` of a command's ``distribution``."""

    MPI = "mpi"
    PYTORCH = "pytorch"
    TENSORFLOW = "tensorflow"
    RAY = "ray"


class ParallelTaskType:
    """The ``task.type`` of a parallel component (``run_function`` is the one Azure runs)."""

    RUN_FUNCTION = "run_function"


class ListViewType(str, enum.Enum):
    """Which versions ``list`` returns; values as azure-ai-ml's."""

    ACTIVE_ONLY = "ActiveOnly"
    ARCHIVED_ONLY = "ArchivedOnly"
    ALL = "All"


DATA_TYPES = (AssetTypes.URI_FILE, AssetTypes.URI_FOLDER, AssetTypes.MLTABLE)
MODEL_TYPES = (AssetTypes.CUSTOM_MODEL, AssetTypes.MLFLOW_MODEL, AssetTypes.TRITON_MODEL)
PRIMITIVE_TYPES = (InputTypes.STRING, InputTypes.INTEGER, InputTypes.NUMBER, InputTypes.BOOLEAN)

DEFAULT_DATASTORES = (
    "workspaceblobstore",
    "workspaceartifactstore",
    "workspacefilestore",
    "workspaceworkingdirectory",
)
DEFAULT_DATASTORE = "workspaceblobstore"
