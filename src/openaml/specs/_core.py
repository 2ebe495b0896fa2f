"""The load pipeline shared by every kind: parse, strip, override, coerce, resolve, build.

A :class:`Kind` names the entity classes (by ``type``) and a ``prepare`` hook that resolves the
kind's relative paths; :func:`build` turns a plain dict into an entity and maps pydantic errors
back to the YAML's lines through :class:`SpecContext`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import pydantic

from openaml.entities import Entity
from openaml.errors import MissingFileError, ValidationError

from ._errors import from_pydantic, suggest
from .overrides import apply_overrides
from .yamlio import Source, load_mapping, locate, to_plain

READ_ONLY_KEYS = ("$schema", "id", "creation_context", "latest_version", "provisioning_state",
                  "status")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:")  # two letters at least: "C:" is a drive


def is_uri(value: str) -> bool:
    """True for ``azureml:``, ``azureml://``, ``http(s)://``, ``wasbs://``, ``runs:/``, ``git+...``."""
    return bool(_URI.match(value))


@dataclass
class SpecContext:
    """Where a spec came from: the file (for messages), its folder, and its position nodes."""

    file: str | None = None
    base_path: Path | None = None
    root: Any = None

    def line(self, *parts: Any) -> int | None:
        """1-based line of the key at ``parts`` (or of its nearest written ancestor)."""
        return locate(self.root, parts)[0] if self.root is not None else None

    def fail(self, message: str, *parts: Any, error: type[ValidationError] = ValidationError,
             **details: Any) -> ValidationError:
        """A ValidationError at ``parts``, to be raised by the caller."""
        return error(message, file=self.file, field=".".join(map(str, parts)) or None,
                     line=self.line(*parts), **details)

    def local_path(self, value: Any, *parts: Any, must_exist: bool = True) -> Any:
        """Resolve a relative local path against ``base_path``; leave URIs and non-strings alone."""
        if not isinstance(value, str) or not value or is_uri(value) or self.base_path is None:
            return value
        resolved = (self.base_path / Path(value).expanduser()).resolve()
        if must_exist and not resolved.exists():
            where, line = ".".join(map(str, parts)), self.line(*parts)
            place = f"{self.file}:{line}: " if self.file and line else (f"{self.file}: " if self.file else "")
            raise MissingFileError(f"{place}field '{where}': path not found: {resolved}",
                                   file=self.file, field=where, line=line, path=str(resolved))
        return str(resolved)


def _no_prepare(data: dict[str, Any], ctx: SpecContext) -> None:
    return None


def _no_check(entity: Entity, ctx: SpecContext) -> None:
    return None


@dataclass(frozen=True)
class Kind:
    """One loadable resource: its entity classes by ``type``, its path-resolution hook and a
    ``check`` run on the built entity (rules the YAML schema has but the entity does not)."""

    name: str
    classes: Mapping[str, type[Entity]]
    default_type: str | None = None  # None: ``type`` is required
    prepare: Callable[[dict[str, Any], SpecContext], None] = _no_prepare
    check: Callable[[Entity, SpecContext], None] = _no_check  # schema rules beyond the entity's
    string_maps: tuple[str, ...] = field(default=("tags", "properties"))

    def entity_class(self, data: dict[str, Any], ctx: SpecContext) -> type[Entity]:
        """The class that ``type`` selects (case-insensitive); errors suggest the valid types."""
        value = data.get("type", self.default_type)
        if value is None:
            raise ctx.fail(f"A {self.name} needs a 'type': one of {', '.join(self.classes)}.", "type")
        if len(self.classes) == 1:
            return next(iter(self.classes.values()))
        klass = self.classes.get(str(value).lower())
        if klass is None:
            hint = suggest(str(value).lower(), list(self.classes))
            raise ctx.fail(f"Unknown {self.name} type '{value}'; expected one of "
                           f"{', '.join(self.classes)}.{hint}", "type")
        data["type"] = str(value).lower()
        return klass


def _as_string(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, (int, float)) else value


def normalise(kind: Kind, data: dict[str, Any]) -> dict[str, Any]:
    """Drop read-only keys; YAML ints/floats become strings for ``version`` and string maps."""
    data = {k: v for k, v in data.items() if k not in READ_ONLY_KEYS}
    if "version" in data and data["version"] is not None:
        data["version"] = _as_string(data["version"])
    for key in kind.string_maps:
        if isinstance(data.get(key), dict):
            data[key] = {str(k): _as_string(v) for k, v in data[key].items()}
    for out in (data.get("outputs") or {}).values() if isinstance(data.get("outputs"), dict) else ():
        if isinstance(out, dict) and out.get("version") is not None:
            out["version"] = _as_string(out["version"])
    return data


def build(kind: Kind, data: Mapping[str, Any], ctx: SpecContext) -> Entity:
    """Normalise, resolve paths and validate ``data`` into the entity class ``type`` selects."""
    if not isinstance(data, Mapping):
        raise ctx.fail(f"A {kind.name} spec must be a mapping of fields.")
    plain = normalise(kind, to_plain(data))
    klass = kind.entity_class(plain, ctx)
    try:
        kind.prepare(plain, ctx)
    except MissingFileError:
        _validate(klass, copy.deepcopy(plain), ctx)  # a misspelt field is reported first
        raise
    entity = _validate(klass, plain, ctx)
    kind.check(entity, ctx)
    return entity


def _validate(klass: type[Entity], data: dict[str, Any], ctx: SpecContext) -> Entity:
    try:
        return klass.model_validate(data)
    except pydantic.ValidationError as exc:
        raise from_pydantic(exc, klass, ctx.root, ctx.file) from None


def load(kind: Kind, source: Source, *, relative_origin: str | None = None,
         params_override: Iterable[Mapping[str, Any]] | None = None) -> Entity:
    """Read ``source`` (a path or an open text file) and build the entity ``kind`` describes."""
    root, file = load_mapping(source)
    base = Path(relative_origin) if relative_origin else (Path(file).parent if file else Path.cwd())
    ctx = SpecContext(file=file, base_path=base.absolute(), root=root)
    data = apply_overrides(to_plain(root), params_override)
    return build(kind, data, ctx)
