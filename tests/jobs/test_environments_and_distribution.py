"""Jobs in real uv-built environments (built once, reused by the next job) and distributed
launches (one process per rank with the torch.distributed variables)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openaml import command
from openaml.entities import Environment, PyTorchDistribution

from .conftest import HOST_ENV, wait

pytestmark = pytest.mark.slow

ENV_LOG = "system_logs/environment_build.txt"


def _folder(home: Path, name: str) -> Path:
    return home / "workspaces" / "jobs" / "datastores" / "workspaceartifactstore" / "ExperimentRun" / f"dcid.{name}"


def test_second_job_with_the_same_environment_does_not_rebuild(ml_client, home: Path):
    env = Environment(image="python:3.11", conda_file={
        "name": "tiny", "dependencies": ["python=3.11", "pip", {"pip": ["six==1.16.0"]}]})
    cmd = "python -c 'import six, sys; print(\"six\", six.__version__, sys.prefix)'"
    first = ml_client.jobs.create_or_update(command(command=cmd, environment=env))
    assert wait(ml_client, first.name, timeout=300).status == "Completed"
    second = ml_client.jobs.create_or_update(command(command=cmd, environment=env))
    assert wait(ml_client, second.name, timeout=120).status == "Completed"
    first_log = (_folder(home, first.name) / ENV_LOG).read_text()
    second_log = (_folder(home, second.name) / ENV_LOG).read_text()
    assert "(cached)" not in first_log.splitlines()[-1]
    assert "(cached)" in second_log.splitlines()[-1]
    out = (_folder(home, second.name) / "user_logs" / "std_log.txt").read_text()
    assert "six 1.16.0" in out and str(home / "envs") in out
    envs = [p for p in (home / "envs").iterdir() if not p.name.startswith(".")]
    assert len(envs) == 1


def test_unknown_conda_package_fails_at_submission(ml_client):
    from openaml.errors import EnvironmentBuildError
    env = Environment(image="python:3.11", conda_file={"dependencies": ["cudatoolkit=11.8"]})
    with pytest.raises(EnvironmentBuildError) as err:
        ml_client.jobs.create_or_update(command(command="echo", environment=env))
    assert "cudatoolkit" in str(err.value)


def test_pytorch_distribution_starts_one_process_per_rank(ml_client, home: Path):
    job = ml_client.jobs.create_or_update(command(
        command='echo "rank=$RANK local=$LOCAL_RANK world=$WORLD_SIZE master=$MASTER_ADDR:$MASTER_PORT"',
        environment=HOST_ENV, distribution=PyTorchDistribution(process_count_per_instance=2),
        instance_count=2))
    assert wait(ml_client, job.name).status == "Completed"
    logs = sorted((_folder(home, job.name) / "user_logs").glob("std_log_process_*.txt"))
    assert [p.name for p in logs] == [f"std_log_process_{i}.txt" for i in range(4)]
    lines = [p.read_text().strip() for p in logs]
    assert [line.split()[0] for line in lines] == ["rank=0", "rank=1", "rank=2", "rank=3"]
    assert {line.split()[1] for line in lines} == {"local=0", "local=1"}
    assert all("world=4" in line and "master=127.0.0.1:" in line for line in lines)
    assert len({line.split()[3] for line in lines}) == 1  # one rendezvous port for all ranks
