"""Errors are data: one base class, a code enum, one subclass per failure a user can cause.

Every error carries a :class:`ErrorCode` (which maps to an HTTP status for the future REST edge),
a category (user or system), a message that says what to do, and ``details`` (a dict of facts such
as the file, the field path and the line). Code never detects an error by matching its message.
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCategory(str, enum.Enum):
    USER = "UserError"
    SYSTEM = "SystemError"


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
}


class OpenAMLError(Exception):
    """Base of every error openaml raises on purpose."""

    code: ErrorCode = ErrorCode.INTERNAL
    category: ErrorCategory = ErrorCategory.SYSTEM

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = {k: v for k, v in details.items() if v is not None}

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self.code]

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


class ValidationError(UserError):
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


class NotFoundError(UserError):
    """The named resource or asset does not exist."""

    code = ErrorCode.NOT_FOUND


class AlreadyExistsError(UserError):
    """A resource with that name already exists."""

    code = ErrorCode.ALREADY_EXISTS


class VersionConflictError(UserError):
    """name+version exists with different content; versions are immutable."""

    code = ErrorCode.VERSION_CONFLICT


class ArchivedError(UserError):
    """The asset is archived; restore it or name another version."""

    code = ErrorCode.ARCHIVED


class ImmutableFieldError(UserError):
    """Only description, tags (and a model's stage) can change on a registered version."""

    code = ErrorCode.IMMUTABLE_FIELD


class MissingFileError(UserError):
    """A local path named in a spec or argument does not exist."""

    code = ErrorCode.MISSING_FILE


class BadReferenceError(UserError):
    """A reference such as ``azureml:name:version`` is malformed."""

    code = ErrorCode.BAD_REFERENCE


class WorkspaceNotFoundError(NotFoundError):
    """No workspace of that name exists (or none could be found from config.json)."""

    code = ErrorCode.WORKSPACE_NOT_FOUND


class StoreUnavailableError(OpenAMLError):
    """The metadata or artifact store cannot be reached."""

    code = ErrorCode.STORE_UNAVAILABLE


class IntegrityError(OpenAMLError):
    """Stored bytes do not match their digest."""

    code = ErrorCode.INTEGRITY


class InvalidTransitionError(UserError):
    """A job (or other lifecycle) cannot move from its current status to the requested one."""

    code = ErrorCode.INVALID_TRANSITION


class EnvironmentBuildError(UserError):
    """A job's environment cannot be built or run here; the message says which options work."""

    code = ErrorCode.ENVIRONMENT_BUILD


class JobFailedError(UserError):
    """A streamed job ended Failed (azure-ai-ml raises ``JobException`` there)."""

    code = ErrorCode.JOB_FAILED


JobException = JobFailedError


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
}
