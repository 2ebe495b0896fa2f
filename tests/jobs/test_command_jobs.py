"""Command jobs end to end through the SDK: run, fail, cancel, time out, lose the agent,
optional inputs, data inputs, registered outputs, downloads."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from openaml import Input, Output, command
from openaml.entities import Data
from openaml.entities.job_status import JobStatus
from openaml.errors import JobFailedError, NotFoundError, ValidationError

from tests.helpers import on_both_launches, on_every_storage

from .conftest import HOST_ENV, over_transports, std_log, wait, write

pytestmark = pytest.mark.slow


@over_transports
@on_both_launches
def test_hello_job_runs_and_keeps_its_log(ml_client, home: Path):
    started = time.monotonic()
    job = ml_client.jobs.create_or_update(command(command="echo hello from $AZUREML_RUN_ID", environment=HOST_ENV,
                                                  display_name="hello"))
    assert time.monotonic() - started < 5  # submission returns without waiting for the job
    assert job.status in (JobStatus.QUEUED.value, JobStatus.PREPARING.value, JobStatus.RUNNING.value,
                          JobStatus.COMPLETED.value)
    done = wait(ml_client, job.name)
    assert done.status == "Completed", done.error
    assert f"hello from {job.name}" in std_log(home, job.name)
    assert [j.name for j in ml_client.jobs.list()] == [job.name]
    assert done.experiment_name  # defaults to the folder's name


@over_transports
@on_both_launches
def test_failing_job_is_failed_with_the_exit_code(ml_client, home: Path, capsys):
    job = ml_client.jobs.create_or_update(command(command="echo about to fail; exit 3", environment=HOST_ENV))
    done = wait(ml_client, job.name)
    assert done.status == "Failed"
    assert done.error["exit_code"] == 3 and "exited with code 3" in done.error["message"]
    with pytest.raises(JobFailedError):
        ml_client.jobs.stream(job.name)
    out = capsys.readouterr().out
    assert "about to fail" in out and "Execution Summary" in out and f"RunId: {job.name}" in out


@over_transports
@on_both_launches
def test_cancel_stops_the_whole_process_tree(ml_client, home: Path, tmp_path: Path):
    pid_file = tmp_path / "child.pid"
    job = ml_client.jobs.create_or_update(command(
        command=f"(sleep 300 & echo $! > {pid_file}; wait) ; echo never", environment=HOST_ENV))
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    child = int(pid_file.read_text())
    ml_client.jobs.begin_cancel(job.name).result(timeout=30)
    assert ml_client.jobs.get(job.name).status == "Canceled"
    assert not _alive(child)
    assert "never" not in std_log(home, job.name)


@on_both_launches
def test_timeout_fails_the_job(ml_client):
    job = command(command="sleep 60", environment=HOST_ENV, timeout=1)
    done = wait(ml_client, ml_client.jobs.create_or_update(job).name)
    assert done.status == "Failed" and done.error["code"] == "JobTimeout"


@on_both_launches
def test_a_job_whose_agent_died_is_failed_with_logs_kept(ml_client, home: Path, tmp_path: Path):
    pid_file = tmp_path / "sleeper.pid"
    job = ml_client.jobs.create_or_update(command(
        command=f"echo started; sleep 120 & echo $! > {pid_file}; wait", environment=HOST_ENV))
    service = ml_client._job_service()
    deadline = time.monotonic() + 30
    while "started" not in _log_or_empty(home, job.name):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(service.record(job.name).agent_pid, signal.SIGKILL)
    done = wait(ml_client, job.name, timeout=30)
    assert done.status == "Failed" and done.error["code"] == "AgentDied"
    assert "started" in std_log(home, job.name)
    sleeper = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(sleeper):  # the orphaned user process is stopped too
        assert time.monotonic() < deadline, "the dead agent's job process still runs"
        time.sleep(0.05)


def test_optional_inputs_drop_out_of_the_command(ml_client, home: Path):
    base = dict(command="echo A $[[--flag ${{inputs.flag}}]] Z", environment=HOST_ENV)
    unset = ml_client.jobs.create_or_update(command(**base, inputs={"flag": Input(type="string", optional=True)}))
    given = ml_client.jobs.create_or_update(command(**base, inputs={"flag": "on"}))
    for name in (unset.name, given.name):
        assert wait(ml_client, name).status == "Completed"
    assert "A Z" in std_log(home, unset.name)
    assert "A --flag on Z" in std_log(home, given.name)


@on_every_storage
@over_transports
@on_both_launches
def test_data_inputs_outputs_and_registration(ml_client, home: Path, tmp_path: Path):
    data_file = write(tmp_path / "in" / "rows.csv", "a,b\n1,2\n3,4\n")
    ml_client.data.create_or_update(Data(name="rows", type="uri_file", path=str(data_file)))
    job = ml_client.jobs.create_or_update(command(
        command="wc -l < ${{inputs.rows}} > ${{outputs.counted}}/count.txt && "
                "cat $AZURE_ML_INPUT_local/rows.csv > $AZURE_ML_OUTPUT_counted/copy.csv && "
                "echo lr=${{inputs.lr}}",
        inputs={"rows": Input(type="uri_file", path="azureml:rows:1"),
                "local": Input(type="uri_folder", path=str(tmp_path / "in"), mode="download"),
                "lr": 0.5},
        outputs={"counted": Output(type="uri_folder", name="counted-rows")},
        environment=HOST_ENV))
    done = wait(ml_client, job.name)
    assert done.status == "Completed", done.error
    assert "lr=0.5" in std_log(home, job.name)
    assert done.outputs["counted"].path == f"azureml://datastores/workspaceblobstore/paths/azureml/{job.name}/counted/"
    registered = ml_client.data.get("counted-rows", label="latest")
    assert registered.version == "1"
    ml_client.jobs.download(job.name, download_path=tmp_path / "dl", all=True)
    assert (tmp_path / "dl" / "named-outputs" / "counted" / "count.txt").read_text().strip() == "3"
    assert (tmp_path / "dl" / "named-outputs" / "counted" / "copy.csv").read_text() == data_file.read_text()
    assert (tmp_path / "dl" / "artifacts" / "user_logs" / "std_log.txt").is_file()


@on_every_storage
def test_a_later_job_reads_an_earlier_jobs_output(ml_client, home: Path):
    first = ml_client.jobs.create_or_update(command(
        command="echo 42 > ${{outputs.out}}/answer.txt", outputs={"out": Output(type="uri_folder")},
        environment=HOST_ENV))
    assert wait(ml_client, first.name).status == "Completed"
    second = ml_client.jobs.create_or_update(command(
        command="cat ${{inputs.prev}}/answer.txt",
        inputs={"prev": Input(type="uri_folder", path=f"azureml://jobs/{first.name}/outputs/out")},
        environment=HOST_ENV))
    assert wait(ml_client, second.name).status == "Completed"
    assert "42" in std_log(home, second.name)


@over_transports
def test_submission_errors_name_the_problem(ml_client, tmp_path: Path):
    with pytest.raises(ValidationError) as err:
        ml_client.jobs.create_or_update(command(command="echo hi", environment=HOST_ENV, code=str(tmp_path / "nope")))
    assert "code" in str(err.value)
    with pytest.raises(NotFoundError) as err:
        ml_client.jobs.create_or_update(command(command="echo hi", environment="azureml:missing-env:1"))
    assert "missing-env" in str(err.value)
    with pytest.raises(NotFoundError) as err:
        ml_client.jobs.create_or_update(command(command="echo hi", environment=HOST_ENV, compute="gpu-cluster"))
    assert "gpu-cluster" in str(err.value)


@over_transports
def test_ignored_fields_are_reported_once(ml_client, capsys):
    job = command(command="echo hi", environment=HOST_ENV, identity={"type": "user_identity"})
    ml_client.jobs.create_or_update(job)
    assert capsys.readouterr().err.count("identity") == 1
    assert any("identity" in w for w in ml_client.jobs.last_warnings)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _log_or_empty(home: Path, name: str) -> str:
    try:
        return std_log(home, name)
    except FileNotFoundError:
        return ""


@over_transports
def test_component_form_of_a_command_job(ml_client, home: Path, tmp_path: Path):
    from openaml import load_component
    write(tmp_path / "c" / "src" / "hello.sh", "echo component says $1\n")
    comp_file = write(tmp_path / "c" / "comp.yml", """
        name: hello_component
        version: "1"
        inputs:
          who: {type: string, default: world}
        code: ./src
        environment: {image: python:3.11-slim}
        command: bash hello.sh ${{inputs.who}}
        """)
    node = load_component(str(comp_file))(who="openaml")
    done = wait(ml_client, ml_client.create_or_update(node).name)
    assert done.status == "Completed", done.error
    assert "component says openaml" in std_log(home, done.name)
    ml_client.components.create_or_update(load_component(str(comp_file)))
    job = ml_client.jobs.create_or_update(command(component="azureml:hello_component:1", inputs={"who": "registry"}))
    assert wait(ml_client, job.name).status == "Completed"
    assert "component says registry" in std_log(home, job.name)


def test_a_distribution_without_sweep_is_refused(ml_client):
    from openaml.sweep import Uniform
    job = command(command="echo ${{inputs.lr}}", inputs={"lr": 0.1}, environment=HOST_ENV)
    with pytest.raises(ValidationError) as err:
        ml_client.jobs.create_or_update(job(lr=Uniform(0.01, 0.1)))
    assert ".sweep" in str(err.value)
