"""A real tracking server on a thread, and the stock mlflow client pointed at it in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from openaml.store.metadata import MetadataStore
from openaml.store.tracking import TrackingStore
from openaml.tracking import start_tracking_server

mlflow = pytest.importorskip("mlflow", reason="the tracking server tests need the mlflow client "
                             "(pip install mlflow-skinny)")

RUN_ID = "job_abc"


@pytest.fixture
def tracking(tmp_path: Path, workspace_name: str):
    metadata = MetadataStore(f"sqlite:///{tmp_path / 'metadata.db'}")
    yield TrackingStore(metadata, workspace_name)
    metadata.close()


@pytest.fixture
def job_folder(tmp_path: Path):
    """What the job service passes: the job's folder under workspaceartifactstore."""
    return lambda run_id: tmp_path / "workspaceartifactstore" / "ExperimentRun" / f"dcid.{run_id}"


@pytest.fixture
def server(tracking, job_folder):
    with start_tracking_server(tracking, artifact_root_for_run=job_folder) as srv:
        yield srv


@pytest.fixture
def job_run(tracking):
    """The run the job service creates before the job starts (run id = job name)."""
    experiment_id = tracking.get_or_create_experiment("hello-exp")
    return tracking.create_run(experiment_id, run_id=RUN_ID, run_name=RUN_ID)


@pytest.fixture
def client_env(server, monkeypatch):
    """mlflow's globals reset around each test: tracking URI, active runs, artifact repo cache."""
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    mlflow.set_tracking_uri(server.url)
    tracking_utils._artifact_repos_cache.clear()
    yield server
    while mlflow.active_run() is not None:
        mlflow.end_run()
    tracking_utils._artifact_repos_cache.clear()
    mlflow.set_tracking_uri(None)
