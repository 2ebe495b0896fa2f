"""The container path's pieces without an engine: the exact `run` command line, the engine probe
(and its shared answer), removal by name and by label, and OPENAML_CONTAINER_RUNTIME."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from openaml.errors import EnvironmentBuildError, ValidationError
from openaml.services import containers
from openaml.services.containers import (ContainerEngine, container_argv, container_tracking_url, find_engine,
                                         job_container)
from openaml.services.settings import Settings

TOKEN = "0123456789abcdef0123456789abcdef"
DOCKER = ContainerEngine("docker", "/usr/bin/docker")
PODMAN = ContainerEngine("podman", "/usr/bin/podman")
SHELL = 'if command -v bash >/dev/null 2>&1; then exec bash -c "$1"; else exec sh -c "$1"; fi'


def scratch(tmp_path: Path, *, inputs: bool = True) -> Path:
    root = tmp_path / "runs" / "ws" / "job1"
    (root / "snapshot" / "src").mkdir(parents=True)
    if inputs:
        (root / "inputs").mkdir()
    return root


def test_the_docker_command_line_of_one_rank(tmp_path: Path) -> None:
    root = scratch(tmp_path)
    run = job_container(DOCKER, "python:3.10-slim", token=TOKEN, rank=0, job="job1", workspace="ws", scratch=root,
                        inputs=root / "inputs", code_dir=root / "snapshot" / "src", command="python train.py --lr 0.1",
                        env_names={"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000", "AZUREML_RUN_ID": "job1",
                                   "OPENAML_JOB_TOKEN": TOKEN},
                        platform="linux")
    uid, gid = os.getuid(), os.getgid()
    assert container_argv(run) == [
        "/usr/bin/docker", "run", "--rm", "--init", "--name", f"openaml-{TOKEN}-0",
        "--label", f"openaml.job_token={TOKEN}", "--label", "openaml.job=job1", "--label", "openaml.workspace=ws",
        "--network", "host",
        "--user", f"{uid}:{gid}", "--shm-size", "2g", "--workdir", str(root / "snapshot" / "src"),
        "--mount", f"type=bind,source={root},target={root}",
        "--mount", f"type=bind,source={root / 'inputs'},target={root / 'inputs'},readonly",
        "-e", "HOME=/tmp",
        "-e", "AZUREML_RUN_ID", "-e", "MLFLOW_TRACKING_URI", "-e", "OPENAML_JOB_TOKEN",
        "--entrypoint", "/bin/sh", "python:3.10-slim", "-c", SHELL, "openaml-job", "python train.py --lr 0.1",
    ]


def test_values_never_appear_on_the_command_line(tmp_path: Path) -> None:
    root = scratch(tmp_path)
    secret = "s3cr3t-value-in-an-environment-variable"
    run = job_container(DOCKER, "ubuntu:22.04", token=TOKEN, rank=1, job="j", workspace="ws", scratch=root,
                        inputs=root / "inputs", code_dir=root, command="env", env_names={"API_KEY": secret})
    argv = container_argv(run)
    assert not any(secret in arg for arg in argv) and argv[argv.index("API_KEY") - 1] == "-e"
    env = containers.client_env({"PATH": "/usr/bin", "DOCKER_HOST": "unix:///x", "VIRTUAL_ENV": "/v"},
                                {"API_KEY": secret})
    assert env == {"PATH": "/usr/bin", "DOCKER_HOST": "unix:///x", "API_KEY": secret}  # -e API_KEY finds it


def test_rootless_podman_keeps_our_uid_and_other_platforms_use_the_gateway(tmp_path: Path) -> None:
    root = scratch(tmp_path, inputs=False)
    run = job_container(PODMAN, "python:3.11", token=TOKEN, rank=2, job="j", workspace="ws", scratch=root,
                        inputs=root / "inputs", code_dir=root, command="true", env_names=(), shm_size="512m",
                        platform="darwin")
    argv = container_argv(run)
    assert argv[:6] == ["/usr/bin/podman", "run", "--rm", "--init", "--name", f"openaml-{TOKEN}-2"]
    assert "--network" not in argv and argv[argv.index("--add-host") + 1] == "host.docker.internal:host-gateway"
    if os.getuid() != 0:
        assert argv[argv.index("--userns") + 1] == "keep-id"
    else:
        assert "--userns" not in argv
    assert argv[argv.index("--shm-size") + 1] == "512m"
    assert [a for a in argv if a.startswith("type=bind")] == [f"type=bind,source={root},target={root}"]  # no inputs
    assert container_tracking_url("http://127.0.0.1:41234", run.network) == "http://host.docker.internal:41234"
    assert container_tracking_url("http://127.0.0.1:41234", "host") == "http://127.0.0.1:41234"


def test_extra_read_only_mounts_and_a_checked_shm_size(tmp_path: Path) -> None:
    root = scratch(tmp_path, inputs=False)
    driver = tmp_path / "site-packages" / "openaml" / "services" / "parallel_driver.py"
    run = job_container(DOCKER, "python:3.11", token=TOKEN, rank=0, job="j", workspace="ws", scratch=root,
                        inputs=root / "inputs", code_dir=root, command=f"python {driver}", env_names=(),
                        read_only=[driver])
    assert [a for a in container_argv(run) if a.startswith("type=bind")] == [
        f"type=bind,source={root},target={root}", f"type=bind,source={driver},target={driver},readonly"]
    with pytest.raises(ValidationError) as err:
        job_container(DOCKER, "python:3.11", token=TOKEN, rank=0, job="j", workspace="ws", scratch=root,
                      inputs=root / "inputs", code_dir=root, command="true", env_names=(), shm_size="--privileged")
    assert err.value.details["field"] == "resources.shm_size"


def test_a_path_the_mount_syntax_cannot_carry_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "odd,home" / "job"
    root.mkdir(parents=True)
    run = job_container(DOCKER, "ubuntu", token=TOKEN, rank=0, job="j", workspace="ws", scratch=root,
                        inputs=root / "inputs", code_dir=root, command="true", env_names=())
    with pytest.raises(EnvironmentBuildError, match="comma"):
        container_argv(run)


# -- the engine, faked: an executable named docker/podman on PATH ---------------------------------

def fake_engine(bin_dir: Path, name: str, script: str) -> Path:
    """A fake engine recording every call in ``<bin_dir>/calls.jsonl``, then running ``script``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(f"#!{sys.executable}\n"
                    "import json, os, sys\n"
                    "with open(os.path.join(os.path.dirname(__file__), 'calls.jsonl'), 'a') as f:\n"
                    "    f.write(json.dumps(sys.argv) + '\\n')\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def calls(bin_dir: Path) -> list[list[str]]:
    log = bin_dir / "calls.jsonl"
    return [json.loads(line)[1:] for line in log.read_text().splitlines()] if log.exists() else []


def test_auto_takes_docker_then_podman_and_says_why_neither(tmp_path: Path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    fake_engine(bin_dir, "docker", "print('Cannot connect to the Docker daemon', file=sys.stderr); sys.exit(1)\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    probe = find_engine("auto", tmp_path / "envs")
    assert probe.engine is None
    assert probe.reason == "docker: Cannot connect to the Docker daemon; podman is not installed"
    fake_engine(bin_dir, "podman", "print('5.0.0'); sys.exit(0)\n")
    probe = find_engine("auto", tmp_path / "envs")
    assert probe.engine == ContainerEngine("podman", str(bin_dir / "podman"))
    assert find_engine("docker", tmp_path / "envs").engine is None
    assert find_engine("none", tmp_path / "envs").reason == "OPENAML_CONTAINER_RUNTIME=none"
    # docker was asked once: its answer is shared through the cache for a minute
    assert [c[0] for c in calls(bin_dir)] == ["info", "info"]
    assert calls(bin_dir)[0] == ["info", "--format", "{{.ServerVersion}}"]


def test_a_stale_answer_is_asked_again(tmp_path: Path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    fake_engine(bin_dir, "docker", "print('28.2.2')\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    record = tmp_path / "envs" / ".container-probe.json"
    record.parent.mkdir()
    record.write_text(json.dumps({"docker": {"available": False, "reason": "old", "at": 0}}))
    assert find_engine("docker", tmp_path / "envs").engine is not None
    assert json.loads(record.read_text())["docker"]["available"] is True


def test_containers_are_stopped_by_name_and_reaped_by_label(tmp_path: Path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    docker = fake_engine(bin_dir, "docker", "print('c1\\nc2') if sys.argv[1] == 'ps' else None\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    engine = ContainerEngine("docker", str(docker))
    containers.remove_containers(engine, ["openaml-a-0", "openaml-a-1"], 5.0)
    containers.remove_containers(engine, ["openaml-b-0"], 0.0)
    containers.remove_labelled("docker", TOKEN)
    containers.remove_labelled("/bin/rm", TOKEN)  # a record can only ever name docker or podman
    assert calls(bin_dir) == [
        ["stop", "--time", "5", "openaml-a-0", "openaml-a-1"], ["rm", "--force", "openaml-a-0", "openaml-a-1"],
        ["rm", "--force", "openaml-b-0"],
        ["ps", "--all", "--quiet", "--filter", f"label=openaml.job_token={TOKEN}"], ["rm", "--force", "c1", "c2"],
    ]


def test_a_missing_image_is_pulled_once_and_a_failed_pull_says_why(tmp_path: Path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    docker = fake_engine(bin_dir, "docker", (
        "if sys.argv[1:3] == ['image', 'inspect']: sys.exit(0 if sys.argv[3] == 'here:1' else 1)\n"
        "if sys.argv[1] == 'pull' and sys.argv[2] == 'gone:1':\n"
        "    print('manifest unknown'); sys.exit(1)\n"
        "print('Downloaded newer image')\n"))
    engine = ContainerEngine("docker", str(docker))
    lines: list[str] = []
    assert containers.ensure_image(engine, "here:1", lines.append) == "cached"
    assert containers.ensure_image(engine, "new:1", lines.append) == "pulled"
    assert "Downloaded newer image" in lines
    with pytest.raises(EnvironmentBuildError, match="manifest unknown"):
        containers.ensure_image(engine, "gone:1", lines.append)
    assert [c for c in calls(bin_dir) if c[0] == "pull"] == [["pull", "new:1"], ["pull", "gone:1"]]


# -- OPENAML_CONTAINER_RUNTIME -----------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [("", "auto"), ("auto", "auto"), ("docker", "docker"),
                                             (" Podman ", "podman"), ("NONE", "none")])
def test_the_container_runtime_setting(value: str, expected: str, tmp_path: Path) -> None:
    settings = Settings.from_env({"OPENAML_CONTAINER_RUNTIME": value}, home=tmp_path)
    assert settings.container_runtime == expected
    assert Settings.from_env(settings.agent_env()).container_runtime == expected  # agents get the same


@pytest.mark.parametrize("value", ["kubernetes", "docker,podman", "true"])
def test_an_unknown_container_runtime_is_one_clear_error(value: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        Settings.from_env({"OPENAML_CONTAINER_RUNTIME": value}, home=tmp_path)
    assert err.value.details["field"] == "OPENAML_CONTAINER_RUNTIME"
    assert err.value.message == (f"field 'OPENAML_CONTAINER_RUNTIME': must be one of auto, docker, podman, "
                                 f"none, not {value!r}")
