"""The quick test of a log-batch's metrics agrees with the field-by-field rules it stands for."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openaml.tracking import validation
from openaml.tracking.validation import METRIC_ITEM, MlflowApiError, Rule, check_fields, plain_metrics

FIELD_BY_FIELD = {"metrics": Rule("array", items=METRIC_ITEM)}  # the rules without the quick test


def _passes_field_by_field(items: list) -> bool:
    try:
        check_fields({"metrics": items}, FIELD_BY_FIELD)
    except MlflowApiError:
        return False
    return True


anything = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**64), max_value=2**64), st.floats(),
    st.sampled_from(["", "m", "NaN", "Infinity", "-Infinity", "nan", "1", "1.5", "a" * 251, "../x", "/x", "a//b",
                     "x/.", "ok key", "é", "a\x00b", "."]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
metric = st.fixed_dictionaries(
    {"key": st.one_of(st.sampled_from(["loss", "val/acc", "a:b c-d_e.f"]), anything),
     "value": st.one_of(st.floats(allow_nan=False), st.integers(), anything),
     "timestamp": st.one_of(st.integers(min_value=0, max_value=2**62), anything)},
    optional={"step": st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), anything),
              "model_id": anything, "run_id": anything, "dataset_name": anything, "other": anything},
)


@settings(max_examples=600, deadline=None)
@given(items=st.lists(st.one_of(metric, anything), max_size=5))
def test_the_quick_test_never_accepts_what_the_rules_refuse(items: list) -> None:
    if plain_metrics(items):
        assert _passes_field_by_field(items), items


def test_a_batch_as_the_mlflow_client_sends_it_takes_the_quick_path() -> None:
    batch = [{"key": "loss", "value": 1.0 / (i + 1), "timestamp": 1_700_000_000_000 + i, "step": i} for i in range(1000)]
    batch[7]["value"], batch[8]["value"], batch[9]["value"] = "NaN", "Infinity", "-Infinity"
    batch.append({"key": "acc", "value": 3, "timestamp": 1, "model_id": "m-1", "run_id": "r", "dataset_name": None})
    assert plain_metrics(batch) and _passes_field_by_field(batch)


@pytest.mark.parametrize("bad", [
    {"key": "../etc", "value": 1.0, "timestamp": 1}, {"key": "m", "value": True, "timestamp": 1},
    {"key": "m", "value": 1.0, "timestamp": 2**63}, {"key": "m", "value": 1.0, "timestamp": 1, "step": 1.5},
    {"key": "m", "value": 1.0, "timestamp": 1, "model_id": 5}, {"key": "a" * 251, "value": 1.0, "timestamp": 1},
])
def test_one_bad_metric_sends_the_batch_to_the_rules_which_name_it(bad: dict) -> None:
    good = {"key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    assert not plain_metrics([good, bad])
    with pytest.raises(MlflowApiError) as info:
        validation.check(validation.RULES["runs.log_batch"], {"run_id": "r", "metrics": [good, bad]})
    assert "metrics[1]" in info.value.message or "Metric name" in info.value.message
