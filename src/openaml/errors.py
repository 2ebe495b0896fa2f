"""Errors are data: one base class, a code enum, one subclass per failure a user can cause.

Every error carries a :class:`ErrorCode` (which maps to an HTTP status for the future REST edge),
a category (user or system), a message that says what to do, and ``details`` (a dict of facts such
as the file, the field path and the line). Code never detects an error by matching its message.

The classes are also azure-core's exceptions where they correspond, so code written for Azure
catches them unchanged: every error is an ``azure.core.exceptions.AzureError``; not-found errors
are ``ResourceNotFoundError``, already-exists and version conflicts ``ResourceExistsError``, other
refusals a service would answer with a 4xx ``HttpResponseError`` (with ``status_code``), a token
the server does not accept ``ClientAuthenticationError``, and an unreachable store
``ServiceRequestError``. azure-ai-ml's own names (``ValidationException``,
``JobException``...) are in :mod:`openaml.exceptions`. ``str(error)`` stays the one-line message.
"""

from __future__ import annotations

import enum
from http import HTTPStatus
from typing import Any

# Costs ~20-25 ms on a process's first import (azure.core's package init loads its HTTP pipeline);
# measured and accepted for the job agent too: see docs/architecture.md, "Azure's exceptions".
from azure.core.exceptions import (AzureError, ClientAuthenticationError, HttpResponseError, ODataV4Format,
                                   ResourceExistsError, ResourceNotFoundError, ServiceRequestError)


class ErrorCategory(str, enum.Enum):
    """Who can fix an error. ``USER_ERROR``/``SYSTEM_ERROR``/``UNKNOWN`` are azure-ai-ml's names."""

    USER = "UserError"
    SYSTEM = "SystemError"
    UNKNOWN = "Unknown"
    USER_ERROR = "UserError"  # aliases of USER and SYSTEM (an enum member with an equal value)
    SYSTEM_ERROR = "SystemError"


class ErrorCode(str, enum.Enum):
    """Closed set of error codes; the value travels on the wire as ``code``."""

    INTERNAL = "Internal"
    VALIDATION = "Validation"
    YAML_PARSE = "YamlParse"
    NOT_FOUND = "NotFound"
    ALREADY_EXISTS = "AlreadyExists"
    VERSION_CONFLICT = "VersionConflict"
    ARCHIVED = "Archived"
    IMMUTABLE_FIELD = "ImmutableField"
    MISSING_FILE = "MissingFile"
    BAD_REFERENCE = "BadReference"
    WORKSPACE_NOT_FOUND = "WorkspaceNotFound"
    STORE_UNAVAILABLE = "StoreUnavailable"
    INTEGRITY = "Integrity"
    ENVIRONMENT_BUILD = "EnvironmentBuild"
    INVALID_TRANSITION = "InvalidTransition"
    JOB_FAILED = "JobFailed"
    MISSING_EXTRA = "MissingExtra"
    DATASTORE_ACCESS = "DatastoreAccess"
    PAYLOAD_TOO_LARGE = "PayloadTooLarge"
    FORBIDDEN = "AuthorizationFailed"  # Azure's code for a 403
    SECRET_KEY = "SecretKey"
    AUTHENTICATION = "AuthenticationFailed"  # Azure's code for a 401
    DEPLOYMENT_FAILED = "DeploymentFailed"
    SCORING = "ScoringFailed"


_HTTP_STATUS = {
    ErrorCode.INTERNAL: 500,
    ErrorCode.VALIDATION: 400,
    ErrorCode.YAML_PARSE: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.ALREADY_EXISTS: 409,
    ErrorCode.VERSION_CONFLICT: 409,
    ErrorCode.ARCHIVED: 409,
    ErrorCode.IMMUTABLE_FIELD: 400,
    ErrorCode.MISSING_FILE: 400,
    ErrorCode.BAD_REFERENCE: 400,
    ErrorCode.WORKSPACE_NOT_FOUND: 404,
    ErrorCode.STORE_UNAVAILABLE: 503,
    ErrorCode.INTEGRITY: 500,
    ErrorCode.ENVIRONMENT_BUILD: 400,
    ErrorCode.INVALID_TRANSITION: 409,
    ErrorCode.JOB_FAILED: 400,
    ErrorCode.MISSING_EXTRA: 400,
    ErrorCode.DATASTORE_ACCESS: 400,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.SECRET_KEY: 500,
    ErrorCode.AUTHENTICATION: 401,
    ErrorCode.DEPLOYMENT_FAILED: 400,
    ErrorCode.SCORING: 424,
}


class OpenAMLError(AzureError):
    """Base of every error openaml raises on purpose (an azure-core ``AzureError``)."""

    code: ErrorCode = ErrorCode.INTERNAL
    category: ErrorCategory = ErrorCategory.SYSTEM

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)  # the next azure-core class in the MRO takes the message first
        # AzureError keeps the exception being handled (and its traceback, hence its frames)
        # when one is raised inside an ``except`` block; openaml chains with ``from`` instead.
        self.exc_value = self.exc_traceback = None
        self.message = message
        self.details = {k: v for k, v in details.items() if v is not None}
        if isinstance(self, HttpResponseError):
            self.status_code = self.http_status
            self.reason = HTTPStatus(self.status_code).phrase
            self.error = ODataV4Format({"code": self.code.value, "message": message})

    def __str__(self) -> str:
        return self.message

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self.code]

    @property
    def error_category(self) -> ErrorCategory:
        """azure-ai-ml's name for :attr:`category`."""
        return self.category

    @property
    def target(self) -> str:
        """azure-ai-ml's ``ErrorTarget`` of the error (``"Unknown"`` unless one was given)."""
        return str(self.details.get("target") or "Unknown")

    @property
    def no_personal_data_message(self) -> str:
        """azure-ai-ml's scrubbed message; openaml keeps no telemetry, so it is the message."""
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The wire shape: ``{code, message, details}``."""
        return {"code": self.code.value, "message": self.message, "details": self.details}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OpenAMLError":
        """Rebuild the same exception class from its wire shape."""
        code = ErrorCode(data.get("code", ErrorCode.INTERNAL.value))
        klass = _BY_CODE.get(code, OpenAMLError)
        err = klass.__new__(klass)
        OpenAMLError.__init__(err, data.get("message", ""), **(data.get("details") or {}))
        return err


class UserError(OpenAMLError):
    """A failure the user caused and can fix."""

    category = ErrorCategory.USER


class ValidationException(UserError):
    """An invalid spec, argument, file or reference: azure-ai-ml's ``ValidationException``.

    ``except ValidationException`` catches :class:`ValidationError` (and :class:`YamlParseError`),
    :class:`MissingFileError` and :class:`BadReferenceError`. It takes azure-ai-ml's arguments
    too: ``ValidationException(message, no_personal_data_message, target=..., error_category=...)``.
    """

    code = ErrorCode.VALIDATION

    def __init__(self, message: str, no_personal_data_message: str | None = None, *args: Any,
                 error_type: Any = None, target: Any = None, error_category: Any = None,
                 **details: Any) -> None:
        super().__init__(message, target=target, **details)


class ValidationError(ValidationException):
    """A spec or an argument is invalid. ``details`` names the file, field and line when known."""

    code = ErrorCode.VALIDATION

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 line: int | None = None, **details: Any) -> None:
        where = []
        if file:
            where.append(f"{file}" + (f":{line}" if line else ""))
        if field:
            where.append(f"field '{field}'")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message, file=file, field=field, line=line, **details)


class YamlParseError(ValidationError):
    """The file is not valid YAML."""

    code = ErrorCode.YAML_PARSE


class NotFoundError(UserError, ResourceNotFoundError):
    """The named resource or asset does not exist."""

    code = ErrorCode.NOT_FOUND


class AlreadyExistsError(UserError, ResourceExistsError):
    """A resource with that name already exists."""

    code = ErrorCode.ALREADY_EXISTS


class VersionConflictError(UserError, ResourceExistsError):
    """name+version exists with different content; versions are immutable."""

    code = ErrorCode.VERSION_CONFLICT


class ArchivedError(UserError, HttpResponseError):
    """The asset is archived; restore it or name another version."""

    code = ErrorCode.ARCHIVED


class ImmutableFieldError(UserError, HttpResponseError):
    """Only description, tags (and a model's stage) can change on a registered version."""

    code = ErrorCode.IMMUTABLE_FIELD


class MissingFileError(ValidationException):
    """A local path named in a spec or argument does not exist."""

    code = ErrorCode.MISSING_FILE


class BadReferenceError(ValidationException):
    """A reference such as ``azureml:name:version`` is malformed."""

    code = ErrorCode.BAD_REFERENCE


class WorkspaceNotFoundError(NotFoundError):
    """No workspace of that name exists (or none could be found from config.json)."""

    code = ErrorCode.WORKSPACE_NOT_FOUND


class StoreUnavailableError(OpenAMLError, ServiceRequestError):
    """The metadata or artifact store cannot be reached."""

    code = ErrorCode.STORE_UNAVAILABLE


class IntegrityError(OpenAMLError):
    """Stored bytes do not match their digest."""

    code = ErrorCode.INTEGRITY


class SecretKeyError(IntegrityError):
    """The configured secret key is missing, malformed, or not the key that sealed the stored
    secrets; the message names the setting to fix (``OPENAML_SECRET_KEY``, the key file) and
    never holds a key."""

    code = ErrorCode.SECRET_KEY


class InvalidTransitionError(UserError, HttpResponseError):
    """A job (or other lifecycle) cannot move from its current status to the requested one."""

    code = ErrorCode.INVALID_TRANSITION


class EnvironmentBuildError(UserError):
    """A job's environment cannot be built or run here; the message says which options work."""

    code = ErrorCode.ENVIRONMENT_BUILD


class JobFailedError(UserError):
    """A streamed job ended Failed (azure-ai-ml raises ``JobException`` there)."""

    code = ErrorCode.JOB_FAILED


JobException = JobFailedError


class MissingExtraError(UserError):
    """An optional part of openaml is not installed; the message names the ``pip install`` that
    adds it (``pip install 'openaml[azure]'``)."""

    code = ErrorCode.MISSING_EXTRA


class DatastoreAccessError(UserError):
    """A datastore's storage refused or failed a request (a wrong key, a missing container, an
    unreachable endpoint); the message names the datastore and never holds its secrets."""

    code = ErrorCode.DATASTORE_ACCESS


class PayloadTooLargeError(UserError, HttpResponseError):
    """A request body (a spec, an upload) is larger than the server accepts."""

    code = ErrorCode.PAYLOAD_TOO_LARGE


class ForbiddenError(UserError, HttpResponseError):
    """The server does not let this caller do this (a 403): the message says what would."""

    code = ErrorCode.FORBIDDEN


class AuthenticationError(UserError, ClientAuthenticationError):
    """The server does not know the caller (a 401: no token, or one that is malformed, unknown or
    revoked); azure-core's ``ClientAuthenticationError``. The message never holds the token."""

    code = ErrorCode.AUTHENTICATION


class DeploymentFailedError(UserError):
    """An online deployment did not become ready (its environment, model or ``init()`` failed,
    or its readiness probe never passed); the message ends with the tail of its log."""

    code = ErrorCode.DEPLOYMENT_FAILED


class ScoringError(UserError, HttpResponseError):
    """An endpoint answered an invocation with an error status (``status_code``: 401, 404, 408,
    424, 429...), as azure-ai-ml's ``invoke`` raises an ``HttpResponseError``."""

    code = ErrorCode.SCORING

    @property
    def http_status(self) -> int:
        status = self.details.get("status")
        return status if isinstance(status, int) and 400 <= status < 600 else _HTTP_STATUS[self.code]


_BY_CODE: dict[ErrorCode, type[OpenAMLError]] = {
    ErrorCode.INTERNAL: OpenAMLError,
    ErrorCode.VALIDATION: ValidationError,
    ErrorCode.YAML_PARSE: YamlParseError,
    ErrorCode.NOT_FOUND: NotFoundError,
    ErrorCode.ALREADY_EXISTS: AlreadyExistsError,
    ErrorCode.VERSION_CONFLICT: VersionConflictError,
    ErrorCode.ARCHIVED: ArchivedError,
    ErrorCode.IMMUTABLE_FIELD: ImmutableFieldError,
    ErrorCode.MISSING_FILE: MissingFileError,
    ErrorCode.BAD_REFERENCE: BadReferenceError,
    ErrorCode.WORKSPACE_NOT_FOUND: WorkspaceNotFoundError,
    ErrorCode.STORE_UNAVAILABLE: StoreUnavailableError,
    ErrorCode.INTEGRITY: IntegrityError,
    ErrorCode.ENVIRONMENT_BUILD: EnvironmentBuildError,
    ErrorCode.INVALID_TRANSITION: InvalidTransitionError,
    ErrorCode.JOB_FAILED: JobFailedError,
    ErrorCode.MISSING_EXTRA: MissingExtraError,
    ErrorCode.DATASTORE_ACCESS: DatastoreAccessError,
    ErrorCode.PAYLOAD_TOO_LARGE: PayloadTooLargeError,
    ErrorCode.FORBIDDEN: ForbiddenError,
    ErrorCode.SECRET_KEY: SecretKeyError,
    ErrorCode.AUTHENTICATION: AuthenticationError,
    ErrorCode.DEPLOYMENT_FAILED: DeploymentFailedError,
    ErrorCode.SCORING: ScoringError,
}
