"""Jobs through the CLI (create --stream, show, download, cancel, errors) and MLflow logging
from inside a job with the stock client."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from openaml.cli.main import cli
from openaml.entities import Model

from tests.helpers import on_both_launches

from .conftest import std_log, wait, write

pytestmark = pytest.mark.slow


@pytest.fixture
def run(ml_client):
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(cli, [*args, "-w", "jobs"], catch_exceptions=False)
        assert result.exit_code == code, result.output + result.stderr
        return result

    return invoke


def _job_yaml(tmp_path: Path, command: str, extra: str = "") -> Path:
    return write(tmp_path / "job.yml", f"""
        $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
        command: {command}
        environment:
          image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04
        display_name: cli-job
        {extra}
        """)


def test_create_stream_show_download(run, tmp_path: Path):
    spec = _job_yaml(tmp_path, "echo streamed-line")
    result = run("job", "create", "-f", str(spec), "--stream")
    assert "streamed-line" in result.stdout and "Execution Summary" in result.stdout
    assert "Streaming user_logs/std_log.txt" in result.stdout
    shown = json.loads(result.stdout[result.stdout.index("\n{") + 1:])
    assert shown["status"] == "Completed" and shown["display_name"] == "cli-job"
    name = shown["name"]
    assert json.loads(run("job", "show", "-n", name).stdout)["status"] == "Completed"
    assert name in run("job", "list", "-o", "table").stdout
    run("job", "download", "-n", name, "-p", str(tmp_path / "dl"))
    assert "streamed-line" in (tmp_path / "dl" / "artifacts" / "user_logs" / "std_log.txt").read_text()
    run("job", "update", "-n", name, "--set", "tags.owner=me")
    assert json.loads(run("job", "show", "-n", name).stdout)["tags"] == {"owner": "me"}
    run("job", "archive", "-n", name)
    assert name not in run("job", "list").stdout
    assert name in run("job", "list", "--include-archived").stdout


def test_create_returns_at_once_and_failure_shows_in_show(run, ml_client, tmp_path: Path):
    spec = _job_yaml(tmp_path, "exit 7")
    name = json.loads(run("job", "create", "-f", str(spec)).stdout)["name"]
    wait(ml_client, name)
    shown = json.loads(run("job", "show", "-n", name).stdout)
    assert shown["status"] == "Failed" and "code 7" in shown["error"]["message"]
    streamed = run("job", "stream", "-n", name, code=1)
    assert "Execution Summary" in streamed.stdout and "Error:" in streamed.stderr


def test_bad_job_files_fail_with_file_field_and_line(run, tmp_path: Path):
    spec = _job_yaml(tmp_path, "python train.py --lr ${{inputs.lr}}")
    result = run("job", "create", "-f", str(spec), code=1)
    assert "inputs.lr" in result.stderr and "job.yml" in result.stderr
    missing = _job_yaml(tmp_path, "ls", "code: ./does-not-exist")
    result = run("job", "create", "-f", str(missing), code=1)
    assert "code" in result.stderr and "does-not-exist" in result.stderr and "job.yml:" in result.stderr


def test_job_validate(run, tmp_path: Path):
    spec = _job_yaml(tmp_path, "echo ${{inputs.x}}", "inputs: {x: 3}")
    assert json.loads(run("job", "validate", "-f", str(spec)).stdout)["result"] == "Succeeded"


MLFLOW_SCRIPT = """
import os, mlflow
mlflow.log_param("alpha", 0.5)
for step in range(5):
    mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
mlflow.log_metrics({"accuracy": 0.93})
mlflow.set_tag("stage", "test")
os.makedirs("model_files", exist_ok=True)
open("model_files/MLmodel", "w").write("flavors:\\n  python_function:\\n    loader_module: mlflow.pyfunc.model\\n")
open("model_files/weights.bin", "w").write("w")
mlflow.log_artifacts("model_files", artifact_path="model")
print("logged")
"""


@on_both_launches
def test_mlflow_logging_lands_in_the_workspace(ml_client, tmp_path: Path):
    pytest.importorskip("mlflow")
    write(tmp_path / "src" / "train.py", MLFLOW_SCRIPT)
    from openaml import command
    from .conftest import HOST_ENV
    job = ml_client.jobs.create_or_update(command(code=str(tmp_path / "src"), command=f"{sys.executable} train.py",
                                                  environment=HOST_ENV, experiment_name="mlflow-exp"))
    done = wait(ml_client, job.name)
    assert done.status == "Completed", done.error
    assert done.metrics == {"loss": pytest.approx(0.2), "accuracy": pytest.approx(0.93)}
    assert done.params == {"alpha": "0.5"}
    history = ml_client._context().tracking.get_metric_history(job.name, "loss")
    assert [m.value for m in history.items] == pytest.approx([1.0, 0.5, 1 / 3, 0.25, 0.2])
    model = ml_client.models.create_or_update(Model(
        name="from-job", type="mlflow_model", path=f"azureml://jobs/{job.name}/outputs/artifacts/paths/model/"))
    assert "python_function" in model.flavors
    ml_client.models.download("from-job", model.version, download_path=tmp_path / "dl")
    assert (tmp_path / "dl" / "from-job" / "model" / "weights.bin").read_text() == "w"


def test_ctrl_c_stops_following_not_the_job(ml_client, home: Path, tmp_path: Path):
    import os
    import signal
    import subprocess

    from openaml import command
    from .conftest import HOST_ENV
    # The job waits for the test's go-ahead, so under any load it is still running when the
    # follower is interrupted (a fixed sleep could end first and the follower exit 0).
    go = tmp_path / "go"
    job = ml_client.jobs.create_or_update(command(
        command=f"echo begin; for i in $(seq 600); do [ -f '{go}' ] && break; sleep 0.1; done; echo end",
        environment=HOST_ENV))
    follower = subprocess.Popen([sys.executable, "-m", "openaml.cli.main", "job", "stream", "-n", job.name, "-w", "jobs"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    # Interrupt only once the follower is following (it has printed the job's log header).
    seen = ""
    while "Streaming user_logs/std_log.txt" not in seen:
        line = follower.stdout.readline()
        assert line, f"the follower ended early: {follower.stderr.read()}"
        seen += line
    follower.send_signal(signal.SIGINT)
    out, err = follower.communicate(timeout=30)
    assert follower.returncode == 130
    assert "goes on" in err and f"openaml job stream -n {job.name}" in err
    assert ml_client.jobs.get(job.name).status == "Running"
    go.touch()
    done = wait(ml_client, job.name)
    assert done.status == "Completed"
    assert "end" in std_log(home, job.name)


LOGGED_MODEL_SCRIPT = """
import os, mlflow
from mlflow import MlflowClient
client = MlflowClient()
experiment_id = mlflow.get_run(os.environ["MLFLOW_RUN_ID"]).info.experiment_id
model = client.create_logged_model(experiment_id, name="free")  # outside any run
os.makedirs("files", exist_ok=True)
open("files/weights.txt", "w").write("w1")
client.log_model_artifacts(model.model_id, "files")
client.finalize_logged_model(model.model_id, "READY")
print("artifacts:", sorted(a.path for a in client.list_logged_model_artifacts(model.model_id)))
print("model-id:", model.model_id)
"""


def test_logged_model_outside_a_run_takes_artifacts(ml_client, home: Path, tmp_path: Path):
    mlflow = pytest.importorskip("mlflow")
    if not hasattr(mlflow.MlflowClient, "log_model_artifacts"):
        pytest.skip(f"MLflow {mlflow.__version__} has no logged models (MLflow 3)")
    write(tmp_path / "src" / "m.py", LOGGED_MODEL_SCRIPT)
    from openaml import command
    from .conftest import HOST_ENV
    job = ml_client.jobs.create_or_update(command(code=str(tmp_path / "src"), command=f"{sys.executable} m.py",
                                                  environment=HOST_ENV))
    done = wait(ml_client, job.name)
    log = std_log(home, job.name)
    assert done.status == "Completed", log
    assert "artifacts: ['weights.txt']" in log
    model_id = log.split("model-id: ")[1].split()[0]
    stored = (home / "workspaces" / "jobs" / "datastores" / "workspaceartifactstore" / "LoggedModels" / model_id
              / "weights.txt")
    assert stored.read_text() == "w1"
