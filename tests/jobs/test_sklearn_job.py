"""The real thing: scikit-learn in Azure's curated sklearn-1.5 environment (built with uv once),
`mlflow.sklearn.autolog()` and `mlflow.sklearn.log_model` unmodified inside the job, the model
registered from the job's artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from openaml import command
from openaml.entities import Model

from .conftest import std_log, wait, write

pytestmark = pytest.mark.slow

TRAIN = """
import mlflow, mlflow.sklearn
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

# The pattern of Azure's samples: the job's run is started (resumed, as MLFLOW_RUN_ID names
# it), autolog logs into it, and the script adds its own metric and the model.
with mlflow.start_run():
    mlflow.sklearn.autolog(log_models=False)
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    model = LogisticRegression(C=0.5, max_iter=200).fit(X, y)
    mlflow.log_metric("holdout_accuracy", model.score(X, y))
    mlflow.sklearn.log_model(model, "model")
print("trained")
"""


def test_autolog_and_log_model_in_a_curated_environment(ml_client, home: Path, tmp_path: Path):
    write(tmp_path / "src" / "train.py", TRAIN)
    job = ml_client.jobs.create_or_update(command(
        code=str(tmp_path / "src"), command="python train.py",
        environment="azureml://registries/azureml/environments/sklearn-1.5/labels/latest"))
    done = wait(ml_client, job.name, timeout=600)
    assert done.status == "Completed", std_log(home, job.name)
    assert "training_accuracy_score" in done.metrics  # autolog's own metric names
    assert done.params["C"] == "0.5"
    assert 0.5 < done.metrics["holdout_accuracy"] <= 1.0
    model = ml_client.models.create_or_update(Model(
        name="autologged", type="mlflow_model", path=f"azureml://jobs/{job.name}/outputs/artifacts/paths/model/"))
    assert "sklearn" in model.flavors
