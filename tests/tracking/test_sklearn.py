"""mlflow.sklearn.autolog() and log_model() against the tracking server (needs scikit-learn and
the full mlflow package; skipped otherwise)."""

from __future__ import annotations

import pytest

from tests.tracking.conftest import RUN_ID

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("sklearn", reason="scikit-learn is not installed (mlflow.sklearn tests)")
pytest.importorskip("mlflow.sklearn", reason="mlflow.sklearn needs the full mlflow package")


def _data():
    from sklearn.datasets import make_classification

    return make_classification(n_samples=60, n_features=4, random_state=0)


def test_log_model_writes_into_the_job_folder_and_loads_back(client_env, job_run, job_folder, monkeypatch):
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    x, y = _data()
    model = LogisticRegression(max_iter=200).fit(x, y)
    monkeypatch.setenv("MLFLOW_RUN_ID", RUN_ID)
    with mlflow.start_run():
        kwargs = {"name": "model"} if int(mlflow.__version__.split(".")[0]) >= 3 else {"artifact_path": "model"}
        info = mlflow.sklearn.log_model(model, **kwargs)
    folder = job_folder(RUN_ID) / "model"
    assert (folder / "MLmodel").is_file()
    assert [p.name for p in folder.glob("model.*")]  # model.pkl, or model.skops in newer MLflow
    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert (loaded.predict(x) == model.predict(x)).all()
    reloaded = mlflow.sklearn.load_model(f"runs:/{RUN_ID}/model")
    assert (reloaded.predict(x) == model.predict(x)).all()


def test_autolog_records_params_metrics_and_model(client_env, job_run, job_folder, tracking, monkeypatch):
    import mlflow.sklearn
    from sklearn.tree import DecisionTreeClassifier

    x, y = _data()
    monkeypatch.setenv("MLFLOW_RUN_ID", RUN_ID)
    mlflow.sklearn.autolog()
    try:
        with mlflow.start_run():
            DecisionTreeClassifier(max_depth=3).fit(x, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    run = tracking.get_run(RUN_ID)
    assert run.params["max_depth"] == "3"
    assert "training_accuracy_score" in {m.key for m in run.metrics}
    assert (job_folder(RUN_ID) / "model" / "MLmodel").is_file()
