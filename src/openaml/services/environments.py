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
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from filelock import FileLock

from openaml.entities import BuildContext, Environment
from openaml.errors import EnvironmentBuildError
from openaml.services import curated

FORMAT_VERSION = 1
ALLOW_HOST_PYTHON_VAR = "OPENAML_ALLOW_HOST_PYTHON"
_TAIL_LINES = 25
_DOCKER_PROBE_SECONDS = 2.0

Log = Callable[[str], None]

__all__ = ["ALLOW_HOST_PYTHON_VAR", "EnvironmentBuilder", "NormalisedSpec", "ResolvedEnvironment"]


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
    ``docker_available=None`` probes ``docker info`` once, on first need.
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
            self._docker = shutil.which("docker") is not None and self._docker_ok(["info"])
        return self._docker

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
        raise EnvironmentBuildError(_image_only_message(image), image=image)

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
            raise EnvironmentBuildError(_dockerfile_message(dockerfile, exc.problems),
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
                self._run([uv, "pip", "install", "--python", str(python), "--link-mode", "hardlink",
                           "--color", "never", *spec.index_args, "-r", str(requirements)], log, spec)
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
            raise _build_error(argv, code, list(tail), spec)

    # -- docker --------------------------------------------------------------------------------

    def _resolve_docker(self, spec: NormalisedSpec, log: Log) -> ResolvedEnvironment:
        env_vars = dict(spec.env_vars)
        if not spec.docker_context:
            return ResolvedEnvironment(spec.key, "docker", None, None, spec.image, env_vars,
                                       f"docker image {spec.image}")
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
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


_OPTIONS = (
    "  - add a conda_file (with image) listing the packages: openaml builds a virtual environment "
    "from it;\n"
    "  - use a build context whose Dockerfile is simple: FROM python:* or an AzureML base image, "
    "RUN pip install ..., COPY requirements.txt + RUN pip install -r requirements.txt, ENV, "
    "WORKDIR;\n"
    "  - start a Docker engine (then the image or build context runs in Docker);\n"
    f"  - or opt in to running on this machine's Python ({sys.version.split()[0]}) with "
    f"{ALLOW_HOST_PYTHON_VAR}=1 when submitting the job.")


def _image_only_message(image: str) -> str:
    return (f"The environment is only the Docker image '{image}', and no Docker engine is running "
            f"here. What works instead:\n{_OPTIONS}")


def _dockerfile_message(dockerfile: Path, problems: list[str]) -> str:
    listed = "\n".join(f"  {p}" for p in problems)
    return (f"{dockerfile} uses instructions openaml can only run in Docker, and no Docker engine "
            f"is running here:\n{listed}\nWhat works instead:\n{_OPTIONS}")


def _build_error(argv: list[str], code: int, tail: list[str], spec: NormalisedSpec) -> EnvironmentBuildError:
    package = failing_package(tail)
    what = " ".join([Path(argv[0]).name, *argv[1:3 if argv[1] == "pip" else 2]])
    where = f" while installing '{package}'" if package else ""
    shown = "\n".join(f"  | {line}" for line in tail)
    return EnvironmentBuildError(
        f"Building the environment ({spec.source}) failed{where}: `{what}` exited with {code}. "
        f"Last lines of its output:\n{shown}", package=package, exit_code=code, key=spec.key)


# -- translation: conda files and Dockerfiles into PyPI requirements ------------------------------

@dataclass
class Translation:
    """The PyPI requirements and env vars an environment source asks for, plus log notes."""

    packages: list[str] = field(default_factory=list)
    index_args: list[str] = field(default_factory=list)
    env_vars: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Untranslatable(Exception):
    """A Dockerfile needs Docker; ``problems`` names each instruction that does."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# conda names (canonicalised) that are the same project on PyPI
_CONDA_SAME = frozenset("""
numpy pandas scikit-learn scipy matplotlib setuptools wheel pyyaml requests lightgbm xgboost
catboost tensorflow tensorflow-cpu keras tensorboard mlflow mlflow-skinny joblib seaborn statsmodels
pillow tqdm psutil cloudpickle click pyarrow fsspec h5py nltk plotly sympy networkx numba pytest
ipykernel ipython protobuf six packaging jinja2 flask fastapi uvicorn sqlalchemy pydantic boto3
transformers datasets tokenizers torchvision torchaudio onnx onnxruntime optuna shap scikit-image
imbalanced-learn category-encoders dask distributed pyspark python-dateutil pytz tabulate toolz
typing-extensions beautifulsoup4 lxml openpyxl xlrd sentencepiece spacy gensim pymysql redis
azureml-core azureml-defaults azureml-mlflow azure-ai-ml azure-identity pytorch-lightning lightning
""".split())
_CONDA_RENAMED = {
    "pytorch": "torch", "pytorch-cpu": "torch", "py-xgboost": "xgboost", "py-xgboost-cpu": "xgboost",
    "matplotlib-base": "matplotlib", "msgpack-python": "msgpack", "py-opencv": "opencv-python-headless",
    "opencv": "opencv-python-headless", "pytables": "tables", "tensorflow-gpu": "tensorflow",
}
# conda-only names a virtual environment needs nothing for
_CONDA_DROPPED = frozenset({"pip", "cpuonly", "nomkl"})
_CONDA_DEP = re.compile(r"^(?:[\w.-]+::)?(?P<name>[A-Za-z0-9_][\w.\-]*)\s*(?P<rest>.*)$")
_REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?P<extras>\[[^\]]*\])?\s*(?P<spec>[^;]*?)\s*(?P<marker>;.*)?$")
_INDEX_OPTIONS = {"-i": "--index-url", "--index-url": "--index-url", "--extra-index-url": "--extra-index-url",
                  "-f": "--find-links", "--find-links": "--find-links"}


def load_conda(conda_file: str | dict[str, Any]) -> dict[str, Any]:
    """A conda file as a dict: given inline, as a path, or as YAML text."""
    if isinstance(conda_file, dict):
        return conda_file
    text = conda_file
    if "\n" not in conda_file and Path(conda_file).is_file():
        text = Path(conda_file).read_text()
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise EnvironmentBuildError(f"The conda file is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise EnvironmentBuildError(f"The conda file '{conda_file[:200]}' is neither a readable file "
                                    f"nor a YAML mapping with `dependencies:`.")
    return data


def translate_conda(data: dict[str, Any], host_python: str) -> Translation:
    """A conda environment file as PyPI requirements: the pip section as is, conda packages that
    have PyPI equivalents converted, python's pin checked against the host; anything else is an
    error naming it. ``channels`` are ignored; ``variables`` become env vars."""
    tr = Translation(env_vars={str(k): str(v) for k, v in (data.get("variables") or {}).items()})
    deps = data.get("dependencies") or []
    if not isinstance(deps, list):
        raise EnvironmentBuildError("The conda file's `dependencies:` must be a list.")
    unknown: list[str] = []
    for dep in deps:
        if isinstance(dep, dict):
            for section, lines in dep.items():
                if section != "pip":
                    unknown.append(f"{section}: (a section)")
                    continue
                for line in lines or []:
                    _pip_line(str(line), tr, "the conda file's pip section")
        else:
            _conda_dep(str(dep).strip(), tr, host_python, unknown)
    if unknown:
        raise EnvironmentBuildError(
            f"These conda packages have no PyPI equivalent openaml knows: {', '.join(unknown)}. "
            f"Move them to the `pip:` section under their PyPI names, or drop them (system "
            f"libraries such as CUDA or MKL come inside the PyPI wheels that need them).",
            packages=unknown)
    return tr


def _conda_dep(dep: str, tr: Translation, host_python: str, unknown: list[str]) -> None:
    match = _CONDA_DEP.match(dep)
    if not match:
        unknown.append(dep)
        return
    name, rest = _canonical(match["name"]), match["rest"].strip()
    if name == "python":
        note = _python_note(rest, host_python)
        if note:
            tr.notes.append(note)
        return
    if name in _CONDA_DROPPED:
        return
    pypi = _CONDA_RENAMED.get(name) or (name if name in _CONDA_SAME else None)
    if pypi is None:
        unknown.append(dep)
        return
    if pypi != name:
        tr.notes.append(f"conda package {match['name']} installs as {pypi} from PyPI")
    tr.packages.append(_normalise_requirement(pypi + conda_version(rest, dep)))


def conda_version(rest: str, dep: str = "") -> str:
    """A conda version constraint as a PEP 440 specifier: ``=1.26`` -> ``==1.26.*``,
    ``=1.26.4`` -> ``==1.26.4``, ``1.26.*`` -> ``==1.26.*``, ``>=1.2,<2`` unchanged; a build
    string (``=1.26.4=py38_0``) is dropped."""
    rest = rest.strip()
    if not rest:
        return ""
    if "|" in rest or "[" in rest:
        raise EnvironmentBuildError(f"conda dependency '{dep or rest}': alternatives ('|') and "
                                    f"bracket specs are not supported; write one PyPI constraint.")
    if rest[0] not in "=<>!~":  # "1.26.*" or "1.26.4 py38_0": version, then an optional build
        rest = "=" + rest.split()[0]
    if rest.startswith("=") and not rest.startswith("=="):
        version = rest[1:].split("=")[0].rstrip("*").rstrip(".")
        return f"=={version}" if version.count(".") >= 2 else f"=={version}.*"
    return ",".join(re.sub(r"^(==[^=]+)=.*$", r"\1", c.strip()) for c in rest.split(","))


def _python_note(rest: str, host_python: str) -> str | None:
    spec = conda_version(rest, "python" + rest)
    if not spec or all(_python_satisfies(clause, sys.version_info[:3]) for clause in spec.split(",")):
        return None
    written = rest if rest[0] in "=<>!~" else " " + rest
    return f"conda pins python{written}; running on host Python {host_python}"


def _python_satisfies(clause: str, host: tuple[int, ...]) -> bool:
    match = re.match(r"^(==|!=|>=|<=|~=|>|<)\s*([\d.]+)", clause)
    if not match:
        return True
    op, want = match[1], tuple(int(x) for x in match[2].strip(".").split(".") if x)
    have = host[:len(want)]
    if op in ("==", "~="):
        return have[:2] == want[:2] if op == "==" else (have >= want and have[0] == want[0])
    return {"!=": have != want, ">=": have >= want, "<=": have <= want,
            ">": have > want, "<": have < want}[op]


def _pip_line(line: str, tr: Translation, where: str) -> None:
    text = line.split(" #", 1)[0].strip()
    if not text or text.startswith("#"):
        return
    option = text.split("=", 1)[0].split()[0]
    if option in ("-r", "--requirement", "-c", "--constraint") or text.startswith(("-r", "-c")):
        raise EnvironmentBuildError(
            f"`{text}` in {where}: requirement files referenced from here are not supported; "
            f"list the packages themselves.", line=text)
    if option in _INDEX_OPTIONS:
        value = text[len(option):].lstrip(" =")
        tr.index_args += [_INDEX_OPTIONS[option], value]
        return
    if text.startswith("-"):
        raise EnvironmentBuildError(f"pip option `{text}` in {where} is not supported; only "
                                    f"--index-url, --extra-index-url and --find-links are.", line=text)
    tr.packages.append(_normalise_requirement(text))


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _normalise_requirement(text: str) -> str:
    """One way to write a PEP 508 line: canonical lower-case name, sorted extras and clauses, no
    spaces. URLs and paths are kept as written."""
    text = " ".join(text.split())
    match = _REQUIREMENT.match(text)
    if not match or "://" in text or " @ " in text:
        return text
    extras = ""
    if match["extras"]:
        items = sorted({e.strip().lower() for e in match["extras"][1:-1].split(",") if e.strip()})
        extras = f"[{','.join(items)}]"
    spec = match["spec"].strip().strip("()").replace(" ", "").lower()
    clauses = ",".join(sorted(c for c in spec.split(",") if c))
    marker = f"; {match['marker'][1:].strip()}" if match["marker"] else ""
    return f"{_canonical(match['name'])}{extras}{clauses}{marker}"


_FAILURE_PATTERNS = (
    re.compile(r"Failed to (?:build|download|fetch|install|prepare distributions for) `([^`]+)`"),
    re.compile(r"Because ([A-Za-z0-9][\w.\-\[\]]*) was not found in the package registry"),
    re.compile(r"there is no version of ([A-Za-z0-9][\w.\-\[\]]*(?:[=<>!~]=?[\w.*+!]+)?)"),
    re.compile(r"(?:you require|depends on) ([A-Za-z0-9][\w.\-\[\]]*(?:[=<>!~]=?[\w.*+!]+)?)"),
)


def failing_package(tail: list[str]) -> str | None:
    """The package uv's output blames, if it names one."""
    text = "\n".join(tail)
    for pattern in _FAILURE_PATTERNS:
        match = pattern.search(text)
        if match:
            return match[1]
    return None


# -- Dockerfiles ---------------------------------------------------------------------------------

_DOCKER_IGNORED = frozenset({"LABEL", "EXPOSE", "USER", "CMD", "ENTRYPOINT", "STOPSIGNAL", "VOLUME",
                             "HEALTHCHECK", "MAINTAINER"})
_PIP_FLAGS = frozenset({"--no-cache-dir", "-U", "--upgrade", "-q", "-qq", "--quiet", "--user", "-v",
                        "--verbose", "--disable-pip-version-check", "--no-warn-script-location",
                        "--no-input", "--prefer-binary", "--no-compile", "--force-reinstall",
                        "--ignore-installed", "--break-system-packages"})
_PIP_FLAGS_WITH_VALUE = frozenset({"--progress-bar", "--root-user-action", "--timeout", "--retries"})
_PYTHON_IMAGES = ("python:", "library/python:", "docker.io/library/python:", "docker.io/python:")


def translate_dockerfile(text: str, context: Path, host_python: str) -> Translation:
    """A simple Dockerfile as a venv spec, or :class:`Untranslatable` naming what needs Docker."""
    return _DockerfileTranslator(context, host_python).translate(text)


class _DockerfileTranslator:
    """Walks the instructions: FROM python/AzureML, RUN pip install, COPY/ADD, ENV, ARG, WORKDIR."""

    def __init__(self, context: Path, host_python: str) -> None:
        self.context = context.resolve()
        self.host_python = host_python
        self.tr = Translation()
        self.problems: list[str] = []
        self.vars: dict[str, str] = {}
        self.copies: list[tuple[str, str]] = []   # (path in the image, path in the context)
        self.workdir = "/"
        self.froms = 0

    def translate(self, text: str) -> Translation:
        handlers = {"FROM": self._from, "RUN": self._run, "COPY": self._copy, "ADD": self._copy,
                    "ENV": self._env, "ARG": self._arg, "WORKDIR": self._workdir}
        for line_no, word, args in _instructions(text):
            if word in handlers:
                handlers[word](line_no, args)
            elif word not in _DOCKER_IGNORED:
                self.problems.append(f"line {line_no}: {word} {args}")
        if not self.froms:
            self.problems.append("no FROM instruction")
        if self.problems:
            raise Untranslatable(self.problems)
        return self.tr

    def _expand(self, text: str) -> str:
        return re.sub(r"\$(?:\{(\w+)\}|(\w+))",
                      lambda m: self.vars.get(m[1] or m[2], m[0]), text)

    def _from(self, line_no: int, args: str) -> None:
        tokens = [t for t in args.split() if not t.startswith("--")]
        image = self._expand(tokens[0]) if tokens else ""
        self.froms += 1
        lowered = image.lower()
        ref = curated.find_image(image)
        if self.froms > 1:
            self.problems.append(f"line {line_no}: FROM {args} (multi-stage builds need Docker)")
        elif lowered.startswith(_PYTHON_IMAGES) or lowered == "python":
            version = re.match(r"(\d+)\.(\d+)", lowered.partition(":")[2])
            if version and f"{version[1]}.{version[2]}" != self.host_python:
                self.tr.notes.append(f"FROM {image}: running on host Python {self.host_python}")
        elif ref is not None:
            self.tr.packages += [_normalise_requirement(p) for p in ref.environment.packages]
            self.tr.notes.append(f"FROM {image}: curated {ref.environment.name} package list")
        elif lowered.startswith("mcr.microsoft.com/azureml/"):
            self.tr.notes.append(f"FROM {image}: base image noted; packages come from pip installs "
                                 f"on the host Python {self.host_python}")
        else:
            self.problems.append(f"line {line_no}: FROM {image} (only python:* and "
                                 f"mcr.microsoft.com/azureml/* base images translate to a venv)")

    def _run(self, line_no: int, args: str) -> None:
        try:
            segments = [json.loads(args)] if args.startswith("[") else _shell_segments(self._expand(args))
        except ValueError:
            segments = None
        if not segments or not all(self._pip_install(line_no, s) for s in segments):
            self.problems.append(f"line {line_no}: RUN {args}")

    def _pip_install(self, line_no: int, tokens: list[str]) -> bool:
        if tokens[:1] in (["pip"], ["pip3"]):
            rest = tokens[1:]
        elif len(tokens) > 2 and re.fullmatch(r"python(3(\.\d+)?)?", tokens[0]) and tokens[1:3] == ["-m", "pip"]:
            rest = tokens[3:]
        else:
            return False
        if rest[:1] != ["install"]:
            return False
        words = iter(rest[1:])
        for word in words:
            option, _, value = word.partition("=") if word.startswith("--") else (word, "", "")
            if option in ("-r", "--requirement"):
                self._requirements(line_no, value or next(words, ""))
            elif option in _INDEX_OPTIONS:
                self.tr.index_args += [_INDEX_OPTIONS[option], value or next(words, "")]
            elif option in _PIP_FLAGS_WITH_VALUE:
                _ = value or next(words, "")
            elif option in _PIP_FLAGS:
                continue
            elif word.startswith("-"):
                return False
            elif _canonical(re.split(r"[\[=<>!~; ]", word)[0]) != "pip":  # `pip install -U pip`
                self.tr.packages.append(_normalise_requirement(word))
        return True

    def _requirements(self, line_no: int, path: str) -> None:
        source = self._copied(path)
        if source is None:
            self.problems.append(f"line {line_no}: pip install -r {path} (the file was not COPY'd "
                                 f"from the build context)")
            return
        for line in source.read_text().splitlines():
            _pip_line(line, self.tr, path)

    def _copied(self, path: str) -> Path | None:
        target = posixpath.normpath(posixpath.join(self.workdir, path))
        for dest, src in reversed(self.copies):
            if target == dest:
                candidate = src
            elif target.startswith(dest.rstrip("/") + "/"):
                candidate = posixpath.join(src, target[len(dest.rstrip("/")) + 1:])
            else:
                continue
            found = (self.context / candidate).resolve()
            if found.is_file() and found.is_relative_to(self.context):
                return found
        return None

    def _copy(self, line_no: int, args: str) -> None:
        try:
            tokens = json.loads(args) if args.startswith("[") else shlex.split(self._expand(args))
        except ValueError:
            tokens = []
        paths = [t for t in tokens if not t.startswith("--")]
        if len(paths) < 2 or any(t.startswith("--from") for t in tokens) or any("://" in p for p in paths):
            self.problems.append(f"line {line_no}: COPY/ADD {args}")
            return
        *sources, dest = paths
        dest = posixpath.normpath(posixpath.join(self.workdir, dest))
        for src in sources:
            src = posixpath.normpath(src)
            self.copies.append((dest, src))
            if not (self.context / src).is_dir():  # into a folder, or as the file itself
                self.copies.append((posixpath.join(dest, posixpath.basename(src)), src))

    def _env(self, line_no: int, args: str) -> None:
        first = args.split(None, 1)[0] if args.strip() else ""
        if "=" in first:
            pairs = [tok.partition("=")[::2] for tok in shlex.split(args)]
        else:
            pairs = [(first, args[len(first):].strip())]
        for name, value in pairs:
            value = self._expand(value)
            self.vars[name] = value
            if name == "PATH":
                self.tr.notes.append(f"line {line_no}: ENV PATH skipped (the venv's bin is put on PATH)")
            else:
                self.tr.env_vars[name] = value

    def _arg(self, line_no: int, args: str) -> None:
        name, _, default = args.strip().partition("=")
        self.vars.setdefault(name, default.strip("\"'"))

    def _workdir(self, line_no: int, args: str) -> None:
        self.workdir = posixpath.normpath(posixpath.join(self.workdir, self._expand(args.strip())))
        self.tr.notes.append(f"line {line_no}: WORKDIR noted; jobs run in their own working folder")


def _instructions(text: str) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments) with continuations joined and comments dropped."""
    found: list[tuple[int, str, str]] = []
    buffer, start = "", 0
    for line_no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # blank lines and comments, also inside continuations
        if not buffer:
            start = line_no
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        word, _, args = (buffer + line).partition(" ")
        found.append((start, word.upper(), args.strip()))
        buffer = ""
    if buffer.strip():
        word, _, args = buffer.strip().partition(" ")
        found.append((start, word.upper(), args.strip()))
    return found


def _shell_segments(command: str) -> list[list[str]] | None:
    """``a && b`` as token lists, or None when the command uses other shell syntax."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    segments: list[list[str]] = [[]]
    for token in lexer:
        if token == "&&":
            segments.append([])
        elif token and set(token) <= set("();<>|&"):
            return None
        else:
            segments[-1].append(token)
    return segments if all(segments) else None
