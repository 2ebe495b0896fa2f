"""A stock MLflow client outside any job, against a real ``openaml server start`` on loopback,
which checks tokens (its default): a job submitted with ``MLClient(server=...)`` and an Owner's
token logs to its own endpoint (inside the agent, no token needed); the newest 3.x client and the
oldest supported 2.x client then read it through the workspace's ``mlflow_tracking_uri`` with the
Owner's token in ``MLFLOW_TRACKING_TOKEN`` (``mlflow.get_run(<job name>)``, search, metric
histories, artifact downloads), and register its model, which the workspace then lists. And what
the stock clients do, and print, with a Reader's token, another workspace's, or none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from openaml import MLClient, command
from openaml.entities import Environment, Workspace
from openaml.rest.paths import WorkspaceScope

from tests.conformance.test_clients import _clients
from tests.emulators import free_port, tethered
from tests.helpers import StaticToken, issue_token

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("mlflow_outside_client.py")
TOKEN_SCRIPT = Path(__file__).with_name("mlflow_token_client.py")
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


@dataclass(frozen=True)
class Served:
    """A running server: its URL and its home (where tests issue tokens, as ``openaml server token
    create`` on the server's machine does)."""

    url: str
    home: Path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    """``openaml server start`` in a process of its own, on a free loopback port, with tokens."""
    port = free_port()
    home = tmp_path / "home"
    env = {**os.environ, "OPENAML_HOME": str(home), "OPENAML_ALLOW_HOST_PYTHON": "1",
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
        yield Served(url, home)
    finally:
        process.terminate()  # the tether stops the server, then itself
        process.wait(timeout=30)


def _client_env(uri: str, token: str | None) -> dict[str, str]:
    """A stock client's environment: the tracking URI and, when given, the token it sends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "OPENAML_"))}
    env.update(MLFLOW_TRACKING_URI=uri, MLFLOW_DISABLE_TELEMETRY="true")
    if token is not None:
        env["MLFLOW_TRACKING_TOKEN"] = token
    return env


def _client_reads(python: str, uri: str, token: str, job: str, model: str, workdir: Path) -> dict:
    workdir.mkdir(parents=True)
    env = _client_env(uri, token)
    done = subprocess.run([python, str(SCRIPT), job, model, str(workdir)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=workdir)
    assert done.returncode == 0, f"the stock client failed against {uri}:\n{done.stderr[-4000:]}"
    return json.loads((workdir / "result.json").read_text())


def test_stock_clients_read_a_jobs_run_and_register_its_model(server: Served, tmp_path: Path):
    admin = MLClient(StaticToken(issue_token(server.home, "admin")), workspace_name="team", server=server.url)
    admin.workspaces.begin_create(Workspace(name="team")).result()  # the administrator's
    admin.close()
    owner = issue_token(server.home, "owner", "team")
    client = MLClient(StaticToken(owner), workspace_name="team", server=server.url)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(TRAIN)
    job = client.jobs.create_or_update(command(code=str(tmp_path / "src"), command=f"{sys.executable} train.py",
                                               environment=Environment(image="python:3.11-slim"),
                                               experiment_name="outside"))
    client.jobs.stream(job.name)
    done = client.jobs.get(job.name)
    assert done.status == "Completed", done.error
    uri = client.workspaces.get("team").mlflow_tracking_uri
    assert uri == f"{server.url}/mlflow/v2.0{WorkspaceScope(workspace='team').base}"

    clients = [(which, python) for which, python in _clients() if python is not None]
    assert [which for which, _ in clients][:1] == ["newest"]
    for which, python in clients:
        model = f"outside-{which}"
        got = _client_reads(python, uri, owner, job.name, model, tmp_path / which)
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


def _token_client(python: str, uri: str, token: str | None, run_id: str, cwd: Path) -> dict:
    done = subprocess.run([python, str(TOKEN_SCRIPT), run_id], capture_output=True, text=True,
                          env=_client_env(uri, token), timeout=180, cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_stock_clients_send_mlflow_tracking_token_and_roles_apply(tmp_path: Path):
    """``MLFLOW_TRACKING_TOKEN`` is what a stock client sends as ``Authorization: Bearer``, on
    tracking and artifact requests alike: an Owner logs and reads; a Reader searches, reads
    histories and downloads artifacts, and is refused logging (PERMISSION_DENIED, printed as
    such); without a token every call says UNAUTHENTICATED and names the variable; a token of
    another workspace finds nothing there (RESOURCE_DOES_NOT_EXIST)."""
    from openaml.server import ServerSettings, create_app
    from openaml.server.testing import serve_in_thread
    from openaml.services.settings import Settings
    from openaml.services.workspaces import WorkspaceService

    settings = Settings.from_env(home=str(tmp_path / "home"))
    service = WorkspaceService(settings)
    for name in ("team", "other"):
        service.create(Workspace(name=name))
    service.close()
    tokens = {"owner": issue_token(settings.home, "owner", "team"),
              "reader": issue_token(settings.home, "reader", "team"),
              "other-owner": issue_token(settings.home, "owner", "other")}
    app = create_app(ServerSettings(workspace_settings=settings))
    clients = [(which, python) for which, python in _clients() if python is not None]
    with serve_in_thread(app) as url:
        uri = f"{url}/mlflow/v2.0{WorkspaceScope(workspace='team').base}"
        for which, python in clients:
            owner = _token_client(python, uri, tokens["owner"], "-", tmp_path)
            assert all("ok" in step for step in owner.values()), (which, owner)
            run_id = owner["log"]["ok"]
            assert run_id in owner["search"]["ok"] and owner["history"]["ok"] == [1.0]
            assert owner["artifact"]["ok"] == "hello", (which, owner)

            reader = _token_client(python, uri, tokens["reader"], run_id, tmp_path)
            assert run_id in reader["search"]["ok"], (which, reader)
            assert reader["history"]["ok"] == [1.0, 2.0] and reader["artifact"]["ok"] == "hello", (which, reader)
            for step in ("log", "log_metric"):  # MLflow's RestException, as the client prints it
                assert "PERMISSION_DENIED: token" in reader[step]["error"], (which, step, reader[step])
                assert "workspaces/experiments/runs/write" in reader[step]["error"]
            assert "403" in reader["log_artifact"]["error"] and "PERMISSION_DENIED" in reader["log_artifact"]["error"]

            anonymous = _token_client(python, uri, None, run_id, tmp_path)
            for step, result in anonymous.items():
                assert "UNAUTHENTICATED: Authentication failed" in result["error"], (which, step, result)
                assert "MLFLOW_TRACKING_TOKEN" in result["error"], (which, step, result)

            elsewhere = _token_client(python, uri, tokens["other-owner"], run_id, tmp_path)
            for step, result in elsewhere.items():
                assert "RESOURCE_DOES_NOT_EXIST: No workspace named 'team'" in result["error"], (which, step, result)
            assert not any(token in json.dumps([owner, reader, anonymous, elsewhere]) for token in tokens.values())
    app.state.openaml.close()
    if len(clients) < 2:
        pytest.skip("only the newest client ran: scripts/test.sh puts mlflow-skinny 2.10 in .venv-mlflow-client-2")
