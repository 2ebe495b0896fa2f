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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, home: str | Path | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        chosen = home or env.get("OPENAML_HOME") or Path.home() / ".openaml"
        return cls(home=Path(chosen).expanduser().resolve())

    @property
    def workspaces_dir(self) -> Path:
        return self.home / "workspaces"

    def workspace_dir(self, name: str) -> Path:
        return self.workspaces_dir / name
