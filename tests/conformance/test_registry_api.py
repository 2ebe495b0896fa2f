"""MLflow's model registry REST API, against a stock ``mlflow server`` (see test_classic_api).

Registered models and their versions map onto the workspace's models on openaml's side; the
answers must still be MLflow's: versions 1..N, aliases, tags, stages, search and ordering,
and the errors clients show.
"""

from __future__ import annotations

import pytest

from tests.conformance.harness import Side, assert_conforms
from tests.conformance.test_classic_api import NOW, _experiment

MLMODEL = b"artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n"


def _run_with_model(api: Side) -> tuple[str, str]:
    """A run holding ``model/MLmodel``; returns (run id, the model's source URI)."""
    eid = _experiment(api)
    info = api.post("runs/create", {"experiment_id": eid, "start_time": NOW}).json()["run"]["info"]
    root = info["artifact_uri"].split("mlflow-artifacts:/", 1)[-1].lstrip("/")
    api.call("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{root}/model/MLmodel", raw=MLMODEL,
             content_type="application/octet-stream")
    return info["run_id"], f"{info['artifact_uri']}/model"


def _names(api: Side, label: str, answer, key: str = "registered_models", field: str = "name") -> None:
    api.record(label, answer)
    if answer.status == 200:
        items = answer.json().get(key, [])
        api.fact(f"{label} {field}s", [str(i[field]).rsplit("-", 1)[-1] for i in items])


def registered_models(api: Side) -> None:
    name = api.unique("clf")
    api.record("create", api.post("registered-models/create", {
        "name": name, "description": "first", "tags": [{"key": "team", "value": "a"}]}),
        values=("registered_model.description",))
    api.record("create again", api.post("registered-models/create", {"name": name}))
    api.record("get", api.get("registered-models/get", name=name), values=("registered_model.description",))
    api.record("update", api.call("PATCH", "/api/2.0/mlflow/registered-models/update",
                                  {"name": name, "description": "second"}), values=("registered_model.description",))
    api.record("set-tag", api.post("registered-models/set-tag", {"name": name, "key": "k", "value": "v"}))
    api.record("delete-tag", api.call("DELETE", "/api/2.0/mlflow/registered-models/delete-tag",
                                      {"name": name, "key": "k"}))
    api.record("get after tags", api.get("registered-models/get", name=name))
    api.record("rename", api.post("registered-models/rename", {"name": name, "new_name": name + "-b"}))
    api.record("get old name", api.get("registered-models/get", name=name))
    api.record("get new name", api.get("registered-models/get", name=name + "-b"))
    api.record("delete", api.call("DELETE", "/api/2.0/mlflow/registered-models/delete", {"name": name + "-b"}))
    api.record("get deleted", api.get("registered-models/get", name=name + "-b"))
    api.record("get missing", api.get("registered-models/get", name=api.unique("none")))
    api.record("create no name", api.post("registered-models/create", {}))
    api.record("create int name", api.post("registered-models/create", {"name": 5}))


def registered_models_search(api: Side) -> None:
    stem = api.unique("srch").replace("-", "")
    for suffix in ("a", "b", "c"):
        api.post("registered-models/create", {"name": f"{stem}-{suffix}", "tags": [
            {"key": "kind", "value": "even" if suffix != "b" else "odd"}]})
    _names(api, "like", api.get("registered-models/search", filter=f"name LIKE '{stem}-%'",
                                max_results="10", order_by="name DESC"))
    _names(api, "by tag", api.get("registered-models/search", filter=f"name LIKE '{stem}-%' AND tags.kind = 'odd'",
                                  max_results="10"))
    first = api.record("page 1", api.get("registered-models/search", filter=f"name LIKE '{stem}-%'",
                                         max_results="2", order_by="name ASC"))
    token = first.json().get("next_page_token") if first.status == 200 else None
    _names(api, "page 2", api.get("registered-models/search", filter=f"name LIKE '{stem}-%'", max_results="2",
                                  order_by="name ASC", page_token=token or ""))
    api.record("bad filter", api.get("registered-models/search", filter="name ~~ 'x'"))
    api.record("bad max_results", api.get("registered-models/search", max_results="0"))


def model_versions(api: Side) -> None:
    name = api.unique("reg")
    api.post("registered-models/create", {"name": name})
    run_id, source = _run_with_model(api)
    for i in range(3):
        api.record(f"create v{i + 1}", api.post("model-versions/create", {
            "name": name, "source": source, "run_id": run_id, "description": f"v{i + 1}",
            "tags": [{"key": "i", "value": str(i)}]}), values=("model_version.version", "model_version.status",
                                                              "model_version.current_stage"))
    api.record("get v2", api.get("model-versions/get", name=name, version="2"),
               values=("model_version.version", "model_version.description"))
    api.record("update v2", api.call("PATCH", "/api/2.0/mlflow/model-versions/update",
                                     {"name": name, "version": "2", "description": "two"}),
               values=("model_version.description",))
    api.record("transition v1", api.post("model-versions/transition-stage", {
        "name": name, "version": "1", "stage": "Production", "archive_existing_versions": False}),
        values=("model_version.current_stage",))
    api.record("transition v3", api.post("model-versions/transition-stage", {
        "name": name, "version": "3", "stage": "Production", "archive_existing_versions": True}),
        values=("model_version.current_stage",))
    api.record("v1 archived", api.get("model-versions/get", name=name, version="1"),
               values=("model_version.current_stage",))
    api.record("bad stage", api.post("model-versions/transition-stage", {
        "name": name, "version": "2", "stage": "Heaven", "archive_existing_versions": False}))
    latest = api.record("latest", api.post("registered-models/get-latest-versions", {"name": name}))
    if latest.status == 200:
        api.fact("latest per stage", sorted((v["current_stage"], v["version"]) for v in latest.json()["model_versions"]))
    api.record("latest production", api.post("registered-models/get-latest-versions",
                                             {"name": name, "stages": ["Production"]}),
               values=("model_versions.0.version",))
    api.record("download uri", api.get("model-versions/get-download-uri", name=name, version="2"))
    _names(api, "search versions", api.get("model-versions/search", filter=f"name = '{name}'",
                                           order_by="version_number DESC"), key="model_versions", field="version")
    _names(api, "search by run", api.get("model-versions/search", filter=f"run_id = '{run_id}'"),
           key="model_versions", field="version")
    # After the default-ordered search: a tag moves openaml's last_updated_timestamp, not MLflow's
    # (docs/mlflow.md, deliberate differences).
    api.record("set-tag", api.post("model-versions/set-tag", {"name": name, "version": "2", "key": "k", "value": "v"}))
    api.record("delete-tag", api.call("DELETE", "/api/2.0/mlflow/model-versions/delete-tag",
                                      {"name": name, "version": "2", "key": "k"}))
    api.record("get missing version", api.get("model-versions/get", name=name, version="99"))
    api.record("get bad version", api.get("model-versions/get", name=name, version="two"))
    api.record("create on missing model", api.post("model-versions/create", {
        "name": api.unique("none"), "source": source, "run_id": run_id}))
    api.record("create without source", api.post("model-versions/create", {"name": name}))
    api.record("delete v2", api.call("DELETE", "/api/2.0/mlflow/model-versions/delete", {"name": name, "version": "2"}))
    api.record("get deleted v2", api.get("model-versions/get", name=name, version="2"))
    api.record("create after delete", api.post("model-versions/create", {"name": name, "source": source,
                                                                         "run_id": run_id}),
               values=("model_version.version",))
    api.record("registered model", api.get("registered-models/get", name=name))


def aliases(api: Side) -> None:
    name = api.unique("ali")
    api.post("registered-models/create", {"name": name})
    run_id, source = _run_with_model(api)
    for _ in range(2):
        api.post("model-versions/create", {"name": name, "source": source, "run_id": run_id})
    api.record("set alias", api.post("registered-models/alias", {"name": name, "alias": "champion", "version": "1"}))
    api.record("move alias", api.post("registered-models/alias", {"name": name, "alias": "champion", "version": "2"}))
    api.record("second alias", api.post("registered-models/alias", {"name": name, "alias": "old", "version": "1"}))
    api.record("get by alias", api.get("registered-models/alias", name=name, alias="champion"),
               values=("model_version.version", "model_version.aliases"))
    got = api.record("model with aliases", api.get("registered-models/get", name=name))
    if got.status == 200:
        api.fact("aliases", sorted((a["alias"], a["version"]) for a in got.json()["registered_model"].get("aliases", [])))
    api.record("alias on missing version", api.post("registered-models/alias", {"name": name, "alias": "x", "version": "9"}))
    api.record("reserved alias", api.post("registered-models/alias", {"name": name, "alias": "latest", "version": "1"}))
    api.record("version-like alias", api.post("registered-models/alias", {"name": name, "alias": "v3", "version": "1"}))
    api.record("delete alias", api.call("DELETE", "/api/2.0/mlflow/registered-models/alias",
                                        {"name": name, "alias": "old"}))
    api.record("get deleted alias", api.get("registered-models/alias", name=name, alias="old"))
    api.call("DELETE", "/api/2.0/mlflow/model-versions/delete", {"name": name, "version": "2"})
    api.record("alias gone with version", api.get("registered-models/alias", name=name, alias="champion"))


SCENARIOS = [registered_models, registered_models_search, model_versions, aliases]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_registry_answers_as_mlflow_does(scenario, sides) -> None:
    assert_conforms(scenario, sides)
