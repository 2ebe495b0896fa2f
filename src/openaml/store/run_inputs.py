"""What a run read: MLflow's dataset inputs (``mlflow.log_input``) and model inputs (MLflow 3),
used through ``TrackingStore.run_inputs``.

A dataset is stored per run, keyed by its name and digest; logging the same dataset again keeps
the first record (and its tags, such as ``mlflow.data.context``), as MLflow does.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from openaml.errors import NotFoundError, ValidationError
from openaml.store import _db
from openaml.store.tables import run_dataset_inputs as D
from openaml.store.tables import run_model_inputs as MI
from openaml.store.tables import runs as R
from openaml.store.tracking_records import ACTIVE

__all__ = ["DatasetInputRecord", "DatasetRecord", "RunInputs", "RunInputsRecord"]

# MLflow's limits (mlflow/utils/validation.py): longer values are refused, never cut.
_LIMITS = {"name": 500, "digest": 36, "source_type": 255, "source": 65535, "schema": 1048575,
           "profile": 16777215}
_TAG_KEY_LIMIT, _TAG_VALUE_LIMIT = 255, 500


@dataclass(frozen=True)
class DatasetRecord:
    """A dataset as MLflow describes it; ``source``, ``schema`` and ``profile`` are JSON text."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class DatasetInputRecord:
    """A dataset a run read, with the input's tags (``mlflow.data.context``: training, eval...)."""

    dataset: DatasetRecord
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInputsRecord:
    """Everything a run read, in the order it was logged."""

    dataset_inputs: tuple[DatasetInputRecord, ...] = ()
    model_inputs: tuple[str, ...] = ()


def _check(item: DatasetInputRecord) -> None:
    if not item.dataset.name:
        raise ValidationError("A dataset's name cannot be empty.", field="name")
    for name, limit in _LIMITS.items():
        value = getattr(item.dataset, name)
        if value is not None and len(value) > limit:
            raise ValidationError(f"Dataset field '{name}' is {len(value)} characters long; "
                                  f"the limit is {limit}.", field=name)
    for key, value in item.tags.items():
        if len(key) > _TAG_KEY_LIMIT or len(value) > _TAG_VALUE_LIMIT:
            raise ValidationError(f"Input tag {key[:40]!r} is too long: keys take at most {_TAG_KEY_LIMIT} "
                                  f"characters and values {_TAG_VALUE_LIMIT}.", field="tags")


class RunInputs:
    """Dataset and model inputs of the runs of one workspace."""

    def __init__(self, engine: sa.Engine, workspace: str) -> None:
        self._engine = engine
        self.workspace = workspace
        self._insert = _db.dialect_insert(engine)

    def log(self, run_id: str, datasets: Sequence[DatasetInputRecord] = (), models: Iterable[str] = ()) -> None:
        """Record inputs of an active run in one transaction; known ones are kept as they were."""
        for item in datasets:
            _check(item)
        now = int(time.time() * 1000)
        dataset_rows = {
            (d.dataset.name, d.dataset.digest): {
                "workspace": self.workspace, "run_id": run_id, "name": d.dataset.name,
                "digest": d.dataset.digest, "source_type": d.dataset.source_type, "source": d.dataset.source,
                "schema": d.dataset.schema, "profile": d.dataset.profile,
                "tags": {str(k): str(v) for k, v in d.tags.items()}, "logged_at": now,
            } for d in reversed(datasets)  # reversed: the first of duplicates in one call wins
        }
        model_rows = [{"workspace": self.workspace, "run_id": run_id, "model_id": m, "logged_at": now}
                      for m in dict.fromkeys(models)]
        with _db.transaction(self._engine, write=True) as conn:
            stage = conn.execute(sa.select(R.c.lifecycle_stage)
                                 .where(R.c.workspace == self.workspace, R.c.run_id == run_id)).scalar()
            if stage is None:
                raise NotFoundError(f"Run with id={run_id} not found", run_id=run_id)
            if stage != ACTIVE:
                raise ValidationError(f"The run {run_id} must be in the 'active' state. Current state is "
                                      f"{stage}.", run_id=run_id)
            if dataset_rows:
                conn.execute(self._insert(D).on_conflict_do_nothing(), list(dataset_rows.values()))
            if model_rows:
                conn.execute(self._insert(MI).on_conflict_do_nothing(), model_rows)

    def for_runs(self, run_ids: Sequence[str]) -> dict[str, RunInputsRecord]:
        """The inputs of each of *run_ids* (runs without inputs map to an empty record)."""
        found: dict[str, tuple[list[DatasetInputRecord], list[str]]] = {r: ([], []) for r in run_ids}
        if not run_ids:
            return {}
        with _db.transaction(self._engine, write=False) as conn:
            for row in conn.execute(sa.select(D).where(D.c.workspace == self.workspace, D.c.run_id.in_(run_ids))
                                    .order_by(D.c.logged_at, D.c.name, D.c.digest)):
                found[row.run_id][0].append(_dataset_input(row))
            for row in conn.execute(sa.select(MI).where(MI.c.workspace == self.workspace, MI.c.run_id.in_(run_ids))
                                    .order_by(MI.c.logged_at, MI.c.model_id)):
                found[row.run_id][1].append(row.model_id)
        return {run: RunInputsRecord(tuple(ds), tuple(ms)) for run, (ds, ms) in found.items()}


def _dataset_input(row: Any) -> DatasetInputRecord:
    return DatasetInputRecord(
        DatasetRecord(row.name, row.digest, row.source_type, row.source, row.schema, row.profile),
        dict(row.tags))
