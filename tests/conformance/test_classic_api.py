"""MLflow's classic REST API, request by request, against a stock ``mlflow server``.

Each scenario runs on both servers; the test fails on any difference in status code, error code
or response shape (see :mod:`tests.conformance.harness`). Scenarios cover every route openaml
serves with good requests and with the bad ones clients and careless users send.
"""

from __future__ import annotations

import pytest

from tests.conformance.harness import Expected, Side, assert_conforms

NOW = 1_700_000_000_000


def _experiment(api: Side, stem: str = "exp") -> str:
    return api.post("experiments/create", {"name": api.unique(stem)}).json()["experiment_id"]


def _run(api: Side, experiment_id: str | None = None, **extra) -> str:
    experiment_id = experiment_id or _experiment(api)
    body = {"experiment_id": experiment_id, "start_time": NOW, **extra}
    return api.post("runs/create", body).json()["run"]["info"]["run_id"]


# ---- experiments ---------------------------------------------------------------------------

def experiments_lifecycle(api: Side) -> None:
    name = api.unique("lifecycle")
    created = api.record("create", api.post("experiments/create", {"name": name, "tags": [{"key": "k", "value": "v"}]}))
    eid = created.json()["experiment_id"]
    api.record("get", api.get("experiments/get", experiment_id=eid), values=("experiment.lifecycle_stage",))
    api.record("get-by-name", api.get("experiments/get-by-name", experiment_name=name))
    api.record("create again", api.post("experiments/create", {"name": name}))
    api.record("rename", api.post("experiments/update", {"experiment_id": eid, "new_name": name + "-b"}))
    api.record("get-by-old-name", api.get("experiments/get-by-name", experiment_name=name))
    api.record("get-by-new-name", api.get("experiments/get-by-name", experiment_name=name + "-b"))
    api.record("set-tag", api.post("experiments/set-experiment-tag", {"experiment_id": eid, "key": "a", "value": "1"}))
    api.record("delete-tag", api.post("experiments/delete-experiment-tag", {"experiment_id": eid, "key": "a"}))
    api.record("delete-missing-tag", api.post("experiments/delete-experiment-tag", {"experiment_id": eid, "key": "nope"}))
    api.record("delete", api.post("experiments/delete", {"experiment_id": eid}))
    api.record("get deleted", api.get("experiments/get", experiment_id=eid), values=("experiment.lifecycle_stage",))
    api.record("get-by-name deleted", api.get("experiments/get-by-name", experiment_name=name + "-b"),
               values=("experiment.lifecycle_stage",))
    api.record("create over deleted name", api.post("experiments/create", {"name": name + "-b"}))
    api.record("delete again", api.post("experiments/delete", {"experiment_id": eid}))
    api.record("restore", api.post("experiments/restore", {"experiment_id": eid}))
    api.record("get restored", api.get("experiments/get", experiment_id=eid), values=("experiment.lifecycle_stage",))


def experiments_artifact_location(api: Side) -> None:
    for label, location in (("relative", "relative/dir"), ("uri", "s3://bucket/prefix")):
        eid = api.record(f"create {label}", api.post("experiments/create", {
            "name": api.unique("loc"), "artifact_location": location})).json()["experiment_id"]
        got = api.get("experiments/get", experiment_id=eid).json()["experiment"]["artifact_location"]
        api.fact(f"{label} kept or made absolute", got if "://" in location else got.startswith("/"))


def experiments_bad_requests(api: Side) -> None:
    api.record("create no name", api.post("experiments/create", {}))
    api.record("create empty name", api.post("experiments/create", {"name": ""}))
    api.record("create int name", api.post("experiments/create", {"name": 123}))
    api.record("create list name", api.post("experiments/create", {"name": ["a"]}))
    api.record("create bad tags", api.post("experiments/create", {"name": api.unique("t"), "tags": "x"}))
    api.record("get missing", api.get("experiments/get", experiment_id="987654321"))
    api.record("get no id", api.get("experiments/get"))
    api.record("get-by-name missing", api.get("experiments/get-by-name", experiment_name=api.unique("none")))
    api.record("get-by-name no name", api.get("experiments/get-by-name"))
    api.record("update missing", api.post("experiments/update", {"experiment_id": "987654321", "new_name": "x"}))
    api.record("delete missing", api.post("experiments/delete", {"experiment_id": "987654321"}))
    api.record("set-tag missing exp", api.post("experiments/set-experiment-tag",
                                               {"experiment_id": "987654321", "key": "a", "value": "b"}))
    api.record("not json", api.call("POST", "experiments/create", raw=b"{not json"))


def experiments_search(api: Side) -> None:
    stem = api.unique("search")
    for i in range(3):
        api.post("experiments/create", {"name": f"{stem}-{i}", "tags": [{"key": "i", "value": str(i)}]})
    found = api.record("search by name", api.post("experiments/search", {"filter": f"name LIKE '{stem}-%'",
                                                                        "max_results": 2}))
    api.record("page 2", api.post("experiments/search", {"filter": f"name LIKE '{stem}-%'", "max_results": 2,
                                                        "page_token": found.json().get("next_page_token")}))
    api.record("search GET", api.get("experiments/search", filter=f"tags.i = '1' AND name LIKE '{stem}%'",
                                     max_results="10"))
    api.record("order by name desc", api.post("experiments/search", {"filter": f"name LIKE '{stem}-%'",
                                                                    "order_by": ["name DESC"]}))
    api.record("no match", api.post("experiments/search", {"filter": f"name = '{stem}-none'", "max_results": 5}))
    api.record("bad filter", api.post("experiments/search", {"filter": "nonsense ==="}))
    api.record("bad max_results", api.post("experiments/search", {"max_results": 0}))
    api.record("huge max_results", api.post("experiments/search", {"max_results": 10**9}))
    api.record("bad view type", api.post("experiments/search", {"view_type": "SOMETIMES"}))


# ---- runs ----------------------------------------------------------------------------------

def runs_lifecycle(api: Side) -> None:
    eid = _experiment(api)
    created = api.record("create", api.post("runs/create", {"experiment_id": eid, "start_time": NOW,
                                                           "run_name": "r1", "tags": [{"key": "t", "value": "1"}]}))
    rid = created.json()["run"]["info"]["run_id"]
    api.record("get", api.get("runs/get", run_id=rid), values=("run.info.status", "run.info.run_name"))
    api.record("update", api.post("runs/update", {"run_id": rid, "status": "FINISHED", "end_time": NOW + 5}),
               values=("run_info.status",))
    api.record("update name", api.post("runs/update", {"run_id": rid, "run_name": "r2"}),
               values=("run_info.run_name",))
    api.record("set-tag", api.post("runs/set-tag", {"run_id": rid, "key": "a", "value": "b"}))
    api.record("delete-tag", api.post("runs/delete-tag", {"run_id": rid, "key": "a"}))
    api.record("delete-missing-tag", api.post("runs/delete-tag", {"run_id": rid, "key": "a"}))
    api.record("log-parameter", api.post("runs/log-parameter", {"run_id": rid, "key": "p", "value": "1"}))
    api.record("log-parameter same", api.post("runs/log-parameter", {"run_id": rid, "key": "p", "value": "1"}))
    api.record("log-parameter changed", api.post("runs/log-parameter", {"run_id": rid, "key": "p", "value": "2"}))
    api.record("log-metric", api.post("runs/log-metric", {"run_id": rid, "key": "m", "value": 1.5,
                                                         "timestamp": NOW, "step": 1}))
    api.record("log-metric nan", api.post("runs/log-metric", {"run_id": rid, "key": "n", "value": "NaN",
                                                             "timestamp": NOW}))
    api.record("get with data", api.get("runs/get", run_id=rid))
    api.record("delete", api.post("runs/delete", {"run_id": rid}))
    api.record("get deleted", api.get("runs/get", run_id=rid), values=("run.info.lifecycle_stage",))
    api.record("log to deleted", api.post("runs/log-metric", {"run_id": rid, "key": "m", "value": 1,
                                                             "timestamp": NOW}))
    api.record("restore", api.post("runs/restore", {"run_id": rid}))


def runs_bad_requests(api: Side) -> None:
    rid = _run(api)
    api.record("create missing experiment", api.post("runs/create", {"experiment_id": "987654321"}))
    api.record("get missing", api.get("runs/get", run_id="0" * 32))
    api.record("get no id", api.get("runs/get"))
    api.record("log-metric int run_id", api.post("runs/log-metric", {"run_id": 5, "key": "a", "value": 1, "timestamp": NOW}))
    api.record("log-metric no key", api.post("runs/log-metric", {"run_id": rid, "value": 1, "timestamp": NOW}))
    api.record("log-metric no value", api.post("runs/log-metric", {"run_id": rid, "key": "a", "timestamp": NOW}))
    api.record("log-metric no timestamp", api.post("runs/log-metric", {"run_id": rid, "key": "a", "value": 1}))
    api.record("log-metric string value", api.post("runs/log-metric", {"run_id": rid, "key": "a", "value": "high",
                                                                      "timestamp": NOW}))
    api.record("log-metric bad step", api.post("runs/log-metric", {"run_id": rid, "key": "a", "value": 1,
                                                                  "timestamp": NOW, "step": "x"}))
    api.record("log-metric missing run", api.post("runs/log-metric", {"run_id": "0" * 32, "key": "a", "value": 1,
                                                                     "timestamp": NOW}))
    api.record("log-parameter int run_id", api.post("runs/log-parameter", {"run_id": 7, "key": "p", "value": "1"}))
    api.record("log-parameter no key", api.post("runs/log-parameter", {"run_id": rid, "value": "1"}))
    api.record("log-parameter long value", api.post("runs/log-parameter", {"run_id": rid, "key": "big",
                                                                          "value": "x" * 7000}))
    api.record("set-tag int run_id", api.post("runs/set-tag", {"run_id": 9, "key": "k", "value": "v"}))
    api.record("set-tag no key", api.post("runs/set-tag", {"run_id": rid, "value": "v"}))
    api.record("update bad status", api.post("runs/update", {"run_id": rid, "status": "SLEEPING"}),
               expect=Expected(400, "INVALID_PARAMETER_VALUE", "MLflow ignores a status it does not know"))
    api.record("delete missing", api.post("runs/delete", {"run_id": "0" * 32}))


def runs_log_batch(api: Side) -> None:
    rid = _run(api)
    metrics = [{"key": "loss", "value": 1.0 / (i + 1), "timestamp": NOW + i, "step": i} for i in range(50)]
    api.record("batch", api.post("runs/log-batch", {
        "run_id": rid, "metrics": metrics, "params": [{"key": "lr", "value": "0.1"}],
        "tags": [{"key": "t", "value": "x"}]}))
    api.record("get", api.get("runs/get", run_id=rid), values=("run.data.metrics.0.value", "run.data.metrics.0.step"))
    api.record("history", api.get("metrics/get-history", run_id=rid, metric_key="loss"))
    api.record("history page", api.get("metrics/get-history", run_id=rid, metric_key="loss", max_results="10"))
    api.record("history missing key", api.get("metrics/get-history", run_id=rid, metric_key="nope"))
    api.record("history missing run", api.get("metrics/get-history", run_id="0" * 32, metric_key="loss"))
    api.record("empty batch", api.post("runs/log-batch", {"run_id": rid}))
    api.record("metrics not a list", api.post("runs/log-batch", {"run_id": rid, "metrics": "bad"}))
    api.record("metric not an object", api.post("runs/log-batch", {"run_id": rid, "metrics": [1, 2]}),
               expect=Expected(400, "INVALID_PARAMETER_VALUE", "MLflow answers 500"))
    api.record("too many metrics", api.post("runs/log-batch", {"run_id": rid, "metrics": [
        {"key": "k", "value": 1, "timestamp": NOW, "step": i} for i in range(1001)]}))
    api.record("too many params", api.post("runs/log-batch", {"run_id": rid, "params": [
        {"key": f"p{i}", "value": "v"} for i in range(101)]}))
    api.record("duplicate params", api.post("runs/log-batch", {"run_id": rid, "params": [
        {"key": "dup", "value": "1"}, {"key": "dup", "value": "2"}]}))
    api.record("int run_id", api.post("runs/log-batch", {"run_id": 3, "metrics": []}))


def metric_histories(api: Side) -> None:
    eid = _experiment(api)
    long_run, short_run = _run(api, eid), _run(api, eid)
    for start in range(0, 1200, 400):  # steps repeat (two values per step) and one value is NaN
        api.post("runs/log-batch", {"run_id": long_run, "metrics": [
            {"key": "loss", "value": "NaN" if i == 777 else 1000.0 / (i + 1), "timestamp": NOW + i, "step": i // 2}
            for i in range(start, start + 400)]})
    api.post("runs/log-batch", {"run_id": short_run, "metrics": [
        {"key": "loss", "value": float(i), "timestamp": NOW - i, "step": 5} for i in range(37)]})
    order = {long_run: "long", short_run: "short"}

    def points(answer, label: str, *, by_run_id: bool = False) -> None:
        api.record(label, answer)
        metrics = answer.json().get("metrics", []) if answer.status == 200 else []
        found = [[order.get(m["run_id"]), m["step"], "NaN" if m["value"] != m["value"] else m["value"],
                  m["timestamp"] - NOW] for m in metrics]  # NaN != NaN: compared by name
        # get-history-bulk orders runs by id, and the ids differ between the servers
        api.fact(label + " points", sorted(found, key=lambda p: p[0]) if by_run_id else found)

    ajax = "/ajax-api/2.0/mlflow/metrics"
    runs = [long_run, short_run]
    points(api.call("GET", f"{ajax}/get-history-bulk-interval",
                    params={"run_ids": runs, "metric_key": "loss", "max_results": 50}), "sampled 50")
    points(api.call("GET", f"{ajax}/get-history-bulk-interval",
                    params={"run_ids": runs, "metric_key": "loss", "max_results": 7, "start_step": 100,
                            "end_step": 300}), "sampled step range")
    points(api.call("GET", f"{ajax}/get-history-bulk-interval",
                    params={"run_ids": runs, "metric_key": "loss", "max_results": 1}), "sampled 1")
    points(api.call("GET", f"{ajax}/get-history-bulk-interval",
                    params={"run_ids": [short_run], "metric_key": "loss"}), "sampled default")
    points(api.call("GET", f"{ajax}/get-history-bulk-interval",
                    params={"run_ids": [short_run], "metric_key": "nope"}), "sampled missing key")
    points(api.call("GET", f"{ajax}/get-history-bulk", params={"run_id": [long_run], "metric_key": "loss",
                                                               "max_results": 60}), "bulk 60")
    points(api.call("GET", f"{ajax}/get-history-bulk", params={"run_id": runs + ["0" * 32], "metric_key": "loss"}),
           "bulk with a missing run", by_run_id=True)
    for label, params in (
        ("no run_ids", {"metric_key": "loss"}),
        ("too many runs", {"run_ids": [f"{i:032d}" for i in range(101)], "metric_key": "loss"}),
        ("no key", {"run_ids": runs}),
        ("max_results 0", {"run_ids": runs, "metric_key": "loss", "max_results": 0}),
        ("max_results huge", {"run_ids": runs, "metric_key": "loss", "max_results": 2501}),
        ("start only", {"run_ids": runs, "metric_key": "loss", "start_step": 3}),
        ("start after end", {"run_ids": runs, "metric_key": "loss", "start_step": 9, "end_step": 3}),
        ("missing run", {"run_ids": ["0" * 32], "metric_key": "loss"}),
    ):
        api.record(f"sampled {label}", api.call("GET", f"{ajax}/get-history-bulk-interval", params=params))
    api.record("bulk no run_id", api.call("GET", f"{ajax}/get-history-bulk", params={"metric_key": "loss"}))
    api.record("bulk no key", api.call("GET", f"{ajax}/get-history-bulk", params={"run_id": runs}))


def runs_search(api: Side) -> None:
    eid = _experiment(api)
    for i in range(4):
        rid = _run(api, eid, run_name=f"run-{i}")
        api.post("runs/log-batch", {"run_id": rid, "metrics": [{"key": "acc", "value": i / 10, "timestamp": NOW, "step": 0}],
                                    "params": [{"key": "i", "value": str(i)}], "tags": [{"key": "even", "value": str(i % 2 == 0)}]})
    first = api.record("search all", api.post("runs/search", {"experiment_ids": [eid], "max_results": 3}))
    api.record("page 2", api.post("runs/search", {"experiment_ids": [eid], "max_results": 3,
                                                 "page_token": first.json().get("next_page_token")}))
    api.record("filter metric", api.post("runs/search", {"experiment_ids": [eid], "filter": "metrics.acc > 0.15",
                                                        "order_by": ["metrics.acc DESC"]}),
               values=("runs.0.data.metrics.0.value",))
    api.record("filter param and tag", api.post("runs/search", {
        "experiment_ids": [eid], "filter": "params.i = '2' and tags.even = 'True'"}), values=("runs.0.info.run_name",))
    api.record("filter run name", api.post("runs/search", {"experiment_ids": [eid], "filter": "attributes.run_name = 'run-1'"}),
               values=("runs.0.info.run_name",))
    api.record("no match", api.post("runs/search", {"experiment_ids": [eid], "filter": "metrics.acc > 99"}))
    api.record("bad filter", api.post("runs/search", {"experiment_ids": [eid], "filter": "metrics.acc >>> 1"}))
    api.record("bad order", api.post("runs/search", {"experiment_ids": [eid], "order_by": ["sideways"]}))
    api.record("bad max_results", api.post("runs/search", {"experiment_ids": [eid], "max_results": 100000}))
    api.record("experiment_ids not list", api.post("runs/search", {"experiment_ids": eid}))
    api.record("bad page token", api.post("runs/search", {"experiment_ids": [eid], "page_token": "garbage!"}))


def runs_inputs_outputs(api: Side) -> None:
    rid = _run(api)
    dataset = {"name": "iris", "digest": "abc123", "source_type": "local", "source": '{"uri": "/data/iris.csv"}',
               "schema": "{}", "profile": '{"num_rows": 150}'}
    api.record("log-inputs", api.post("runs/log-inputs", {
        "run_id": rid, "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "training"}], "dataset": dataset}]}))
    api.record("get with inputs", api.get("runs/get", run_id=rid), values=("run.inputs.dataset_inputs.0.dataset.name",))
    api.record("log-inputs missing run", api.post("runs/log-inputs", {"run_id": "0" * 32, "datasets": []}))
    api.record("log-inputs bad dataset", api.post("runs/log-inputs", {"run_id": rid, "datasets": [{"dataset": {"name": "x"}}]}))


# ---- logged models (MLflow 3) ----------------------------------------------------------------

def logged_models(api: Side) -> None:
    eid = _experiment(api)
    rid = _run(api, eid)
    created = api.record("create in run", api.post("/api/2.0/mlflow/logged-models", {
        "experiment_id": eid, "name": "m", "source_run_id": rid, "params": [{"key": "a", "value": "1"}],
        "tags": [{"key": "t", "value": "1"}]}))
    mid = created.json()["model"]["info"]["model_id"]
    api.record("get", api.get(f"/api/2.0/mlflow/logged-models/{mid}"), values=("model.info.status",))
    api.record("finalize", api.call("PATCH", f"/api/2.0/mlflow/logged-models/{mid}",
                                    {"model_id": mid, "status": "LOGGED_MODEL_READY"}), values=("model.info.status",))
    api.record("set tags", api.call("PATCH", f"/api/2.0/mlflow/logged-models/{mid}/tags",
                                    {"tags": [{"key": "x", "value": "y"}]}))
    api.record("delete tag", api.call("DELETE", f"/api/2.0/mlflow/logged-models/{mid}/tags/x"))
    api.record("delete missing tag", api.call("DELETE", f"/api/2.0/mlflow/logged-models/{mid}/tags/nope"))
    api.record("log params", api.post(f"/api/2.0/mlflow/logged-models/{mid}/params",
                                      {"model_id": mid, "params": [{"key": "b", "value": "2"}]}))
    api.record("metric with model_id", api.post("runs/log-metric", {
        "run_id": rid, "key": "acc", "value": 0.9, "timestamp": NOW, "step": 0, "model_id": mid}))
    api.record("get with metrics", api.get(f"/api/2.0/mlflow/logged-models/{mid}"))
    outside = api.record("create outside run", api.post("/api/2.0/mlflow/logged-models", {"experiment_id": eid, "name": "free"}))
    api.record("search", api.post("/api/2.0/mlflow/logged-models/search", {"experiment_ids": [eid]}))
    api.record("search filter", api.post("/api/2.0/mlflow/logged-models/search", {
        "experiment_ids": [eid], "filter": "name = 'free'"}), values=("models.0.info.name",))
    api.record("outputs", api.post("runs/outputs", {"run_id": rid, "models": [{"model_id": mid, "step": 0}]}))
    api.record("get run with outputs", api.get("runs/get", run_id=rid))
    free_id = outside.json().get("model", {}).get("info", {}).get("model_id", "missing")
    api.record("delete", api.call("DELETE", f"/api/2.0/mlflow/logged-models/{free_id}"))
    api.record("get deleted", api.get(f"/api/2.0/mlflow/logged-models/{free_id}"))


def logged_models_search(api: Side) -> None:
    eid = _experiment(api)
    rid = _run(api, eid)
    lm = "/api/2.0/mlflow/logged-models"
    for i, (name, status) in enumerate((("alpha", "LOGGED_MODEL_READY"), ("beta", None), ("gamma", "LOGGED_MODEL_READY"))):
        body = {"experiment_id": eid, "name": name, "model_type": "clf" if i else "reg",
                "params": [{"key": "depth", "value": str(i)}], "tags": [{"key": "team", "value": "a" if i < 2 else "b"}]}
        if i == 1:
            body["source_run_id"] = rid
        mid = api.post(lm, body).json()["model"]["info"]["model_id"]
        if status:
            api.call("PATCH", f"{lm}/{mid}", {"model_id": mid, "status": status})

    def names(label: str, body: dict) -> None:
        answer = api.record(label, api.post(f"{lm}/search", {"experiment_ids": [eid], **body}))
        if answer.status == 200:
            api.fact(label + " names", [m["info"]["name"] for m in answer.json().get("models", [])])

    for label, filter_string in (
        ("by name", "name = 'beta'"), ("name like", "name LIKE 'a%'"), ("name ilike", "name ILIKE 'G%'"),
        ("by param", "params.depth = '2'"), ("by tag", "tags.team = 'a'"),
        ("by model type", "model_type = 'clf'"), ("by source run", f"source_run_id = '{rid}'"),
        ("and", "tags.team = 'a' AND params.depth != '0'"), ("created after", "creation_timestamp > 0"),
        ("no match", "name = 'delta'"),
    ):
        names(f"filter {label}", {"filter": filter_string, "order_by": [{"field_name": "name", "ascending": True}]})
    names("order by name desc", {"order_by": [{"field_name": "name", "ascending": False}]})
    names("page of 2", {"max_results": 2, "order_by": [{"field_name": "name", "ascending": True}]})
    api.record("bad filter", api.post(f"{lm}/search", {"experiment_ids": [eid], "filter": "name === 'x'"}))
    api.record("unknown attribute", api.post(f"{lm}/search", {"experiment_ids": [eid], "filter": "colour = 'red'"}),
               expect=Expected(400, "INVALID_PARAMETER_VALUE", "MLflow answers 500"))
    api.record("unknown order_by", api.post(f"{lm}/search", {"experiment_ids": [eid],
                                                             "order_by": [{"field_name": "colour"}]}),
               expect=Expected(400, "INVALID_PARAMETER_VALUE", "MLflow answers 500"))


def logged_models_bad_requests(api: Side) -> None:
    eid = _experiment(api)
    api.record("create missing run", api.post("/api/2.0/mlflow/logged-models",
                                              {"experiment_id": eid, "source_run_id": "0" * 32}))
    api.record("create missing experiment", api.post("/api/2.0/mlflow/logged-models", {"experiment_id": "987654321"}))
    api.record("create no experiment", api.post("/api/2.0/mlflow/logged-models", {}))
    api.record("get missing", api.get("/api/2.0/mlflow/logged-models/m-00000000000000000000000000000000"))
    api.record("finalize bad status", api.call("PATCH", "/api/2.0/mlflow/logged-models/m-00000000000000000000000000000000",
                                               {"status": "LOGGED_MODEL_MAYBE"}))


# ---- artifacts -------------------------------------------------------------------------------

def artifacts(api: Side) -> None:
    eid = _experiment(api)
    run = api.post("runs/create", {"experiment_id": eid, "start_time": NOW}).json()["run"]["info"]
    rid = run["run_id"]
    root = run["artifact_uri"].split("mlflow-artifacts:/", 1)[-1].lstrip("/")
    base = f"/api/2.0/mlflow-artifacts/artifacts/{root}"
    api.record("upload", api.call("PUT", f"{base}/dir/a.txt", raw=b"hello", content_type="application/octet-stream"))
    api.record("upload 2", api.call("PUT", f"{base}/b.txt", raw=b"world", content_type="application/octet-stream"))
    api.record("list root", api.get("artifacts/list", run_id=rid), values=("files.0.path", "files.1.path"))
    api.record("list dir", api.call("GET", "artifacts/list", params={"run_id": rid, "path": "dir"}), values=("files.0.path", "files.0.file_size"))
    api.record("list proxied", api.call("GET", "/api/2.0/mlflow-artifacts/artifacts", params={"path": f"{root}/dir"}))
    api.record("download", api.get(f"{base}/dir/a.txt"))
    api.record("download missing", api.get(f"{base}/nope.txt"))
    api.record("list missing run", api.get("artifacts/list", run_id="0" * 32))
    api.record("timestamp beyond int64", api.post("runs/log-metric", {"run_id": rid, "key": "m", "value": 1,
                                                                     "timestamp": 10**23}),
               expect=Expected(400, "INVALID_PARAMETER_VALUE", "MLflow accepts what it cannot store as int64"))
    api.record("list escape", api.call("GET", "artifacts/list", params={"run_id": rid, "path": "../../etc"}))
    api.record("upload escape", api.call("PUT", f"{base}/../../../evil.txt", raw=b"x",
                                         content_type="application/octet-stream"))
    api.record("delete", api.call("DELETE", f"{base}/b.txt"))


# ---- server meta -----------------------------------------------------------------------------

def meta(api: Side) -> None:
    api.record("health", api.get("/health"))
    version = api.get("/version")
    api.record("version", type(version)(version.status, None, ""))  # the version string differs
    api.record("unknown path", api.get("/api/2.0/mlflow/no-such-endpoint"),
               expect=Expected(501, "NOT_IMPLEMENTED", "openaml names what it does not serve"))


SCENARIOS = [
    experiments_lifecycle, experiments_artifact_location, experiments_bad_requests, experiments_search,
    runs_lifecycle, runs_bad_requests, runs_log_batch, metric_histories, runs_search, runs_inputs_outputs,
    logged_models, logged_models_search, logged_models_bad_requests, artifacts, meta,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_answers_as_mlflow_does(scenario, sides) -> None:
    assert_conforms(scenario, sides)
