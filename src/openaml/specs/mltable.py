"""Checks of an ``MLTable`` folder: the ``MLTable`` YAML file and its ``paths``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from openaml.errors import ValidationError

from ._errors import suggest
from .yamlio import load_mapping, to_plain

MLTABLE_FILE = "MLTable"
TOP_LEVEL_KEYS = ("$schema", "type", "paths", "transformations", "traits", "metadata")
PATH_KEYS = ("file", "folder", "pattern")


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
