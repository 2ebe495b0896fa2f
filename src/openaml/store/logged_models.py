"""MLflow 3 logged models of one workspace, used through :class:`TrackingStore`.

A model created with a ``source_run_id`` lives *inside its run's artifacts*:
``artifact_location = <run artifact_uri>/<model name>``, so ``mlflow.sklearn.log_model(m,
name="model")`` in a job writes ``<job folder>/model/MLmodel``, the path Azure ML's docs register
models from. A model without a run lives at ``<experiment location>/models/<model_id>/artifacts``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from openaml.errors import NotFoundError, ValidationError
from openaml.store.tables import logged_model_metrics as LMM
from openaml.store.tables import logged_models as L
from openaml.store.tracking_filter import matches, parse_filter
from openaml.store.tracking_records import (
    ACTIVE, DELETED, LOGGED_MODEL_STATUSES, LoggedModelRecord, Page, decode_metric_value, encode_metric_value,
    paginate, read_page_token,
)

if TYPE_CHECKING:
    from openaml.store.tracking import TrackingStore


@dataclass(frozen=True)
class ModelMetricRecord:
    """A metric logged against a logged model (``log_metric(..., model_id=...)``, MLflow 3)."""

    key: str
    value: float
    timestamp: int
    step: int
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


def _record(row: Any) -> LoggedModelRecord:
    return LoggedModelRecord(
        model_id=row.model_id, experiment_id=row.experiment_id, name=row.name,
        source_run_id=row.source_run_id, model_type=row.model_type,
        artifact_location=row.artifact_location, status=row.status, lifecycle_stage=row.lifecycle_stage,
        params=dict(row.params), tags=dict(row.tags), creation_timestamp=row.creation_timestamp,
        last_updated_timestamp=row.last_updated_timestamp,
    )


# MLflow's order_by field names -> LoggedModelRecord attributes.
_ORDERABLE = {"name": "name", "model_id": "model_id", "creation_timestamp": "creation_timestamp",
              "creation_time": "creation_timestamp", "last_updated_timestamp": "last_updated_timestamp",
              "experiment_id": "experiment_id", "status": "status", "model_type": "model_type",
              "source_run_id": "source_run_id"}


_FILTERABLE = frozenset({"name", "model_id", "status", "source_run_id", "model_type", "creation_timestamp",
                         "last_updated_timestamp", "experiment_id", "artifact_location"})


def _lookup(model: LoggedModelRecord, kind: str, key: str) -> Any:
    if kind == "attribute":
        return getattr(model, key, None)
    return {"tag": model.tags, "param": model.params}.get(kind, {}).get(key)


class LoggedModels:
    """Logged-model queries over the tracking store's engine and workspace."""

    def __init__(self, tracking: "TrackingStore") -> None:
        self._tracking = tracking

    def _key(self, model_id: str) -> list[Any]:
        return [L.c.workspace == self._tracking.workspace, L.c.model_id == model_id]

    def create(self, experiment_id: str, name: str | None, source_run_id: str | None,
               tags: dict[str, str] | None, params: dict[str, str] | None,
               model_type: str | None) -> LoggedModelRecord:
        """Insert a PENDING model; its location follows the module's rule."""
        from openaml.store.tracking import now_ms

        experiment = self._tracking.get_experiment(experiment_id)
        model_id = f"m-{uuid.uuid4().hex}"
        name = name or f"model-{model_id[2:10]}"
        if "/" in name or name in (".", ".."):
            raise ValidationError(f"Invalid logged model name {name!r}: it cannot contain '/'.")
        run = self._source_run(source_run_id)
        if run is not None:
            location = f"{run.artifact_uri.rstrip('/')}/{name}"
        else:
            location = f"{experiment.artifact_location.rstrip('/')}/models/{model_id}/artifacts"
        now = now_ms()
        with self._tracking._tx(write=True) as conn:
            conn.execute(sa.insert(L).values(
                workspace=self._tracking.workspace, model_id=model_id, experiment_id=experiment.experiment_id,
                source_run_id=source_run_id or None, name=name, model_type=model_type or None,
                artifact_location=location, status="PENDING", lifecycle_stage=ACTIVE,
                params={str(k): str(v) for k, v in (params or {}).items()},
                tags={str(k): str(v) for k, v in (tags or {}).items()},
                creation_timestamp=now, last_updated_timestamp=now,
            ))
        return self.get(model_id)

    def _source_run(self, run_id: str | None) -> Any:
        """The model's run, or None. MLflow records a ``source_run_id`` it cannot find (a run of
        another server, say) without refusing the model: the model then lives in its experiment."""
        if not run_id:
            return None
        try:
            return self._tracking.get_run(run_id)
        except NotFoundError:
            return None

    def get(self, model_id: str, *, allow_deleted: bool = False) -> LoggedModelRecord:
        with self._tracking._tx() as conn:
            row = conn.execute(sa.select(L).where(*self._key(model_id))).first()
        if row is None or (row.lifecycle_stage == DELETED and not allow_deleted):
            raise NotFoundError(f"Logged model with ID '{model_id}' not found.", model_id=model_id)
        return _record(row)

    def _update(self, model_id: str, change: Any) -> LoggedModelRecord:
        """Apply ``change(row) -> values`` to the model under its row lock."""
        from openaml.store.tracking import now_ms

        with self._tracking._tx(write=True) as conn:
            row = conn.execute(sa.select(L).where(*self._key(model_id)).with_for_update()).first()
            if row is None or row.lifecycle_stage == DELETED:
                raise NotFoundError(f"Logged model with ID '{model_id}' not found.", model_id=model_id)
            conn.execute(sa.update(L).where(*self._key(model_id))
                         .values(last_updated_timestamp=now_ms(), **change(row)))
            return _record(conn.execute(sa.select(L).where(*self._key(model_id))).one())

    def finalize(self, model_id: str, status: str) -> LoggedModelRecord:
        if status not in LOGGED_MODEL_STATUSES:
            raise ValidationError(f"Invalid logged model status {status!r}; expected one of "
                                  f"{sorted(LOGGED_MODEL_STATUSES)}.")
        return self._update(model_id, lambda row: {"status": status})

    def update_dict(self, model_id: str, column: str, items: dict[str, str], *, delete: str | None = None) -> None:
        """Merge *items* into the ``tags`` or ``params`` column (or delete key *delete*)."""
        def change(row: Any) -> dict[str, Any]:
            merged = {**getattr(row, column), **{str(k): str(v) for k, v in items.items()}}
            if delete is not None:
                if delete not in merged:
                    raise NotFoundError(f"No tag with key '{delete}' found for model with ID '{model_id}'.",
                                        model_id=model_id, key=delete)
                merged.pop(delete)
            return {column: merged}

        self._update(model_id, change)

    def delete(self, model_id: str) -> None:
        self._update(model_id, lambda row: {"lifecycle_stage": DELETED})

    def search(self, experiment_ids: Sequence[str], filter_string: str | None,
               max_results: int | None, page_token: str | None,
               order_by: Sequence[tuple[str, bool]] = ()) -> Page[LoggedModelRecord]:
        """Filter subset: attributes (name, model_id, status, source_run_id, model_type,
        creation_timestamp), ``tags.*`` and ``params.*``; newest first unless *order_by*
        (``(attribute, ascending)`` pairs, MLflow's ``order_by`` of ``field_name``) says otherwise."""
        for field_name, _ in order_by:
            if field_name not in _ORDERABLE:
                raise ValidationError(f"Invalid order_by field name {field_name!r}; expected one of "
                                      f"{sorted(_ORDERABLE)}.", field="order_by")
        clauses, offset = parse_filter(filter_string), read_page_token(page_token)
        for clause in clauses:
            if clause.kind == "attribute" and clause.key not in _FILTERABLE:
                raise ValidationError(f"Invalid attribute key {clause.key!r} in the filter; expected one of "
                                      f"{sorted(_FILTERABLE)}.", field="filter")
        with self._tracking._tx() as conn:
            rows = conn.execute(
                sa.select(L).where(L.c.workspace == self._tracking.workspace,
                                   L.c.experiment_id.in_([str(e) for e in experiment_ids]),
                                   L.c.lifecycle_stage == ACTIVE)
                .order_by(L.c.creation_timestamp.desc(), L.c.model_id)
            ).all()

        found = []
        for model in map(_record, rows):
            if matches(clauses, lambda kind, key, m=model: _lookup(m, kind, key)):
                found.append(model)
        for field_name, ascending in reversed(order_by):  # stable sorts: the first key decides last
            found.sort(key=lambda m, f=_ORDERABLE[field_name]: getattr(m, f) or "", reverse=not ascending)
        limit = None if max_results is None else offset + max_results + 1
        return paginate(found[offset:limit], offset, max_results)

    # ---- metrics (MLflow 3: metrics logged with a model_id) ----------------------------------

    def log_metrics(self, model_id: str, metrics: Sequence[ModelMetricRecord]) -> None:
        """Append *metrics* to the model's; NotFoundError when the model is missing or deleted."""
        self.get(model_id)
        rows = []
        for m in metrics:
            stored, is_nan = encode_metric_value(m.value)
            rows.append({"workspace": self._tracking.workspace, "model_id": model_id, "run_id": m.run_id,
                         "key": m.key, "value": stored, "is_nan": is_nan, "timestamp": int(m.timestamp),
                         "step": int(m.step), "dataset_name": m.dataset_name or None,
                         "dataset_digest": m.dataset_digest or None})
        if rows:
            with self._tracking._tx(write=True) as conn:
                conn.execute(sa.insert(LMM), rows)

    def metrics(self, model_id: str) -> list[ModelMetricRecord]:
        """Every metric logged against the model, oldest first."""
        with self._tracking._tx() as conn:
            rows = conn.execute(sa.select(LMM).where(LMM.c.workspace == self._tracking.workspace,
                                                     LMM.c.model_id == model_id).order_by(LMM.c.id)).all()
        return [ModelMetricRecord(r.key, decode_metric_value(r.value, r.is_nan), r.timestamp, r.step, r.run_id,
                                  r.dataset_name, r.dataset_digest) for r in rows]
