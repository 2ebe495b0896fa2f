"""The metric histories' JSON, written as text from plain tuples, against what ``json.dumps`` of
the same points as dicts says (the shape MLflow answers), over hostile keys and every float."""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from openaml.store.tracking_records import MetricHistory, RunHistory
from openaml.tracking.wire import float_json, metric_history_json, run_histories_json

values = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([math.nan, math.inf, -math.inf, -0.0])
int64 = st.integers(-(2**63), 2**63 - 1)
points = st.lists(st.tuples(values, int64, int64), max_size=6)
# Quotes, backslashes, control characters and non-ASCII must come out escaped.
names = st.text(max_size=12) | st.sampled_from(['a"b', "a\\b", "\n\x00", "ü/../x", '","value":1'])


def _same(a: object, b: object) -> bool:
    """Equal JSON documents, NaN equal to NaN (json.loads reads the literal as float NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@given(histories=st.lists(st.tuples(names, names, points), max_size=4))
def test_run_histories_json_is_mlflows_protobuf_json(histories) -> None:
    records = [RunHistory(run_id, key, pts) for run_id, key, pts in histories]
    metrics = [{"key": key, "value": float_json(v), "timestamp": t, "step": s, "run_id": run_id}
               for run_id, key, pts in histories for v, t, s in pts]
    expected = {"metrics": metrics} if metrics else {}  # protobuf's JSON leaves an empty list out
    text = run_histories_json(records, proto=True)
    assert text.isascii() and _same(json.loads(text), expected)


@given(histories=st.lists(st.tuples(names, names, points), max_size=4))
def test_run_histories_json_plain_keeps_nan_and_inf_as_json_literals(histories) -> None:
    # get-history-bulk: MLflow's plain dicts through json.dumps (NaN, Infinity as literals).
    records = [RunHistory(run_id, key, pts) for run_id, key, pts in histories]
    expected = json.dumps({"metrics": [{"key": key, "value": v, "timestamp": t, "step": s, "run_id": run_id}
                                       for run_id, key, pts in histories for v, t, s in pts]})
    assert _same(json.loads(run_histories_json(records, proto=False)), json.loads(expected))


@given(key=names, pts=points, token=st.none() | names)
def test_metric_history_json_is_mlflows_protobuf_json(key, pts, token) -> None:
    expected = {"metrics": [{"key": key, "value": float_json(v), "timestamp": t, "step": s} for v, t, s in pts]}
    if not pts:
        expected = {}
    if token:
        expected["next_page_token"] = token
    assert _same(json.loads(metric_history_json(MetricHistory(key, pts, token))), expected)


def test_non_finite_values_are_spelled_as_mlflow_spells_them() -> None:
    pts = [(math.nan, 1, 0), (math.inf, 2, 1), (-math.inf, 3, 2), (0.1, 4, 3)]
    proto = json.loads(run_histories_json([RunHistory("r", "k", pts)], proto=True))
    assert [m["value"] for m in proto["metrics"]] == ["NaN", "Infinity", "-Infinity", 0.1]
    plain = run_histories_json([RunHistory("r", "k", pts)], proto=False)
    assert b'"value":NaN,' in plain and b'"value":Infinity,' in plain and b'"value":-Infinity,' in plain
    assert run_histories_json([RunHistory("r", "k", [])], proto=False) == b'{"metrics":[]}'
