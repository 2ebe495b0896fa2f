"""``MLTable`` files: the check made when an ``mltable`` folder is registered or given to a job
(:func:`validate_mltable_folder`, lenient: every transformation of Azure's schema passes), and
the strict reading into an :class:`~openaml.entities.mltable.MLTableDefinition` that
``openaml.data`` loads (:func:`parse_mltable`; the transformations: :mod:`.mltable_steps`).

Paths are hostile: :func:`check_table_path` is the one rule for them. A path is a storage URI
(read through the workspace's datastores) or relative to the MLTable file's folder, and then
must stay inside it: no ``..``, no absolute or ``file://`` path, no control characters.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from openaml.entities.mltable import MLTableDefinition, TablePath
from openaml.errors import ValidationError
from openaml.paths import check_relative

from ._errors import suggest
from .mltable_steps import parse_transformations
from .yamlio import load_mapping, parse_yaml, to_plain

__all__ = ["MLTABLE_FILE", "check_table_path", "is_table_uri", "parse_mltable", "validate_mltable_folder"]

MLTABLE_FILE = "MLTable"
TOP_LEVEL_KEYS = ("$schema", "type", "paths", "transformations", "traits", "metadata")
PATH_KEYS = ("file", "folder", "pattern")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_DRIVE = re.compile(r"^[A-Za-z]:")


def validate_mltable_folder(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check that ``path`` is a folder holding a valid ``MLTable`` file; return the file's content.

    The file needs ``paths: [{file|folder|pattern: ...}, ...]``; ``transformations``, ``type``,
    ``traits``, ``metadata`` and ``$schema`` are optional. Errors name the file, field and line.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ValidationError(f"An mltable path must be a folder holding an {MLTABLE_FILE} file; "
                              f"{folder} is not a folder.", field="path", path=str(folder))
    file = folder / MLTABLE_FILE
    if not file.is_file():
        raise ValidationError(f"No {MLTABLE_FILE} file in {folder}; an mltable folder needs one.",
                              file=str(file), field="path")
    root, _ = load_mapping(file)
    _check_keys(root, str(file))
    _check_paths(root, str(file))
    transformations = root.get("transformations")
    if transformations is not None and not isinstance(transformations, (list, dict)):
        raise ValidationError("transformations must be a list.", file=str(file),
                              field="transformations", line=root.lc.key("transformations")[0] + 1)
    return to_plain(root)


def parse_mltable(text: str, file: str) -> MLTableDefinition:
    """The MLTable file *text* (read from *file*, which errors name) as a definition openaml can
    load: its paths checked by :func:`check_table_path`, every transformation known and its
    arguments of the right types, or a :class:`ValidationError` naming the file, field and line."""
    root = parse_yaml(text, file)
    if root is None:
        root = CommentedMap()
    if not isinstance(root, CommentedMap):
        raise ValidationError("The top level of an MLTable file must be a mapping of fields.", file=file, line=1)
    if "query_source" in root:
        raise ValidationError("openaml does not support MLTables read from a query (query_source); use paths",
                              file=file, field="query_source", line=root.lc.key("query_source")[0] + 1)
    _check_keys(root, file)
    _check_paths(root, file)
    paths = tuple(_table_path(entry, i, file, root["paths"].lc.item(i)[0] + 1) for i, entry in enumerate(root["paths"]))
    steps = parse_transformations(root, file)
    plain = to_plain(root)
    traits, metadata = plain.get("traits") or {}, plain.get("metadata") or {}
    for key, value in (("traits", traits), ("metadata", metadata)):
        if not isinstance(value, dict):
            raise ValidationError(f"{key} must be a mapping.", file=file, field=key, line=root.lc.key(key)[0] + 1)
    return MLTableDefinition(paths=paths, transformations=steps, traits=traits, metadata=metadata, file=file)


def is_table_uri(value: str) -> bool:
    """Whether a path of an MLTable is a URI (``scheme://...`` or ``azureml:...``) rather than a
    path relative to the MLTable file's folder."""
    return bool(_SCHEME.match(value)) or value.startswith("azureml:")


def check_table_path(value: str, *, field: str = "paths", file: str | None = None, line: int | None = None) -> str:
    """The one rule for a path written in an MLTable: a URI is returned as it is (the workspace's
    datastores decide what it reaches), except ``file://``; any other path is relative to the
    MLTable file's folder and returned normalised (``./a//b`` -> ``a/b``, ``.`` -> ``""``).

    Refused, naming *field* (and *file* and *line*): absolute local paths and ``file://`` URIs
    (Azure reads them; openaml does not, so that an MLTable received with a data asset or found
    on a datastore reads nothing of the machine that loads it), ``~``, ``..``, backslashes and
    control characters.
    """
    if not isinstance(value, str):
        raise ValidationError("a path must be text", file=file, field=field, line=line)
    if value.lower().startswith("file:") or value.startswith(("/", "\\", "~/")) \
            or value == "~" or _DRIVE.match(value):
        raise ValidationError(
            f"{value!r} is an absolute local path: openaml reads only paths relative to the MLTable file's "
            "folder (inside it) and storage URIs (azureml://datastores/<ds>/paths/..., wasbs://, abfss://, "
            "https://, s3://)", file=file, field=field, line=line)
    if is_table_uri(value):
        return value
    try:
        return check_relative(value, field=field, allow_empty=True)
    except ValidationError as exc:
        raise ValidationError(f"{exc.message.split(': ', 1)[-1]}; paths of an MLTable stay inside its folder "
                              "(use a datastore URI to reach other data)", file=file, field=field, line=line) from None


def _table_path(entry: CommentedMap, i: int, file: str, line: int) -> TablePath:
    kind = next(k for k in PATH_KEYS if k in entry)
    value = entry[kind]
    check_table_path(value, field=f"paths.{i}.{kind}", file=file, line=line)
    return TablePath(kind=kind, value=value, line=line)


def _check_keys(root: CommentedMap, file: str) -> None:
    for key in root:
        if key not in TOP_LEVEL_KEYS:
            raise ValidationError(f"Unknown field '{key}'.{suggest(str(key), list(TOP_LEVEL_KEYS))}",
                                  file=file, field=str(key), line=root.lc.key(key)[0] + 1)


def _check_paths(root: CommentedMap, file: str) -> None:
    paths = root.get("paths")
    if not isinstance(paths, CommentedSeq) or not paths:
        line = root.lc.key("paths")[0] + 1 if "paths" in root else None
        raise ValidationError("paths must be a non-empty list of {file|folder|pattern: ...}.",
                              file=file, field="paths", line=line)
    for i, entry in enumerate(paths):
        line = paths.lc.item(i)[0] + 1
        if not isinstance(entry, CommentedMap):
            raise ValidationError("Each entry of paths must be a mapping with file, folder or "
                                  "pattern.", file=file, field=f"paths.{i}", line=line)
        _check_path_entry(entry, i, file, line)


def _check_path_entry(entry: CommentedMap, i: int, file: str, line: int) -> None:
    for key in entry:
        if key not in PATH_KEYS:
            raise ValidationError(f"Unknown field '{key}'.{suggest(str(key), list(PATH_KEYS))}",
                                  file=file, field=f"paths.{i}.{key}", line=entry.lc.key(key)[0] + 1)
    given = [k for k in PATH_KEYS if k in entry]
    if len(given) != 1 or not isinstance(entry[given[0]], str):
        raise ValidationError("Each entry of paths needs exactly one of file, folder or pattern, "
                              "given as a string.", file=file, field=f"paths.{i}", line=line)
