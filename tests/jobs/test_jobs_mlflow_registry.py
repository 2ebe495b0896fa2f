"""MLflow's model registry from inside a job: ``mlflow.register_model`` in the job's script makes
a workspace model whose source is the job, and the job's dataset inputs are recorded."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from openaml.cli.main import cli

from .conftest import HOST_ENV, wait, write

pytestmark = pytest.mark.slow

SCRIPT = """
import os, mlflow
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag

os.makedirs("model_files", exist_ok=True)
with open("model_files/MLmodel", "w") as f:
    f.write("flavors:\\n  python_function:\\n    loader_module: mlflow.pyfunc.model\\n")
with open("model_files/weights.bin", "w") as f:
    f.write("w")
mlflow.log_artifacts("model_files", artifact_path="model")
run_id = mlflow.active_run().info.run_id
version = mlflow.register_model(f"runs:/{run_id}/model", "job-model")
client = MlflowClient()
client.set_registered_model_alias("job-model", "champion", version.version)
client.log_inputs(run_id, datasets=[DatasetInput(
    Dataset(name="train", digest="d1", source_type="local", source='{"uri": "train.csv"}'),
    tags=[InputTag("mlflow.data.context", "training")])])
print("registered version", version.version)
"""


def test_register_model_in_a_job_makes_a_workspace_model_with_the_job_as_source(ml_client, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("mlflow")
    from openaml import command

    # A registry the submitting shell points at must not take the job's models elsewhere.
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "http://127.0.0.1:9")

    write(tmp_path / "src" / "train.py", SCRIPT)
    job = ml_client.jobs.create_or_update(command(code=str(tmp_path / "src"), command=f"{sys.executable} train.py",
                                                  environment=HOST_ENV, experiment_name="registry-exp"))
    done = wait(ml_client, job.name)
    assert done.status == "Completed", done.error
    model = ml_client.models.get("job-model", "1")
    assert model.type == "mlflow_model" and "python_function" in model.flavors
    assert model.job_name == job.name
    assert model.path == f"azureml://jobs/{job.name}/outputs/artifacts/paths/model"
    assert ml_client.models.get("job-model", label="champion").version == "1"
    shown = CliRunner().invoke(cli, ["model", "show", "-n", "job-model", "-v", "1", "-w", "jobs"],
                               catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    shown_json = json.loads(shown.stdout)
    assert shown_json["job_name"] == job.name and shown_json["type"] == "mlflow_model"
    inputs = ml_client._context().tracking.run_inputs.for_runs([job.name])[job.name]
    assert [(d.dataset.name, d.tags) for d in inputs.dataset_inputs] == [
        ("train", {"mlflow.data.context": "training"})]
