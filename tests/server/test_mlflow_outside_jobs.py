"""A stock MLflow client outside any job, against a real ``openaml server start`` on loopback:
a job submitted with ``MLClient(server=...)`` logs to its own endpoint; the newest 3.x client
and the oldest supported 2.x client then read it through the workspace's ``mlflow_tracking_uri``
(``mlflow.get_run(<job name>)``, search, metric histories, artifact downloads), and register its
model, which the workspace then lists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from openaml import MLClient, command
from openaml.entities import Environment, Workspace
from openaml.rest.paths import WorkspaceScope

from tests.conformance.test_clients import _clients
from tests.emulators import free_port, tethered

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("mlflow_outside_client.py")
TRAIN = """
import os, mlflow
mlflow.log_param("alpha", 0.5)
for step in range(4):
    mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
mlflow.log_metric("accuracy", 0.93)
mlflow.set_tag("stage", "outside")
os.makedirs("model", exist_ok=True)
open("model/MLmodel", "w").write("flavors:\\n  python_function:\\n    loader_module: mlflow.pyfunc.model\\n")
open("model/weights.bin", "w").write("w")
mlflow.log_artifacts("model", artifact_path="model")
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """``openaml server start`` in a process of its own, on a free loopback port."""
    port = free_port()
    env = {**os.environ, "OPENAML_HOME": str(tmp_path / "home"), "OPENAML_ALLOW_HOST_PYTHON": "1",
           "OPENAML_CONTAINER_RUNTIME": "none", "OPENAML_POOL": "off"}
    log = tmp_path / "server.log"
    cli = [sys.executable, "-c", "from openaml.cli.main import main; main()"]
    with open(log, "wb") as out:
        process = subprocess.Popen(tethered([*cli, "server", "start", "--port", str(port), "--log-level", "warning"]),
                                   stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"the server did not start:\n{log.read_text()}"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()  # the tether stops the server, then itself
        process.wait(timeout=30)


def _client_reads(python: str, uri: str, job: str, model: str, workdir: Path) -> dict:
    workdir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "OPENAML_"))}
    env.update(MLFLOW_TRACKING_URI=uri, MLFLOW_TRACKING_TOKEN="not-checked-yet")
    done = subprocess.run([python, str(SCRIPT), job, model, str(workdir)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=workdir)
    assert done.returncode == 0, f"the stock client failed against {uri}:\n{done.stderr[-4000:]}"
    return json.loads((workdir / "result.json").read_text())


def test_stock_clients_read_a_jobs_run_and_register_its_model(server: str, tmp_path: Path):
    client = MLClient(workspace_name="team", server=server)
    client.workspaces.begin_create(Workspace(name="team")).result()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(TRAIN)
    job = client.jobs.create_or_update(command(code=str(tmp_path / "src"), command=f"{sys.executable} train.py",
                                               environment=Environment(image="python:3.11-slim"),
                                               experiment_name="outside"))
    client.jobs.stream(job.name)
    done = client.jobs.get(job.name)
    assert done.status == "Completed", done.error
    uri = client.workspaces.get("team").mlflow_tracking_uri
    assert uri == f"{server}/mlflow/v2.0{WorkspaceScope(workspace='team').base}"

    clients = [(which, python) for which, python in _clients() if python is not None]
    assert [which for which, _ in clients][:1] == ["newest"]
    for which, python in clients:
        model = f"outside-{which}"
        got = _client_reads(python, uri, job.name, model, tmp_path / which)
        assert got["run"] == {"run_id": job.name, "status": "FINISHED", "experiment": "outside", "stage": "outside",
                              "metrics": {"loss": 0.25, "accuracy": 0.93}, "params": {"alpha": "0.5"}}, which
        assert got["search"] == [job.name] and got["search_none"] == 0
        assert got["history"] == [[0, 1.0], [1, 0.5], [2, 1 / 3], [3, 0.25]]
        assert got["artifacts"] == ["model/MLmodel", "model/weights.bin"]
        assert got["downloaded"]["weights.bin"] == "w" and "python_function" in got["downloaded"]["MLmodel"]
        assert got["registered"] == {"name": model, "version": "1", "run_id": job.name}
        assert got["read_back"] == {"name": model, "version": "1", "run_id": job.name, "source_ok": True}
        assert got["latest"] == ["1"]
        # MLflow 2's client adds a file of its own to what it downloads from models:/
        assert {k: v for k, v in got["registry_files"].items() if k != "registered_model_meta"} == got["downloaded"]
        registered = client.models.get(model, "1")  # the workspace's model, seen by the SDK
        assert registered.job_name == job.name and registered.type == "mlflow_model"
    if len(clients) < 2:
        pytest.skip("only the newest client ran: scripts/test.sh puts mlflow-skinny 2.10 in .venv-mlflow-client-2")
    client.close()


def test_a_stock_clients_token_arrives_as_a_bearer_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``MLFLOW_TRACKING_TOKEN`` is what a stock client sends as ``Authorization: Bearer``, on
    tracking and artifact requests alike, to the app-wide seam where tokens will be checked."""
    from openaml.server import ServerSettings, create_app
    from openaml.server.testing import serve_in_thread
    from openaml.services.settings import Settings
    from openaml.services.workspaces import WorkspaceService

    settings = Settings.from_env(home=str(tmp_path / "home"))
    service = WorkspaceService(settings)
    service.create(Workspace(name="team"))
    service.close()
    app = create_app(ServerSettings(workspace_settings=settings))
    seen: list[tuple[str, str | None]] = []

    @app.middleware("http")
    async def record(request, call_next):
        seen.append((request.url.path, request.headers.get("authorization")))
        return await call_next(request)

    script = ("import mlflow\n"
              "with mlflow.start_run() as run:\n"
              "    mlflow.log_metric('m', 1.0)\n"
              "    mlflow.log_text('hello', 'a.txt')\n"
              "print(mlflow.artifacts.load_text(run.info.artifact_uri + '/a.txt'))\n")
    with serve_in_thread(app) as url:
        uri = f"{url}/mlflow/v2.0{WorkspaceScope(workspace='team').base}"
        for which, python in _clients():
            if python is None:
                continue
            seen.clear()
            env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
            env.update(MLFLOW_TRACKING_URI=uri, MLFLOW_TRACKING_TOKEN=f"tok-{which}")
            done = subprocess.run([python, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                                  cwd=tmp_path)
            assert done.returncode == 0 and done.stdout.strip().endswith("hello"), done.stderr[-3000:]
            paths = {path.split("/workspaces/team", 1)[1].split("/", 4)[-2] for path, _ in seen}
            assert {"mlflow", "mlflow-artifacts"} <= paths, seen
            assert {auth for _, auth in seen} == {f"Bearer tok-{which}"}, (which, seen)
    app.state.openaml.close()
