"""Reading MLflow ``MLmodel`` files: the ``flavors`` of an ``mlflow_model``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from openaml.errors import ValidationError

from .yamlio import load_mapping, to_plain

MLMODEL_FILE = "MLmodel"


def read_mlmodel_flavors(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``flavors`` mapping of the ``MLmodel`` file in the model folder ``path``.

    ``path`` may also be the ``MLmodel`` file itself. Raise ValidationError when the file is
    missing or has no ``flavors`` mapping.
    """
    location = Path(path)
    file = location if location.is_file() and location.name == MLMODEL_FILE else location / MLMODEL_FILE
    if not file.is_file():
        raise ValidationError(f"An mlflow_model path must be a folder holding an {MLMODEL_FILE} "
                              f"file; none found in {location}.", file=str(file), field="path")
    root, _ = load_mapping(file)
    flavors = root.get("flavors")
    if not isinstance(flavors, dict) or not flavors:
        line = root.lc.key("flavors")[0] + 1 if "flavors" in root else None
        raise ValidationError(f"{MLMODEL_FILE} needs a non-empty 'flavors' mapping.",
                              file=str(file), field="flavors", line=line)
    result = to_plain(flavors)
    for name, value in result.items():
        if not isinstance(value, dict):
            raise ValidationError(f"flavor '{name}' must be a mapping.", file=str(file),
                                  field=f"flavors.{name}", line=flavors.lc.key(name)[0] + 1)
    return result
