"""Settings built once at the entry point (client or CLI) and passed down; nothing reads the
environment at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

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
        return self.workspaces_dir / name
