"""Tracking store: MLflow's data model (experiments, runs, params, tags, metric history,
latest metrics, logged models) in the workspace's metadata database.

``TrackingStore(metadata_store, workspace)`` serves one workspace; its methods mirror MLflow's
``AbstractStore`` where the REST server needs them. Experiment ``"0"`` (``Default``) always
exists, as in MLflow, because clients fall back to it. Errors are openaml's: a missing
experiment/run/model is :class:`NotFoundError`, a taken name :class:`AlreadyExistsError`,
anything MLflow calls INVALID_PARAMETER_VALUE a :class:`ValidationError`.

``log_batch`` is the hot path: one write transaction, one executemany per table, and the latest
value per metric key upserted with MLflow's rule (largest ``(step, timestamp, value)`` wins).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from openaml.errors import AlreadyExistsError, NotFoundError, ValidationError
from openaml.store import _db, _run_query
from openaml.store._serial import lock_counter
from openaml.store.logged_models import LoggedModels
from openaml.store.run_inputs import RunInputs
from openaml.store.metric_history import RunHistories
from openaml.store.tables import experiments as E
from openaml.store.tables import latest_metrics as LM
from openaml.store.tables import metrics as M
from openaml.store.tables import params as P
from openaml.store.tables import run_outputs as O
from openaml.store.tables import run_tags as T
from openaml.store.tables import runs as R
from openaml.store.tracking_filter import matches, parse_filter, parse_order_by
from openaml.store.tracking_records import (
    ACTIVE, DELETED, RUN_STATUSES, ExperimentRecord, LoggedModelRecord, MetricHistory, MetricRecord, Page,
    RunRecord, ViewType,
    decode_metric_value, paginate, read_page_token,
)

if TYPE_CHECKING:
    from openaml.store.metadata import MetadataStore

__all__ = ["DEFAULT_EXPERIMENT_ID", "RUN_NAME_TAG", "TrackingStore"]

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
#: MLflow mirrors the run name in this tag; setting the tag renames the run.
RUN_NAME_TAG = "mlflow.runName"

MetricTuple = tuple[str, float, int, int]  # key, value, timestamp (ms), step
_METRIC_COLUMNS = ("workspace", "run_id", "key", "value", "is_nan", "timestamp", "step")


def now_ms() -> int:
    return int(time.time() * 1000)


def _experiment(row: Any) -> ExperimentRecord:
    return ExperimentRecord(
        experiment_id=row.experiment_id, name=row.name, artifact_location=row.artifact_location,
        lifecycle_stage=row.lifecycle_stage, creation_time=row.creation_time,
        last_update_time=row.last_update_time, tags=dict(row.tags),
    )


def _view_matches(stage: str, view: str) -> bool:
    return view == ViewType.ALL or (stage == DELETED) == (view == ViewType.DELETED_ONLY)


def _view_condition(column: Any, view: str) -> list[Any]:
    if view == ViewType.ALL:
        return []
    return [column == (DELETED if view == ViewType.DELETED_ONLY else ACTIVE)]


def _pairs(items: Iterable[tuple[str, Any]] | dict[str, Any] | None) -> list[tuple[str, str]]:
    items = items.items() if isinstance(items, dict) else (items or ())
    return [(str(k), str(v)) for k, v in items]


class TrackingStore:
    """MLflow experiments, runs and logged models of one workspace."""

    def __init__(self, metadata: "MetadataStore", workspace: str) -> None:
        self._engine: sa.Engine = metadata._engine  # one pool per database, shared on purpose
        self.workspace = workspace
        self._insert = _db.dialect_insert(self._engine)
        self.logged_models = LoggedModels(self)
        self.run_inputs = RunInputs(self._engine, workspace)  # datasets and models a run read
        self.histories = RunHistories(self)  # many runs' histories at once, and sampled
        self._hot = _HotStatements(self._engine, self._insert)
        self._ensure_default_experiment()

    def _tx(self, *, write: bool = False):
        return _db.transaction(self._engine, write=write)

    # ---- experiments --------------------------------------------------------------------------

    def _ensure_default_experiment(self) -> None:
        with self._tx() as conn:
            if conn.execute(sa.select(E.c.name).where(*self._exp_key(DEFAULT_EXPERIMENT_ID))).first():
                return
        now = now_ms()
        with self._tx(write=True) as conn:
            conn.execute(self._insert(E).values(
                workspace=self.workspace, experiment_id=DEFAULT_EXPERIMENT_ID,
                name=DEFAULT_EXPERIMENT_NAME, artifact_location=f"mlflow-artifacts:/{DEFAULT_EXPERIMENT_ID}",
                lifecycle_stage=ACTIVE, creation_time=now, last_update_time=now, tags={},
            ).on_conflict_do_nothing())

    def _exp_key(self, experiment_id: str) -> list[Any]:
        return [E.c.workspace == self.workspace, E.c.experiment_id == str(experiment_id)]

    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, str] | Iterable[tuple[str, str]] | None = None) -> str:
        """Create an experiment; returns its id (the next integer). Names are unique."""
        if not name or not name.strip():
            raise ValidationError("Invalid experiment name: an experiment name cannot be empty.")
        now = now_ms()
        with self._tx(write=True) as conn:
            lock_counter(conn, f"experiments:{self.workspace}")
            if conn.execute(sa.select(E.c.experiment_id)
                            .where(E.c.workspace == self.workspace, E.c.name == name)).first():
                raise AlreadyExistsError(f"Experiment '{name}' already exists.", name=name)
            ids = conn.execute(sa.select(E.c.experiment_id).where(E.c.workspace == self.workspace)).scalars()
            experiment_id = str(max((int(i) for i in ids if i.isdigit()), default=0) + 1)
            conn.execute(sa.insert(E).values(
                workspace=self.workspace, experiment_id=experiment_id, name=name,
                artifact_location=artifact_location or f"mlflow-artifacts:/{experiment_id}",
                lifecycle_stage=ACTIVE, creation_time=now, last_update_time=now, tags=dict(_pairs(tags)),
            ))
        return experiment_id

    def get_experiment(self, experiment_id: str) -> ExperimentRecord:
        """The experiment, deleted or not; :class:`NotFoundError` when there is none."""
        with self._tx() as conn:
            row = conn.execute(sa.select(E).where(*self._exp_key(experiment_id))).first()
        if row is None:
            raise NotFoundError(f"No Experiment with id={experiment_id} exists", experiment_id=experiment_id)
        return _experiment(row)

    def get_experiment_by_name(self, name: str) -> ExperimentRecord | None:
        """The experiment called *name*, or None."""
        with self._tx() as conn:
            row = conn.execute(sa.select(E).where(E.c.workspace == self.workspace, E.c.name == name)).first()
        return _experiment(row) if row is not None else None

    def get_or_create_experiment(self, name: str) -> str:
        """The id of the experiment called *name*, created when missing (safe against a racing
        creator); like :meth:`create_experiment`, it returns the id."""
        found = self.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return self.create_experiment(name)
        except AlreadyExistsError:
            return self.get_experiment_by_name(name).experiment_id  # type: ignore[union-attr]

    def search_experiments(
        self, view_type: str = ViewType.ACTIVE_ONLY, max_results: int | None = 1000,
        filter_string: str | None = None, order_by: list[str] | None = None, page_token: str | None = None,
    ) -> Page[ExperimentRecord]:
        """Experiments matching the filter subset of :mod:`tracking_filter` (attributes ``name``,
        ``creation_time``, ``last_update_time``, ``experiment_id``; ``tags.*``), newest first
        unless *order_by* says otherwise."""
        clauses, orders = parse_filter(filter_string), parse_order_by(order_by)
        with self._tx() as conn:
            rows = [_experiment(r) for r in conn.execute(sa.select(E).where(E.c.workspace == self.workspace))]

        def lookup(kind: str, key: str) -> Any:
            return getattr(exp, key, None) if kind == "attribute" else exp.tags.get(key) if kind == "tag" else None

        found = []
        for exp in rows:
            if _view_matches(exp.lifecycle_stage, view_type) and matches(clauses, lookup):
                found.append(exp)
        found.sort(key=lambda e: (-e.creation_time, -int(e.experiment_id) if e.experiment_id.isdigit() else 0))
        for order in reversed(orders):
            found.sort(key=lambda e: getattr(e, order.key, None) or 0, reverse=not order.ascending)
        offset = read_page_token(page_token)
        limit = None if max_results is None else offset + max_results + 1
        return paginate(found[offset:limit], offset, max_results)

    def _update_experiment(self, experiment_id: str, *, stage: str | None = None, **values: Any) -> None:
        """Update the experiment; with *stage*, only one in that lifecycle stage (MLflow: deleting
        a deleted experiment, or restoring an active one, is "No Experiment ... exists")."""
        where = self._exp_key(experiment_id) + ([E.c.lifecycle_stage == stage] if stage else [])
        with self._tx(write=True) as conn:
            done = conn.execute(sa.update(E).where(*where).values(last_update_time=now_ms(), **values))
        if done.rowcount == 0:
            raise NotFoundError(f"No Experiment with id={experiment_id} exists", experiment_id=experiment_id)

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark the active experiment deleted (MLflow's soft delete)."""
        if str(experiment_id) == DEFAULT_EXPERIMENT_ID:
            raise ValidationError("Cannot delete the default experiment '0'.")
        self._update_experiment(experiment_id, stage=ACTIVE, lifecycle_stage=DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo :meth:`delete_experiment`."""
        self._update_experiment(experiment_id, stage=DELETED, lifecycle_stage=ACTIVE)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename; :class:`AlreadyExistsError` when *new_name* is taken."""
        existing = self.get_experiment_by_name(new_name)
        if existing is not None and existing.experiment_id != str(experiment_id):
            raise AlreadyExistsError(f"Experiment '{new_name}' already exists.", name=new_name)
        self._update_experiment(experiment_id, name=new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str | None) -> None:
        """Set (or with *value* None, delete) one experiment tag."""
        with self._tx(write=True) as conn:
            row = conn.execute(sa.select(E.c.tags).where(*self._exp_key(experiment_id)).with_for_update()).first()
            if row is None:
                raise NotFoundError(f"No Experiment with id={experiment_id} exists", experiment_id=experiment_id)
            tags = dict(row.tags)
            if value is None:
                if key not in tags:
                    raise NotFoundError(f"No tag with name: {key} in experiment with id {experiment_id}",
                                        experiment_id=experiment_id, key=key)
                tags.pop(key)
            else:
                tags[key] = str(value)
            conn.execute(sa.update(E).where(*self._exp_key(experiment_id)).values(tags=tags, last_update_time=now_ms()))

    # ---- runs ---------------------------------------------------------------------------------

    def _run_key(self, table: sa.Table, run_id: str) -> list[Any]:
        return [table.c.workspace == self.workspace, table.c.run_id == run_id]

    def _run_row(self, conn: sa.Connection, run_id: str, *, active: bool = False) -> Any:
        row = conn.execute(sa.select(R).where(*self._run_key(R, run_id))).first()
        if row is None:
            raise NotFoundError(f"Run with id={run_id} not found", run_id=run_id)
        if active and row.lifecycle_stage != ACTIVE:
            raise ValidationError(f"The run {run_id} must be in the 'active' state. Current state is "
                                  f"{row.lifecycle_stage}.", run_id=run_id)
        return row

    def create_run(
        self, experiment_id: str, run_id: str | None = None, run_name: str | None = None,
        start_time: int | None = None, tags: dict[str, str] | Iterable[tuple[str, str]] | None = None,
        user_id: str | None = None, status: str = "RUNNING",
    ) -> RunRecord:
        """Create a run in an active experiment. *run_id* defaults to a random hex id (the job
        service passes the job name); the run's artifacts live under
        ``<experiment artifact_location>/<run_id>/artifacts``."""
        tag_pairs = _pairs(tags)
        run_name = run_name or dict(tag_pairs).get(RUN_NAME_TAG) or f"run-{uuid.uuid4().hex[:8]}"
        tag_pairs = [(k, v) for k, v in tag_pairs if k != RUN_NAME_TAG] + [(RUN_NAME_TAG, run_name)]
        run_id = run_id or uuid.uuid4().hex
        with self._tx(write=True) as conn:
            experiment = conn.execute(self._hot.experiment, {"ws": self.workspace, "id": str(experiment_id)}).first()
            if experiment is None:
                raise NotFoundError(f"No Experiment with id={experiment_id} exists", experiment_id=experiment_id)
            if experiment.lifecycle_stage != ACTIVE:
                raise ValidationError(f"The experiment {experiment_id} must be in the 'active' state.")
            values = dict(run_id=run_id, experiment_id=str(experiment_id), run_name=run_name, status=status,
                          start_time=start_time if start_time is not None else now_ms(), end_time=None,
                          artifact_uri=f"{experiment.artifact_location.rstrip('/')}/{run_id}/artifacts",
                          lifecycle_stage=ACTIVE, user_id=user_id)
            if conn.execute(self._hot.run_stage, {"ws": self.workspace, "run_id": run_id}).first():
                raise AlreadyExistsError(f"Run with id={run_id} already exists.", run_id=run_id)
            conn.execute(self._hot.insert_run, {"workspace": self.workspace, **values})
            self._set_tags(conn, run_id, tag_pairs, renames=False)  # run_name is already the tag's
        # A new run has no metrics, params or outputs: no need to read it back (jobs create one each).
        return RunRecord(**values, tags=dict(tag_pairs))

    def get_run(self, run_id: str) -> RunRecord:
        """The run with its latest metrics, params, tags and outputs; NotFoundError if missing."""
        with self._tx() as conn:
            row = self._run_row(conn, run_id)
            return self._with_data(conn, [row])[0]

    def _with_data(self, conn: sa.Connection, rows: Sequence[Any]) -> list[RunRecord]:
        """*rows* of ``runs`` with their data, loaded for all of them at once: one query per
        table keyed by the page's run ids, read as the driver's tuples (a search returns up to
        thousands of runs)."""
        ids = [r.run_id for r in rows]
        metrics: dict[str, list[MetricRecord]] = {i: [] for i in ids}
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        outputs: dict[str, list[tuple[str, int]]] = {i: [] for i in ids}

        def fetch(*columns: Any) -> list[tuple]:
            table = columns[0].table
            query = sa.select(*columns).where(table.c.workspace == self.workspace, table.c.run_id.in_(ids))
            return conn.execute(query.order_by(table.c.key) if table is LM else query).cursor.fetchall()

        for run_id, key, value, is_nan, timestamp, step in fetch(
                LM.c.run_id, LM.c.key, LM.c.value, LM.c.is_nan, LM.c.timestamp, LM.c.step):
            metrics[run_id].append(MetricRecord(key, decode_metric_value(value, is_nan), timestamp, step))
        for table, found in ((P, params), (T, tags)):
            for run_id, key, value in fetch(table.c.run_id, table.c.key, table.c.value):
                found[run_id][key] = value
        for run_id, model_id, step in fetch(O.c.run_id, O.c.model_id, O.c.step):
            outputs[run_id].append((model_id, step))
        return [
            RunRecord(
                run_id=r.run_id, experiment_id=r.experiment_id, run_name=r.run_name, status=r.status,
                start_time=r.start_time, end_time=r.end_time, artifact_uri=r.artifact_uri,
                lifecycle_stage=r.lifecycle_stage, user_id=r.user_id, metrics=tuple(metrics[r.run_id]),
                params=params[r.run_id], tags=tags[r.run_id], model_outputs=tuple(outputs[r.run_id]),
            )
            for r in rows
        ]

    def update_run_info(self, run_id: str, status: str | None = None, end_time: int | None = None,
                        run_name: str | None = None) -> RunRecord:
        """Change the run's status, end time and name (each when given)."""
        if status is not None and status not in RUN_STATUSES:
            raise ValidationError(f"Invalid run status {status!r}; expected one of {sorted(RUN_STATUSES)}.")
        values = {k: v for k, v in (("status", status), ("end_time", end_time), ("run_name", run_name))
                  if v is not None}
        with self._tx(write=True) as conn:
            self._run_row(conn, run_id, active=True)
            if values:
                conn.execute(sa.update(R).where(*self._run_key(R, run_id)).values(**values))
            if run_name is not None:
                self._set_tags(conn, run_id, [(RUN_NAME_TAG, run_name)])
        return self.get_run(run_id)

    def _set_lifecycle(self, run_id: str, stage: str) -> None:
        with self._tx(write=True) as conn:
            self._run_row(conn, run_id)
            conn.execute(sa.update(R).where(*self._run_key(R, run_id)).values(lifecycle_stage=stage))

    def delete_run(self, run_id: str) -> None:
        """Mark the run deleted (MLflow's soft delete); its data stays."""
        self._set_lifecycle(run_id, DELETED)

    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`."""
        self._set_lifecycle(run_id, ACTIVE)

    # ---- params, tags, metrics ----------------------------------------------------------------

    def log_batch(self, run_id: str, metrics: Sequence[MetricTuple] = (),
                  params: Iterable[tuple[str, Any]] | dict[str, Any] = (),
                  tags: Iterable[tuple[str, Any]] | dict[str, Any] = ()) -> None:
        """Log metrics ``(key, value, timestamp_ms, step)``, params and tags in one transaction.

        A param cannot change once logged (re-logging the same value is fine): a different
        value raises :class:`ValidationError`, and nothing of the batch is written.
        """
        param_pairs, tag_pairs = _pairs(params), _pairs(tags)
        metric_rows, latest = self._metric_rows(run_id, metrics)
        with self._tx(write=True) as conn:
            stage = conn.execute(self._hot.run_stage, {"ws": self.workspace, "run_id": run_id}).scalar()
            if stage != ACTIVE:  # the rare path: report the missing or deleted run properly
                self._run_row(conn, run_id, active=True)
            if param_pairs:
                self._insert_params(conn, run_id, param_pairs)
            if tag_pairs:
                self._set_tags(conn, run_id, tag_pairs)
            if metric_rows:
                conn.exec_driver_sql(self._hot.insert_metrics, metric_rows)
                conn.execute(self._hot.upsert_latest, latest)

    def _metric_rows(self, run_id: str, metrics: Sequence[MetricTuple]) -> tuple[list[tuple], list[dict[str, Any]]]:
        """The ``metrics`` rows as plain tuples (in :data:`_METRIC_COLUMNS` order), and per key
        the batch's own latest value (MLflow's rule) and the shape of its steps (count, min,
        max, each once?) as upsert parameters: one per key."""
        workspace, rows, best, steps = self.workspace, [], {}, {}
        for key, value, timestamp, step in metrics:
            if not key:
                raise ValidationError("A metric key cannot be empty.")
            value = float(value)
            is_nan = value != value  # NaN is stored as 0 with is_nan set (SQLite turns NaN into NULL)
            row = (workspace, run_id, key, 0.0 if is_nan else value, is_nan, int(timestamp), int(step or 0))
            rows.append(row)
            steps.setdefault(key, []).append(row[6])
            current = best.get(key)
            # MLflow's rule: the largest (step, timestamp, value) is the latest.
            if current is None or (row[6], row[5], row[3]) > (current[6], current[5], current[3]):
                best[key] = row
        latest = []
        for key, row in best.items():
            key_steps = steps[key]
            lo, hi = min(key_steps), max(key_steps)
            once = hi - lo + 1 == len(key_steps) == (1 if lo == hi else len(set(key_steps)))
            latest.append({**dict(zip(_METRIC_COLUMNS, row)), "n_values": len(key_steps),
                           "min_step": lo, "max_step": hi, "steps_once": once})
        return rows, latest

    def _insert_params(self, conn: sa.Connection, run_id: str, pairs: list[tuple[str, str]]) -> None:
        wanted: dict[str, str] = {}
        for key, value in pairs:
            if not key:
                raise ValidationError("A param key cannot be empty.")
            if wanted.setdefault(key, value) != value:
                raise ValidationError(f"Duplicate parameter key '{key}' with different values in one batch.")
        existing = dict(conn.execute(
            self._hot.params_of, {"ws": self.workspace, "run_id": run_id, "keys": list(wanted)}).all())
        for key, value in wanted.items():
            if key in existing and existing[key] != value:
                raise ValidationError(
                    f"Changing param values is not allowed. Param with key='{key}' was already logged "
                    f"with value='{existing[key]}' for run ID='{run_id}'. Attempted logging new value "
                    f"'{value}'.", run_id=run_id, key=key,
                )
        new = [{"workspace": self.workspace, "run_id": run_id, "key": k, "value": v}
               for k, v in wanted.items() if k not in existing]
        if new:
            conn.execute(self._hot.insert_params, new)

    def _set_tags(self, conn: sa.Connection, run_id: str, pairs: list[tuple[str, str]], *,
                  renames: bool = True) -> None:
        rows = {k: {"workspace": self.workspace, "run_id": run_id, "key": k, "value": v} for k, v in pairs}
        conn.execute(self._hot.upsert_tag, list(rows.values()))
        if renames and RUN_NAME_TAG in rows:
            conn.execute(sa.update(R).where(*self._run_key(R, run_id))
                         .values(run_name=rows[RUN_NAME_TAG]["value"]))

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None, step: int = 0) -> None:
        """Log one metric value (``timestamp`` defaults to now)."""
        self.log_batch(run_id, metrics=[(key, value, timestamp if timestamp is not None else now_ms(), step)])

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Log one param; see :meth:`log_batch` for immutability."""
        self.log_batch(run_id, params=[(key, value)])

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set one run tag; ``mlflow.runName`` also renames the run."""
        self.log_batch(run_id, tags=[(key, value)])

    def delete_tag(self, run_id: str, key: str) -> None:
        """Delete a run tag; NotFoundError when the run has no such tag."""
        with self._tx(write=True) as conn:
            self._run_row(conn, run_id, active=True)
            done = conn.execute(sa.delete(T).where(*self._run_key(T, run_id), T.c.key == key))
            if done.rowcount == 0:
                raise NotFoundError(f"No tag with name: {key} in run with id {run_id}", run_id=run_id, key=key)

    def metric_history(self, run_id: str, key: str, max_results: int | None = None,
                       page_token: str | None = None) -> MetricHistory:
        """Every value logged for *key*, ordered by timestamp then step (as MLflow), then in the
        order logged; pages of *max_results* when given. One range of ``ix_metrics_history``,
        read as the driver's tuples."""
        offset = read_page_token(page_token)
        query = (sa.select(M.c.value, M.c.is_nan, M.c.timestamp, M.c.step)
                 .where(*self._run_key(M, run_id), M.c.key == key)
                 .order_by(M.c.timestamp, M.c.step, M.c.id).offset(offset))
        if max_results is not None:
            query = query.limit(max_results + 1)
        with self._tx() as conn:
            self._run_row(conn, run_id)
            # The DBAPI cursor's own rows: no Row object (nor type processing) per point.
            rows = conn.execute(query).cursor.fetchall()
        page = paginate(rows, offset, max_results)
        nan = math.nan
        points = [(value, timestamp, step) if not is_nan else (nan, timestamp, step)
                  for value, is_nan, timestamp, step in page.items]
        return MetricHistory(key, points, page.next_page_token)

    def get_metric_history(self, run_id: str, key: str, max_results: int | None = None,
                           page_token: str | None = None) -> Page[MetricRecord]:
        """:meth:`metric_history` as :class:`MetricRecord` items."""
        history = self.metric_history(run_id, key, max_results, page_token)
        return Page([MetricRecord(key, v, t, s) for v, t, s in history.points], history.next_page_token)

    def search_runs(
        self, experiment_ids: Sequence[str], filter_string: str | None = None,
        run_view_type: str = ViewType.ACTIVE_ONLY, max_results: int = 1000,
        order_by: list[str] | None = None, page_token: str | None = None,
    ) -> Page[RunRecord]:
        """Runs of *experiment_ids* matching the subset described in :mod:`tracking_filter`."""
        offset = read_page_token(page_token)
        query = (
            sa.select(R)
            .where(R.c.workspace == self.workspace, R.c.experiment_id.in_([str(e) for e in experiment_ids]),
                   *_view_condition(R.c.lifecycle_stage, run_view_type),
                   *_run_query.conditions(self.workspace, parse_filter(filter_string)))
            .order_by(*_run_query.ordering(self.workspace, parse_order_by(order_by)))
            .offset(offset).limit(max_results + 1)
        )
        with self._tx() as conn:
            rows = conn.execute(query).all()
            return paginate(self._with_data(conn, rows), offset, max_results)

    def log_outputs(self, run_id: str, models: Iterable[tuple[str, int]]) -> None:
        """Record logged models (``(model_id, step)``) as outputs of the run (MLflow 3)."""
        rows = [{"workspace": self.workspace, "run_id": run_id, "model_id": m, "step": int(s or 0)}
                for m, s in models]
        with self._tx(write=True) as conn:
            self._run_row(conn, run_id)
            if rows:
                stmt = self._insert(O)
                conn.execute(stmt.on_conflict_do_update(index_elements=["workspace", "run_id", "model_id"],
                                                        set_={"step": stmt.excluded.step}), rows)

    # ---- logged models (MLflow 3): implemented in openaml.store.logged_models ------------------

    def create_logged_model(
        self, experiment_id: str, name: str | None = None, source_run_id: str | None = None,
        tags: dict[str, str] | None = None, params: dict[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModelRecord:
        """Create a PENDING logged model; see :meth:`LoggedModels.create` for its location."""
        return self.logged_models.create(experiment_id, name, source_run_id, tags, params, model_type)

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModelRecord:
        """The logged model; NotFoundError when missing (or deleted, unless *allow_deleted*)."""
        return self.logged_models.get(model_id, allow_deleted=allow_deleted)

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModelRecord:
        """Set the model's status to READY or FAILED."""
        return self.logged_models.finalize(model_id, status)

    def search_logged_models(self, experiment_ids: Sequence[str], filter_string: str | None = None,
                             max_results: int | None = None, page_token: str | None = None,
                             order_by: Sequence[tuple[str, bool]] = ()) -> Page[LoggedModelRecord]:
        """Logged models of *experiment_ids*, newest first unless *order_by* says otherwise,
        filtered by the common subset."""
        return self.logged_models.search(experiment_ids, filter_string, max_results, page_token, order_by)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        """Set tags on a logged model."""
        self.logged_models.update_dict(model_id, "tags", tags)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Delete one tag of a logged model."""
        self.logged_models.update_dict(model_id, "tags", {}, delete=key)

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        """Add params to a logged model."""
        self.logged_models.update_dict(model_id, "params", params)

    def delete_logged_model(self, model_id: str) -> None:
        """Mark a logged model deleted."""
        self.logged_models.delete(model_id)


class _HotStatements:
    """Statements of the hot paths (logging, creating runs), built once: building a statement
    costs more than running it (SQLAlchemy then finds the compiled form in its cache by identity)."""

    def __init__(self, engine: sa.Engine, insert: Any) -> None:
        self.insert_metrics = _db.positional_insert_sql(engine, M, list(_METRIC_COLUMNS))
        self.run_stage = sa.select(R.c.lifecycle_stage).where(
            R.c.workspace == sa.bindparam("ws"), R.c.run_id == sa.bindparam("run_id"))
        self.experiment = sa.select(E.c.lifecycle_stage, E.c.artifact_location).where(
            E.c.workspace == sa.bindparam("ws"), E.c.experiment_id == sa.bindparam("id"))
        self.insert_run = sa.insert(R)
        self.params_of = sa.select(P.c.key, P.c.value).where(
            P.c.workspace == sa.bindparam("ws"), P.c.run_id == sa.bindparam("run_id"),
            P.c.key.in_(sa.bindparam("keys", expanding=True)))
        self.insert_params = sa.insert(P)
        self.upsert_latest = _upsert_latest(insert(LM))
        tag = insert(T)
        self.upsert_tag = tag.on_conflict_do_update(index_elements=["workspace", "run_id", "key"],
                                                    set_={"value": tag.excluded.value})


def _upsert_latest(latest: Any) -> Any:
    """A key's latest value and history shape (``latest_metrics``), merged with a batch's."""
    new = latest.excluded
    # MLflow's rule: the largest (step, timestamp, value) is the latest.
    newer = sa.tuple_(new.step, new.timestamp, new.value) > sa.tuple_(LM.c.step, LM.c.timestamp, LM.c.value)
    # Two runs of steps, each once, make one only where they touch; compared as NUMERIC because
    # max_step + 1 overflows BIGINT at the largest step (an error on PostgreSQL).
    touch = sa.or_(sa.cast(LM.c.max_step, sa.Numeric) + 1 == new.min_step,
                   sa.cast(new.max_step, sa.Numeric) + 1 == LM.c.min_step)
    return latest.on_conflict_do_update(
        index_elements=["workspace", "run_id", "key"],
        set_={
            **{c: sa.case((newer, new[c]), else_=LM.c[c]) for c in ("value", "is_nan", "timestamp", "step")},
            "n_values": LM.c.n_values + new.n_values,
            "min_step": sa.case((new.min_step < LM.c.min_step, new.min_step), else_=LM.c.min_step),
            "max_step": sa.case((new.max_step > LM.c.max_step, new.max_step), else_=LM.c.max_step),
            "steps_once": sa.and_(LM.c.steps_once, new.steps_once, touch),
        },
    )
