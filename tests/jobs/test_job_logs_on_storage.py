"""A job's logs on a workspace on object storage: stored there when the job ends (with the rest
of its folder: MLflow artifacts, ./outputs, ./logs), so ``job stream``, ``job download`` and
``azureml://jobs/<job>/outputs/artifacts`` of a finished job work from the storage once the
folder on this machine is gone, as on another machine reading the same workspace."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from openaml import Input, command
from openaml.cli.main import cli
from openaml.services import contents

from tests.jobs.conftest import HOST_ENV
from tests.helpers import on_every_storage, wait
from tests.safety.procs import poll


def _folder(home: Path, name: str) -> Path:
    return home / "workspaces" / "jobs" / "datastores" / "workspaceartifactstore" / "ExperimentRun" / f"dcid.{name}"


@on_every_storage
def test_a_finished_jobs_logs_are_read_from_the_storage_once_its_folder_is_gone(
        ml_client, home: Path, tmp_path: Path, workspace_storage):
    job = ml_client.jobs.create_or_update(command(
        command="echo hello-from-the-job && mkdir -p outputs && echo kept > outputs/note.txt && echo oops >&2 && exit 3",
        environment=HOST_ENV))
    done = wait(ml_client, job.name)
    assert done.status == "Failed"
    record = ml_client._job_service().record(job.name)
    stored = record.spec.get(contents.STORED_ARTIFACTS)
    if workspace_storage.storage is None:  # a workspace in its folder: the folder is the record
        assert stored is None
        return
    before = workspace_storage.blobs(home, "jobs")
    manifest = ml_client._context().artifacts.get_manifest(stored["digest"])
    assert {"user_logs/std_log.txt", "outputs/note.txt"} <= set(manifest.files)
    assert all(f"sha256/{entry.digest[:2]}/{entry.digest}" in before for entry in manifest.files.values())

    shutil.rmtree(_folder(home, job.name))  # what another machine sees: no folder, the storage
    result = CliRunner().invoke(cli, ["job", "stream", "-n", job.name, "-w", "jobs"])
    assert "hello-from-the-job" in result.output and "oops" in result.output, result.output
    ml_client.jobs.download(job.name, download_path=tmp_path / "dl", all=True)
    assert "hello-from-the-job" in (tmp_path / "dl" / "artifacts" / "user_logs" / "std_log.txt").read_text()
    assert (tmp_path / "dl" / "artifacts" / "outputs" / "note.txt").read_text() == "kept\n"
    reader = ml_client.jobs.create_or_update(command(  # the artifacts as a later job's input
        command="cat ${{inputs.logs}}/user_logs/std_log.txt",
        inputs={"logs": Input(type="uri_folder", path=f"azureml://jobs/{job.name}/outputs/artifacts")},
        environment=HOST_ENV))
    assert wait(ml_client, reader.name).status == "Completed"
    assert "hello-from-the-job" in (_folder(home, reader.name) / "user_logs" / "std_log.txt").read_text()
    assert not _folder(home, job.name).exists()


@pytest.mark.parametrize("workspace_storage", ["local"], indirect=True)
def test_stored_logs_are_not_used_while_the_folder_is_there(ml_client, home: Path):
    job = ml_client.jobs.create_or_update(command(command="echo here", environment=HOST_ENV))
    assert wait(ml_client, job.name).status == "Completed"
    assert contents.job_artifacts(ml_client._context(), ml_client._job_service().record(job.name)) == \
        _folder(home, job.name)


@pytest.mark.slow
@pytest.mark.parametrize("workspace_storage", ["azurite"], indirect=True)
def test_a_dead_agents_logs_are_stored_by_the_reaper(ml_client, home: Path, monkeypatch: pytest.MonkeyPatch):
    """The agent stores the job's folder when the job ends; an agent SIGKILLed mid-job cannot, so
    the reaper that fails the job stores it instead: another machine still finds its logs."""
    monkeypatch.setenv("OPENAML_JOB_LEASE_SECONDS", "1")
    job = ml_client.jobs.create_or_update(command(command="echo before-the-end && sleep 300",
                                                  environment=HOST_ENV))
    ctx = ml_client._context()

    def logged():
        record = ctx.jobs.get_job(ctx.name, job.name)
        log = _folder(home, job.name) / "user_logs" / "std_log.txt"
        return record.agent if record.agent and log.is_file() and "before-the-end" in log.read_text() else None
    agent = poll(logged, 30, "the job to start and log")
    os.kill(agent.pid, signal.SIGKILL)
    record = poll(lambda: (r := ml_client._job_service().record(job.name)).status == "Failed" and r, 30,
                  "the reaper to fail the job")
    assert record.error["code"] == "AgentDied"
    stored = record.spec.get(contents.STORED_ARTIFACTS)
    assert stored is not None, "the reaper did not store the dead job's folder"
    shutil.rmtree(_folder(home, job.name))  # what another machine sees
    result = CliRunner().invoke(cli, ["job", "stream", "-n", job.name, "-w", "jobs"])
    assert "before-the-end" in result.output, result.output
