"""Running a job's command inside a container image with ``docker`` or ``podman``.

:func:`find_engine` decides once which engine can run containers here (``OPENAML_CONTAINER_RUNTIME``:
``auto`` tries docker, then podman); each engine's answer to ``<engine> info`` is shared for
60 s through a file under the environments cache, so the agents of jobs started together ask
once. :func:`container_argv` builds the exact ``run`` command line of one rank of a job (a pure
function, unit-tested), and :func:`remove_containers`/:func:`remove_labelled` end a job's
containers by name or by its token's label: a container is the engine's child, not ours, so the
job's process tracker only sees the ``docker run`` client.

The command line, and why:

- ``--rm --init``: nothing is left behind, and PID 1 forwards signals and reaps zombies.
- ``--name openaml-<token>-<rank>`` and ``--label openaml.job_token=<token>`` (plus the job's and
  workspace's names): the agent stops its containers by name, a reaper by the token's label.
- ``--network host`` on Linux: the job's MLflow endpoint binds 127.0.0.1, which the container
  then reaches unchanged (ranks reach each other on 127.0.0.1 too). Elsewhere (Docker Desktop,
  where "host" is a VM) the container gets ``host.docker.internal`` mapped to the host gateway and
  ``MLFLOW_TRACKING_URI`` names that host (see :func:`container_tracking_url`).
- ``--user <uid>:<gid>`` (docker) or ``--userns=keep-id`` (rootless podman): files the job writes
  into its mounted folders belong to the agent's user, which publishes and removes them.
- the job's scratch folder is mounted at the same path, so the code snapshot, inputs and outputs
  are where the command and its expanded ``${{inputs.*}}``/``${{outputs.*}}`` say; inputs again
  read-only on top. ``--workdir`` is the code snapshot, as on the host.
- ``-e NAME`` for each job variable: the value comes from the engine client's environment, so no
  value (a token, a key in ``environment_variables``) appears on a command line.
- ``--entrypoint /bin/sh``: the image's own entrypoint is skipped, and the command runs in bash
  where the image has it, else in sh.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

from openaml.errors import EnvironmentBuildError, ValidationError
from openaml.services.probe_cache import shared_answer

#: Values of ``OPENAML_CONTAINER_RUNTIME``.
CONTAINER_RUNTIMES = ("auto", "docker", "podman", "none")
ENGINES = ("docker", "podman")
TOKEN_LABEL = "openaml.job_token"
GATEWAY_HOST = "host.docker.internal"
DEFAULT_SHM_SIZE = "2g"  # Azure's default for jobs (Docker's own, 64m, starves DataLoader workers)

_PROBE_FILE = ".container-probe.json"
# How long one engine's answer is reused, by this and other processes; starting or stopping the
# engine is noticed within this time.
_PROBE_TTL_SECONDS = 60.0
_PROBE_SECONDS = 3.0
_ENGINE_CALL_SECONDS = 60.0
# Runs the command in bash where the image has it (as on the host), else in sh (alpine, distroless).
_SHELL = 'if command -v bash >/dev/null 2>&1; then exec bash -c "$1"; else exec sh -c "$1"; fi'

_SHM_SIZE = re.compile(r"\d+(\.\d+)?[bkmgBKMG]?")

Log = Callable[[str], None]


@dataclass(frozen=True)
class ContainerEngine:
    """An engine that answered ``info``: its name (``docker``/``podman``) and executable."""

    name: str
    executable: str


@dataclass(frozen=True)
class EngineProbe:
    """The engine jobs use, or None with the reason (one line per engine tried, joined by
    ``; ``) why none can run containers."""

    engine: ContainerEngine | None
    reason: str = ""


@dataclass(frozen=True)
class Mount:
    """A folder of the host bound into the container at ``target``."""

    source: Path
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerRun:
    """Everything one ``<engine> run`` of a job's rank needs; :func:`container_argv` spells it."""

    engine: ContainerEngine
    image: str
    name: str
    command: str
    workdir: str
    mounts: tuple[Mount, ...]
    env_names: tuple[str, ...]           # passed by name: values come from the client's environment
    labels: tuple[tuple[str, str], ...]
    uid: int
    gid: int
    network: str = "host"                # "host" | "gateway"
    shm_size: str = DEFAULT_SHM_SIZE


def find_engine(runtime: str, cache_dir: Path) -> EngineProbe:
    """The engine ``runtime`` (a value of :data:`CONTAINER_RUNTIMES`) asks for, if it can run
    containers here; ``auto`` takes docker, then podman."""
    if runtime == "none":
        return EngineProbe(None, "OPENAML_CONTAINER_RUNTIME=none")
    reasons = []
    for name in (ENGINES if runtime == "auto" else (runtime,)):
        executable = shutil.which(name)
        if executable is None:
            reasons.append(f"{name} is not installed")
            continue
        ok, why = _probe(name, executable, cache_dir)
        if ok:
            return EngineProbe(ContainerEngine(name, executable))
        reasons.append(f"{name}: {why}")
    return EngineProbe(None, "; ".join(reasons))


def _probe(name: str, executable: str, cache_dir: Path) -> tuple[bool, str]:
    """``<engine> info``'s answer, shared through a file for ``_PROBE_TTL_SECONDS``."""
    answer = shared_answer(cache_dir / _PROBE_FILE, name, _PROBE_TTL_SECONDS, lambda: _ask(name, executable))
    return bool(answer.get("available")), str(answer.get("reason", ""))


def _ask(name: str, executable: str) -> dict:
    fmt = "{{.ServerVersion}}" if name == "docker" else "{{.Version.Version}}"
    try:
        done = subprocess.run([executable, "info", "--format", fmt], capture_output=True, text=True,
                              errors="replace", timeout=_PROBE_SECONDS, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"available": False, "reason": f"`{name} info` did not answer within {_PROBE_SECONDS:.0f} s"}
    except OSError as exc:
        return {"available": False, "reason": f"`{name} info` could not start: {exc.strerror}"}
    if done.returncode == 0:
        return {"available": True, "reason": ""}
    lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
    return {"available": False, "reason": (lines[-1] if lines else f"`{name} info` exited with {done.returncode}")[:300]}


def network_mode(platform: str = sys.platform) -> str:
    """``host`` where the engine runs containers on this kernel (Linux), else ``gateway``."""
    return "host" if platform.startswith("linux") else "gateway"


def container_tracking_url(url: str, network: str) -> str:
    """The job's MLflow endpoint as the container reaches it: unchanged with host networking,
    through the host gateway's name otherwise."""
    if network == "host":
        return url
    parts = urlsplit(url)
    netloc = GATEWAY_HOST + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def container_name(token: str, rank: int) -> str:
    """The name of one rank's container: the job's token makes it unique on this host."""
    return f"openaml-{token}-{rank}"


def job_container(engine: ContainerEngine, image: str, *, token: str, rank: int, job: str, workspace: str,
                  scratch: Path, inputs: Path, code_dir: Path, command: str, env_names: Iterable[str],
                  shm_size: str | None = None, read_only: Iterable[Path] = (),
                  platform: str = sys.platform) -> ContainerRun:
    """One rank of a job as a :class:`ContainerRun`: the scratch folder at its own path (inputs
    read-only on top), the code snapshot as the working folder, labelled with the token;
    ``read_only`` files or folders of this machine (the parallel driver) at their own paths too."""
    mounts = [Mount(scratch, str(scratch))]
    if inputs.is_dir():
        mounts.append(Mount(inputs, str(inputs), read_only=True))
    mounts += [Mount(path, str(path), read_only=True) for path in read_only]
    if shm_size is not None and not _SHM_SIZE.fullmatch(str(shm_size)):
        raise ValidationError(f"{shm_size!r:.40} is not a size such as 2g or 512m", field="resources.shm_size")
    return ContainerRun(
        engine=engine, image=image, name=container_name(token, rank), command=command,
        workdir=str(code_dir), mounts=tuple(mounts), env_names=tuple(sorted(set(env_names))),
        labels=((TOKEN_LABEL, token), ("openaml.job", job), ("openaml.workspace", workspace)),
        uid=os.getuid() if hasattr(os, "getuid") else 0, gid=os.getgid() if hasattr(os, "getgid") else 0,
        network=network_mode(platform), shm_size=shm_size or DEFAULT_SHM_SIZE)


def container_argv(run: ContainerRun) -> list[str]:
    """The ``<engine> run ...`` command line of ``run`` (see the module's docstring for why)."""
    argv = [run.engine.executable, "run", "--rm", "--init", "--name", run.name]
    for key, value in run.labels:
        argv += ["--label", f"{key}={value}"]
    if run.network == "host":
        argv += ["--network", "host"]
    else:
        argv += ["--add-host", f"{GATEWAY_HOST}:host-gateway"]
    if run.engine.name == "podman" and run.uid != 0:
        argv += ["--userns", "keep-id"]  # rootless: container uid = ours, not a sub-uid
    argv += ["--user", f"{run.uid}:{run.gid}", "--shm-size", run.shm_size, "--workdir", run.workdir]
    for mount in run.mounts:
        argv += ["--mount", _mount_option(mount)]
    argv += ["-e", "HOME=/tmp"]  # an arbitrary uid has no home in the image's /etc/passwd
    for name in run.env_names:
        argv += ["-e", name]
    argv += ["--entrypoint", "/bin/sh", run.image, "-c", _SHELL, "openaml-job", run.command]
    return argv


def _mount_option(mount: Mount) -> str:
    for path in (str(mount.source), mount.target):
        if any(c in path for c in ',"\n'):
            raise EnvironmentBuildError(f"cannot mount {path!r} into a container: the path holds a comma, "
                                        "a quote or a newline (move OPENAML_HOME to a plainer path)", path=path)
    option = f"type=bind,source={mount.source},target={mount.target}"
    return option + (",readonly" if mount.read_only else "")


def client_env(base: Mapping[str, str], job_vars: Mapping[str, str]) -> dict[str, str]:
    """The engine client's own environment: this process's (it needs ``DOCKER_HOST`` and
    friends), plus the job's variables that ``-e NAME`` forwards into the container."""
    env = {k: v for k, v in base.items() if not k.startswith("VIRTUAL_ENV")}
    env.update(job_vars)
    return env


def ensure_image(engine: ContainerEngine, image: str, log: Log) -> str:
    """Pull ``image`` unless the engine has it; returns ``cached`` or ``pulled``."""
    if _call(engine, ["image", "inspect", image]):
        return "cached"
    log(f"[environment] {engine.name} pull {image}")
    code, tail = _stream(engine, ["pull", image], log)
    if code:
        shown = "\n".join(f"  | {line}" for line in tail)
        raise EnvironmentBuildError(f"`{engine.name} pull {image}` exited with {code}:\n{shown}",
                                    image=image, exit_code=code)
    return "pulled"


def image_exists(engine: ContainerEngine, tag: str) -> bool:
    """Whether the engine has the image ``tag``."""
    return _call(engine, ["image", "inspect", tag])


def remove_containers(engine: ContainerEngine, names: Iterable[str], grace: float) -> None:
    """Stop the named containers (SIGTERM, SIGKILL after ``grace`` seconds) and remove them;
    names that no longer exist (``--rm`` removed them) are fine."""
    names = list(names)
    if not names:
        return
    if grace > 0:
        _call(engine, ["stop", "--time", str(max(1, round(grace))), *names], timeout=grace + 30)
    _call(engine, ["rm", "--force", *names])


def remove_labelled(engine_name: str, token: str) -> None:
    """Remove every container labelled with a job's token (a dead agent's job); the engine is
    named by the job record, so only ``docker`` and ``podman`` are ever run."""
    executable = shutil.which(engine_name) if engine_name in ENGINES else None
    if executable is None:
        return
    engine = ContainerEngine(engine_name, executable)
    try:
        done = subprocess.run([executable, "ps", "--all", "--quiet", "--filter", f"label={TOKEN_LABEL}={token}"],
                              capture_output=True, text=True, timeout=_ENGINE_CALL_SECONDS, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return
    ids = done.stdout.split() if done.returncode == 0 else []
    if ids:
        _call(engine, ["rm", "--force", *ids])


def _call(engine: ContainerEngine, args: list[str], timeout: float = _ENGINE_CALL_SECONDS) -> bool:
    try:
        return subprocess.run([engine.executable, *args], capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _stream(engine: ContainerEngine, args: list[str], log: Log) -> tuple[int, list[str]]:
    """Run an engine command, each output line to ``log``; its exit code and last lines."""
    from collections import deque

    tail: deque[str] = deque(maxlen=25)
    with subprocess.Popen([engine.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace", stdin=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip("\n"))
            log(tail[-1])
        return proc.wait(), list(tail)
