"""Settings built once at the entry point (client or CLI) and passed down; nothing reads the
environment at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from openaml.paths import safe_join

DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True)
class Settings:
    """Where local workspaces live.

    ``home`` defaults to ``~/.openaml`` and moves with the ``OPENAML_HOME`` variable.
    """

    home: Path
    allow_host_python: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, home: str | Path | None = None) -> "Settings":
        """``OPENAML_HOME`` moves the home; ``OPENAML_ALLOW_HOST_PYTHON=1`` lets jobs whose
        environment is only a Docker image run on this machine's Python when no engine runs."""
        env = os.environ if environ is None else environ
        chosen = home or env.get("OPENAML_HOME") or Path.home() / ".openaml"
        allow = env.get("OPENAML_ALLOW_HOST_PYTHON", "").lower() in ("1", "true", "yes")
        return cls(home=Path(chosen).expanduser().resolve(), allow_host_python=allow)

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
