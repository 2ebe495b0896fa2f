"""Metric histories of many runs at once: MLflow's ``get-history-bulk`` and its sampled form
``get-history-bulk-interval`` (what MLflow's UI, and openaml's studio, draw charts from).

Sampling follows MLflow's SQL store exactly, so a chart looks the same on either server: the
run's values for the key (optionally within ``[start_step, end_step]``), ordered by
``(step, timestamp, value, is_nan)``, cut into ``max_results`` equal buckets (SQL ``NTILE``), the
first value of each bucket kept, and the run's last value always shown (it replaces the last
sample when the sample is full). A run whose steps are lo..hi, each logged once (what a
training loop logs, and what ``latest_metrics`` records as the history is logged), is sampled
from its step range alone: the values at the bucket starts are read by step. Any other run
goes through one windowed query (partitioned by run) as MLflow's does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from openaml.store.tables import latest_metrics as LM
from openaml.store.tables import metrics as M
from openaml.store.tables import runs as R
from openaml.store.tracking_records import RunHistory

if TYPE_CHECKING:
    from openaml.store.tracking import TrackingStore


# A value travels as the driver's plain (value, is_nan, timestamp, step) tuple (the DBAPI
# cursor's rows, no SQLAlchemy Row each): at 250,000 values a request, building and reading
# result objects costs more than the query.
Point = tuple[Any, bool, int, int]


def _decoded(points: list[Point]) -> list[tuple[float, int, int]]:
    """*points* as :class:`RunHistory` holds them: ``(value, timestamp, step)``, NaN decoded."""
    nan = math.nan
    return [(value, timestamp, step) if not is_nan else (nan, timestamp, step)
            for value, is_nan, timestamp, step in points]


def _row_key(point: Point) -> tuple[Any, ...]:
    # Equal values are the same point: ties may put either copy last (as in MLflow's rule).
    value, is_nan, timestamp, step = point
    return (step, timestamp, None if is_nan else value, is_nan)


class RunHistories:
    """Multi-run history queries over the tracking store's engine and workspace."""

    def __init__(self, tracking: "TrackingStore") -> None:
        self._tracking = tracking

    def _existing(self, conn: sa.Connection, run_ids: Sequence[str]) -> list[str]:
        found = set(conn.execute(sa.select(R.c.run_id).where(
            R.c.workspace == self._tracking.workspace, R.c.run_id.in_(list(run_ids)))).scalars())
        return [r for r in dict.fromkeys(run_ids) if r in found]

    def bulk(self, run_ids: Sequence[str], key: str, max_results: int) -> list[RunHistory]:
        """Every value of *key* in the runs that exist, by run id, then timestamp, step and
        value; at most *max_results* in all (MLflow's ``get-history-bulk``)."""
        with self._tracking._tx() as conn:
            runs = self._existing(conn, run_ids)
            rows = conn.execute(
                sa.select(M.c.run_id, M.c.value, M.c.is_nan, M.c.timestamp, M.c.step)
                .where(M.c.workspace == self._tracking.workspace, M.c.run_id.in_(runs), M.c.key == key)
                .order_by(M.c.run_id, M.c.timestamp, M.c.step, M.c.value).limit(max_results)
            ).cursor.fetchall()
        return [RunHistory(run_id, key, _decoded([row[1:] for row in group]))
                for run_id, group in groupby(rows, itemgetter(0))]

    def sampled(self, run_ids: Sequence[str], key: str, max_results: int,
                start_step: int | None = None, end_step: int | None = None) -> list[RunHistory]:
        """At most *max_results* values of *key* per run, sampled as the module says; runs in
        the order given, those with no values left out (as a run this workspace does not
        have: MLflow answers no values for it)."""
        max_results = max(1, max_results)
        where = [M.c.workspace == self._tracking.workspace, M.c.key == key]
        if start_step is not None and end_step is not None:
            where += [M.c.step >= start_step, M.c.step <= end_step]
        runs = list(dict.fromkeys(run_ids))
        picked: dict[str, tuple[list[Point], Point | None]] = {}
        with self._tracking._tx() as conn:
            # The shape of each history, kept beside its latest value as it is logged: no read
            # of the values themselves (counting a run's distinct steps costs a scan of it).
            shapes = conn.execute(
                sa.select(LM.c.run_id, LM.c.min_step, LM.c.max_step, LM.c.steps_once)
                .where(LM.c.workspace == self._tracking.workspace, LM.c.key == key, LM.c.run_id.in_(runs))
            ).all()
            general = []
            for run_id, lo, hi, once in shapes:
                if not once:
                    general.append(run_id)
                    continue
                if start_step is not None and end_step is not None:
                    lo, hi = max(lo, start_step), min(hi, end_step)
                if lo <= hi:  # else: no value in the window
                    picked[run_id] = self._dense(conn, where, run_id, lo, hi, max_results)
            if general:
                picked.update(self._windowed(conn, [*where, M.c.run_id.in_(general)], max_results))
        out: list[RunHistory] = []
        for run_id in runs:
            samples, last = picked.get(run_id, ([], None))
            if last is not None and (not samples or _row_key(samples[-1]) != _row_key(last)):
                if len(samples) >= max_results:
                    samples[-1] = last  # the run's end is always drawn
                else:
                    samples.append(last)
            if samples:
                out.append(RunHistory(run_id, key, _decoded(samples)))
        return out

    @staticmethod
    def _dense(conn: sa.Connection, where: list[Any], run_id: str, lo: int, hi: int,
               max_results: int) -> tuple[list[Point], Point]:
        # The common shape (each step lo..hi logged once): the i-th value in sampling order is
        # the one at step lo + i, so NTILE's bucket starts are known from the count alone, and
        # only they leave the database (a window over all rows costs about a microsecond a row
        # in SQLite). NTILE's first `extra` buckets hold size + 1 values, the rest size.
        n = hi - lo + 1
        size, extra = divmod(n, max_results)
        offset = M.c.step - lo
        long_part = extra * (size + 1)
        if size == 0:
            pick: Any = sa.true()  # no more values than the sample holds: each starts a bucket
        else:
            pick = sa.or_(sa.and_(offset < long_part, offset % (size + 1) == 0),
                          sa.and_(offset >= long_part, (offset - long_part) % size == 0),
                          M.c.step == hi)
        rows = conn.execute(
            sa.select(M.c.value, M.c.is_nan, M.c.timestamp, M.c.step)
            .where(*where, M.c.run_id == run_id, M.c.step >= lo, M.c.step <= hi, pick)
            .order_by(M.c.step)).cursor.fetchall()
        i = min(max_results, n) - 1  # the last bucket
        last_start = i * (size + 1) if i < extra else long_part + (i - extra) * size
        # The run's end is drawn whether or not a bucket starts there.
        return (rows if last_start == n - 1 else rows[:-1]), rows[-1]

    @staticmethod
    def _windowed(conn: sa.Connection, where: list[Any], max_results: int) -> dict[str, tuple[list[Point], Point | None]]:
        # Any other history: MLflow's own query, NTILE buckets over the ordered values.
        order = (M.c.step, M.c.timestamp, M.c.value, M.c.is_nan)
        bucketed = sa.select(
            M.c.run_id, M.c.value, M.c.is_nan, M.c.timestamp, M.c.step,
            sa.func.ntile(max_results).over(partition_by=M.c.run_id, order_by=order).label("bucket"),
            sa.func.row_number().over(partition_by=M.c.run_id,
                                      order_by=[c.desc() for c in order]).label("from_end"),
        ).where(*where).subquery()
        b = bucketed.c
        ranked = sa.select(
            b.run_id, b.value, b.is_nan, b.timestamp, b.step, b.from_end,
            sa.func.row_number().over(partition_by=(b.run_id, b.bucket),
                                      order_by=(b.step, b.timestamp, b.value, b.is_nan)).label("rn"),
        ).subquery()
        r = ranked.c
        rows = conn.execute(
            sa.select(r.run_id, r.value, r.is_nan, r.timestamp, r.step, r.rn, r.from_end)
            .where(sa.or_(r.rn == 1, r.from_end == 1))
            .order_by(r.run_id, r.step, r.timestamp, r.value, r.is_nan)
        ).cursor.fetchall()
        by_run: dict[str, tuple[list[Point], Point | None]] = {}
        for run_id, value, is_nan, timestamp, step, rn, from_end in rows:
            samples, last = by_run.get(run_id, ([], None))
            point = (value, is_nan, timestamp, step)
            if rn == 1:
                samples.append(point)
            if from_end == 1:
                last = point
            by_run[run_id] = (samples, last)
        return by_run
