"""The stock mlflow client against openaml's tracking server (a real server on a thread)."""

from __future__ import annotations

import http.client
import json
import time

import pytest

from openaml.tracking import start_tracking_server
from tests.tracking.conftest import RUN_ID

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


def _raw(server, method: str, path: str, body: bytes | None = None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def test_server_starts_fast_and_stops(tracking, job_folder):
    started = time.perf_counter()
    srv = start_tracking_server(tracking, artifact_root_for_run=job_folder)
    elapsed = time.perf_counter() - started
    assert srv.url == f"http://127.0.0.1:{srv.port}" and srv.port > 0
    assert _raw(srv, "GET", "/health") == (200, b"OK")
    srv.stop()
    assert elapsed < 0.05, elapsed
    with pytest.raises(OSError):
        _raw(srv, "GET", "/health")


def test_precreated_run_is_resumed_by_mlflow_run_id(client_env, job_run, tracking, monkeypatch):
    monkeypatch.setenv("MLFLOW_RUN_ID", RUN_ID)
    mlflow.log_metric("loss", 0.5)  # no start_run(): the fluent API resumes MLFLOW_RUN_ID
    mlflow.log_metric("loss", 0.25, step=1)
    mlflow.log_param("lr", 0.1)
    mlflow.set_tag("phase", "train")
    assert mlflow.active_run().info.run_id == RUN_ID
    mlflow.end_run()
    run = tracking.get_run(RUN_ID)
    assert {m.key: m.value for m in run.metrics} == {"loss": 0.25}
    assert run.params == {"lr": "0.1"} and run.tags["phase"] == "train"
    assert run.status == "FINISHED" and run.end_time is not None


def test_logging_and_reading_back_with_the_client(client_env, job_run):
    client = MlflowClient()
    with mlflow.start_run(run_id=RUN_ID):
        mlflow.log_metrics({"a": 1.0, "b": float("nan")}, step=3)
        mlflow.log_params({"depth": 4, "name": "x"})
        mlflow.set_tags({"k": "v"})
        for step in range(5):
            client.log_metric(RUN_ID, "curve", step * 1.5, step=step)
        client.log_batch(RUN_ID, metrics=[mlflow.entities.Metric("c", 2.0, 1, 0)],
                         params=[mlflow.entities.Param("p", "1")], tags=[mlflow.entities.RunTag("t", "1")])
    run = client.get_run(RUN_ID)
    assert run.data.metrics["a"] == 1.0 and run.data.metrics["b"] != run.data.metrics["b"]  # NaN
    assert run.data.params == {"depth": "4", "name": "x", "p": "1"}
    assert run.data.tags["k"] == "v" and run.info.artifact_uri.startswith("mlflow-artifacts:/")
    history = client.get_metric_history(RUN_ID, "curve")
    assert [(m.step, m.value) for m in history] == [(s, s * 1.5) for s in range(5)]
    experiment = client.get_experiment_by_name("hello-exp")
    assert experiment.experiment_id == job_run.experiment_id
    assert client.get_experiment_by_name("missing") is None
    found = client.search_runs([experiment.experiment_id], filter_string=f"attributes.run_id = '{RUN_ID}'")
    assert [r.info.run_id for r in found] == [RUN_ID]
    assert client.search_runs([experiment.experiment_id], filter_string="tags.k = 'nope'") == []
    assert len(mlflow.search_runs([experiment.experiment_id], output_format="list")) == 1
    names = {e.name for e in client.search_experiments()}
    assert {"Default", "hello-exp"} <= names


def test_new_experiments_and_runs_from_the_client(client_env):
    client = MlflowClient()
    exp_id = client.create_experiment("made-by-client", tags={"owner": "me"})
    assert client.get_experiment(exp_id).tags == {"owner": "me"}
    with pytest.raises(MlflowException) as info:
        client.create_experiment("made-by-client")
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"
    mlflow.set_experiment("made-by-client")
    with mlflow.start_run(run_name="mine") as run:
        mlflow.log_metric("x", 1.0)
    got = client.get_run(run.info.run_id)
    assert got.info.run_name == "mine" and got.info.status == "FINISHED"


def test_changing_a_param_is_invalid_parameter_value(client_env, job_run):
    client = MlflowClient()
    client.log_param(RUN_ID, "lr", "0.1")
    with pytest.raises(MlflowException) as info:
        client.log_param(RUN_ID, "lr", "0.2")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_artifacts_land_in_the_job_folder(client_env, job_run, job_folder, tmp_path):
    src = tmp_path / "src"
    (src / "nested").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "nested" / "b.json").write_text("{}")
    client = MlflowClient()
    client.log_artifact(RUN_ID, str(src / "a.txt"))
    client.log_artifacts(RUN_ID, str(src), artifact_path="model")
    folder = job_folder(RUN_ID)
    assert (folder / "a.txt").read_text() == "alpha"
    assert (folder / "model" / "nested" / "b.json").read_text() == "{}"
    assert not [p for p in folder.rglob("*") if p.name.startswith(".openaml-upload-")]
    listed = client.list_artifacts(RUN_ID)
    assert [(f.path, f.is_dir) for f in listed] == [("a.txt", False), ("model", True)]
    assert [f.path for f in client.list_artifacts(RUN_ID, "model")] == ["model/a.txt", "model/nested"]
    out = mlflow.artifacts.download_artifacts(run_id=RUN_ID, artifact_path="model", dst_path=str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "model" / "nested" / "b.json").is_file() and out.endswith("model")
    status, body = _raw(client_env, "GET", f"/api/2.0/mlflow/artifacts/list?run_id={RUN_ID}&path=model")
    assert status == 200 and {f["path"] for f in json.loads(body)["files"]} == {"model/a.txt", "model/nested"}


def test_artifact_paths_with_dot_dot_are_rejected(client_env, job_run, job_folder):
    base = f"/api/2.0/mlflow-artifacts/artifacts/{job_run.experiment_id}/{RUN_ID}/artifacts"
    status, body = _raw(client_env, "PUT", f"{base}/../../escape.txt", b"x")
    assert status == 400 and json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"
    status, body = _raw(client_env, "PUT", "/api/2.0/mlflow-artifacts/artifacts/1/unknown-run/artifacts/x", b"x")
    assert status == 404 and json.loads(body)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert not (job_folder(RUN_ID).parent / "escape.txt").exists()


def test_errors_are_mlflow_json_with_http_status(client_env, job_run):
    status, body = _raw(client_env, "GET", "/api/2.0/mlflow/runs/get?run_id=nope")
    assert status == 404 and json.loads(body)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    status, body = _raw(client_env, "GET", "/api/2.0/mlflow/no/such/endpoint")  # never a bare 404 under the API
    assert status == 501 and json.loads(body)["error_code"] == "NOT_IMPLEMENTED"
    status, body = _raw(client_env, "GET", "/not/mlflow")
    assert status == 404 and json.loads(body)["error_code"] == "ENDPOINT_NOT_FOUND"
    status, body = _raw(client_env, "POST", "/api/2.0/mlflow/runs/log-metric", b"{not json")
    assert status == 400 and json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"
    status, body = _raw(client_env, "POST", "/api/2.0/mlflow/runs/log-metric", json.dumps({"run_id": RUN_ID}).encode())
    assert status == 400 and json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_ajax_prefix_and_keep_alive(client_env, job_run):
    conn = http.client.HTTPConnection(client_env.host, client_env.port, timeout=10)
    for i in range(3):  # one connection, several requests: lengths and bodies stay in step
        body = json.dumps({"run_id": RUN_ID, "key": "k", "value": i, "timestamp": i, "step": i})
        conn.request("POST", "/ajax-api/2.0/mlflow/runs/log-metric", body=body)
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"{}")
    conn.request("GET", f"/ajax-api/2.0/mlflow/metrics/get-history?run_id={RUN_ID}&metric_key=k")
    resp = conn.getresponse()
    assert [m["value"] for m in json.loads(resp.read())["metrics"]] == [0, 1, 2]
    conn.close()


@pytest.mark.skipif(int(mlflow.__version__.split(".")[0]) < 3, reason="logged models are MLflow 3")
def test_logged_model_files_go_under_the_run(client_env, job_run, job_folder, tmp_path):
    client = MlflowClient()
    model = client.create_logged_model(job_run.experiment_id, name="model", source_run_id=RUN_ID,
                                       params={"alpha": "1"})
    assert model.artifact_location == f"{job_run.artifact_uri}/model"
    files = tmp_path / "m"
    files.mkdir()
    (files / "MLmodel").write_text("flavors: {}\n")
    client.log_model_artifacts(model.model_id, str(files))
    client.finalize_logged_model(model.model_id, mlflow.entities.LoggedModelStatus.READY)
    client.set_logged_model_tags(model.model_id, {"k": "v"})
    assert (job_folder(RUN_ID) / "model" / "MLmodel").is_file()
    got = client.get_logged_model(model.model_id)
    assert got.status == mlflow.entities.LoggedModelStatus.READY and got.tags["k"] == "v"
    assert [m.model_id for m in client.search_logged_models([job_run.experiment_id])] == [model.model_id]


def test_a_long_history_read_back_by_the_client_across_its_pages(client_env, job_run, tracking):
    # The stock client asks for pages of 25,000 and follows next_page_token: 60,000 points take
    # three requests. The key needs JSON escaping; NaN and +-inf travel as MLflow's strings.
    key = 'val/loss "q" \\ é'
    specials = {3: float("nan"), 25_000: float("inf"), 59_999: float("-inf")}
    for start in range(0, 60_000, 5_000):
        tracking.log_batch(RUN_ID, metrics=[(key, specials.get(i, i * 0.25), 1_000 + i // 2, i)
                                            for i in range(start, start + 5_000)])
    history = MlflowClient().get_metric_history(RUN_ID, key)
    assert len(history) == 60_000 and {m.key for m in history} == {key}
    assert [m.step for m in history] == list(range(60_000))
    assert [m.timestamp for m in history[:4]] == [1_000, 1_000, 1_001, 1_001]
    assert history[3].value != history[3].value and history[25_000].value == float("inf")
    assert history[59_999].value == float("-inf") and history[24_999].value == 24_999 * 0.25


def test_history_json_shape_and_page_tokens(client_env, job_run):
    batch = {"run_id": RUN_ID, "metrics": [
        {"key": "m", "value": v, "timestamp": 5, "step": i} for i, v in enumerate([1.5, "NaN", "Infinity", "-Infinity", 0])]}
    assert _raw(client_env, "POST", "/api/2.0/mlflow/runs/log-batch", json.dumps(batch).encode()) == (200, b"{}")
    base = f"/api/2.0/mlflow/metrics/get-history?run_id={RUN_ID}&metric_key=m"
    status, body = _raw(client_env, "GET", f"{base}&max_results=3")
    first = json.loads(body)
    assert status == 200 and [m["value"] for m in first["metrics"]] == [1.5, "NaN", "Infinity"]
    assert first["metrics"][0] == {"key": "m", "value": 1.5, "timestamp": 5, "step": 0}
    status, body = _raw(client_env, "GET", f"{base}&max_results=3&page_token={first['next_page_token']}")
    rest = json.loads(body)
    assert [m["value"] for m in rest["metrics"]] == ["-Infinity", 0.0] and "next_page_token" not in rest
    assert json.loads(_raw(client_env, "GET", f"{base[:-1]}none")[1]) == {}  # MLflow leaves an empty list out
    status, body = _raw(client_env, "GET", f"{base}&max_results=-1")
    assert status == 400 and "max_results" in json.loads(body)["message"]


@pytest.mark.parametrize(("metric", "named"), [
    ({"key": "m", "value": 1.0}, "timestamp"),
    ({"key": "", "value": 1.0, "timestamp": 1}, "key"),
    ({"key": "m", "value": None, "timestamp": 1}, "value"),
    ({"key": "m", "value": "abc", "timestamp": 1}, "value"),
    ({"key": "m", "value": 1.0, "timestamp": 1, "step": "x"}, "step"),
])
def test_a_malformed_metric_in_a_batch_names_its_field_and_writes_nothing(client_env, job_run, tracking,
                                                                          metric, named):
    good = {"key": "m", "value": 2.0, "timestamp": 1, "step": 0}
    body = json.dumps({"run_id": RUN_ID, "metrics": [good, metric]}).encode()
    status, answer = _raw(client_env, "POST", "/api/2.0/mlflow/runs/log-batch", body)
    error = json.loads(answer)
    assert status == 400 and error["error_code"] == "INVALID_PARAMETER_VALUE" and named in error["message"]
    assert tracking.metric_history(RUN_ID, "m").points == []


def test_a_batch_with_a_numeric_key_is_refused_as_mlflow_refuses_it(client_env, job_run, tracking):
    body = json.dumps({"run_id": RUN_ID, "metrics": [{"key": 7, "value": "1", "timestamp": "2", "step": None}]})
    status, answer = _raw(client_env, "POST", "/api/2.0/mlflow/runs/log-batch", body.encode())
    assert status == 400 and json.loads(answer)["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "metrics[0].key" in json.loads(answer)["message"]
    assert tracking.metric_history(RUN_ID, "7").points == []


@pytest.mark.parametrize("key", ["../m", "/abs", "a/../b", "tab\there", "nul\x00", "new\nline", ".", "k" * 251])
@pytest.mark.parametrize("route", ["log-metric", "log-parameter", "set-tag"])
def test_hostile_keys_are_refused_naming_the_field_and_nothing_is_stored(client_env, job_run, tracking, route, key):
    body = {"run_id": RUN_ID, "key": key, "value": "1", "timestamp": 1}
    status, answer = _raw(client_env, "POST", f"/api/2.0/mlflow/runs/{route}", json.dumps(body).encode())
    error = json.loads(answer)
    assert status == 400 and error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "key" in error["message"].lower() or "name" in error["message"].lower()  # MLflow's wording names it
    run = tracking.get_run(RUN_ID)
    assert key not in run.params and key not in run.tags and not tracking.metric_history(RUN_ID, key).points
