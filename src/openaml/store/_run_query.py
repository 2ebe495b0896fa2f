"""search_runs' filter and order_by (see :mod:`openaml.store.tracking_filter`) as SQL.

Tag, param and metric clauses become correlated EXISTS subqueries (metrics compare the latest
value, as MLflow does), so a search stays one query however many runs an experiment holds.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from openaml.errors import ValidationError
from openaml.store.tables import latest_metrics as LM
from openaml.store.tables import params as P
from openaml.store.tables import run_tags as T
from openaml.store.tables import runs as R
from openaml.store.tracking_filter import COMPARE, Clause, OrderBy

_ATTRIBUTES = {
    "run_id": R.c.run_id, "run_name": R.c.run_name, "status": R.c.status, "user_id": R.c.user_id,
    "start_time": R.c.start_time, "created": R.c.start_time, "end_time": R.c.end_time,
    "artifact_uri": R.c.artifact_uri, "lifecycle_stage": R.c.lifecycle_stage,
    "experiment_id": R.c.experiment_id,
}
_NUMERIC_ATTRIBUTES = frozenset({"start_time", "created", "end_time"})
_KV_TABLES = {"tag": T, "param": P}


def _apply(column: Any, op: str, value: Any) -> sa.ColumnElement[bool]:
    if op == "LIKE":
        return column.like(value)
    if op == "ILIKE":
        return column.ilike(value)
    if op == "IN":
        return column.in_(value)
    if op == "NOT IN":
        return column.not_in(value)
    return COMPARE[op](column, value)


def _attribute(key: str) -> Any:
    column = _ATTRIBUTES.get(key)
    if column is None:
        raise ValidationError(f"Invalid attribute key {key!r}; supported: {sorted(_ATTRIBUTES)}.")
    return column


def _condition(workspace: str, clause: Clause) -> sa.ColumnElement[bool]:
    if clause.kind == "attribute":
        column, value = _attribute(clause.key), clause.value
        if clause.key in _NUMERIC_ATTRIBUTES:
            if not isinstance(value, float):
                raise ValidationError(f"attributes.{clause.key} compares with a number.")
            value = int(value)
        elif isinstance(value, float):
            raise ValidationError(f"attributes.{clause.key} compares with a quoted string.")
        return _apply(column, clause.op, value)
    if clause.kind == "metric":
        if not isinstance(clause.value, float):
            raise ValidationError(f"metrics.{clause.key} compares with a number.")
        table, extra = LM, [LM.c.is_nan.is_(False)]
    else:
        if isinstance(clause.value, float):
            raise ValidationError(f"{clause.kind}s.{clause.key} compares with a quoted string.")
        table, extra = _KV_TABLES[clause.kind], []
    return sa.exists().where(
        table.c.workspace == workspace, table.c.run_id == R.c.run_id, table.c.key == clause.key,
        _apply(table.c.value, clause.op, clause.value), *extra,
    )


def conditions(workspace: str, clauses: list[Clause]) -> list[sa.ColumnElement[bool]]:
    """WHERE terms for *clauses* over the ``runs`` table."""
    return [_condition(workspace, c) for c in clauses]


def _order_column(workspace: str, order: OrderBy) -> Any:
    if order.kind == "attribute":
        return _attribute(order.key)
    table = LM if order.kind == "metric" else _KV_TABLES[order.kind]
    return (
        sa.select(table.c.value)
        .where(table.c.workspace == workspace, table.c.run_id == R.c.run_id, table.c.key == order.key)
        .scalar_subquery()
    )


def ordering(workspace: str, orders: list[OrderBy]) -> list[Any]:
    """ORDER BY terms: the requested ones, then MLflow's default (newest start first, run id)."""
    terms = []
    for order in orders:
        column = _order_column(workspace, order)
        terms.append(column.asc() if order.ascending else column.desc())
    return [*terms, R.c.start_time.desc(), R.c.run_id.asc()]
