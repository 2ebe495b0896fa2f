"""Online endpoints served for real: routers and workers on this machine, real models.

Each test deploys on a fresh home; the ``ml_client`` fixture deletes every endpoint afterwards
and checks by process token that nothing is left running.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from openaml.entities import (CodeConfiguration, ManagedOnlineDeployment, ManagedOnlineEndpoint, Model,
                              OnlineRequestSettings, ProbeSettings)
from openaml.errors import DeploymentFailedError, ScoringError

from tests.endpoints.conftest import HOST_ENV, endpoint_pids
from tests.endpoints.scripts import light_code, raw_code, schema_code, sklearn_model

pytestmark = pytest.mark.slow


def deploy(client, name: str, code: Path, *, endpoint: str = "my-ep", model: Path | None = None,
           env: dict[str, str] | None = None, **kw) -> ManagedOnlineDeployment:
    deployment = ManagedOnlineDeployment(
        name=name, endpoint_name=endpoint, environment=HOST_ENV,
        model=Model(path=str(model)) if model else None, environment_variables=env or {},
        code_configuration=CodeConfiguration(code=str(code), scoring_script="score.py"), **kw)
    return client.online_deployments.begin_create_or_update(deployment).result()


def caller(client, endpoint: str = "my-ep") -> tuple[httpx.Client, str]:
    found = client.online_endpoints.get(endpoint)
    key = client.online_endpoints.get_keys(endpoint).primary_key
    return httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30), found.scoring_uri


def token_of(client, endpoint: str = "my-ep") -> str:
    return client._backend.endpoint_service().store.get_endpoint(endpoint).runtime["token"]


def scored(client, deployment: str, endpoint: str = "my-ep") -> int:
    return client.online_deployments.get_logs(deployment, endpoint, lines=0).count("scored")


def test_blue_green_split_and_mirror_with_scikit_learn_models(ml_client, tmp_path: Path) -> None:
    blue_model, blue_code = sklearn_model(tmp_path / "blue", [1.0, 2.0, 3.0])
    green_model, green_code = sklearn_model(tmp_path / "green", [3.0, 2.0, 1.0])
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    blue = deploy(ml_client, "blue", blue_code, model=blue_model, instance_count=1)
    assert blue.provisioning_state == "Succeeded"
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep", traffic={"blue": 100})).result()
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"data": [[1, 0, 0]]}))
    assert json.loads(ml_client.online_endpoints.invoke("my-ep", request_file=str(request))) == pytest.approx([1.0])

    deploy(ml_client, "green", green_code, model=green_model, instance_count=1)
    assert ml_client.online_endpoints.get("my-ep").traffic == {"blue": 100, "green": 0}
    answer = ml_client.online_endpoints.invoke("my-ep", request_file=str(request), deployment_name="green")
    assert json.loads(answer) == pytest.approx([3.0])

    ml_client.online_endpoints.begin_update_traffic("my-ep", traffic={"blue": 90, "green": 10}).result()
    http, uri = caller(ml_client)
    seen = {"blue": 0, "green": 0}
    with http:
        for _ in range(2000):
            response = http.post(uri, json={"data": [[1, 0, 0]]})
            assert response.status_code == 200
            name = response.headers["azureml-model-deployment"]
            seen[name] += 1
            assert response.json() == pytest.approx([1.0 if name == "blue" else 3.0])
    assert 140 <= seen["green"] <= 260, seen  # 10% of 2,000 within 3 points

    ml_client.online_endpoints.begin_update_traffic("my-ep", traffic={"blue": 100, "green": 0},
                                                    mirror_traffic={"green": 20}).result()
    before = scored(ml_client, "green")
    http, uri = caller(ml_client)
    with http:
        for _ in range(500):
            response = http.post(uri, json={"data": [[1, 0, 0]]})
            assert response.headers["azureml-model-deployment"] == "blue"
            assert response.json() == pytest.approx([1.0])  # never green's 3.0
    deadline, copies = time.monotonic() + 20, -1
    while time.monotonic() < deadline:  # copies are sent after the answers; wait until they stop coming
        now = scored(ml_client, "green") - before
        if now == copies:
            break
        copies = now
        time.sleep(0.5)
    assert 60 <= copies <= 140, copies  # 20% of 500 within 8 points


def test_a_killed_worker_comes_back_and_delete_leaves_no_process(ml_client, tmp_path: Path) -> None:
    code = light_code(tmp_path)
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    deploy(ml_client, "blue", code, env={"LABEL": "blue"}, instance_count=2,
           liveness_probe=ProbeSettings(period=1, failure_threshold=2, timeout=1))
    ml_client.online_endpoints.begin_update_traffic("my-ep", traffic={"blue": 100}).result()
    http, uri = caller(ml_client)
    token = token_of(ml_client)
    pids = {http.post(uri, json={}).json()["pid"] for _ in range(40)}
    assert len(pids) == 2  # both instances serve
    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    fresh: set[int] = set()
    while time.monotonic() < deadline and len(fresh - pids) == 0:
        response = http.post(uri, json={})
        if response.status_code == 200:
            fresh.add(response.json()["pid"])
    assert fresh - pids, "the killed instance was not replaced"
    assert victim not in fresh and not psutil.pid_exists(victim)
    processes = endpoint_pids([token])
    assert len(processes) == 3  # the router and two workers
    ml_client.online_endpoints.begin_delete("my-ep").result()
    assert endpoint_pids([token]) == []
    assert not any(psutil.pid_exists(p) for p in processes)


def test_keys_are_checked_and_a_regenerated_key_replaces_the_old_one_at_once(ml_client, tmp_path: Path) -> None:
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    deploy(ml_client, "blue", light_code(tmp_path))
    ml_client.online_endpoints.begin_update_traffic("my-ep", traffic={"blue": 100}).result()
    uri = ml_client.online_endpoints.get("my-ep").scoring_uri
    keys = ml_client.online_endpoints.get_keys("my-ep")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": keys.primary_key},
                    {"Authorization": "Bearer " + keys.primary_key[:-1]}, {"Authorization": "Basic abc"}):
        response = httpx.post(uri, json={}, headers=headers)
        assert response.status_code == 401, headers
        assert "Unauthorized" in response.json()["message"] and keys.primary_key not in response.text
    for key in (keys.primary_key, keys.secondary_key):
        assert httpx.post(uri, json={}, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    ml_client.online_endpoints.begin_regenerate_keys("my-ep", key_type="primary").result()
    assert httpx.post(uri, json={}, headers={"Authorization": f"Bearer {keys.primary_key}"}).status_code == 401
    new = ml_client.online_endpoints.get_keys("my-ep").primary_key
    assert httpx.post(uri, json={}, headers={"Authorization": f"Bearer {new}"}).status_code == 200
    logs = ml_client.online_deployments.get_logs("blue", "my-ep", lines=1000)
    assert new not in logs and keys.primary_key not in logs


def test_timeout_is_408_and_requests_beyond_the_queue_are_429(ml_client, tmp_path: Path) -> None:
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    deploy(ml_client, "blue", light_code(tmp_path), instance_count=1,
           request_settings=OnlineRequestSettings(request_timeout_ms=1500, max_concurrent_requests_per_instance=1,
                                                  max_queue_wait_ms=3000))
    ml_client.online_endpoints.begin_update_traffic("my-ep", traffic={"blue": 100}).result()
    http, uri = caller(ml_client)
    started = time.monotonic()
    response = http.post(uri, json={"sleep": 3})
    assert response.status_code == 408 and "request_timeout_ms" in response.json()["message"]
    assert time.monotonic() - started < 2.9
    # one running and one waiting (2 * 1 * 1) are accepted; the rest are refused at once
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda _: httpx.post(uri, json={"sleep": 1}, headers=http.headers, timeout=30).status_code,
                              range(6)))
    assert codes.count(429) >= 3 and 200 in codes, codes
    with pytest.raises(ScoringError) as err:
        request = tmp_path / "slow.json"
        request.write_text(json.dumps({"sleep": 3}))
        ml_client.online_endpoints.invoke("my-ep", request_file=str(request))
    assert err.value.status_code == 408


def test_a_deployment_that_never_becomes_ready_is_failed_with_its_log(ml_client, tmp_path: Path) -> None:
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    code = light_code(tmp_path)
    with pytest.raises(DeploymentFailedError) as err:
        deploy(ml_client, "broken", code, env={"FAIL_INIT": "1"})
    assert "init failed on purpose" in str(err.value) and "exited" in str(err.value)
    assert ml_client.online_deployments.get("broken", "my-ep").provisioning_state == "Failed"
    started = time.monotonic()
    with pytest.raises(DeploymentFailedError, match="readiness probe within 2 s"):
        deploy(ml_client, "hangs", code, env={"HANG_INIT": "1"},
               readiness_probe=ProbeSettings(initial_delay=0, period=1, failure_threshold=2, timeout=1))
    assert time.monotonic() - started < 15
    assert "Invoking user's init" in ml_client.online_deployments.get_logs("hangs", "my-ep", lines=5)
    assert "model" in ml_client.online_deployments.get_logs("broken", "my-ep", 50, container_type="storage-initializer") \
        or "environment" in ml_client.online_deployments.get_logs("broken", "my-ep", 50,
                                                                  container_type="storage-initializer")


def test_hostile_requests_get_clear_statuses(ml_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAML_ENDPOINT_MAX_BODY_BYTES", str(1 << 20))  # read when the router starts
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    deploy(ml_client, "blue", light_code(tmp_path), env={"LABEL": "blue"})
    http, uri = caller(ml_client)
    assert http.post(uri, json={}).status_code == 404  # no deployment takes traffic yet
    assert http.post(uri, json={}, headers={"azureml-model-deployment": "blue"}).status_code == 200
    assert http.post(uri, json={}, headers={"azureml-model-deployment": "../blue"}).status_code == 404
    ml_client.online_endpoints.begin_update_traffic("my-ep", traffic={"blue": 100}).result()
    base = uri.rsplit("/", 1)[0]
    for path in ("/../etc/passwd", "/%2e%2e/score", "/.openaml/reload", "/.openaml/stop", "/score/../x"):
        assert http.post(base + path, json={}).status_code in (401, 404), path
    assert http.post(uri, content=b"x" * (2 << 20)).status_code == 413
    big = http.post(uri, json={"echo": "y" * (900 << 10)})
    assert big.status_code == 200 and len(big.json()["echo"]) == 900 << 10
    assert http.post(uri, content=b"not json").status_code == 424  # the script's run() raised: a model error
    import socket
    port = int(uri.split(":")[2].split("/")[0])
    for raw in (b"GARBAGE\r\n\r\n", b"POST /score HTTP/1.1\r\ncontent-length: -1\r\n\r\n",
                b"POST /score HTTP/1.1\r\nX" + b"a" * 70000 + b": b\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(raw)
            assert sock.recv(100).split(b" ")[1] in (b"400", b"431"), raw[:40]
    assert http.post(uri, json={}).status_code == 200  # still serving


def test_scoring_contract_paths_and_raw_mode(ml_client, tmp_path: Path) -> None:
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    model = tmp_path / "weights"
    (model / "sub").mkdir(parents=True)
    (model / "sub" / "w.txt").write_text("1")
    deploy(ml_client, "blue", light_code(tmp_path), model=model)
    deploy(ml_client, "rawmode", raw_code(tmp_path))
    ml_client.online_endpoints.begin_update_traffic("my-ep", traffic={"blue": 100}).result()
    http, uri = caller(ml_client)
    seen = http.post(uri, json={}).json()
    model_dir = Path(seen["model_dir"])
    assert model_dir.parts[-3:] == ("azureml-models", "model", "1")
    assert (model_dir / "weights" / "sub" / "w.txt").read_text() == "1"
    stored = model_dir / "weights" / "sub" / "w.txt"
    assert stored.stat().st_mode & 0o222 == 0 and (model_dir / "weights").stat().st_mode & 0o222 == 0  # read-only
    if os.geteuid() != 0:  # permission bits do not bind root
        with pytest.raises(PermissionError):
            (model_dir / "weights" / "new.txt").write_text("x")
    assert seen["entry"] == "score.py" and Path(seen["app_root"], "score.py").is_file()
    swagger = http.get(uri.replace("/score", "/swagger.json"))
    assert swagger.status_code == 424  # undecorated run(): the worker has no swagger (404), a model error here
    raw = http.post(uri, content=b"abc", headers={"azureml-model-deployment": "rawmode", "X-Test": "t"})
    assert raw.status_code == 200 and raw.content == b"cba" and raw.headers["x-seen"] == "t"
    assert raw.headers["content-type"] == "application/octet-stream"


def test_an_endpoint_survives_its_router_dying(ml_client, tmp_path: Path) -> None:
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    deploy(ml_client, "blue", light_code(tmp_path), instance_count=1)
    ml_client.online_endpoints.begin_update_traffic("my-ep", traffic={"blue": 100}).result()
    record = ml_client._backend.endpoint_service().store.get_endpoint("my-ep")
    old_token, router = record.runtime["token"], record.runtime["pid"]
    old_processes = endpoint_pids([old_token])
    os.kill(router, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while psutil.pid_exists(router) and psutil.Process(router).status() != psutil.STATUS_ZOMBIE \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    listed = ml_client.online_endpoints.list()
    assert [e.provisioning_state for e in listed] == ["Creating"]  # list tells the truth: nothing serves it
    endpoint = ml_client.online_endpoints.get("my-ep")  # starts a router again
    assert endpoint.provisioning_state == "Succeeded"
    assert endpoint_pids([old_token]) == [] and not any(psutil.pid_exists(p) and psutil.Process(p).status()
                                                        != psutil.STATUS_ZOMBIE for p in old_processes)
    deployment = ml_client._backend.endpoint_service().wait_deployment("my-ep", "blue", timeout=60)
    assert deployment.state == "Succeeded"
    request = tmp_path / "r.json"
    request.write_text("{}")
    assert json.loads(ml_client.online_endpoints.invoke("my-ep", request_file=str(request)))["deployment"] == "?"


def test_an_mlflow_model_deploys_with_no_code(ml_client, tmp_path: Path) -> None:
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    import numpy as np
    from sklearn.linear_model import LinearRegression

    features = np.random.default_rng(1).random((100, 2))
    model = LinearRegression().fit(features, features @ np.array([2.0, -1.0]))
    mlflow_sklearn.save_model(model, str(tmp_path / "mlflow-model"), serialization_format="cloudpickle")
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    deployment = ManagedOnlineDeployment(name="mlflow", endpoint_name="my-ep", environment=HOST_ENV,
                                         model=Model(path=str(tmp_path / "mlflow-model"), type="mlflow_model"))
    ml_client.online_deployments.begin_create_or_update(deployment).result()
    ml_client.online_endpoints.begin_update_traffic("my-ep", traffic={"mlflow": 100}).result()
    http, uri = caller(ml_client)
    azure = http.post(uri, json={"input_data": {"columns": [0, 1], "index": [0, 1], "data": [[1, 0], [0, 1]]}})
    assert azure.status_code == 200 and azure.json() == pytest.approx([2.0, -1.0])
    split = http.post(uri, json={"dataframe_split": {"columns": [0, 1], "data": [[1, 1]]}})
    assert split.status_code == 200 and split.json()["predictions"] == pytest.approx([1.0])
    assert http.post(uri, json={"nothing": 1}).status_code == 424


def test_inference_schema_decorators_and_swagger(ml_client, tmp_path: Path) -> None:
    pytest.importorskip("inference_schema")
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    deploy(ml_client, "schema", schema_code(tmp_path))
    ml_client.online_endpoints.begin_update_traffic("my-ep", traffic={"schema": 100}).result()
    http, uri = caller(ml_client)
    assert http.post(uri, json={"data": [[1, 2], [3, 4]]}).json() == [3, 7]
    assert http.post(uri, json={"data": [[1, 2]], "scale": 10}).json() == [30]
    missing = http.post(uri, json={"other": 1})
    assert missing.status_code == 424 and "data" in missing.json()["message"]
    assert http.post(uri, content=b"[1]", headers={"content-type": "text/plain"}).status_code == 424
    endpoint = ml_client.online_endpoints.get("my-ep")
    swagger = http.get(endpoint.openapi_uri)
    assert swagger.status_code == 200 and swagger.json()["swagger"] == "2.0"
    assert "/score" in swagger.json()["paths"]
    assert http.get(endpoint.openapi_uri, params={"version": "3"}).json()["openapi"].startswith("3.")


def test_target_utilization_adds_and_removes_workers(ml_client, tmp_path: Path) -> None:
    from openaml.entities import TargetUtilizationScaleSettings

    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    deploy(ml_client, "blue", light_code(tmp_path), instance_count=1,
           scale_settings=TargetUtilizationScaleSettings(min_instances=1, max_instances=3, polling_interval=1,
                                                         target_utilization_percentage=50),
           request_settings=OnlineRequestSettings(max_concurrent_requests_per_instance=1, request_timeout_ms=10000,
                                                  max_queue_wait_ms=10000))
    ml_client.online_endpoints.begin_update_traffic("my-ep", traffic={"blue": 100}).result()
    http, uri = caller(ml_client)
    token = token_of(ml_client)
    assert len(endpoint_pids([token])) == 2  # the router and one worker
    pids: set[int] = set()
    deadline = time.monotonic() + 40

    def busy(_: int) -> None:
        while time.monotonic() < deadline and len(pids) < 3:
            response = httpx.post(uri, json={"sleep": 0.3}, headers=http.headers, timeout=30)
            if response.status_code == 200:
                pids.add(response.json()["pid"])
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(busy, range(4)))
    assert len(pids) == 3, pids  # three workers answered under load
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(endpoint_pids([token])) > 2:
        time.sleep(0.5)
    assert len(endpoint_pids([token])) == 2  # back to min_instances once idle
    assert http.post(uri, json={}).status_code == 200


def test_a_worker_whose_router_is_killed_exits_by_itself(ml_client, tmp_path: Path) -> None:
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    deploy(ml_client, "blue", light_code(tmp_path))
    token = token_of(ml_client)
    router = ml_client._backend.endpoint_service().store.get_endpoint("my-ep").runtime["pid"]
    workers = [p for p in endpoint_pids([token]) if p != router]
    assert len(workers) == 1
    os.kill(router, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                                              for p in workers):
        time.sleep(0.2)
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in workers)


def test_two_clients_restarting_a_router_at_once_get_one_router(ml_client, tmp_path: Path) -> None:
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    record = ml_client._backend.endpoint_service().store.get_endpoint("my-ep")
    os.kill(record.runtime["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while psutil.pid_exists(record.runtime["pid"]) and psutil.Process(record.runtime["pid"]).status() != \
            psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    from openaml import MLClient
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        uris = list(pool.map(lambda _: MLClient(workspace_name="ep").online_endpoints.get("my-ep").scoring_uri, range(3)))
    assert len(set(uris)) == 1
    routers = [p for p in psutil.process_iter(["cmdline"])
               if "openaml.backends.local.serving.router" in " ".join(p.info["cmdline"] or []) and "my-ep" in
               (p.info["cmdline"] or []) and str(tmp_path) in " ".join(p.environ().get("OPENAML_HOME", "") for _ in [0])]
    assert len(routers) == 1


def test_ml_client_create_or_update_takes_endpoints_and_deployments(ml_client, tmp_path: Path) -> None:
    endpoint = ml_client.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    assert endpoint.provisioning_state == "Succeeded" and endpoint.scoring_uri.endswith("/score")
    deployment = ml_client.create_or_update(ManagedOnlineDeployment(
        name="blue", endpoint_name="my-ep", environment=HOST_ENV, code_path=str(light_code(tmp_path)),
        scoring_script="score.py"))
    assert deployment.provisioning_state == "Succeeded"
    assert [d.name for d in ml_client.online_deployments.list("my-ep")] == ["blue"]
    with pytest.raises(TypeError, match="unexpected keyword argument 'deployment'"):
        ml_client.online_deployments.get("blue", "my-ep", deployment="x")


def test_an_update_replaces_the_workers_without_failing_a_request(ml_client, tmp_path: Path) -> None:
    import threading

    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="my-ep")).result()
    model = tmp_path / "weights"
    model.mkdir()
    (model / "w.txt").write_text("1")
    deploy(ml_client, "blue", light_code(tmp_path), model=model, env={"LABEL": "one"})
    ml_client.online_endpoints.begin_update_traffic("my-ep", traffic={"blue": 100}).result()
    http, uri = caller(ml_client)
    statuses: list[int] = []
    labels: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(headers=http.headers, timeout=30) as client:
            while not stop.is_set():
                response = client.post(uri, json={})
                statuses.append(response.status_code)
                if response.status_code == 200:
                    labels.append(response.json()["deployment"])
    worker = threading.Thread(target=load)
    worker.start()
    try:
        updated = deploy(ml_client, "blue", light_code(tmp_path), model=model, env={"LABEL": "two"})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not labels or labels[-1] != "two"):
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join()
    assert updated.provisioning_state == "Succeeded"
    assert set(statuses) == {200}, sorted(set(statuses))
    assert labels[0] == "one" and labels[-1] == "two"
    versions = [p for p in (Path(os.environ["OPENAML_HOME"]) / "endpoints" / "ep" / "my-ep" / "blue").glob("v*")]
    assert len(versions) == 1  # the previous version's folder is gone once the new one serves
