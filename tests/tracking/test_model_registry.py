"""MLflow's model registry on openaml's tracking server: the stock client against a real server
whose registry is the workspace's models."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from openaml.services.locations import job_folder
from openaml.services.mlflow_registry import MlflowRegistry
from openaml.tracking import start_tracking_server
from tests.helpers import new_workspace_client, use_home

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

MLMODEL = "flavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n    python_version: 3.11.0\n"
MLFLOW_3 = int(mlflow.__version__.split(".")[0]) >= 3


def _raw(server, method: str, path: str, body: dict | None = None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, json.loads(data) if data.startswith(b"{") else data


@pytest.fixture
def ml_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    use_home(tmp_path, monkeypatch, host_python=True)
    client = new_workspace_client("reg")
    yield client
    client.close()


@pytest.fixture
def ctx(ml_client):
    return ml_client._context()


def _point_mlflow_at(server, monkeypatch):
    from mlflow.tracking._tracking_service import utils as tracking_utils

    for var in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(var, raising=False)
    # Set through monkeypatch so that they are removed afterwards: mlflow.set_registry_uri()
    # writes MLFLOW_REGISTRY_URI into os.environ, which later jobs' processes would inherit.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", server.url)
    mlflow.set_tracking_uri(server.url)
    mlflow.set_registry_uri(server.url)
    tracking_utils._artifact_repos_cache.clear()


@pytest.fixture
def server(ctx, monkeypatch):
    with start_tracking_server(ctx.tracking, artifact_root_for_run=lambda run_id: job_folder(ctx, run_id),
                               model_registry=lambda: MlflowRegistry(ctx)) as srv:
        _point_mlflow_at(srv, monkeypatch)
        yield srv
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


@pytest.fixture
def run_id(server, ctx, tmp_path):
    """A run whose artifacts hold an MLflow model under ``model/``."""
    files = tmp_path / "model_files"
    files.mkdir()
    (files / "MLmodel").write_text(MLMODEL)
    (files / "weights.bin").write_text("w1")
    mlflow.set_experiment("reg-exp")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(files), artifact_path="model")
    return run.info.run_id


def _error(call) -> MlflowException:
    with pytest.raises(MlflowException) as info:
        call()
    return info.value


def test_register_model_makes_workspace_versions_1_to_n(server, run_id, ml_client, ctx, tmp_path):
    first = mlflow.register_model(f"runs:/{run_id}/model", "m")
    second = mlflow.register_model(f"runs:/{run_id}/model", "m")
    assert (first.version, second.version) == ("1", "2")
    assert first.run_id == run_id and first.source.endswith(f"/{run_id}/artifacts/model")
    assert first.status == "READY" and first.current_stage == "None"
    model = ml_client.models.get("m", "1")
    assert model.type == "mlflow_model" and "python_function" in model.flavors
    assert model.properties["mlflow.run_id"] == run_id
    # The files are published: changing the run's folder afterwards changes nothing registered.
    (job_folder(ctx, run_id) / "model" / "weights.bin").write_text("changed")
    ml_client.models.download("m", "1", download_path=tmp_path / "dl")
    assert (tmp_path / "dl" / "m" / "model" / "weights.bin").read_text() == "w1"
    client = MlflowClient()
    assert [v.version for v in client.search_model_versions("name = 'm'")] == ["2", "1"]
    # MLflow clients read the stored copy too (served read-only), not the run's changed folder.
    assert client.get_model_version_download_uri("m", "1") == "mlflow-artifacts:/openaml-registered-models/m/1"
    downloaded = Path(mlflow.artifacts.download_artifacts("models:/m/1", dst_path=str(tmp_path / "mlflow-dl")))
    assert (downloaded / "MLmodel").is_file() and (downloaded / "weights.bin").read_text() == "w1"
    status, body = _raw(server, "DELETE",
                        "/api/2.0/mlflow-artifacts/artifacts/openaml-registered-models/m/1/MLmodel")
    assert status == 400 and "read-only" in body["message"]
    client.delete_model_version("m", "1")
    status, body = _raw(server, "GET", "/api/2.0/mlflow-artifacts/artifacts/openaml-registered-models/m/1/MLmodel")
    assert status == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_registered_models_create_get_search_update_rename_delete(server, run_id, ml_client):
    client = MlflowClient()
    created = client.create_registered_model("rm-a", tags={"team": "x"}, description="first")
    assert (created.name, created.description, created.tags) == ("rm-a", "first", {"team": "x"})
    assert _error(lambda: client.create_registered_model("rm-a")).error_code == "RESOURCE_ALREADY_EXISTS"
    client.create_registered_model("other")
    client.create_model_version("rm-a", f"runs:/{run_id}/model", run_id)
    assert client.update_registered_model("rm-a", description="second").description == "second"
    client.set_registered_model_tag("rm-a", "stage", "dev")
    client.delete_registered_model_tag("rm-a", "team")
    got = client.get_registered_model("rm-a")
    assert got.tags == {"stage": "dev"} and [v.version for v in got.latest_versions] == ["1"]
    assert [m.name for m in client.search_registered_models("name LIKE 'rm-%'")] == ["rm-a"]
    assert [m.name for m in client.search_registered_models("tags.stage = 'dev'")] == ["rm-a"]
    assert [m.name for m in client.search_registered_models(order_by=["name DESC"])] == ["rm-a", "other"]
    page = client.search_registered_models(max_results=1)
    assert len(page) == 1 and page.token
    assert _error(lambda: client.search_registered_models("bogus = 'x'")).error_code == "INVALID_PARAMETER_VALUE"

    client.rename_registered_model("rm-a", "rm-b")
    renamed = client.get_registered_model("rm-b")
    assert renamed.description == "second" and renamed.tags == {"stage": "dev"}
    assert client.get_model_version("rm-b", "1").run_id == run_id
    assert ml_client.models.get("rm-b", "1").properties["mlflow.run_id"] == run_id
    assert _error(lambda: client.get_registered_model("rm-a")).error_code == "RESOURCE_DOES_NOT_EXIST"
    assert _error(lambda: client.rename_registered_model("rm-b", "other")).error_code == "RESOURCE_ALREADY_EXISTS"

    client.delete_registered_model("rm-b")
    assert _error(lambda: client.get_registered_model("rm-b")).error_code == "RESOURCE_DOES_NOT_EXIST"
    assert _error(lambda: client.delete_registered_model("rm-b")).error_code == "RESOURCE_DOES_NOT_EXIST"
    # Created again, the name starts empty; versions are never reused (the old one is archived).
    client.create_registered_model("rm-b")
    assert client.get_registered_model("rm-b").latest_versions == []
    assert client.create_model_version("rm-b", f"runs:/{run_id}/model", run_id).version == "2"


def test_models_registered_by_openaml_are_registered_models(server, ml_client, tmp_path):
    from openaml.entities import Model

    (tmp_path / "weights.pkl").write_text("p")
    ml_client.models.create_or_update(Model(name="cli-made", path=str(tmp_path / "weights.pkl")))
    client = MlflowClient()
    got = client.get_registered_model("cli-made")
    assert [v.version for v in got.latest_versions] == ["1"]
    assert "cli-made" in {m.name for m in client.search_registered_models()}


def test_aliases_point_at_versions_and_are_openaml_labels(server, run_id, ml_client):
    client = MlflowClient()
    for _ in range(2):
        mlflow.register_model(f"runs:/{run_id}/model", "al")
    client.set_registered_model_alias("al", "champion", "1")
    client.set_registered_model_alias("al", "challenger", "2")
    assert client.get_model_version_by_alias("al", "champion").version == "1"
    assert client.get_model_version("al", "1").aliases == ["champion"]
    assert client.get_registered_model("al").aliases == {"champion": "1", "challenger": "2"}
    assert ml_client.models.get("al", label="champion").version == "1"
    assert client.get_model_version_by_alias("al", "latest").version == "2"
    for reserved in ("latest", "v1", "a b", ""):
        error = _error(lambda alias=reserved: client.set_registered_model_alias("al", alias, "1"))
        assert error.error_code == "INVALID_PARAMETER_VALUE", reserved
    assert _error(lambda: client.set_registered_model_alias("al", "x", "9")).error_code == "RESOURCE_DOES_NOT_EXIST"
    client.delete_model_version("al", "1")  # a deleted version takes its aliases with it
    assert _error(lambda: client.get_model_version("al", "1")).error_code == "RESOURCE_DOES_NOT_EXIST"
    assert _error(lambda: client.get_model_version_by_alias("al", "champion")).error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_registered_model("al").aliases == {"challenger": "2"}
    client.delete_registered_model_alias("al", "challenger")
    assert client.get_registered_model("al").aliases == {}


def test_version_tags_description_and_stages(server, run_id, ml_client):
    client = MlflowClient()
    for _ in range(3):
        mlflow.register_model(f"runs:/{run_id}/model", "st")
    client.set_model_version_tag("st", "1", "k", "v")
    client.delete_model_version_tag("st", "1", "absent")  # nothing to delete: no error, as MLflow
    assert client.update_model_version("st", "1", description="d").description == "d"
    assert ml_client.models.get("st", "1").tags == {"k": "v"}
    assert client.transition_model_version_stage("st", "1", "production").current_stage == "Production"
    assert ml_client.models.get("st", "1").stage == "Production"
    client.transition_model_version_stage("st", "2", "Production", archive_existing_versions=True)
    assert client.get_model_version("st", "1").current_stage == "Archived"
    assert [v.version for v in client.get_latest_versions("st", stages=["Production"])] == ["2"]
    assert {(v.version, v.current_stage) for v in client.get_latest_versions("st")} == {
        ("1", "Archived"), ("2", "Production"), ("3", "None")}
    assert _error(lambda: client.transition_model_version_stage("st", "3", "prod")).error_code == \
        "INVALID_PARAMETER_VALUE"
    error = _error(lambda: client.transition_model_version_stage("st", "3", "None", archive_existing_versions=True))
    assert error.error_code == "INVALID_PARAMETER_VALUE"
    client.delete_model_version_tag("st", "1", "k")
    assert client.get_model_version("st", "1").tags == {}
    assert [v.version for v in client.search_model_versions("name = 'st' AND version_number >= 2",
                                                            order_by=["version_number ASC"])] == ["2", "3"]


def test_names_and_sources_are_checked(server, run_id):
    client = MlflowClient()
    error = _error(lambda: client.create_registered_model("my model"))
    assert error.error_code == "INVALID_PARAMETER_VALUE" and "letters, digits" in error.message
    assert _error(lambda: client.create_registered_model("../up")).error_code == "INVALID_PARAMETER_VALUE"
    assert _error(lambda: client.create_registered_model("x" * 300)).error_code == "INVALID_PARAMETER_VALUE"
    assert _error(lambda: client.create_model_version("none", f"runs:/{run_id}/model", run_id)).error_code == \
        "RESOURCE_DOES_NOT_EXIST"
    client.create_registered_model("src")
    for source, source_run in (("/etc/passwd", run_id), (f"runs:/{run_id}/../../x", run_id),
                               (f"runs:/{run_id}/%2e%2e/x", run_id), (f"runs:/{run_id}/model", "another-run"),
                               (f"runs:/{run_id}/missing", run_id), ("s3://bucket/model", None),
                               ("runs:/no-such-run/model", None)):
        error = _error(lambda s=source, r=source_run: client.create_model_version("src", s, r))
        assert error.error_code == "INVALID_PARAMETER_VALUE", source
    assert client.get_registered_model("src").latest_versions == []


def test_a_version_copies_another_and_files_without_mlmodel_are_custom(server, run_id, ml_client, ctx):
    client = MlflowClient()
    mlflow.register_model(f"runs:/{run_id}/model", "orig")
    client.create_registered_model("copy")
    copied = client.create_model_version("copy", "models:/orig/1")
    assert copied.run_id == run_id and copied.source == "models:/orig/1"
    assert ml_client.models.get("copy", "1").flavors == ml_client.models.get("orig", "1").flavors
    (job_folder(ctx, run_id) / "plain").mkdir()
    (job_folder(ctx, run_id) / "plain" / "w.txt").write_text("x")
    client.create_model_version("copy", f"runs:/{run_id}/plain", run_id)
    assert ml_client.models.get("copy", "2").type == "custom_model"


@pytest.mark.skipif(not MLFLOW_3, reason="logged models are MLflow 3")
def test_registering_a_logged_model(server, run_id, ml_client, tmp_path):
    client = MlflowClient()
    experiment_id = client.get_run(run_id).info.experiment_id
    logged = client.create_logged_model(experiment_id, name="lm", source_run_id=run_id)
    files = tmp_path / "lm"
    files.mkdir()
    (files / "MLmodel").write_text(MLMODEL)
    client.log_model_artifacts(logged.model_id, str(files))
    version = mlflow.register_model(f"models:/{logged.model_id}", "from-logged")
    assert version.source == f"models:/{logged.model_id}" and version.run_id == run_id
    status, body = _raw(server, "GET", "/api/2.0/mlflow/model-versions/get?name=from-logged&version=1")
    assert status == 200 and body["model_version"]["model_id"] == logged.model_id
    # The server lists the version on the logged model (as mlflow server; the fluent client then
    # appends it once more, as it does against mlflow server).
    assert {"name": "from-logged", "version": "1"} in json.loads(
        client.get_logged_model(logged.model_id).tags["mlflow.modelVersions"])
    registered = ml_client.models.get("from-logged", "1")
    assert registered.type == "mlflow_model" and registered.properties["mlflow.model_id"] == logged.model_id


@pytest.mark.skipif(not MLFLOW_3, reason="logged-model metrics are MLflow 3")
def test_metrics_logged_against_a_logged_model(server, run_id):
    client = MlflowClient()
    logged = client.create_logged_model(client.get_run(run_id).info.experiment_id, name="scored",
                                        source_run_id=run_id)
    client.log_metric(run_id, "acc", 0.9, step=2, model_id=logged.model_id, dataset_name="iris",
                      dataset_digest="abc")
    client.log_batch(run_id, metrics=[mlflow.entities.Metric("loss", 0.1, 5, 0, model_id=logged.model_id)])
    metrics = {m.key: m for m in client.get_logged_model(logged.model_id).metrics}
    assert metrics["acc"].value == 0.9 and metrics["acc"].dataset_name == "iris" and metrics["acc"].run_id == run_id
    assert metrics["loss"].value == 0.1
    assert client.get_run(run_id).data.metrics == {"acc": 0.9, "loss": 0.1}


def test_log_inputs_round_trip(server, run_id):
    from mlflow.entities import Dataset, DatasetInput, InputTag

    client = MlflowClient()
    dataset = Dataset(name="iris", digest="abc123", source_type="local", source='{"uri": "/data/iris.csv"}',
                      schema='{"mlflow_colspec": []}', profile='{"num_rows": 3}')
    client.log_inputs(run_id, datasets=[DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "training")])])
    client.log_inputs(run_id, datasets=[DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "eval")])])
    inputs = client.get_run(run_id).inputs.dataset_inputs
    assert len(inputs) == 1  # the same dataset again keeps the first record, as MLflow
    assert inputs[0].dataset.name == "iris" and inputs[0].dataset.profile == '{"num_rows": 3}'
    assert {t.key: t.value for t in inputs[0].tags} == {"mlflow.data.context": "training"}
    found = client.search_runs([client.get_run(run_id).info.experiment_id])
    assert found[0].inputs.dataset_inputs[0].dataset.digest == "abc123"
    status, body = _raw(server, "POST", "/api/2.0/mlflow/runs/log-inputs",
                        {"run_id": run_id, "datasets": [{"dataset": {"name": "x" * 501, "digest": "d",
                                                                     "source_type": "local", "source": "{}"}}]})
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE" and "name" in body["message"]


def test_without_a_registry_the_registry_answers_501(ctx):
    with start_tracking_server(ctx.tracking, artifact_root_for_run=lambda r: job_folder(ctx, r)) as bare:
        status, body = _raw(bare, "POST", "/api/2.0/mlflow/registered-models/create", {"name": "m"})
        assert status == 501 and body["error_code"] == "NOT_IMPLEMENTED"
        assert "/api/2.0/mlflow/registered-models/create" in body["message"]


def test_unserved_mlflow_endpoints_are_501_and_wrong_methods_405(server):
    status, body = _raw(server, "GET", "/api/2.0/mlflow/traces/tr-1/info")
    assert status == 501 and body["error_code"] == "NOT_IMPLEMENTED" and "/traces/tr-1/info" in body["message"]
    assert "MLflow Tracing" in body["message"]  # the feature is named, not only the path
    status, body = _raw(server, "POST", "/ajax-api/3.0/mlflow/webhooks", {})
    assert status == 501 and "/webhooks" in body["message"] and "webhooks" in body["message"]
    status, body = _raw(server, "POST", "/api/3.0/mlflow/gateway/endpoints/create", {})
    assert status == 501 and "AI Gateway" in body["message"]
    status, body = _raw(server, "POST", "/graphql", {})
    assert status == 501 and "GraphQL" in body["message"]
    status, body = _raw(server, "POST", "/api/2.0/mlflow-artifacts/mpu/create/1/x", {})
    assert status == 501
    status, body = _raw(server, "POST", "/api/2.0/mlflow/registered-models/get", {"name": "m"})
    assert status == 405
    status, body = _raw(server, "GET", "/api/2.0/mlflow/no/such/endpoint")  # a newer MLflow's, say
    assert status == 501 and body["error_code"] == "NOT_IMPLEMENTED" and "/no/such/endpoint" in body["message"]
    assert _raw(server, "GET", "/not-mlflow")[0] == 404


def test_the_workspace_registry_has_every_verb_the_endpoint_calls():
    from openaml.tracking.registry import ModelRegistry

    verbs = {name for name in vars(ModelRegistry) if not name.startswith("_")}
    assert len(verbs) == 22 and verbs <= {name for name in dir(MlflowRegistry) if not name.startswith("_")}
