"""Job environments as cached virtual environments built with ``uv`` (architecture decision 6).

An :class:`~openaml.entities.Environment` or a curated Azure name is first *normalised* into a
:class:`NormalisedSpec` (sorted PyPI requirements, host Python major.minor, platform, env vars);
the sha256 of that spec is the environment's key. :meth:`EnvironmentBuilder.resolve` then
returns a :class:`ResolvedEnvironment`, building ``<cache_dir>/<key>/`` first when missing:
``uv venv`` + ``uv pip install`` in ``.building-<key>-<pid>/``, renamed into place under a file
lock per key, so concurrent jobs asking for the same environment build it once.

Sources, in order of precedence: a conda file (the image, if any, is only noted), a build
context whose Dockerfile is simple enough to translate, a curated name or curated image, and a
plain image (Docker when an engine runs, else the host Python when allowed, else an error that
says what works). See ``docs/environments.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from openaml.errors import EnvironmentBuildError
from openaml.services import curated
from openaml.services.env_conda import conda_version, load_conda, translate_conda
from openaml.services.env_dockerfile import Untranslatable, translate_dockerfile
from openaml.services.env_errors import (ALLOW_HOST_PYTHON_VAR, build_error, dockerfile_message,
                                         failing_package, image_only_message)
from openaml.services.env_requirements import Translation

if TYPE_CHECKING:
    from openaml.entities import BuildContext, Environment

FORMAT_VERSION = 2  # 2: venvs ship compiled bytecode
_TAIL_LINES = 25
_DOCKER_PROBE_SECONDS = 2.0
# How long one `docker info` answer is reused, by this and other processes (each job's agent
# would otherwise pay for the probe); starting or stopping Docker is noticed within this time.
_DOCKER_PROBE_TTL_SECONDS = 60.0
_DOCKER_PROBE_FILE = ".docker-probe.json"

Log = Callable[[str], None]

# The translators and error helpers live in env_conda, env_dockerfile, env_errors and
# env_requirements; the names other modules import from here stay importable from here.
__all__ = ["ALLOW_HOST_PYTHON_VAR", "EnvironmentBuilder", "NormalisedSpec", "ResolvedEnvironment",
           "Translation", "Untranslatable", "conda_version", "failing_package", "load_conda",
           "translate_conda", "translate_dockerfile"]


@dataclass(frozen=True)
class ResolvedEnvironment:
    """Where and how a job's command runs once its environment is ready."""

    key: str
    kind: str                 # "venv" | "host" | "docker"
    python: Path | None       # interpreter for venv/host; None for docker
    bin_dir: Path | None      # prepend to PATH
    image: str | None         # docker only
    env_vars: dict[str, str]
    description: str          # one line for the job log


@dataclass(frozen=True)
class NormalisedSpec:
    """What an environment asks for, written one way. Only :meth:`identity` feeds the key;
    ``source`` and ``notes`` are for the log."""

    kind: str                                   # "venv" | "host" | "docker"
    python: str                                 # host Python major.minor
    platform: str                               # sys.platform-machine
    packages: tuple[str, ...] = ()              # sorted PEP 508 lines
    index_args: tuple[str, ...] = ()            # --index-url/--extra-index-url/--find-links
    env_vars: tuple[tuple[str, str], ...] = ()
    image: str | None = None
    docker_context: str | None = None           # local folder for `docker build`
    dockerfile: str | None = None
    context_digest: str | None = None
    source: str = ""
    notes: tuple[str, ...] = field(default=(), compare=False)

    def identity(self) -> dict[str, Any]:
        """The keyed content: identical specs written differently give the same dict."""
        ident: dict[str, Any] = {"format": FORMAT_VERSION, "kind": self.kind, "python": self.python,
                                 "platform": self.platform, "packages": list(self.packages),
                                 "index": list(self.index_args), "env": dict(self.env_vars)}
        if self.kind != "venv":
            ident.update(image=self.image, context=self.context_digest)
        return ident

    @property
    def key(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


class EnvironmentBuilder:
    """Normalises, keys, builds and reuses job environments under ``cache_dir``.

    ``allow_host_python`` lets an image-only environment run on this interpreter when no Docker
    engine runs (the job service sets it from ``OPENAML_ALLOW_HOST_PYTHON``).
    ``docker_available=None`` probes ``docker info`` once, on first need (an answer another
    process wrote under ``cache_dir`` in the last minute is reused).
    """

    def __init__(self, cache_dir: Path, *, uv_path: str | None = None,
                 allow_host_python: bool = False, docker_available: bool | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        self.allow_host_python = allow_host_python
        self._uv_path = uv_path
        self._docker = docker_available
        self._python = f"{sys.version_info.major}.{sys.version_info.minor}"
        self._platform = f"{sys.platform}-{platform.machine().lower()}"
        self._count_lock = threading.Lock()
        self.builds = 0  # builds this instance ran (cache misses): evidence for logs and tests

    # -- normalisation -------------------------------------------------------------------------

    def normalise(self, env: Environment | str) -> NormalisedSpec:
        """The spec ``env`` asks for; ``str`` is a curated name or URI (registered workspace
        references are resolved by the caller into :class:`Environment` objects first)."""
        if isinstance(env, str):
            return self._curated(curated.lookup(env), env)
        if env.conda_file is not None:
            notes = [f"image {env.image} noted; packages come from the conda file and run on "
                     f"the host Python {self._python}"] if env.image else []
            return self._venv(translate_conda(load_conda(env.conda_file), self._python),
                              "conda file", notes)
        if env.build is not None:
            return self._from_build(env.build)
        if env.image:
            return self._from_image(env.image)
        raise EnvironmentBuildError("The environment has no image, conda_file or build context.",
                                    environment=env.name)

    def key(self, env: Environment | str) -> str:
        """sha256 of the normalised spec."""
        return self.normalise(env).key

    def is_cached(self, env: Environment | str) -> bool:
        """True when :meth:`resolve` would not build anything."""
        spec = self.normalise(env)
        if spec.kind == "venv":
            return _complete(self.cache_dir / spec.key)
        if spec.kind == "docker" and spec.docker_context:
            return self._docker_ok(["image", "inspect", _docker_tag(spec.key)])
        return True

    def docker_available(self) -> bool:
        """Whether a Docker engine answers ``docker info`` within two seconds (probed once)."""
        if self._docker is None:
            self._docker = shutil.which("docker") is not None and self._probe_docker()
        return self._docker

    def _probe_docker(self) -> bool:
        """``docker info``'s answer, shared through a file for ``_DOCKER_PROBE_TTL_SECONDS``."""
        record = self.cache_dir / _DOCKER_PROBE_FILE
        try:
            cached = json.loads(record.read_text())
            if 0 <= time.time() - cached["at"] < _DOCKER_PROBE_TTL_SECONDS:
                return bool(cached["available"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # missing, stale or unreadable: probe again
        available = self._docker_ok(["info"])
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = record.with_name(f"{record.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"available": available, "at": time.time()}))
            os.replace(tmp, record)  # readers see a whole record or none
        except OSError:
            pass  # a read-only cache only costs the next process a probe
        return available

    def _venv(self, tr: Translation, source: str, notes: list[str] | None = None) -> NormalisedSpec:
        return NormalisedSpec(
            kind="venv", python=self._python, platform=self._platform,
            packages=tuple(sorted(set(tr.packages))), index_args=tuple(tr.index_args),
            env_vars=tuple(sorted(tr.env_vars.items())), source=source,
            notes=tuple([*(notes or []), *tr.notes]))

    def _curated(self, ref: curated.CuratedReference, written: str) -> NormalisedSpec:
        env = ref.environment
        notes = [f"curated environment '{written}' maps to openaml's '{env.name}' package list"]
        if ref.version and ref.version.lower() != "latest":
            notes.append(f"every version of '{env.name}' maps to the same list (asked: {ref.version})")
        if not env.azure_python.startswith(self._python):
            notes.append(f"Azure's {env.name} runs Python {env.azure_python}; running on host "
                         f"Python {self._python}")
        if env.notes:
            notes.append(f"{env.name}: {env.notes}")
        return self._venv(Translation(packages=list(env.packages)), f"curated {env.name}", notes)

    def _from_image(self, image: str) -> NormalisedSpec:
        ref = curated.find_image(image)
        if ref is not None:
            return self._curated(ref, image)
        if self.docker_available():
            return self._other("docker", f"image {image}", image=image)
        if self.allow_host_python:
            return self._host(f"image {image}", image)
        raise EnvironmentBuildError(image_only_message(image), image=image)

    def _from_build(self, build: BuildContext) -> NormalisedSpec:
        context = Path(build.path or "")
        if not build.path or not context.is_dir():
            raise EnvironmentBuildError(
                f"The build context '{build.path}' is not a local folder; openaml builds "
                f"environments from local build contexts only.", path=build.path)
        dockerfile = context / build.dockerfile_path
        if not dockerfile.is_file():
            raise EnvironmentBuildError(f"No Dockerfile at {dockerfile}.", path=str(dockerfile))
        try:
            tr = translate_dockerfile(dockerfile.read_text(), context, self._python)
        except Untranslatable as exc:
            if self.docker_available():
                return self._other("docker", f"Dockerfile {dockerfile}", docker_context=str(context),
                                   dockerfile=str(dockerfile), context_digest=_digest_tree(context))
            if self.allow_host_python:
                return self._host(f"Dockerfile {dockerfile}", None)
            raise EnvironmentBuildError(dockerfile_message(dockerfile, exc.problems),
                                        path=str(dockerfile), instructions=exc.problems) from None
        return self._venv(tr, f"Dockerfile {dockerfile}")

    def _other(self, kind: str, source: str, notes: tuple[str, ...] = (), **fields: Any) -> NormalisedSpec:
        return NormalisedSpec(kind=kind, python=self._python, platform=self._platform,
                              source=source, notes=notes, **fields)

    def _host(self, what: str, image: str | None) -> NormalisedSpec:
        note = (f"{what} needs Docker, which is not running here; running on the host Python "
                f"{self._python} ({sys.executable}) because {ALLOW_HOST_PYTHON_VAR} is set")
        return self._other("host", f"host Python instead of {what}", (note,), image=image)

    # -- resolution ----------------------------------------------------------------------------

    def resolve(self, env: Environment | str, *, log: Log = print) -> ResolvedEnvironment:
        """The environment ready to run, built first if missing; uv's output goes to ``log``."""
        spec = self.normalise(env)
        for note in spec.notes:
            log(f"[environment] {note}")
        if spec.kind == "host":
            exe = Path(sys.executable)
            return ResolvedEnvironment(spec.key, "host", exe, exe.parent, None, dict(spec.env_vars),
                                       f"host Python {self._python} at {exe}")
        if spec.kind == "docker":
            return self._resolve_docker(spec, log)
        return self._resolve_venv(spec, log)

    def _resolve_venv(self, spec: NormalisedSpec, log: Log) -> ResolvedEnvironment:
        final = self.cache_dir / spec.key
        if not _complete(final):
            from filelock import FileLock  # here: a cached environment never needs it (~10 ms)

            self.cache_dir.mkdir(parents=True, exist_ok=True)
            with FileLock(str(self._lock_path(spec.key))):
                if not _complete(final):
                    seconds = self._build_venv(spec, final, log)
                    return self._venv_result(spec, final, f"built in {seconds:.1f} s", log)
        return self._venv_result(spec, final, "cached", log)

    def _venv_result(self, spec: NormalisedSpec, final: Path, status: str, log: Log) -> ResolvedEnvironment:
        bin_dir = final / ("Scripts" if sys.platform == "win32" else "bin")
        python = bin_dir / ("python.exe" if sys.platform == "win32" else "python")
        shown = ", ".join(spec.packages[:6]) or "no packages"
        if len(spec.packages) > 6:
            shown += f" (+{len(spec.packages) - 6} more)"
        description = f"venv {spec.key[:12]}: {shown} ({status})"
        log(f"[environment] {description}")
        return ResolvedEnvironment(spec.key, "venv", python, bin_dir, None,
                                   {"VIRTUAL_ENV": str(final), **dict(spec.env_vars)}, description)

    def _build_venv(self, spec: NormalisedSpec, final: Path, log: Log) -> float:
        """Build into a temp folder and rename it into place; on failure leave nothing behind."""
        for stale in self.cache_dir.glob(f".building-{spec.key}-*"):
            shutil.rmtree(stale, ignore_errors=True)  # a crashed build; we hold the key's lock
        tmp = self.cache_dir / f".building-{spec.key}-{os.getpid()}"
        started = time.monotonic()
        log(f"[environment] building venv {spec.key[:12]} from {spec.source} with uv")
        try:
            uv = self._uv()
            self._run([uv, "venv", str(tmp), "--python", sys.executable, "--seed", "--relocatable",
                       "--no-project", "--color", "never"], log, spec)
            if spec.packages:
                requirements = tmp / "requirements.txt"
                requirements.write_text("\n".join(spec.packages) + "\n")
                python = tmp / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
                # --compile-bytecode: jobs import from a fresh process each time, and without .pyc
                # files (uv's default) importing mlflow + scikit-learn costs seconds per job.
                self._run([uv, "pip", "install", "--python", str(python), "--link-mode", "hardlink",
                           "--compile-bytecode", "--color", "never", *spec.index_args, "-r", str(requirements)], log, spec)
            record = {"key": spec.key, "source": spec.source, "spec": spec.identity(),
                      "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            (tmp / "spec.json").write_text(json.dumps(record, indent=2) + "\n")
            if final.exists():  # an incomplete leftover (no spec.json): replace it
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        with self._count_lock:
            self.builds += 1
        return time.monotonic() - started

    def _lock_path(self, key: str) -> Path:
        locks = self.cache_dir / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        return locks / f"{key}.lock"

    def _uv(self) -> str:
        if self._uv_path:
            return self._uv_path
        try:
            from uv import find_uv_bin  # the `uv` PyPI package ships the binary
            self._uv_path = find_uv_bin()
        except (ImportError, FileNotFoundError):
            self._uv_path = shutil.which("uv")
        if not self._uv_path:
            raise EnvironmentBuildError("uv is not installed; `pip install uv` (openaml depends on it).")
        return self._uv_path

    def _run(self, argv: list[str], log: Log, spec: NormalisedSpec) -> None:
        """Run a build command, streaming each output line to ``log``."""
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
        env.update(NO_COLOR="1", UV_PYTHON_DOWNLOADS="never")
        tail: deque[str] = deque(maxlen=_TAIL_LINES)
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              errors="replace", env=env, cwd=self.cache_dir) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                tail.append(line)
                log(line)
            code = proc.wait()
        if code:
            raise build_error(argv, code, list(tail), spec.source, spec.key)

    # -- docker --------------------------------------------------------------------------------

    def _resolve_docker(self, spec: NormalisedSpec, log: Log) -> ResolvedEnvironment:
        env_vars = dict(spec.env_vars)
        if not spec.docker_context:
            return ResolvedEnvironment(spec.key, "docker", None, None, spec.image, env_vars,
                                       f"docker image {spec.image}")
        from filelock import FileLock

        tag = _docker_tag(spec.key)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self._lock_path(spec.key))):
            if self._docker_ok(["image", "inspect", tag]):
                status = "cached"
            else:
                log(f"[environment] docker build -t {tag} ({spec.source})")
                self._run(["docker", "build", "-t", tag, "-f", str(spec.dockerfile),
                           str(spec.docker_context)], log, spec)
                with self._count_lock:
                    self.builds += 1
                status = "built"
        return ResolvedEnvironment(spec.key, "docker", None, None, tag, env_vars,
                                   f"docker image {tag} from {spec.source} ({status})")

    def _docker_ok(self, args: list[str]) -> bool:
        try:
            done = subprocess.run(["docker", *args], capture_output=True,
                                  timeout=_DOCKER_PROBE_SECONDS if args == ["info"] else 30)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0


def _complete(folder: Path) -> bool:
    return (folder / "spec.json").is_file()


def _docker_tag(key: str) -> str:
    return f"openaml-env:{key[:16]}"


def _digest_tree(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        file_digest = hashlib.sha256()
        with open(path, "rb") as fh:  # in chunks: a build context may hold large files
            while chunk := fh.read(1 << 20):
                file_digest.update(chunk)
        digest.update(file_digest.digest())
    return digest.hexdigest()
