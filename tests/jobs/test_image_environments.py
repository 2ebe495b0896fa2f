"""Image-only environments end to end: in a venv for the image's Python where no engine runs
(the default here), in a container through a fake engine that runs the command on this machine
exactly as the `run` command line says, and in a real engine where one works (skipped, with the
reason, where none does)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from openaml import Input, Output, command
from openaml.entities import Environment
from openaml.errors import EnvironmentBuildError
from openaml.services.containers import find_engine

from tests.helpers import wait_for_file

from .conftest import std_log, wait, write

pytestmark = pytest.mark.slow

HOST = f"{sys.version_info.major}.{sys.version_info.minor}"


def uv_finds(version: str) -> bool:
    """Whether this machine has ``version`` for uv, asked independently of openaml."""
    from uv import find_uv_bin

    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    done = subprocess.run([find_uv_bin(), "python", "find", "--system", version], capture_output=True,
                          env=dict(env, UV_PYTHON_DOWNLOADS="never"))
    return done.returncode == 0


NO_DAEMON = "import sys; print('Cannot connect to the daemon', file=sys.stderr); sys.exit(125)\n"


def put_engine(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!{sys.executable}\n{script}")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def default_env(home, tmp_path: Path, monkeypatch) -> Path:
    """A user's defaults (runtime auto, no host-Python opt-in) on a machine whose docker and
    podman answer but cannot run containers, as this machine kind's docker; returns their folder."""
    bin_dir = tmp_path / "engine-bin"
    bin_dir.mkdir()
    for name in ("docker", "podman"):
        put_engine(bin_dir, name, NO_DAEMON)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("OPENAML_CONTAINER_RUNTIME", "auto")
    monkeypatch.delenv("OPENAML_ALLOW_HOST_PYTHON", raising=False)
    return bin_dir


def test_an_image_only_job_runs_by_default_in_a_venv_for_the_image_s_python(default_env, ml_client, home):
    wanted = "3.10" if HOST != "3.10" else "3.12"
    ran_on = wanted if uv_finds(wanted) else HOST
    job = ml_client.jobs.create_or_update(command(
        command='python -c "import sys; print(\'python\', *sys.version_info[:2], sys.prefix)"',
        environment=Environment(image=f"python:{wanted}-slim")))
    done = wait(ml_client, job.name)
    assert done.status == "Completed", done.error
    log = std_log(home, job.name)
    first = log.splitlines()[0]
    venvs = [p for p in (home / "envs").iterdir() if not p.name.startswith(".")]
    assert len(venvs) == 1
    expected = f"openaml: image python:{wanted}-slim not run: no container engine; ran on Python {ran_on} in venv {venvs[0].name[:12]}"
    assert first.startswith(expected), first
    major, minor = ran_on.split(".")
    assert f"python {major} {minor} {venvs[0]}" in log  # the venv's interpreter ran, not openaml's


def test_the_host_opt_in_skips_the_venv(ml_client, home):
    job = ml_client.jobs.create_or_update(command(command='python -c "import mlflow, sys; print(sys.prefix)"',
                                                  environment=Environment(image="library/python:latest")))
    done = wait(ml_client, job.name)
    assert done.status == "Completed", done.error
    log = std_log(home, job.name)
    assert log.splitlines()[0] == (f"openaml: image library/python:latest not run: OPENAML_CONTAINER_RUNTIME=none; "
                                   f"ran on Python {HOST} at {sys.executable} (OPENAML_ALLOW_HOST_PYTHON=1)")
    assert sys.prefix in log
    assert not (home / "envs").exists() or not [p for p in (home / "envs").iterdir() if not p.name.startswith(".")]


def test_a_named_engine_that_cannot_run_refuses_the_job_at_submission(default_env, monkeypatch, ml_client):
    from openaml import MLClient

    monkeypatch.setenv("OPENAML_CONTAINER_RUNTIME", "podman")
    with MLClient(workspace_name="jobs") as strict:
        with pytest.raises(EnvironmentBuildError) as err:
            strict.jobs.create_or_update(command(command="echo", environment=Environment(image="python:3.10-slim")))
    assert err.value.message.startswith("OPENAML_CONTAINER_RUNTIME=podman, but podman cannot run containers here "
                                        "(podman: Cannot connect to the daemon)")


# -- a fake engine: `run` runs the command on this machine as the command line says ------------------

FAKE_ENGINE = """
import json, os, signal, sys
here = os.path.dirname(os.path.abspath(__file__))
args = sys.argv[1:]
with open(os.path.join(here, "calls.jsonl"), "a") as f:
    f.write(json.dumps(args) + "\\n")
if args[0] == "info":
    print("28.0.0")
elif args[0] in ("stop", "rm"):
    for name in [a for a in args[1:] if not a.startswith("-") and not a.isdigit()]:
        try:
            os.kill(int(open(os.path.join(here, name + ".pid")).read()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
elif args[0] == "run":
    with_value = {"--name", "--label", "--network", "--user", "--shm-size", "--workdir", "--mount", "-e",
                  "--entrypoint", "--add-host", "--userns"}
    i, opts = 1, []
    while args[i].startswith("-"):
        if args[i] in with_value:
            opts.append((args[i], args[i + 1])); i += 2
        else:
            opts.append((args[i], None)); i += 1
    image, rest = args[i], args[i + 1:]
    env = {"PATH": os.environ["PATH"]}  # an image's own PATH; nothing else of the client's
    for key, value in opts:
        if key == "-e":
            name, eq, val = value.partition("=")
            if eq:
                env[name] = val
            elif name in os.environ:
                env[name] = os.environ[name]
    found = dict(opts)
    targets = [dict(p.split("=", 1) for p in v.split(",") if "=" in p)["target"] for k, v in opts if k == "--mount"]
    assert any(found["--workdir"].startswith(t) for t in targets), "the working folder is not mounted"
    open(os.path.join(here, found["--name"] + ".pid"), "w").write(str(os.getpid()))
    os.chdir(found["--workdir"])
    os.execve(found["--entrypoint"], [found["--entrypoint"], *rest], env)
"""


@pytest.fixture
def fake_docker(default_env: Path) -> Path:
    """A docker that runs containers (on this machine, as the command line says)."""
    put_engine(default_env, "docker", FAKE_ENGINE)
    return default_env


def engine_calls(bin_dir: Path) -> list[list[str]]:
    return [json.loads(line) for line in (bin_dir / "calls.jsonl").read_text().splitlines()]


LOG_METRIC = (
    "import json, os, urllib.request; "
    "body = json.dumps({'run_id': os.environ['MLFLOW_RUN_ID'], 'key': 'seen', 'value': 1.0, 'timestamp': 0, "
    "'step': 0}).encode(); "
    "urllib.request.urlopen(urllib.request.Request(os.environ['MLFLOW_TRACKING_URI'] + "
    "'/api/2.0/mlflow/runs/log-metric', body, {'Content-Type': 'application/json'})).read()")


def test_an_image_job_runs_in_the_engine_with_its_mounts_and_variables(fake_docker, ml_client, home, tmp_path):
    data = write(tmp_path / "data.txt", "from the input\n")
    src = write(tmp_path / "src" / "copy.sh", "cat \"$1\" > \"$2/copied.txt\"; echo logged > ./logs/l.txt\n").parent
    job = ml_client.jobs.create_or_update(command(
        code=str(src), environment=Environment(image="python:3.10-slim"),
        command=(f"bash copy.sh ${{{{inputs.data}}}} ${{{{outputs.out}}}} && echo $GREETING > ./outputs/g.txt "
                 f"&& {sys.executable} -c \"{LOG_METRIC}\" && test -z \"$VIRTUAL_ENV\""),
        inputs={"data": Input(type="uri_file", path=str(data))}, outputs={"out": Output(type="uri_folder")},
        environment_variables={"GREETING": "hello from the container"}))
    done = wait(ml_client, job.name)
    assert done.status == "Completed", (done.error, std_log(home, job.name))
    assert std_log(home, job.name).splitlines()[0] == "openaml: image python:3.10-slim runs in a docker container"
    assert done.metrics == {"seen": 1.0}  # the job's MLflow endpoint was reachable from the container
    assert done.properties["openaml.container_engine"] == "docker"
    calls = engine_calls(fake_docker)
    assert [c[0] for c in calls] == ["info", "image", "run", "rm"]
    run = calls[2]
    token = run[run.index("--name") + 1].split("-")[1]
    assert run[run.index("--name") + 1] == f"openaml-{token}-0" and f"openaml.job_token={token}" in run
    assert f"openaml.job={job.name}" in run and run[run.index("--network") + 1] == "host"
    assert {"GREETING", "MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "AZURE_ML_OUTPUT_out", "OPENAML_JOB_TOKEN"} <= {
        run[i + 1] for i, a in enumerate(run) if a == "-e"}
    mounts = [run[i + 1] for i, a in enumerate(run) if a == "--mount"]
    assert len(mounts) == 2 and mounts[1].endswith("/inputs,readonly")
    assert calls[3] == ["rm", "--force", f"openaml-{token}-0"]
    dl = tmp_path / "dl"
    ml_client.jobs.download(job.name, download_path=dl, all=True)
    assert (dl / "named-outputs" / "out" / "copied.txt").read_text() == "from the input\n"
    assert (dl / "artifacts" / "outputs" / "g.txt").read_text() == "hello from the container\n"
    assert (dl / "artifacts" / "logs" / "l.txt").read_text() == "logged\n"


def test_canceling_a_container_job_stops_its_container(fake_docker, ml_client, home, tmp_path):
    started = tmp_path / "started"
    job = ml_client.jobs.create_or_update(command(command=f"touch {started}; sleep 120",
                                                  environment=Environment(image="ubuntu:22.04")))
    wait_for_file(started)
    ml_client.jobs.begin_cancel(job.name)
    done = wait(ml_client, job.name, timeout=60)
    assert done.status == "Canceled"
    verbs = [c[0] for c in engine_calls(fake_docker)]
    assert verbs[-2:] == ["stop", "rm"]
    name = engine_calls(fake_docker)[-1][-1]
    assert engine_calls(fake_docker)[-2] == ["stop", "--time", "5", name]


# -- a real engine -------------------------------------------------------------------------------------

REAL_IMAGE = "python:3.12-slim"


@pytest.fixture
def real_engine(home, tmp_path: Path, monkeypatch):
    probe = find_engine("auto", tmp_path / "probe")
    if probe.engine is None:
        pytest.skip(f"no container engine can run containers here: {probe.reason}")
    if subprocess.run([probe.engine.executable, "image", "inspect", REAL_IMAGE], capture_output=True).returncode:
        pulled = subprocess.run([probe.engine.executable, "pull", REAL_IMAGE], capture_output=True, text=True)
        if pulled.returncode:
            pytest.skip(f"{probe.engine.name} cannot pull {REAL_IMAGE}: {pulled.stderr.strip()[-200:]}")
    monkeypatch.setenv("OPENAML_CONTAINER_RUNTIME", probe.engine.name)
    monkeypatch.delenv("OPENAML_ALLOW_HOST_PYTHON", raising=False)
    return probe.engine


def test_an_image_job_runs_in_a_real_engine(real_engine, ml_client, home, tmp_path):
    data = write(tmp_path / "data.txt", "from the input\n")
    script = ("import os, sys, pathlib; "
              "print('in', sys.version_info[:2], os.getuid()); "
              "pathlib.Path(sys.argv[2], 'copied.txt').write_text(pathlib.Path(sys.argv[1]).read_text()); "
              "pathlib.Path('outputs', 'o.txt').write_text('out'); " + LOG_METRIC.replace("json, os,", "json,"))
    job = ml_client.jobs.create_or_update(command(
        command=f"python -c \"{script}\" ${{{{inputs.data}}}} ${{{{outputs.out}}}}",
        environment=Environment(image=REAL_IMAGE),
        inputs={"data": Input(type="uri_file", path=str(data))}, outputs={"out": Output(type="uri_folder")}))
    done = wait(ml_client, job.name, timeout=300)
    log = std_log(home, job.name)
    assert done.status == "Completed", (done.error, log)
    assert log.splitlines()[0] == f"openaml: image {REAL_IMAGE} runs in a {real_engine.name} container"
    assert f"in (3, 12) {os.getuid()}" in log
    assert done.metrics == {"seen": 1.0}
    dl = tmp_path / "dl"
    ml_client.jobs.download(job.name, download_path=dl, all=True)
    assert (dl / "named-outputs" / "out" / "copied.txt").read_text() == "from the input\n"
    assert (dl / "artifacts" / "outputs" / "o.txt").read_text() == "out"
    left = subprocess.run([real_engine.executable, "ps", "--all", "--quiet", "--filter", "label=openaml.job=" + job.name],
                          capture_output=True, text=True)
    assert left.stdout.strip() == ""
