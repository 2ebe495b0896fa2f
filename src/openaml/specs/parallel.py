"""Parallel component specs (``type: parallel``, ``parallelComponent.schema.json``).

``load_component`` dispatches here on ``type: parallel``. Relative paths in ``task`` (``code``,
an inline ``environment``'s conda file or build context) resolve against the YAML's folder.
"""

from __future__ import annotations

from typing import Any

from ._core import SpecContext, _as_string
from .environment import prepare_environment


def prepare_parallel_task(task: Any, ctx: SpecContext, prefix: tuple[str, ...] = ("task",)) -> None:
    """Resolve ``task.code`` and an inline ``task.environment`` (under ``prefix``) in place."""
    if not isinstance(task, dict):
        return
    if task.get("code") is not None:
        task["code"] = ctx.local_path(task["code"], *prefix, "code")
    if isinstance(task.get("environment"), dict):
        prepare_environment(task["environment"], ctx, (*prefix, "environment"))


def prepare_parallel(data: dict[str, Any], ctx: SpecContext, prefix: tuple[str, ...] = ()) -> None:
    """Resolve a parallel component's (or a parallel step's inline) paths; YAML numbers in
    ``environment_variables`` become strings, as Azure's schema reads them."""
    prepare_parallel_task(data.get("task"), ctx, (*prefix, "task"))
    env = data.get("environment_variables")
    if isinstance(env, dict):
        data["environment_variables"] = {str(k): _as_string(v) for k, v in env.items()}
