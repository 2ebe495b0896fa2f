"""Base classes for entities: pure data, no I/O, no wire format.

Entities are pydantic models so that constructor arguments are validated the same way whether
they come from Python (``Model(name=..., path=...)``) or from a YAML file through ``openaml.specs``.
Unknown fields are errors (``extra="forbid"``); assignments are validated too.

Constructing an entity from Python raises :class:`openaml.errors.ValidationError` (as azure-ai-ml
raises its own ``ValidationException``), with the dotted field path in ``details["field"]``.
``Entity.model_validate`` keeps raising pydantic's error: the spec layer uses it to map error
locations back to YAML lines.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, ClassVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo

from openaml.errors import ValidationError


def loc_to_path(loc: tuple[Any, ...]) -> str:
    """Dotted field path from a pydantic error location, e.g. ``inputs.lr.default``."""
    return ".".join(str(part) for part in loc)


def error_message(error: dict[str, Any]) -> str:
    """A pydantic error's message without pydantic's "Value error, " prefix."""
    msg = str(error.get("msg", ""))
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _from_pydantic(cls_name: str, exc: pydantic.ValidationError) -> ValidationError:
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    lines = [f"{loc_to_path(e['loc']) or cls_name}: {error_message(e)}" for e in errors]
    field = loc_to_path(errors[0]["loc"]) if errors else None
    message = f"Invalid {cls_name}: " + "; ".join(lines)
    return ValidationError(message, field=field or None, errors=[
        {"field": loc_to_path(e["loc"]), "message": error_message(e), "type": e["type"]} for e in errors
    ])



SecretText = Annotated[str | None, Field(json_schema_extra={"secret": True})]
"""The type of a secret field (a password, a key, a token): declared this way, the field is
encrypted when its resource is stored, left out of ``get``/``list`` unless the service offers an
``include_secrets`` opt-in, and masked in ``repr()``. See :mod:`openaml.entities.secrets`."""
SECRET_MASK = "***"


def is_secret_field(info: FieldInfo) -> bool:
    """Whether a pydantic field was declared :data:`SecretText`."""
    extra = info.json_schema_extra
    return isinstance(extra, dict) and extra.get("secret") is True


@functools.cache
def secret_field_names(cls: type[BaseModel]) -> tuple[str, ...]:
    """The secret fields declared directly on *cls* (not those of nested entities)."""
    return tuple(name for name, info in cls.model_fields.items() if is_secret_field(info))


def none_is_empty(v: Any) -> Any:
    """``inputs:``/``outputs:`` written with no value mean none."""
    return {} if v is None else v


def version_is_string(v: Any) -> Any:
    """Versions are strings, as in azure-ai-ml (``Model(version=1)`` raises there too)."""
    if isinstance(v, bool) or (v is not None and not isinstance(v, str)):
        raise ValueError("version must be a string, e.g. version='1'")
    return v


class Entity(BaseModel):
    """Base of every entity."""

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        populate_by_name=True,
        arbitrary_types_allowed=False,
    )

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise _from_pydantic(type(self).__name__, exc) from None

    # Tell pydantic this __init__ only wraps BaseModel's, so nested validation (a dict inside a
    # dict) keeps raising pydantic's error with its full location instead of calling it.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except pydantic.ValidationError as exc:
            raise _from_pydantic(type(self).__name__, exc) from None

    def __repr_args__(self) -> Any:
        # Secrets never reach repr()/str(), and so never an f-string, a log line or a traceback.
        secret = secret_field_names(type(self))
        for key, value in super().__repr_args__():
            yield key, (SECRET_MASK if key in secret and value is not None else value)

    def _to_dict(self) -> dict[str, Any]:
        """The YAML-shaped dict (as azure-ai-ml's ``_to_dict``): unset/None fields dropped."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class Resource(Entity):
    """A named, unversioned thing (workspace, datastore, compute)."""

    name: str
    description: str | None = None
    tags: dict[str, str] | None = None
    id: str | None = None  # read-only, filled by the service


class Job(Entity):
    """Base of every job and pipeline node (``CommandJob`` and ``Command``, ``PipelineJob``,
    ``SweepJob``, ``Pipeline``, ``Parallel``), as azure-ai-ml's ``Job``: ``isinstance(x, Job)``."""


class Asset(Entity):
    """A versioned asset (model, data, environment, component).

    ``asset_kind`` names the registry collection ("models", "data", "environments", "components").
    ``version`` is a string, as in Azure; ints from YAML are coerced by the spec layer.
    """

    asset_kind: ClassVar[str] = ""

    name: str | None = None
    version: str | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    properties: dict[str, str] | None = None
    id: str | None = None  # read-only: azureml:/.../<kind>/<name>/versions/<version>
    creation_context: dict[str, Any] | None = None  # read-only: created_at, created_by
    latest_version: str | None = None  # read-only: set on containers by list()

    _version_is_string = field_validator("version", mode="before")(staticmethod(version_is_string))
