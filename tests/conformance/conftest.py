"""Two servers for the whole session: a stock ``mlflow server`` (the reference) and openaml's
tracking endpoint, each on loopback with a store of its own.

The reference runs from a venv of its own with the full ``mlflow`` package (``scripts/test.sh``
makes it at ``.venv-mlflow``; ``OPENAML_MLFLOW_REFERENCE`` names another interpreter). Without
one, the conformance tests are skipped with that reason printed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance.harness import Side

ROOT = Path(__file__).resolve().parents[2]


def reference_python() -> Path | None:
    """The interpreter whose ``mlflow`` serves as the reference, or None."""
    named = os.environ.get("OPENAML_MLFLOW_REFERENCE")
    candidate = Path(named) if named else ROOT / ".venv-mlflow" / "bin" / "python"
    return candidate if candidate.is_file() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"mlflow server did not answer /health within {timeout:.0f} s:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def reference_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    python = reference_python()
    if python is None:
        pytest.skip("no reference MLflow server: scripts/test.sh installs the full mlflow package "
                    "in .venv-mlflow (or set OPENAML_MLFLOW_REFERENCE to a Python that has it)")
    folder = tmp_path_factory.mktemp("mlflow-reference")
    port = _free_port()
    log = folder / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(python), "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
             "--artifacts-destination", str(folder / "artifacts")],
            stdout=out, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True,
            # No job runner (MLflow 3 starts worker processes for GenAI jobs) and no telemetry:
            # the reference answers the same requests at a fraction of the CPU.
            env={**os.environ, "MLFLOW_ENABLE_WORKSPACES": "false", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                 "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        # The server's own process group (uvicorn or gunicorn and their workers), nothing else.
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def openaml_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint a job's agent serves (the same function builds it), on a fresh workspace:
    runs, logged models and MLflow's model registry over the workspace's models."""
    from openaml import MLClient
    from openaml.backends.local.agent import tracking_server_for
    from openaml.entities import Workspace

    client = MLClient(workspace_name="conformance", openaml_home=str(tmp_path_factory.mktemp("openaml-home")))
    client.workspaces.begin_create(Workspace(name="conformance")).result()
    with tracking_server_for(client._context()) as server:
        yield server.url
    client.close()


@pytest.fixture
def sides(reference_url: str, openaml_url: str) -> tuple[Side, Side]:
    """Fresh observation lists on the session's two servers: (MLflow, openaml)."""
    return Side("mlflow", reference_url), Side("openaml", openaml_url)


def pytest_report_header(config: pytest.Config) -> str:
    python = reference_python()
    return f"MLflow reference server: {python or 'none (conformance tests skip)'} ({sys.version.split()[0]} here)"
