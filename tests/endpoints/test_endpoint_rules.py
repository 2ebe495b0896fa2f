"""Online endpoints' entities, YAML and rules, with an in-memory host (nothing is started)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from openaml import MLClient, load_online_deployment, load_online_endpoint
from openaml.entities import (CodeConfiguration, KubernetesOnlineDeployment, KubernetesOnlineEndpoint,
                              ManagedOnlineDeployment, ManagedOnlineEndpoint, Model, OnlineRequestSettings,
                              ProbeSettings, TargetUtilizationScaleSettings, Workspace)
from openaml.errors import AlreadyExistsError, MissingFileError, NotFoundError, ValidationError
from openaml.services.endpoint_traffic import check_traffic, parse_traffic
from openaml.services.endpoints import EndpointService
from openaml.services.settings import Settings

from tests.endpoints.conftest import HOST_ENV
from tests.endpoints.fakes import FakeEndpointHost
from tests.helpers import use_home, write


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    use_home(tmp_path, monkeypatch, host_python=True)
    client = MLClient(workspace_name="rules")
    client.workspaces.begin_create(Workspace(name="rules")).result()
    host = FakeEndpointHost()
    yield EndpointService(client._backend.context(), Settings.from_env(), host)
    client.close()


@pytest.fixture
def code(tmp_path: Path) -> Path:
    write(tmp_path / "src" / "score.py", "def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    return tmp_path / "src"


def deployment(code: Path, name: str = "blue", endpoint: str = "my-ep", **kw) -> ManagedOnlineDeployment:
    return ManagedOnlineDeployment(name=name, endpoint_name=endpoint, environment=HOST_ENV,
                                   code_configuration=CodeConfiguration(code=str(code), scoring_script="score.py"),
                                   instance_count=1, **kw)


# ---- entities and YAML ------------------------------------------------------------------------

def test_yaml_files_load_as_azure_loads_them(tmp_path: Path, code: Path) -> None:
    write(tmp_path / "endpoint.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json
        name: my-endpoint
        auth_mode: key
        tags: {team: ml}
        """)
    write(tmp_path / "k8s.yml", "name: k8s-endpoint\ncompute: azureml:k8s\n")
    write(tmp_path / "blue.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
        name: blue
        endpoint_name: my-endpoint
        model:
          path: ./src
        code_configuration:
          code: ./src
          scoring_script: score.py
        environment:
          image: python:3.11-slim
        instance_type: Standard_DS3_v2
        instance_count: 2
        request_settings:
          request_timeout_ms: 3000
          max_concurrent_requests_per_instance: 4
        liveness_probe: {period: 5, failure_threshold: 3}
        scale_settings:
          type: target_utilization
          min_instances: 1
          max_instances: 3
        """)
    write(tmp_path / "green.yml", "name: green\nendpoint_name: e\ntype: kubernetes\nmodel: azureml:m:1\n")
    endpoint = load_online_endpoint(tmp_path / "endpoint.yml")
    assert isinstance(endpoint, ManagedOnlineEndpoint) and endpoint.auth_mode == "key" and endpoint.tags == {"team": "ml"}
    assert isinstance(load_online_endpoint(tmp_path / "k8s.yml"), KubernetesOnlineEndpoint)
    blue = load_online_deployment(tmp_path / "blue.yml")
    assert isinstance(blue, ManagedOnlineDeployment)
    assert blue.code_configuration.code == str(code) and blue.model.path == str(code)
    assert blue.request_settings == OnlineRequestSettings(request_timeout_ms=3000, max_concurrent_requests_per_instance=4)
    assert blue.liveness_probe == ProbeSettings(period=5, failure_threshold=3)
    assert isinstance(blue.scale_settings, TargetUtilizationScaleSettings) and blue.scale_settings.max_instances == 3
    assert isinstance(load_online_deployment(tmp_path / "green.yml"), KubernetesOnlineDeployment)
    overridden = load_online_deployment(tmp_path / "blue.yml", params_override=[{"instance_count": 3}])
    assert overridden.instance_count == 3


def test_yaml_errors_name_the_file_line_and_field(tmp_path: Path) -> None:
    write(tmp_path / "bad.yml", "name: blue\nendpoint_name: e\ninstance_count: -1\n")
    with pytest.raises(ValidationError) as err:
        load_online_deployment(tmp_path / "bad.yml")
    assert "bad.yml:3" in str(err.value) and "instance_count" in str(err.value)
    write(tmp_path / "missing.yml", "name: blue\nendpoint_name: e\ncode_configuration: {code: ./nope, scoring_script: s.py}\n")
    with pytest.raises(MissingFileError, match="missing.yml:3: field 'code_configuration.code'"):
        load_online_deployment(tmp_path / "missing.yml")


def test_entities_take_azure_ai_mls_arguments() -> None:
    endpoint = ManagedOnlineEndpoint(name="e1x", traffic={"blue": 100})
    assert endpoint.auth_mode == "key" and endpoint.mirror_traffic == {}
    d = ManagedOnlineDeployment(name="blue", endpoint_name="e1x", code_path="src", scoring_script="score.py")
    assert d.code_configuration == CodeConfiguration(code="src", scoring_script="score.py")
    assert d.code_path == "src" and d.scoring_script == "score.py"
    with pytest.raises(ValidationError, match="max_instances"):
        TargetUtilizationScaleSettings(min_instances=3, max_instances=2)
    with pytest.raises(ValidationError, match="auth_mode"):
        ManagedOnlineEndpoint(name="e1x", auth_mode="password")
    with pytest.raises(ValidationError, match="whole percentage"):
        ManagedOnlineEndpoint(name="e1x", traffic={"blue": 50.5})


# ---- traffic rules ----------------------------------------------------------------------------

def test_parse_traffic_reads_the_cli_form() -> None:
    assert parse_traffic("blue=90 green=10") == {"blue": 90, "green": 10}
    assert parse_traffic("blue=90,green=10") == {"blue": 90, "green": 10}
    for bad in ("blue", "blue=x", "=10", "blue=1 blue=2"):
        with pytest.raises(ValidationError, match="traffic"):
            parse_traffic(bad)


@given(st.lists(st.integers(0, 100), min_size=1, max_size=4))
def test_traffic_must_sum_to_100_or_nothing(weights: list[int]) -> None:
    traffic = {f"d{i}": w for i, w in enumerate(weights)}
    if sum(weights) in (0, 100):
        check_traffic(traffic, {}, traffic)
    else:
        with pytest.raises(ValidationError, match="sum to 100"):
            check_traffic(traffic, {}, traffic)


@given(st.integers(0, 100), st.integers(0, 100))
def test_mirror_is_at_most_50_and_never_to_a_live_deployment(live: int, mirrored: int) -> None:
    traffic = {"blue": 100 - live, "green": live}
    ok = mirrored == 0 or (mirrored <= 50 and live == 0)
    if ok:
        check_traffic(traffic, {"green": mirrored}, ["blue", "green"])
    else:
        with pytest.raises(ValidationError, match="mirror_traffic.green"):
            check_traffic(traffic, {"green": mirrored}, ["blue", "green"])


def test_traffic_names_only_existing_deployments() -> None:
    with pytest.raises(ValidationError, match="traffic.ghost.*does not exist"):
        check_traffic({"ghost": 100}, {}, ["blue"])
    with pytest.raises(ValidationError, match="one deployment only"):
        check_traffic({"a": 100}, {"b": 10, "c": 10}, ["a", "b", "c"])


# ---- the service ------------------------------------------------------------------------------

def test_create_of_an_existing_endpoint_fails_and_update_of_a_missing_one_too(service: EndpointService) -> None:
    service.create_or_update(ManagedOnlineEndpoint(name="my-ep"), mode="create")
    with pytest.raises(AlreadyExistsError, match="online-endpoint update"):
        service.create_or_update(ManagedOnlineEndpoint(name="my-ep"), mode="create")
    with pytest.raises(NotFoundError):
        service.create_or_update(ManagedOnlineEndpoint(name="other"), mode="update")
    assert service.get("my-ep").auth_mode == "key"


@pytest.mark.parametrize("name", ["../x", "a", "1abc", "ab-", "a" * 33, "ab\ncd", "my ep", "ab/cd"])
def test_hostile_endpoint_and_deployment_names_are_refused(service: EndpointService, code: Path, name: str) -> None:
    with pytest.raises(ValidationError, match="endpoint name"):
        service.create_or_update(ManagedOnlineEndpoint.model_construct(name=name, traffic={}, mirror_traffic={},
                                                                       auth_mode="key"))
    service.create_or_update(ManagedOnlineEndpoint(name="my-ep"))
    with pytest.raises(ValidationError, match="deployment name"):
        service.create_or_update_deployment(deployment(code, name=name))


def test_keys_are_random_sealed_and_returned_only_by_get_keys(service: EndpointService) -> None:
    service.create_or_update(ManagedOnlineEndpoint(name="my-ep"))
    service.create_or_update(ManagedOnlineEndpoint(name="ep-two"))
    keys, other = service.get_keys("my-ep"), service.get_keys("ep-two")
    assert len({keys.primary_key, keys.secondary_key, other.primary_key, other.secondary_key}) == 4
    assert len(keys.primary_key) >= 40
    shown = json.dumps([e.model_dump(mode="json") for e in service.list()]) + service.get("my-ep").model_dump_json()
    assert keys.primary_key not in shown and keys.secondary_key not in shown
    with service.ctx.metadata.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT spec, secret FROM endpoints")).all()
    for spec, secret in rows:
        assert keys.primary_key not in str(spec) and keys.primary_key.encode() not in bytes(secret)
    assert "***" in repr(keys) and keys.primary_key not in repr(keys)
    service.regenerate_keys("my-ep", "secondary")
    again = service.get_keys("my-ep")
    assert again.primary_key == keys.primary_key and again.secondary_key != keys.secondary_key
    with pytest.raises(ValidationError, match="key_type"):
        service.regenerate_keys("my-ep", "tertiary")


def test_token_modes_return_tokens(service: EndpointService) -> None:
    service.create_or_update(ManagedOnlineEndpoint(name="tok-ep", auth_mode="aml_token"))
    token = service.get_keys("tok-ep")
    assert type(token).__name__ == "EndpointAuthToken" and token.access_token


def test_deployment_rules(service: EndpointService, code: Path, tmp_path: Path) -> None:
    service.create_or_update(ManagedOnlineEndpoint(name="my-ep"))
    with pytest.raises(NotFoundError, match="online endpoint 'nope'"):
        service.create_or_update_deployment(deployment(code, endpoint="nope"))
    with pytest.raises(ValidationError, match="scoring script 'missing.py' is not in the code folder"):
        service.create_or_update_deployment(deployment(code).model_copy(
            update={"code_configuration": CodeConfiguration(code=str(code), scoring_script="missing.py")}))
    for hostile in ("../score.py", "/etc/passwd", "a\\..\\b.py"):
        with pytest.raises(ValidationError, match="scoring_script"):
            service.create_or_update_deployment(deployment(code).model_copy(
                update={"code_configuration": CodeConfiguration(code=str(code), scoring_script=hostile)}))
    with pytest.raises(ValidationError, match="needs code_configuration"):
        service.create_or_update_deployment(ManagedOnlineDeployment(
            name="blue", endpoint_name="my-ep", model=Model(path=str(code)), environment=HOST_ENV))
    write(tmp_path / "triton" / "config.pbtxt", "name: m\n")
    with pytest.raises(ValidationError, match="Triton models cannot be deployed here") as err:
        service.create_or_update_deployment(ManagedOnlineDeployment(
            name="blue", endpoint_name="my-ep", model=Model(path=str(tmp_path / "triton"), type="triton_model")))
    assert "\n" not in str(err.value)
    created = service.create_or_update_deployment(deployment(code))
    assert created.provisioning_state == "Creating"
    with pytest.raises(AlreadyExistsError):
        service.create_or_update_deployment(deployment(code), mode="create")


def test_traffic_updates_follow_the_rules_and_get_shows_every_deployment(service: EndpointService, code: Path) -> None:
    service.create_or_update(ManagedOnlineEndpoint(name="my-ep"))
    service.create_or_update_deployment(deployment(code, "blue"))
    service.create_or_update_deployment(deployment(code, "green"))
    assert service.get("my-ep").traffic == {"blue": 0, "green": 0}
    service.update_traffic("my-ep", traffic={"blue": 100})
    with pytest.raises(ValidationError, match="sum to 100"):
        service.update_traffic("my-ep", traffic={"blue": 90})
    with pytest.raises(ValidationError, match="takes live traffic"):
        service.update_traffic("my-ep", traffic={"blue": 90, "green": 10}, mirror_traffic={"green": 10})
    endpoint = service.update_traffic("my-ep", mirror_traffic={"green": 20})
    assert endpoint.traffic == {"blue": 100} and endpoint.mirror_traffic == {"green": 20}
    with pytest.raises(ValidationError, match="set it to 0 first"):
        service.delete_deployment("my-ep", "blue")
    with pytest.raises(ValidationError, match="set it to 0 first"):
        service.delete_deployment("my-ep", "green")
    service.update_traffic("my-ep", traffic={"green": 100}, mirror_traffic={})
    service.delete_deployment("my-ep", "blue")
    assert [d.name for d in service.list_deployments("my-ep")] == ["green"]
    # an update with the entity's default (empty) traffic keeps the split
    assert service.create_or_update(ManagedOnlineEndpoint(name="my-ep", description="d")).traffic == {"green": 100}


def test_logs_take_azures_container_types(service: EndpointService, code: Path) -> None:
    service.create_or_update(ManagedOnlineEndpoint(name="my-ep"))
    service.create_or_update_deployment(deployment(code))
    assert service.get_logs("my-ep", "blue", 10) == ""
    assert service.get_logs("my-ep", "blue", 10, container_type="storage-initializer") == ""
    with pytest.raises(ValidationError, match="container_type"):
        service.get_logs("my-ep", "blue", 10, container_type="../etc")
    with pytest.raises(ValidationError, match="lines"):
        service.get_logs("my-ep", "blue", -1)


def test_invoke_names_an_existing_deployment_and_raises_on_error_statuses(service: EndpointService, code: Path) -> None:
    from openaml.errors import ScoringError
    from openaml.services.endpoint_runtime import Answer

    service.create_or_update(ManagedOnlineEndpoint(name="my-ep"))
    with pytest.raises(NotFoundError, match="deployment 'ghost'"):
        service.invoke("my-ep", b"{}", deployment_name="ghost")
    assert service.invoke("my-ep", b"{}") == "[1]"
    path, _, headers = service.host.posts[-1]
    assert path == "/score" and headers["Authorization"] == f"Bearer {service.get_keys('my-ep').primary_key}"
    service.host.answer = Answer(429, b'{"message": "Too many pending requests"}', {})
    with pytest.raises(ScoringError, match="429") as err:
        service.invoke("my-ep", b"{}")
    assert err.value.status_code == 429


def test_delete_stops_the_router_and_forgets_everything(service: EndpointService, code: Path) -> None:
    service.create_or_update(ManagedOnlineEndpoint(name="my-ep"))
    service.create_or_update_deployment(deployment(code))
    record = service.store.get_endpoint("my-ep")
    service.store.set_runtime("my-ep", {"pid": 1, "port": 2, "token": "0" * 32})
    service.delete("my-ep")
    assert service.host.stopped and service.store.get_endpoint("my-ep") is None
    assert service.store.list_deployments("my-ep") == [] and record is not None
    with pytest.raises(NotFoundError):
        service.get("my-ep")


def test_over_a_server_endpoints_say_they_need_the_workspace_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_home(tmp_path, monkeypatch, host_python=True)
    client = MLClient(workspace_name="remote", server="http://127.0.0.1:9")
    with pytest.raises(ValidationError, match="online endpoints works on a workspace opened in this process"):
        client.online_endpoints.list()
    with pytest.raises(ValidationError, match="online deployments"):
        client.online_deployments.get("blue", "my-ep")


def test_log_tails_are_bounded(tmp_path: Path) -> None:
    from openaml.services.endpoints import MAX_LOG_BYTES, tail

    log = tmp_path / "big.log"
    with open(log, "wb") as fh:
        for i in range(300_000):
            fh.write(f"line {i:09d} ".encode() + b"x" * 50 + b"\n")
    assert tail(log, 2) == "line 000299998 " + "x" * 50 + "\nline 000299999 " + "x" * 50 + "\n"
    everything = tail(log, 10**12)
    assert len(everything.encode()) <= MAX_LOG_BYTES and everything.endswith("x\n")
    assert len(tail(log, 0).encode()) <= MAX_LOG_BYTES
    assert tail(tmp_path / "missing.log", 5) == ""


def test_kubernetes_endpoints_and_deployments_are_kept_as_such(service: EndpointService, code: Path) -> None:
    service.create_or_update(KubernetesOnlineEndpoint(name="k8s-ep", compute="azureml:k8s", auth_mode="key"))
    found = service.get("k8s-ep")
    assert isinstance(found, KubernetesOnlineEndpoint) and found.compute == "azureml:k8s"
    service.create_or_update_deployment(KubernetesOnlineDeployment(
        name="blue", endpoint_name="k8s-ep", environment=HOST_ENV, instance_count=1,
        code_configuration=CodeConfiguration(code=str(code), scoring_script="score.py")))
    assert isinstance(service.get_deployment("k8s-ep", "blue"), KubernetesOnlineDeployment)
    assert [type(e).__name__ for e in service.list()] == ["KubernetesOnlineEndpoint"]
