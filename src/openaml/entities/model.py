"""``Model``: a versioned model asset (custom, MLflow or Triton)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from ._base import Asset


class Model(Asset):
    """A registered model: ``path`` is a local file/folder, a datastore or job-output URI, or ``runs:/``.

    For ``mlflow_model`` the ``flavors`` come from the folder's ``MLmodel`` file (filled by the spec
    layer when loading YAML with a local path).
    """

    asset_kind: ClassVar[str] = "models"

    type: Literal["custom_model", "mlflow_model", "triton_model"] = "custom_model"
    path: str | None = None
    flavors: dict[str, dict[str, Any]] | None = None
    stage: str | None = None
    job_name: str | None = None
    datastore: str | None = None
    utc_time_created: str | None = None  # read-only
