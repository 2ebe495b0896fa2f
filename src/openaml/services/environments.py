"""Job environments as cached virtual environments built with ``uv`` (architecture decision 6).

An :class:`~openaml.entities.Environment` or a curated Azure name is first *normalised* into a
:class:`NormalisedSpec` (sorted PyPI requirements, host Python major.minor, platform, env vars);
the sha256 of that spec is the environment's key. :meth:`EnvironmentBuilder.resolve` then
returns a :class:`ResolvedEnvironment`, building ``<cache_dir>/<key>/`` first when missing:
``uv venv`` + ``uv pip install`` in ``.building-<key>-<pid>/``, renamed into place under a file
lock per key, so concurrent jobs asking for the same environment build it once.

Sources, in order of precedence: a conda file (the image, if any, is only noted), a build
context whose Dockerfile is simple enough to translate, a curated name or curated image, and a
plain image: in a container where an engine can run one (``services/containers.py``), else in a
venv for the Python the image names when uv finds that interpreter (else this machine's), or on
this very interpreter with ``OPENAML_ALLOW_HOST_PYTHON=1``. The job's first log line says which
(:attr:`ResolvedEnvironment.headline`). See ``docs/environments.md``.
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from openaml.errors import EnvironmentBuildError
from openaml.services import containers, curated
from openaml.services.containers import ContainerEngine, EngineProbe
from openaml.services.env_conda import conda_version, load_conda, translate_conda
from openaml.services.env_dockerfile import Untranslatable, translate_dockerfile
from openaml.services.env_errors import (ALLOW_HOST_PYTHON_VAR, build_error, dockerfile_message,
                                         failing_package, runtime_unavailable_message)
from openaml.services.env_images import check_image_reference, find_python, image_python_version
from openaml.services.env_requirements import Translation

if TYPE_CHECKING:
    from openaml.entities import BuildContext, Environment
    from openaml.services.settings import Settings

FORMAT_VERSION = 2  # 2: venvs ship compiled bytecode
_TAIL_LINES = 25
# The oldest Python a venv is built for: uv's own floor. An image naming an older one runs on
# this machine's Python.
_OLDEST_PYTHON = (3, 8)

Log = Callable[[str], None]

# The translators and error helpers live in env_conda, env_dockerfile, env_errors and
# env_requirements; the names other modules import from here stay importable from here.
__all__ = ["ALLOW_HOST_PYTHON_VAR", "EnvironmentBuilder", "NormalisedSpec", "ResolvedEnvironment",
           "Translation", "Untranslatable", "builder_for", "conda_version", "failing_package", "load_conda",
           "translate_conda", "translate_dockerfile"]


@dataclass(frozen=True)
class ResolvedEnvironment:
    """Where and how a job's command runs once its environment is ready."""

    key: str
    kind: str                 # "venv" | "host" | "container"
    python: Path | None       # interpreter for venv/host; None for a container
    bin_dir: Path | None      # prepend to PATH
    image: str | None         # container only: the image (or the tag built from a context)
    env_vars: dict[str, str]
    description: str          # one line for the environment log
    headline: str = ""        # the job log's first line, where the environment is not what was asked
    engine: ContainerEngine | None = None  # container only


@dataclass(frozen=True)
class NormalisedSpec:
    """What an environment asks for, written one way. Only :meth:`identity` feeds the key;
    ``source`` and ``notes`` are for the log."""

    kind: str                                   # "venv" | "host" | "container"
    python: str                                 # the venv's Python major.minor
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
    interpreter: str | None = field(default=None, compare=False)  # base interpreter; None: this one
    headline: str = field(default="", compare=False)

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

    ``container_runtime`` (``OPENAML_CONTAINER_RUNTIME``: auto, docker, podman, none) chooses the
    engine that runs image-only environments; ``engine`` gives its answer instead of probing
    (tests), else it is probed once, on first need (an answer another process wrote under
    ``cache_dir`` in the last minute is reused). Where none runs, ``allow_host_python``
    (``OPENAML_ALLOW_HOST_PYTHON``) runs them on this very interpreter instead of in a venv for
    the image's Python; ``find_python`` (``version -> interpreter or None``) replaces uv's search.
    """

    def __init__(self, cache_dir: Path, *, uv_path: str | None = None, allow_host_python: bool = False,
                 container_runtime: str = "auto", engine: EngineProbe | None = None,
                 find_python: Callable[[str], Path | None] | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        self.allow_host_python = allow_host_python
        self.container_runtime = container_runtime
        self._uv_path = uv_path
        self._probe = engine
        self._find_python = find_python
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
        """True when :meth:`resolve` would not build (or pull) anything."""
        spec = self.normalise(env)
        if spec.kind == "venv":
            return _complete(self.cache_dir / spec.key)
        engine = self.engine_probe().engine
        if spec.kind == "container" and engine is not None:
            return containers.image_exists(engine, _image_tag(spec.key) if spec.docker_context else str(spec.image))
        return True

    def engine_probe(self) -> EngineProbe:
        """The container engine jobs use here, or why there is none (probed once)."""
        if self._probe is None:
            self._probe = containers.find_engine(self.container_runtime, self.cache_dir)
        return self._probe

    def _no_engine(self, what: str) -> str:
        """Why ``what`` does not run in a container, short, for the job's first log line; an
        engine named in ``OPENAML_CONTAINER_RUNTIME`` that cannot run is an error instead."""
        probe = self.engine_probe()
        if self.container_runtime in containers.ENGINES:
            raise EnvironmentBuildError(runtime_unavailable_message(self.container_runtime, what, probe.reason),
                                        field="OPENAML_CONTAINER_RUNTIME")
        return "OPENAML_CONTAINER_RUNTIME=none" if self.container_runtime == "none" else "no container engine"

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
        check_image_reference(image)
        ref = curated.find_image(image)
        if ref is not None:
            return self._curated(ref, image)
        engine = self.engine_probe().engine
        if engine is not None:
            return self._other("container", f"image {image}", image=image,
                               headline=f"openaml: image {image} runs in a {engine.name} container")
        why = self._no_engine(f"image {image}")
        if self.allow_host_python:
            return self._host(f"image {image}", why, image)
        return self._image_venv(image, why)

    def _image_venv(self, image: str, why: str) -> NormalisedSpec:
        """An empty venv (pip seeded, as the python images have it) for the Python ``image``
        names when uv finds that interpreter here, else for this machine's Python."""
        wanted = image_python_version(image)
        version, interpreter, missing = self._python, None, ""
        if wanted and wanted != self._python:
            found = self._interpreter(wanted)
            if found is not None:
                version, interpreter = wanted, str(found)
            else:
                missing = f" (Python {wanted}, which the image names, is not installed here)"
        spec = NormalisedSpec(kind="venv", python=version, platform=self._platform, source=f"image {image}",
                              interpreter=interpreter, notes=(f"image {image} not run in a container: {self.engine_probe().reason}",))
        return replace(spec, headline=f"openaml: image {image} not run: {why}; ran on Python {version} "
                                      f"in venv {spec.key[:12]}{missing}")

    def _interpreter(self, version: str) -> Path | None:
        major, _, minor = version.partition(".")
        if (int(major), int(minor)) < _OLDEST_PYTHON:
            return None
        if self._find_python is not None:
            return self._find_python(version)
        return find_python(version, self._uv(), self.cache_dir)

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
            engine = self.engine_probe().engine
            if engine is not None:
                return self._other("container", f"Dockerfile {dockerfile}", docker_context=str(context),
                                   dockerfile=str(dockerfile), context_digest=_digest_tree(context),
                                   headline=f"openaml: Dockerfile {dockerfile} runs in a {engine.name} container")
            why = self._no_engine(f"Dockerfile {dockerfile}")
            if self.allow_host_python:
                return self._host(f"Dockerfile {dockerfile}", why, None)
            raise EnvironmentBuildError(dockerfile_message(dockerfile, exc.problems),
                                        path=str(dockerfile), instructions=exc.problems) from None
        return self._venv(tr, f"Dockerfile {dockerfile}")

    def _other(self, kind: str, source: str, notes: tuple[str, ...] = (), **fields: Any) -> NormalisedSpec:
        return NormalisedSpec(kind=kind, python=self._python, platform=self._platform,
                              source=source, notes=notes, **fields)

    def _host(self, what: str, why: str, image: str | None) -> NormalisedSpec:
        headline = (f"openaml: {what} not run: {why}; ran on Python {self._python} at {sys.executable} "
                    f"({ALLOW_HOST_PYTHON_VAR}=1)")
        note = (f"{what} not run in a container: {self.engine_probe().reason}; running on {sys.executable}: "
                f"nothing is installed, the job sees this interpreter's packages")
        return self._other("host", f"host Python instead of {what}", (note,), image=image, headline=headline)

    # -- resolution ----------------------------------------------------------------------------

    def resolve(self, env: Environment | str, *, log: Log = print) -> ResolvedEnvironment:
        """The environment ready to run, built first if missing; uv's output goes to ``log``."""
        spec = self.normalise(env)
        for note in spec.notes:
            log(f"[environment] {note}")
        if spec.kind == "host":
            exe = Path(sys.executable)
            return ResolvedEnvironment(spec.key, "host", exe, exe.parent, None, dict(spec.env_vars),
                                       f"host Python {self._python} at {exe}", spec.headline)
        if spec.kind == "container":
            return self._resolve_container(spec, log)
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
                                   {"VIRTUAL_ENV": str(final), **dict(spec.env_vars)}, description, spec.headline)

    def _build_venv(self, spec: NormalisedSpec, final: Path, log: Log) -> float:
        """Build into a temp folder and rename it into place; on failure leave nothing behind."""
        for stale in self.cache_dir.glob(f".building-{spec.key}-*"):
            shutil.rmtree(stale, ignore_errors=True)  # a crashed build; we hold the key's lock
        tmp = self.cache_dir / f".building-{spec.key}-{os.getpid()}"
        started = time.monotonic()
        log(f"[environment] building venv {spec.key[:12]} from {spec.source} with uv")
        try:
            uv = self._uv()
            self._run([uv, "venv", str(tmp), "--python", spec.interpreter or sys.executable, "--seed", "--relocatable",
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

    # -- containers ----------------------------------------------------------------------------

    def _resolve_container(self, spec: NormalisedSpec, log: Log) -> ResolvedEnvironment:
        """The image pulled (or built from the context) by the engine, before the job runs."""
        engine = self.engine_probe().engine
        if engine is None:  # the engine stopped between normalising and now
            raise EnvironmentBuildError(f"{spec.source} needs a container engine, and none runs now: "
                                        f"{self.engine_probe().reason}", key=spec.key)
        env_vars = dict(spec.env_vars)
        if not spec.docker_context:
            status = containers.ensure_image(engine, str(spec.image), log)
            return ResolvedEnvironment(spec.key, "container", None, None, spec.image, env_vars,
                                       f"{engine.name} image {spec.image} ({status})", spec.headline, engine)
        from filelock import FileLock

        tag = _image_tag(spec.key)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self._lock_path(spec.key))):
            if containers.image_exists(engine, tag):
                status = "cached"
            else:
                log(f"[environment] {engine.name} build -t {tag} ({spec.source})")
                self._run([engine.executable, "build", "-t", tag, "-f", str(spec.dockerfile),
                           str(spec.docker_context)], log, spec)
                with self._count_lock:
                    self.builds += 1
                status = "built"
        return ResolvedEnvironment(spec.key, "container", None, None, tag, env_vars,
                                   f"{engine.name} image {tag} from {spec.source} ({status})", spec.headline, engine)


def builder_for(settings: Settings, pinned: Mapping[str, Any] | None = None) -> EnvironmentBuilder:
    """The builder a job's environment resolves with: ``settings``, except the container runtime
    and host-Python choice that the job's submission pinned (``pinned`` is its resolved spec)."""
    pinned = pinned or {}
    runtime = pinned.get("container_runtime")
    return EnvironmentBuilder(
        settings.envs_dir, allow_host_python=bool(pinned.get("allow_host_python", settings.allow_host_python)),
        container_runtime=runtime if runtime in containers.CONTAINER_RUNTIMES else settings.container_runtime)


def _complete(folder: Path) -> bool:
    return (folder / "spec.json").is_file()


def _image_tag(key: str) -> str:
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
