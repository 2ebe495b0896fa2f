"""A stock MLflow client outside any job, reading a job's run through the workspace's
``mlflow_tracking_uri`` (the openaml server's mount) and registering its model.

Usage: ``python mlflow_outside_client.py JOB_NAME MODEL_NAME WORKDIR`` with ``MLFLOW_TRACKING_URI``
set. Writes ``WORKDIR/result.json``. Standard library and ``mlflow`` only: it runs in the
client's own venv (the newest 3.x, or mlflow-skinny 2.10).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient


def _files(folder: str) -> dict[str, str]:
    root = Path(folder)
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def main(job: str, model_name: str, workdir: str) -> None:
    out = Path(workdir)
    client = MlflowClient()
    result: dict = {"client": mlflow.__version__}

    run = mlflow.get_run(job)  # a job's run id is its name, as on Azure
    result["run"] = {"run_id": run.info.run_id, "status": run.info.status, "metrics": run.data.metrics,
                     "params": run.data.params, "stage": run.data.tags.get("stage"),
                     "experiment": client.get_experiment(run.info.experiment_id).name}

    found = mlflow.search_runs(experiment_names=["outside"], filter_string="metrics.accuracy > 0.9",
                               output_format="list")
    result["search"] = sorted(r.info.run_id for r in found)
    result["search_none"] = len(client.search_runs([run.info.experiment_id], "metrics.accuracy > 0.99"))

    result["history"] = [(m.step, m.value) for m in client.get_metric_history(job, "loss")]
    result["artifacts"] = sorted(a.path for a in client.list_artifacts(job, "model"))
    downloaded = mlflow.artifacts.download_artifacts(run_id=job, artifact_path="model", dst_path=str(out / "run"))
    result["downloaded"] = _files(downloaded)

    version = mlflow.register_model(f"runs:/{job}/model", model_name)
    result["registered"] = {"name": version.name, "version": version.version, "run_id": version.run_id}
    got = client.get_model_version(model_name, version.version)
    result["read_back"] = {"name": got.name, "version": got.version, "run_id": got.run_id,
                           "source_ok": job in got.source}
    result["latest"] = [v.version for v in client.search_model_versions(f"name = '{model_name}'")]
    from_registry = mlflow.artifacts.download_artifacts(f"models:/{model_name}/{version.version}",
                                                       dst_path=str(out / "registry"))
    result["registry_files"] = _files(from_registry)
    (out / "result.json").write_text(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    assert os.environ.get("MLFLOW_TRACKING_URI"), "MLFLOW_TRACKING_URI names the workspace's mount"
    main(*sys.argv[1:4])
