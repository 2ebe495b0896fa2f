"""Azure's working-folder conventions: ./outputs and ./logs exist before the command starts and
become the job's `outputs` and `logs` artifacts (job download --all, MLflow's artifact list),
for failed jobs too."""

from __future__ import annotations

from pathlib import Path

import pytest

from openaml import command

from .conftest import HOST_ENV, std_log, wait

pytestmark = pytest.mark.slow

WRITE_BOTH = ("test -d ./outputs && test -d ./logs && echo x > ./outputs/x.txt && mkdir ./outputs/sub "
              "&& echo y > ./outputs/sub/y.txt && echo step > ./logs/train.log")


def test_outputs_and_logs_exist_and_are_the_job_s_artifacts(ml_client, home: Path, tmp_path: Path):
    job = ml_client.jobs.create_or_update(command(command=WRITE_BOTH, environment=HOST_ENV))
    done = wait(ml_client, job.name)
    assert done.status == "Completed", (done.error, std_log(home, job.name))
    dl = tmp_path / "dl"
    ml_client.jobs.download(job.name, download_path=dl, all=True)
    artifacts = dl / "artifacts"
    assert (artifacts / "outputs" / "x.txt").read_text() == "x\n"
    assert (artifacts / "outputs" / "sub" / "y.txt").read_text() == "y\n"
    assert (artifacts / "logs" / "train.log").read_text() == "step\n"
    assert (artifacts / "user_logs" / "std_log.txt").is_file()

    mlflow = pytest.importorskip("mlflow")
    from openaml.services.locations import job_folder
    from openaml.tracking import start_tracking_server

    ctx = ml_client._job_service().ctx
    with start_tracking_server(ctx.tracking, artifact_root_for_run=lambda run_id: job_folder(ctx, run_id)) as server:
        client = mlflow.MlflowClient(tracking_uri=server.url)
        listed = {(f.path, f.is_dir) for f in client.list_artifacts(job.name)}
        assert {("outputs", True), ("logs", True), ("user_logs", True)} <= listed
        assert [f.path for f in client.list_artifacts(job.name, "outputs")] == ["outputs/sub", "outputs/x.txt"]
        local = client.download_artifacts(job.name, "logs/train.log", str(tmp_path / "mlflow-dl"))
        assert Path(local).read_text() == "step\n"


def test_a_failed_job_keeps_its_outputs_and_logs_and_empty_ones_are_not_shown(ml_client, home: Path, tmp_path: Path):
    job = ml_client.jobs.create_or_update(command(command="echo partial > ./outputs/p.txt; exit 4",
                                                  environment=HOST_ENV))
    done = wait(ml_client, job.name)
    assert done.status == "Failed" and done.error["exit_code"] == 4
    dl = tmp_path / "dl"
    ml_client.jobs.download(job.name, download_path=dl, all=True)
    assert (dl / "artifacts" / "outputs" / "p.txt").read_text() == "partial\n"
    assert not (dl / "artifacts" / "logs").exists()  # nothing was written there: as Azure, not shown


def test_a_code_folder_s_own_outputs_folder_is_kept(ml_client, home: Path, tmp_path: Path):
    code = tmp_path / "src"
    (code / "outputs").mkdir(parents=True)
    (code / "outputs" / "shipped.txt").write_text("came with the code\n")
    job = ml_client.jobs.create_or_update(command(code=str(code), command="echo made > ./outputs/made.txt",
                                                  environment=HOST_ENV))
    assert wait(ml_client, job.name).status == "Completed"
    dl = tmp_path / "dl"
    ml_client.jobs.download(job.name, download_path=dl, all=True)
    assert sorted(p.name for p in (dl / "artifacts" / "outputs").iterdir()) == ["made.txt", "shipped.txt"]
