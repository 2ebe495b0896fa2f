"""A typical MLflow client session, run by any MLflow version's client against one server.

Usage: ``python client_scenario.py TRACKING_URI WORKDIR``. Writes ``WORKDIR/result.json`` (stdout
is the client's own chatter), one JSON object: for each step
its outcome, reduced to what must not depend on the server (values the client reads back, or
the error class and code). The conformance test runs this with two client versions against a
stock ``mlflow server`` and against openaml, and compares the outputs.

Standard library and ``mlflow`` only: it runs in the client's own venv.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient


def main(uri: str, workdir: str) -> None:
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    results: dict[str, Any] = {"client": mlflow.__version__}
    suffix = os.urandom(4).hex()

    def step(name: str, fn: Callable[[], Any]) -> Any:
        try:
            value = fn()
        except MlflowException as exc:
            results[name] = {"error": type(exc).__name__, "code": exc.error_code}
            return None
        except Exception as exc:  # noqa: BLE001 - any other failure is reported, not raised
            results[name] = {"error": type(exc).__name__, "message": str(exc)[:200]}
            return None
        results[name] = value
        return value

    exp_name = f"client-{suffix}"
    exp_id = step("create_experiment", lambda: client.create_experiment(exp_name, tags={"team": "a"}) and "ok")
    exp = client.get_experiment_by_name(exp_name)
    step("get_experiment_by_name", lambda: {"name_ok": exp.name == exp_name, "tags": exp.tags,
                                            "stage": exp.lifecycle_stage})
    step("create_experiment_again", lambda: client.create_experiment(exp_name))
    step("get_experiment_missing", lambda: client.get_experiment("987654321"))
    step("get_by_name_missing", lambda: client.get_experiment_by_name(f"nope-{suffix}"))
    del exp_id

    mlflow.set_experiment(exp_name)
    with mlflow.start_run(run_name="first") as run:
        run_id = run.info.run_id
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"layers": 3, "act": "relu"})
        for i in range(5):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        mlflow.log_metrics({"acc": 0.5, "f1": float("nan")}, step=1)
        mlflow.set_tag("stage", "dev")
        mlflow.set_tags({"a": "1", "b": "2"})
        path = os.path.join(workdir, "notes.txt")
        with open(path, "w") as f:
            f.write("hello")
        mlflow.log_artifact(path)
        mlflow.log_artifact(path, artifact_path="sub/dir")
        mlflow.log_dict({"k": [1, 2]}, "config.json")
        mlflow.log_text("text", "t/readme.md")
        step("change_param", lambda: mlflow.log_param("lr", 0.2))
    client.log_batch(run_id, metrics=[Metric("batch", float(i), 1000 + i, i) for i in range(300)],
                     params=[Param("p", "v")], tags=[RunTag("t", "v")])

    got = client.get_run(run_id)
    step("get_run", lambda: {
        "status": got.info.status, "name": got.info.run_name, "params": got.data.params,
        "metrics": {k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in got.data.metrics.items()},
        "tags": {k: v for k, v in got.data.tags.items() if not k.startswith("mlflow.")},
        "system_tags": sorted(k for k in got.data.tags if k.startswith("mlflow.")
                              and not k.startswith(("mlflow.source.name", "mlflow.source.git."))),
    })
    step("history", lambda: [(m.step, m.value) for m in client.get_metric_history(run_id, "loss")])
    step("history_batch", lambda: len(client.get_metric_history(run_id, "batch")))
    step("list_artifacts", lambda: sorted((a.path, a.is_dir) for a in client.list_artifacts(run_id)))
    step("list_artifacts_sub", lambda: sorted((a.path, a.is_dir, a.file_size) for a in client.list_artifacts(run_id, "sub/dir")))
    step("download", lambda: open(client.download_artifacts(run_id, "sub/dir/notes.txt", workdir)).read())
    step("load_dict", lambda: mlflow.artifacts.load_dict(f"runs:/{run_id}/config.json"))

    with mlflow.start_run(run_name="second"):
        mlflow.log_metric("loss", 0.05)
        mlflow.log_param("lr", 0.3)
    experiment = client.get_experiment_by_name(exp_name)
    step("search_all", lambda: sorted(r.info.run_name for r in client.search_runs([experiment.experiment_id])))
    step("search_filter", lambda: [r.info.run_name for r in client.search_runs(
        [experiment.experiment_id], "metrics.loss < 0.1")])
    step("search_order", lambda: [r.info.run_name for r in client.search_runs(
        [experiment.experiment_id], order_by=["params.lr DESC"])])
    step("search_pandas_free_page", lambda: len(client.search_runs([experiment.experiment_id], max_results=1)))
    step("search_bad_filter", lambda: client.search_runs([experiment.experiment_id], "metrics.loss <<< 1"))
    step("delete_tag", lambda: client.delete_tag(run_id, "stage") or "ok")
    step("delete_tag_missing", lambda: client.delete_tag(run_id, "stage"))
    step("delete_run", lambda: client.delete_run(run_id) or client.get_run(run_id).info.lifecycle_stage)
    step("search_deleted", lambda: sorted(r.info.run_name for r in client.search_runs(
        [experiment.experiment_id], run_view_type=2)))
    step("restore_run", lambda: client.restore_run(run_id) or client.get_run(run_id).info.lifecycle_stage)
    step("get_run_missing", lambda: client.get_run("0" * 32))

    # The model registry: a run's model registered, versioned, aliased, staged and read back.
    model_dir = os.path.join(workdir, "model_files")
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, "MLmodel"), "w") as f:
        f.write("artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n")
    with open(os.path.join(model_dir, "weights.bin"), "w") as f:
        f.write("w1")
    client.log_artifacts(run_id, model_dir, "model")
    reg = f"reg-{suffix}"
    step("register_model", lambda: [mlflow.register_model(f"runs:/{run_id}/model", reg).version for _ in range(2)])
    step("set_alias", lambda: client.set_registered_model_alias(reg, "champion", "1") or
         client.get_model_version_by_alias(reg, "champion").version)
    step("download_by_alias", lambda: open(os.path.join(mlflow.artifacts.download_artifacts(
        f"models:/{reg}@champion", dst_path=os.path.join(workdir, "by_alias")), "weights.bin")).read())
    step("transition", lambda: client.transition_model_version_stage(reg, "2", "Staging").current_stage)
    step("latest_staging", lambda: [v.version for v in client.get_latest_versions(reg, ["Staging"])])
    step("search_versions", lambda: sorted(v.version for v in client.search_model_versions(f"name='{reg}'")))
    step("update_description", lambda: client.update_registered_model(reg, "a model").description)
    step("delete_version", lambda: client.delete_model_version(reg, "1") or
         sorted(v.version for v in client.search_model_versions(f"name='{reg}'")))
    step("alias_after_delete", lambda: client.get_model_version_by_alias(reg, "champion").version)
    step("get_registered_missing", lambda: client.get_registered_model(f"none-{suffix}"))
    step("rename_experiment", lambda: client.rename_experiment(experiment.experiment_id, exp_name + "-x") or
         client.get_experiment(experiment.experiment_id).name == exp_name + "-x")
    step("delete_experiment", lambda: client.delete_experiment(experiment.experiment_id) or
         client.get_experiment(experiment.experiment_id).lifecycle_stage)
    step("search_experiments_deleted", lambda: any(e.name == exp_name + "-x" for e in client.search_experiments(
        view_type=2)))
    with open(os.path.join(workdir, "result.json"), "w") as f:
        json.dump(results, f, sort_keys=True, default=str)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
