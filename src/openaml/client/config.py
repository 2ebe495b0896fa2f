"""Finding ``config.json`` the way ``MLClient.from_config`` does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openaml.errors import NotFoundError, ValidationError

_MAX_PARENTS = 20
_SUBFOLDERS = (".azureml", "aml_config", "")


def find_config(start: str | Path | None = None, file_name: str | None = None) -> Path | None:
    """Walk up from ``start`` (default: the current folder) looking in ``.azureml/``,
    ``aml_config/`` and the folder itself for ``config.json`` (then ``project.json``)."""
    names = [file_name] if file_name else ["config.json", "project.json"]
    folder = Path(start or Path.cwd()).resolve()
    if folder.is_file():
        return folder
    for _ in range(_MAX_PARENTS + 1):
        for sub in _SUBFOLDERS:
            for name in names:
                candidate = folder / sub / name if sub else folder / name
                if candidate.is_file():
                    return candidate
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def read_config(path: Path) -> dict[str, Any]:
    """Read a config file; ``workspace_name`` is required (``subscription_id`` etc. are kept)."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValidationError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    if not isinstance(data, dict) or not data.get("workspace_name"):
        raise ValidationError("config.json needs a 'workspace_name'", file=str(path), field="workspace_name")
    return data


def load_config(path: str | Path | None = None, file_name: str | None = None) -> tuple[Path, dict[str, Any]]:
    found = find_config(path, file_name)
    if found is None:
        raise NotFoundError(
            f"No config.json found in {Path(path or Path.cwd()).resolve()} or its parents "
            "(looked in ./.azureml, ./aml_config and ./). Write one with {\"workspace_name\": \"<name>\"} "
            "or pass workspace_name to MLClient.")
    return found, read_config(found)
