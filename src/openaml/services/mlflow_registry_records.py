"""What MLflow's model registry answers with, as openaml's records (see ``mlflow_registry``).

Kept apart from the service so the tracking endpoint can name these types without importing
the asset registry (a job's agent loads it only when a job registers a model).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from openaml.errors import ValidationError

__all__ = [
    "ACTIVE_STAGES", "REGISTRY_ARTIFACTS", "STAGES", "ModelVersionInfo", "RegisteredModelInfo", "canonical_stage", "check_alias",
]

#: The first segment of ``mlflow-artifacts:`` paths that serve registered versions' stored files
#: (``mlflow-artifacts:/<this>/<name>/<version>/...``, read-only); experiment ids are numbers.
REGISTRY_ARTIFACTS = "openaml-registered-models"
#: MLflow's stages, in MLflow's order; a version without a stage is in "None".
STAGES = ("None", "Staging", "Production", "Archived")
#: The stages ``archive_existing_versions`` may be used with.
ACTIVE_STAGES = ("Staging", "Production")
_BY_LOWER = {s.lower(): s for s in STAGES}
_ALIAS = re.compile(r"[\w\-]{1,255}")
_VERSION_ALIAS = re.compile(r"[vV]\d+")


@dataclass(frozen=True)
class ModelVersionInfo:
    """A model version as MLflow shows it: a workspace model version with its MLflow fields.

    ``source`` is what the client registered from (``runs:/...``, ``models:/...``), and
    ``storage_location`` where the files were (what ``get-download-uri`` answers).
    """

    name: str
    version: str
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str = "None"
    description: str = ""
    source: str = ""
    storage_location: str = ""
    run_id: str = ""
    run_link: str = ""
    model_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    status: str = "READY"


@dataclass(frozen=True)
class RegisteredModelInfo:
    """A registered model: a workspace model name, its description, tags and aliases, and the
    latest version in each stage."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> version
    latest_versions: tuple[ModelVersionInfo, ...] = ()


def canonical_stage(stage: str) -> str:
    """MLflow's spelling of *stage* (case-insensitive); anything else is a ValidationError."""
    found = _BY_LOWER.get(str(stage).lower())
    if found is None:
        raise ValidationError(f"Invalid Model Version stage: {stage}. Value must be one of "
                              f"{', '.join(STAGES)}.", field="stage")
    return found


def check_alias(alias: object, *, reserved: bool) -> str:
    """An alias name MLflow accepts (letters, digits, ``_`` and ``-``, at most 255); with
    *reserved*, also refuse ``latest`` and ``v<number>`` (they name versions)."""
    if not isinstance(alias, str) or not alias:
        raise ValidationError("Registered model alias name cannot be empty.", field="alias")
    if _ALIAS.fullmatch(alias) is None:
        raise ValidationError(f"Invalid alias name: {alias[:80]!r}. Names may only contain alphanumerics, "
                              "underscores (_), and dashes (-), at most 255 characters.", field="alias")
    if reserved and alias.lower() == "latest":
        raise ValidationError("'latest' alias name (case insensitive) is reserved.", field="alias")
    if reserved and _VERSION_ALIAS.fullmatch(alias):
        raise ValidationError(f"Version alias name '{alias}' is reserved.", field="alias")
    return alias
