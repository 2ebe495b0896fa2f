"""``Input`` and ``Output``: the typed ports of components and jobs (azure-ai-ml's shapes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator, model_validator

from openaml.constants import DATA_TYPES, MODEL_TYPES, PRIMITIVE_TYPES, InputTypes

from ._base import Entity, version_is_string

PortType = Literal[
    "string", "integer", "number", "boolean",
    "uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model", "triton_model",
]
Mode = Literal[
    "ro_mount", "rw_mount", "mount", "download", "upload", "direct", "eval_mount", "eval_download",
]
NUMERIC_TYPES = (InputTypes.INTEGER, InputTypes.NUMBER)
DATA_PORT_TYPES = DATA_TYPES + MODEL_TYPES
Scalar = bool | int | float | str


def _coerce_scalar(type_: str, value: Any, what: str) -> Any:
    """Coerce a default/min/max to the input's primitive type; raise ValueError if it can't."""
    if value is None or type_ not in PRIMITIVE_TYPES:
        return value
    try:
        if type_ == InputTypes.INTEGER:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if type_ == InputTypes.NUMBER:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if type_ == InputTypes.BOOLEAN:
            return _to_bool(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {value!r} is not a valid {type_}") from None
    return str(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError


class Input(Entity):
    """A component or job input: a primitive parameter or a data/model reference.

    ``type`` defaults to ``uri_folder``. ``min``/``max`` apply to ``integer``/``number`` only,
    ``enum`` to ``string`` only; a ``default`` must lie within them.
    """

    type: PortType = "uri_folder"
    path: str | None = None
    mode: Mode | None = None
    optional: bool | None = None
    default: Scalar | None = None
    min: int | float | None = None
    max: int | float | None = None
    enum: list[str] | None = None
    description: str | None = None
    datastore: str | None = None
    path_on_compute: str | None = None

    @property
    def is_primitive(self) -> bool:
        """True for string/integer/number/boolean parameters."""
        return self.type in PRIMITIVE_TYPES

    @model_validator(mode="after")
    def _check_constraints(self) -> "Input":
        if (self.min is not None or self.max is not None) and self.type not in NUMERIC_TYPES:
            raise ValueError(f"min/max are only allowed for integer or number inputs, not {self.type}")
        if self.enum is not None and self.type != InputTypes.STRING:
            raise ValueError(f"enum is only allowed for string inputs, not {self.type}")
        if self.is_primitive and (self.mode is not None or self.path is not None):
            raise ValueError(f"mode and path are not allowed for {self.type} inputs")
        coerced = {k: _coerce_scalar(self.type, getattr(self, k), k) for k in ("default", "min", "max")}
        for key, value in coerced.items():
            if value is not None and type(value) is not type(getattr(self, key)):
                object.__setattr__(self, key, value)
        self._check_default()
        return self

    def _check_default(self) -> None:
        d = self.default
        if d is None:
            return
        if self.min is not None and d < self.min:
            raise ValueError(f"default {d!r} is less than min {self.min!r}")
        if self.max is not None and d > self.max:
            raise ValueError(f"default {d!r} is greater than max {self.max!r}")
        if self.enum is not None and d not in self.enum:
            raise ValueError(f"default {d!r} is not one of enum {self.enum!r}")


class Output(Entity):
    """A component or job output. ``type`` defaults to ``uri_folder``.

    ``name``/``version`` register the output as an asset when a job writes it.
    """

    type: PortType = "uri_folder"
    path: str | None = None
    mode: Mode | None = None
    name: str | None = None
    version: str | None = None
    description: str | None = None
    datastore: str | None = None

    _version_is_string = field_validator("version", mode="before")(staticmethod(version_is_string))
