"""Settings built once at the entry point (client or CLI) and passed down; nothing reads the
environment at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from openaml.paths import safe_join
from openaml.errors import ValidationError
from openaml.services.containers import CONTAINER_RUNTIMES
from openaml.store.secrets import KEY_ENV, KEY_FILE_ENV, KeySource

DEFAULT_WORKSPACE = "default"
#: Values of ``OPENAML_PROCESS_TRACKING``.
PROCESS_TRACKING = ("auto", "token")
#: Values of ``OPENAML_FUSE``.
FUSE_MOUNTS = ("auto", "off")
#: Values of ``OPENAML_POOL``.
POOL_MODES = ("auto", "off")
#: The variable naming the database whose catalog holds the workspaces.
DATABASE_URL_ENV = "OPENAML_DATABASE_URL"
#: The key file's name under the home, when ``OPENAML_SECRET_KEY_FILE`` names none.
SECRET_KEY_FILE = "secret.key"
_TRUE = ("1", "true", "yes")


@dataclass(frozen=True)
class Settings:
    """Where local workspaces live, and how local jobs are supervised.

    ``home`` defaults to ``~/.openaml`` and moves with the ``OPENAML_HOME`` variable.
    ``job_lease_seconds``: how long an agent's lease on its job lasts without renewal before the
    job counts as abandoned (``OPENAML_JOB_LEASE_SECONDS``, default 15).
    ``kill_grace_seconds``: between SIGTERM and SIGKILL when a job's processes are stopped
    (``OPENAML_KILL_GRACE_SECONDS``, default 5).
    ``process_tracking``: ``auto`` (a cgroup where the host lets us create one, else a token
    scan) or ``token`` (always the token scan) (``OPENAML_PROCESS_TRACKING``).
    ``container_runtime``: which engine runs jobs whose environment is an image:
    ``auto`` (docker, else podman, where one can run containers), ``docker``, ``podman`` (that
    one or an error), ``none`` (never a container) (``OPENAML_CONTAINER_RUNTIME``).
    ``allow_host_python``: where no container runs such a job, run it on openaml's own
    interpreter instead of a venv for the image's Python (``OPENAML_ALLOW_HOST_PYTHON=1``).
    ``fuse_mounts``: how remote inputs in the mount modes reach a job: ``auto`` (a read-only
    FUSE mount where the host allows one, else a download with a line saying why) or ``off``
    (always the download) (``OPENAML_FUSE``).
    ``pool``: ``auto`` (local jobs' agents are forked by the home's warm job pool, started on
    first use, on Linux) or ``off`` (every agent is a new interpreter) (``OPENAML_POOL``).
    ``pool_idle_seconds``: a pool with no launch for this long leaves
    (``OPENAML_POOL_IDLE_SECONDS``, default 300).
    ``database_url``: the database whose catalog holds the workspaces, shared by every home
    and server that names it (``OPENAML_DATABASE_URL``; a server's ``--database-url``); None:
    the workspaces are folders under the home.
    ``secret_key``: the key that seals secrets (``OPENAML_SECRET_KEY``; several, comma-separated,
    the first current); else ``secret_key_file`` (``OPENAML_SECRET_KEY_FILE``; a server's
    ``--secret-key-file``; default ``<home>/secret.key``, created on first use).
    """

    home: Path
    allow_host_python: bool = False
    job_lease_seconds: float = 15.0
    kill_grace_seconds: float = 5.0
    process_tracking: str = "auto"
    container_runtime: str = "auto"
    fuse_mounts: str = "auto"
    pool: str = "auto"
    pool_idle_seconds: float = 300.0
    database_url: str | None = field(default=None, repr=False)  # may hold a password
    secret_key: str | None = field(default=None, repr=False)
    secret_key_file: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, home: str | Path | None = None) -> "Settings":
        """``OPENAML_HOME`` moves the home; the other variables are described on the class."""
        env = os.environ if environ is None else environ
        chosen = home or env.get("OPENAML_HOME") or Path.home() / ".openaml"
        allow = env.get("OPENAML_ALLOW_HOST_PYTHON", "").strip().lower() in _TRUE
        return cls(home=Path(chosen).expanduser().resolve(), allow_host_python=allow,
                   job_lease_seconds=_positive(env, "OPENAML_JOB_LEASE_SECONDS", 15.0),
                   kill_grace_seconds=_positive(env, "OPENAML_KILL_GRACE_SECONDS", 5.0, allow_zero=True),
                   process_tracking=_choice(env, "OPENAML_PROCESS_TRACKING", PROCESS_TRACKING),
                   container_runtime=_choice(env, "OPENAML_CONTAINER_RUNTIME", CONTAINER_RUNTIMES),
                   fuse_mounts=_choice(env, "OPENAML_FUSE", FUSE_MOUNTS),
                   pool=_choice(env, "OPENAML_POOL", POOL_MODES),
                   pool_idle_seconds=_positive(env, "OPENAML_POOL_IDLE_SECONDS", 300.0),
                   database_url=env.get(DATABASE_URL_ENV, "").strip() or None,
                   secret_key=env.get(KEY_ENV, "").strip() or None,
                   secret_key_file=_path(env.get(KEY_FILE_ENV, "")))

    def agent_env(self) -> dict[str, str]:
        """These settings as the variables a detached agent (or watchdog) rebuilds them from."""
        return {"OPENAML_HOME": str(self.home),
                "OPENAML_ALLOW_HOST_PYTHON": "1" if self.allow_host_python else "0",
                "OPENAML_JOB_LEASE_SECONDS": repr(self.job_lease_seconds),
                "OPENAML_KILL_GRACE_SECONDS": repr(self.kill_grace_seconds),
                "OPENAML_PROCESS_TRACKING": self.process_tracking,
                "OPENAML_CONTAINER_RUNTIME": self.container_runtime,
                "OPENAML_FUSE": self.fuse_mounts,
                "OPENAML_POOL": self.pool,
                "OPENAML_POOL_IDLE_SECONDS": repr(self.pool_idle_seconds),
                DATABASE_URL_ENV: self.database_url or "",
                KEY_ENV: self.secret_key or "",
                KEY_FILE_ENV: str(self.key_source.file)}

    @property
    def key_source(self) -> KeySource:
        """Where the secret key comes from (see the class)."""
        return KeySource(file=self.secret_key_file or self.home / SECRET_KEY_FILE, value=self.secret_key)

    @property
    def envs_dir(self) -> Path:
        """Built environments, shared by every workspace under this home."""
        return self.home / "envs"

    @property
    def runs_dir(self) -> Path:
        """Scratch space of running jobs (inputs, outputs before publication, code)."""
        return self.home / "runs"

    @property
    def slots_dir(self) -> Path:
        return self.home / "slots"

    @property
    def workspaces_dir(self) -> Path:
        return self.home / "workspaces"

    def workspace_dir(self, name: str) -> Path:
        """The folder of workspace *name*; a name that is not one folder name is refused."""
        return safe_join(self.workspaces_dir, name, field="workspace", names=True)

    def job_scratch_dir(self, workspace: str, job: str) -> Path:
        """A running job's scratch folder (removed before and after the run): always a folder
        of its own under ``runs/<workspace>/``, whatever the job's name holds."""
        return safe_join(self.runs_dir, workspace, job, field="name", names=True)

    def agent_log_file(self, workspace: str, job: str) -> Path:
        """Where a local job agent's own output goes."""
        return safe_join(self.runs_dir, "agent-logs", workspace, f"{job}.log", field="name", names=True)


def _path(text: str) -> Path | None:
    text = text.strip()
    return Path(text).expanduser().resolve() if text else None


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    """One of ``allowed`` (the first is the default), case and surrounding spaces ignored."""
    value = env.get(name, "").strip().lower() or allowed[0]
    if value not in allowed:
        raise ValidationError(f"must be one of {', '.join(allowed)}, not {env.get(name)!r}", field=name)
    return value


def _positive(env: Mapping[str, str], name: str, default: float, *, allow_zero: bool = False) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0 or (value == 0 and not allow_zero) or value != value or value == float("inf"):
        raise ValidationError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} number of "
                         f"seconds, not {text!r}", field=name)
    return value
