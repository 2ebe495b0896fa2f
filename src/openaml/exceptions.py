"""azure-ai-ml's exception names (``azure.ai.ml.exceptions``), mapped onto openaml's errors.

``from openaml.exceptions import ValidationException`` replaces
``from azure.ai.ml.exceptions import ValidationException``: ``except ValidationException`` then
catches openaml's :class:`~openaml.errors.ValidationError` (and missing-file and bad-reference
errors), ``except JobException`` a failed job that ``jobs.stream`` reports, ``except
UserErrorException`` any error the user can fix, and ``except MlException`` any openaml error.
azure-core's classes (``ResourceNotFoundError``...) are caught as they are; see :mod:`openaml.errors`.
"""

from __future__ import annotations

import enum

from openaml.errors import ErrorCategory, JobFailedError, OpenAMLError, UserError, ValidationException

MlException = OpenAMLError
"""Base of every openaml error (azure-ai-ml's base of its own exceptions)."""

UserErrorException = UserError
"""An error the user caused and can fix."""

JobException = JobFailedError
"""A job ended Failed while ``ml_client.jobs.stream`` followed it."""


class ErrorTarget:
    """What an error is about, as azure-ai-ml's ``ErrorTarget`` names it (plain strings)."""

    ASSET = "Asset"
    CODE = "Code"
    COMMAND_JOB = "CommandJob"
    COMPONENT = "Component"
    COMPUTE = "Compute"
    DATA = "Data"
    DATASTORE = "Datastore"
    ENVIRONMENT = "Environment"
    GENERAL = "General"
    IDENTITY = "Identity"
    JOB = "Job"
    LOCAL_JOB = "LocalJob"
    MODEL = "Model"
    PIPELINE = "Pipeline"
    SWEEP_JOB = "SweepJob"
    UNKNOWN = "Unknown"
    WORKSPACE = "Workspace"


class ValidationErrorType(enum.Enum):
    """The kind of a validation failure, as azure-ai-ml's ``ValidationErrorType`` names them."""

    INVALID_VALUE = "INVALID VALUE"
    UNKNOWN_FIELD = "UNKNOWN FIELD"
    MISSING_FIELD = "MISSING FIELD"
    FILE_OR_FOLDER_NOT_FOUND = "FILE OR FOLDER NOT FOUND"
    CANNOT_SERIALIZE = "CANNOT DUMP"
    CANNOT_PARSE = "CANNOT PARSE"
    RESOURCE_NOT_FOUND = "RESOURCE NOT FOUND"
    GENERIC = "GENERIC"


__all__ = ["ErrorCategory", "ErrorTarget", "JobException", "MlException", "UserErrorException",
           "ValidationErrorType", "ValidationException"]
