"""Multi-run metric histories (get-history-bulk and its sampled form) on both backends.

The sampled form must match MLflow's rule (the conformance suite compares it value for value
with ``mlflow server``); here its invariants are checked on SQLite and PostgreSQL, with
hypothesis over history lengths and sample sizes.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openaml.store.tracking import TrackingStore


@pytest.fixture
def tracking(store, workspace_name):
    return TrackingStore(store, workspace_name)


def _run_with(tracking: TrackingStore, points: list[tuple[float, int, int]]) -> str:
    run = tracking.create_run(tracking.get_or_create_experiment("hist"))
    for start in range(0, len(points), 1000):
        tracking.log_batch(run.run_id, metrics=[("loss", v, ts, step) for v, ts, step in points[start:start + 1000]])
    return run.run_id


def _expected_sample(points: list[tuple[float, int, int]], n: int) -> list[tuple[int, int, float]]:
    """MLflow's rule, written from its description: NTILE buckets of the ordered values, the
    first of each, and the last value always present."""
    ordered = sorted(((s, t, 0.0 if math.isnan(v) else v, math.isnan(v)) for v, t, s in points))
    total = len(ordered)
    if total == 0:
        return []
    size, extra = divmod(total, n) if total > n else (1, 0)
    starts, i = [], 0
    for bucket in range(min(n, total)):
        starts.append(i)
        i += size + (1 if bucket < extra else 0)
    sample = [ordered[j] for j in starts]
    if sample[-1] != ordered[-1]:
        if len(sample) >= n:
            sample[-1] = ordered[-1]
        else:
            sample.append(ordered[-1])
    return [(s, t, float("nan") if nan else v) for s, t, v, nan in sample]


def _flat(histories) -> list[tuple[str, int, int, float]]:
    """The points of several runs' histories as ``(run_id, step, timestamp, value)``."""
    return [(h.run_id, s, t, v) for h in histories for v, t, s in h.points]


def _same(a: list[tuple[int, int, float]], b: list[tuple[int, int, float]]) -> bool:
    return len(a) == len(b) and all(x[:2] == y[:2] and (x[2] == y[2] or (math.isnan(x[2]) and math.isnan(y[2])))
                                    for x, y in zip(a, b))


def test_sampled_keeps_first_and_last_and_at_most_n(tracking) -> None:
    points = [(float(i), 1000 + i, i // 3) for i in range(1000)]
    run_id = _run_with(tracking, points)
    got = _flat(tracking.histories.sampled([run_id], "loss", 50))
    assert len(got) == 50
    assert (got[0][1], got[0][3]) == (0, 0.0)
    assert (got[-1][1], got[-1][3]) == (333, 999.0)
    steps = [step for _, step, _, _ in got]
    assert steps == sorted(steps)


def test_sampled_step_range_and_runs_in_request_order(tracking) -> None:
    a = _run_with(tracking, [(float(i), i, i) for i in range(100)])
    b = _run_with(tracking, [(float(-i), i, i) for i in range(10)])
    got = _flat(tracking.histories.sampled([b, a, "no-such-run"], "loss", 5, start_step=20, end_step=60))
    assert [p[0] for p in got] == [a] * 5  # b has no step in range; an unknown run has nothing
    assert all(20 <= p[1] <= 60 for p in got)
    assert got[-1][1] == 60
    assert [p[0] for p in _flat(tracking.histories.sampled([b, a], "loss", 3))] == [b] * 3 + [a] * 3


def test_bulk_orders_by_run_then_time_and_caps_the_total(tracking) -> None:
    a = _run_with(tracking, [(1.0, 30, 0), (2.0, 10, 1), (float("nan"), 20, 2)])
    b = _run_with(tracking, [(5.0, 1, 0)])
    got = _flat(tracking.histories.bulk([b, a], "loss", 100))
    assert [p[0] for p in got] == sorted(p[0] for p in got) and len(got) == 4
    times = [p[2] for p in got if p[0] == a]
    assert times == [10, 20, 30] and math.isnan(next(p[3] for p in got if p[2] == 20))
    assert len(_flat(tracking.histories.bulk([a, b], "loss", 2))) == 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(points=st.lists(st.tuples(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))),
                                 st.integers(0, 50), st.integers(0, 20)), max_size=80),
       n=st.integers(1, 30))
def test_sampled_matches_mlflows_rule(tracking, points, n) -> None:
    run_id = _run_with(tracking, points)
    got = [p[1:] for p in _flat(tracking.histories.sampled([run_id], "loss", n))]
    assert _same(got, _expected_sample(points, n)), (got, _expected_sample(points, n))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), length=st.integers(1, 120), lo=st.integers(-5, 1000), n=st.integers(1, 40))
def test_sampled_matches_mlflows_rule_when_each_step_is_logged_once(tracking, data, length, lo, n) -> None:
    # The shape a training loop logs (steps lo..hi, each once, in any order and at any time),
    # which is sampled from its count rather than ranked: the same rule must come out.
    steps = data.draw(st.permutations(range(lo, lo + length)))
    values = data.draw(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))),
                                min_size=length, max_size=length))
    times = data.draw(st.lists(st.integers(0, 50), min_size=length, max_size=length))
    points = list(zip(values, times, steps))
    run_id = _run_with(tracking, points)
    got = [p[1:] for p in _flat(tracking.histories.sampled([run_id], "loss", n))]
    assert _same(got, _expected_sample(points, n)), (got, _expected_sample(points, n))


def test_sampled_mixes_dense_and_irregular_runs_in_one_request(tracking) -> None:
    dense = [(float(i), 5000 - i, i) for i in range(997)]        # each step once, time running backwards
    gappy = [(float(i), i, 2 * i) for i in range(500)]           # every other step
    repeated = [(float(i), i, i // 2) for i in range(300)]       # each step twice
    runs = [_run_with(tracking, p) for p in (dense, gappy, repeated)]
    got = _flat(tracking.histories.sampled([runs[2], runs[0], runs[1]], "loss", 37, start_step=10, end_step=900))
    by_run = {r: [p[1:] for p in got if p[0] == r] for r in runs}
    for run_id, points in zip(runs, (dense, gappy, repeated)):
        inside = [p for p in points if 10 <= p[2] <= 900]
        assert _same(by_run[run_id], _expected_sample(inside, 37)), run_id
    assert [p[0] for p in got] == [runs[2]] * 37 + [runs[0]] * 37 + [runs[1]] * 37


def _shape(tracking: TrackingStore, store, run_id: str) -> tuple[int, int, int, bool]:
    """The history shape ``latest_metrics`` keeps for the run's "loss"."""
    import sqlalchemy as sa

    from openaml.store.tables import latest_metrics as LM

    with store.engine.connect() as conn:
        n, lo, hi, once = conn.execute(sa.select(LM.c.n_values, LM.c.min_step, LM.c.max_step, LM.c.steps_once).where(
            LM.c.workspace == tracking.workspace, LM.c.run_id == run_id, LM.c.key == "loss")).one()
    return n, lo, hi, bool(once)


def _log_in_batches(tracking: TrackingStore, steps: list[int], cuts: list[int]) -> str:
    run = tracking.create_run(tracking.get_or_create_experiment("shape"))
    bounds = [0, *sorted({c % (len(steps) + 1) for c in cuts}), len(steps)]
    for a, b in zip(bounds, bounds[1:]):
        if a < b:
            tracking.log_batch(run.run_id, metrics=[("loss", float(s), 7, s) for s in steps[a:b]])
    return run.run_id


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.integers(-3, 12), min_size=1, max_size=30), cuts=st.lists(st.integers(0, 40), max_size=6),
       n=st.integers(1, 12))
def test_history_shape_is_kept_exactly_and_never_claims_once_wrongly(tracking, store, steps, cuts, n) -> None:
    # Batches in any order, repeats and gaps: count and step range are exact; "each step once"
    # may be missed (a gap filled out of order) but is never claimed for a history that is not.
    run_id = _log_in_batches(tracking, steps, cuts)
    count, lo, hi, once = _shape(tracking, store, run_id)
    assert (count, lo, hi) == (len(steps), min(steps), max(steps))
    if once:
        assert sorted(steps) == list(range(lo, hi + 1))
    got = [p[1:] for p in _flat(tracking.histories.sampled([run_id], "loss", n))]
    points = [(float(s), 7, s) for s in steps]
    assert _same(got, _expected_sample(points, n))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lo=st.integers(-50, 50), length=st.integers(1, 40), cuts=st.lists(st.integers(0, 40), max_size=6),
       backwards=st.booleans())
def test_a_training_loop_is_known_to_log_each_step_once(tracking, store, lo, length, cuts, backwards) -> None:
    steps = list(range(lo, lo + length))
    if backwards:  # batches that each extend the range downwards still touch it
        run_id = tracking.create_run(tracking.get_or_create_experiment("shape")).run_id
        for s in reversed(steps):
            tracking.log_batch(run_id, metrics=[("loss", 1.0, 7, s)])
    else:
        run_id = _log_in_batches(tracking, steps, cuts)
    assert _shape(tracking, store, run_id) == (length, lo, lo + length - 1, True)


@pytest.mark.parametrize(("batches", "once"), [
    ([[2**63 - 2], [2**63 - 1]], True),
    ([[2**63 - 1], [2**63 - 1]], False),     # max_step + 1 overflows BIGINT: compared exactly
    ([[-(2**63)], [-(2**63) + 1]], True),
    ([[-(2**63) + 1], [-(2**63)]], True),
    ([[-(2**63)], [2**63 - 1]], False),
    ([[2**63 - 1, -(2**63)]], False),
])
def test_history_shape_at_the_ends_of_int64(tracking, store, batches, once) -> None:
    run_id = tracking.create_run(tracking.get_or_create_experiment("shape")).run_id
    for batch in batches:
        tracking.log_batch(run_id, metrics=[("loss", 1.0, 7, s) for s in batch])
    steps = [s for batch in batches for s in batch]
    assert _shape(tracking, store, run_id) == (len(steps), min(steps), max(steps), once)
    got = [p[1:] for p in _flat(tracking.histories.sampled([run_id], "loss", 1))]
    assert got == [(max(steps), 7, 1.0)]
