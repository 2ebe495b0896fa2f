"""Contract tests for TrackingStore (MLflow's data model), on every backend."""

from __future__ import annotations

import math

import pytest

from openaml.errors import AlreadyExistsError, NotFoundError, ValidationError
from openaml.store.tracking import TrackingStore


@pytest.fixture
def tracking(store, workspace_name) -> TrackingStore:
    return TrackingStore(store, workspace_name)


@pytest.fixture
def run(tracking):
    experiment_id = tracking.get_or_create_experiment("exp")
    return tracking.create_run(experiment_id, run_id="job_abc", run_name="job_abc", start_time=1000)


def test_default_experiment_and_experiment_ids(tracking):
    default = tracking.get_experiment("0")
    assert default.name == "Default" and tracking.get_experiment_by_name("Default") == default
    assert tracking.create_experiment("a", tags={"k": "v"}) == "1"
    assert tracking.create_experiment("b") == "2"
    assert tracking.get_experiment("1").tags == {"k": "v"}
    assert tracking.get_experiment("1").artifact_location == "mlflow-artifacts:/1"
    with pytest.raises(AlreadyExistsError):
        tracking.create_experiment("a")
    assert tracking.get_or_create_experiment("a") == "1"
    assert tracking.get_experiment_by_name("zzz") is None
    with pytest.raises(NotFoundError):
        tracking.get_experiment("99")


def test_search_experiments_filters_and_views(tracking):
    tracking.create_experiment("train-a")
    tracking.create_experiment("train-b", tags={"team": "x"})
    tracking.create_experiment("other")
    tracking.delete_experiment(tracking.get_experiment_by_name("other").experiment_id)
    names = lambda page: sorted(e.name for e in page.items)
    assert names(tracking.search_experiments()) == ["Default", "train-a", "train-b"]
    assert names(tracking.search_experiments(filter_string="name LIKE 'train-%'")) == ["train-a", "train-b"]
    assert names(tracking.search_experiments(filter_string="tags.team = 'x'")) == ["train-b"]
    assert names(tracking.search_experiments(view_type="DELETED_ONLY")) == ["other"]
    first = tracking.search_experiments(max_results=2)
    rest = tracking.search_experiments(max_results=2, page_token=first.next_page_token)
    assert len(first.items) == 2 and len(rest.items) == 1 and rest.next_page_token is None


def test_create_run_pins_artifact_uri_and_run_name(tracking, run):
    assert run.artifact_uri == f"mlflow-artifacts:/{run.experiment_id}/job_abc/artifacts"
    assert (run.status, run.start_time, run.run_name) == ("RUNNING", 1000, "job_abc")
    assert run.tags == {"mlflow.runName": "job_abc"}
    with pytest.raises(AlreadyExistsError):
        tracking.create_run(run.experiment_id, run_id="job_abc")
    with pytest.raises(NotFoundError):
        tracking.get_run("nope")
    tracking.set_tag("job_abc", "mlflow.runName", "renamed")
    assert tracking.get_run("job_abc").run_name == "renamed"


def test_log_batch_latest_metric_is_max_step_then_timestamp(tracking, run):
    tracking.log_batch("job_abc", metrics=[("loss", 3.0, 100, 2), ("loss", 1.0, 500, 1)])
    tracking.log_batch("job_abc", metrics=[("loss", 2.0, 90, 2)])  # same step, older: not latest
    assert {m.key: m.value for m in tracking.get_run("job_abc").metrics} == {"loss": 3.0}
    tracking.log_batch("job_abc", metrics=[("loss", 0.5, 100, 2)])  # same step and time: larger value wins
    assert tracking.get_run("job_abc").metrics[0].value == 3.0
    tracking.log_batch("job_abc", metrics=[("loss", 9.0, 1, 3)])
    latest = tracking.get_run("job_abc").metrics[0]
    assert (latest.value, latest.timestamp, latest.step) == (9.0, 1, 3)


def test_metric_history_order_nan_inf_and_pages(tracking, run):
    values = [("m", 1.0, 30, 0), ("m", float("nan"), 10, 1), ("m", float("inf"), 20, 2), ("m", -math.inf, 20, 3)]
    tracking.log_batch("job_abc", metrics=values)
    history = tracking.get_metric_history("job_abc", "m").items
    assert [(h.timestamp, h.step) for h in history] == [(10, 1), (20, 2), (20, 3), (30, 0)]
    assert math.isnan(history[0].value) and history[1].value == math.inf and history[2].value == -math.inf
    first = tracking.get_metric_history("job_abc", "m", max_results=3)
    rest = tracking.get_metric_history("job_abc", "m", max_results=3, page_token=first.next_page_token)
    assert len(first.items) == 3 and len(rest.items) == 1 and rest.next_page_token is None
    assert tracking.get_metric_history("job_abc", "none").items == []
    with pytest.raises(NotFoundError):
        tracking.get_metric_history("nope", "m")
    with pytest.raises(ValidationError):
        tracking.get_metric_history("job_abc", "m", page_token="garbage!")


def test_metric_history_pages_keep_logging_order_among_equal_timestamps(tracking, run):
    # Five batches of 7 points sharing timestamps and steps: the history must come back in
    # (timestamp, step) order and, within equal ones, in the order logged, whatever the page size.
    logged = [("m", float(i), 100 + (i % 3), i % 2) for i in range(35)]
    for start in range(0, 35, 7):
        tracking.log_batch("job_abc", metrics=logged[start:start + 7])
    expected = [(v, t, s) for _, v, t, s in sorted(logged, key=lambda m: (m[2], m[3]))]  # stable sort
    assert tracking.metric_history("job_abc", "m").points == expected
    for size in (1, 4, 7, 34, 35, 36):
        points, token, pages = [], None, 0
        while True:
            page = tracking.metric_history("job_abc", "m", max_results=size, page_token=token)
            points += page.points
            pages += 1
            token = page.next_page_token
            if token is None:
                break
        assert points == expected, size
        assert pages == -(-35 // size), size  # no empty last page


def test_metric_history_of_many_points_with_nan_and_inf(tracking, run):
    specials = {17: math.nan, 1234: math.inf, 2500: -math.inf, 4999: math.nan}
    values = [specials.get(i, i / 7) for i in range(5000)]
    for start in range(0, 5000, 1000):
        tracking.log_batch("job_abc", metrics=[("big", values[i], 1_700_000_000_000 + i, i)
                                               for i in range(start, start + 1000)])
    history = tracking.metric_history("job_abc", "big")
    assert history.key == "big" and history.next_page_token is None and len(history.points) == 5000
    got = [v for v, _, _ in history.points]
    assert [i for i, v in enumerate(got) if v != v] == [17, 4999]
    assert got[1234] == math.inf and got[2500] == -math.inf
    assert all(got[i] == values[i] for i in range(5000) if i not in (17, 4999))
    assert [s for _, _, s in history.points] == list(range(5000))
    records = tracking.get_metric_history("job_abc", "big", max_results=2000)
    assert len(records.items) == 2000 and records.items[5].value == 5 / 7 and records.next_page_token


def test_log_batch_latest_per_key_within_one_batch(tracking, run):
    tracking.log_batch("job_abc", metrics=[
        ("a", 1.0, 10, 1), ("b", 5.0, 10, 0), ("a", float("nan"), 5, 4), ("a", 3.0, 99, 3), ("b", 4.0, 11, 0),
        ("c", 2, 1, None),  # an int value and no step: stored as 2.0 at step 0
    ])
    latest = {m.key: (m.value, m.timestamp, m.step) for m in tracking.get_run("job_abc").metrics}
    assert math.isnan(latest["a"][0]) and latest["a"][1:] == (5, 4)
    assert latest["b"] == (4.0, 11, 0) and latest["c"] == (2.0, 1, 0)
    with pytest.raises(ValidationError):
        tracking.log_batch("job_abc", metrics=[("ok", 1.0, 1, 0), ("", 1.0, 1, 0)])
    assert tracking.metric_history("job_abc", "ok").points == []


def test_params_cannot_change_and_a_bad_batch_writes_nothing(tracking, run):
    tracking.log_batch("job_abc", params={"lr": "0.1"})
    tracking.log_param("job_abc", "lr", "0.1")  # the same value again is fine
    with pytest.raises(ValidationError) as info:
        tracking.log_batch("job_abc", metrics=[("m", 1.0, 1, 0)], params={"lr": "0.2", "new": "x"}, tags={"t": "1"})
    assert "Changing param values is not allowed" in info.value.message
    got = tracking.get_run("job_abc")
    assert got.params == {"lr": "0.1"} and got.metrics == () and "t" not in got.tags
    with pytest.raises(ValidationError):
        tracking.log_batch("job_abc", params=[("a", "1"), ("a", "2")])


def test_tags_set_overwrite_delete(tracking, run):
    tracking.log_batch("job_abc", tags={"a": "1", "b": "2"})
    tracking.set_tag("job_abc", "a", "3")
    tracking.delete_tag("job_abc", "b")
    assert tracking.get_run("job_abc").tags == {"mlflow.runName": "job_abc", "a": "3"}
    with pytest.raises(NotFoundError):
        tracking.delete_tag("job_abc", "b")


def test_update_delete_restore_run(tracking, run):
    updated = tracking.update_run_info("job_abc", status="FINISHED", end_time=2000)
    assert (updated.status, updated.end_time) == ("FINISHED", 2000)
    with pytest.raises(ValidationError):
        tracking.update_run_info("job_abc", status="DONE")
    tracking.delete_run("job_abc")
    assert tracking.search_runs([run.experiment_id]).items == []
    assert [r.run_id for r in tracking.search_runs([run.experiment_id], run_view_type="DELETED_ONLY").items] == ["job_abc"]
    with pytest.raises(ValidationError):
        tracking.log_metric("job_abc", "m", 1.0)
    tracking.restore_run("job_abc")
    tracking.log_metric("job_abc", "m", 1.0)


def test_search_runs_subset(tracking):
    exp = tracking.create_experiment("s")
    for i, name in enumerate(["r1", "r2", "r3"]):
        tracking.create_run(exp, run_id=name, start_time=1000 + i, tags={"group": "even" if i % 2 == 0 else "odd"})
        tracking.log_batch(name, metrics=[("acc", 0.5 + i / 10, 1, 0)], params={"depth": str(i)})
    ids = lambda *args, **kw: [r.run_id for r in tracking.search_runs([exp], *args, **kw).items]
    assert ids() == ["r3", "r2", "r1"]  # newest start first
    assert ids("attributes.run_id = 'r2'") == ["r2"]
    assert ids("tags.group = 'even'") == ["r3", "r1"]
    assert ids("tags.`group` = 'even' AND metrics.acc > 0.55") == ["r3"]
    assert ids("params.depth IN ('0', '1')") == ["r2", "r1"]
    assert ids("attributes.run_id IN ('r1','r3')") == ["r3", "r1"]
    assert ids("attributes.start_time >= 1001 and tags.group != 'odd'") == ["r3"]
    assert ids("attributes.run_name LIKE 'run-%'") == ["r3", "r2", "r1"]
    assert ids(order_by=["metrics.acc ASC"]) == ["r1", "r2", "r3"]
    assert ids(order_by=["attributes.start_time"]) == ["r1", "r2", "r3"]
    page = tracking.search_runs([exp], max_results=2)
    assert [r.run_id for r in page.items] == ["r3", "r2"]
    assert [r.run_id for r in tracking.search_runs([exp], max_results=2, page_token=page.next_page_token).items] == ["r1"]
    r2 = tracking.search_runs([exp], "attributes.run_id = 'r2'").items[0]
    assert r2.params == {"depth": "1"} and r2.metrics[0].key == "acc" and r2.tags["group"] == "odd"
    for bad in ("tags.group = 'x' OR tags.group = 'y'", "foo.bar = 'x'", "metrics.acc = 'x'", "attributes.nope = 'x'"):
        with pytest.raises(ValidationError):
            tracking.search_runs([exp], bad)


def test_logged_models_live_inside_their_run(tracking, run):
    model = tracking.create_logged_model(run.experiment_id, name="model", source_run_id="job_abc",
                                         params={"alpha": "1"}, tags={"t": "v"}, model_type="sklearn")
    assert model.artifact_location == f"{run.artifact_uri}/model" and model.status == "PENDING"
    free = tracking.create_logged_model(run.experiment_id)
    assert free.artifact_location.endswith(f"/models/{free.model_id}/artifacts")
    ready = tracking.finalize_logged_model(model.model_id, "READY")
    assert ready.status == "READY" and ready.params == {"alpha": "1"}
    tracking.set_logged_model_tags(model.model_id, {"u": "w"})
    tracking.log_logged_model_params(model.model_id, {"beta": "2"})
    tracking.delete_logged_model_tag(model.model_id, "t")
    got = tracking.get_logged_model(model.model_id)
    assert got.tags == {"u": "w"} and got.params == {"alpha": "1", "beta": "2"}
    found = tracking.search_logged_models([run.experiment_id], filter_string="name = 'model'")
    assert [m.model_id for m in found.items] == [model.model_id]
    assert len(tracking.search_logged_models([run.experiment_id]).items) == 2
    tracking.log_outputs("job_abc", [(model.model_id, 0)])
    assert tracking.get_run("job_abc").model_outputs == ((model.model_id, 0),)
    tracking.delete_logged_model(free.model_id)
    with pytest.raises(NotFoundError):
        tracking.get_logged_model(free.model_id)
    with pytest.raises(ValidationError):
        tracking.finalize_logged_model(model.model_id, "DONE")


def test_workspaces_do_not_see_each_other(store, workspace_name, run):
    other = TrackingStore(store, workspace_name + "-b")
    assert other.get_experiment_by_name("exp") is None
    with pytest.raises(NotFoundError):
        other.get_run("job_abc")
