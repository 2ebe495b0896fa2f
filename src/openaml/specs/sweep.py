"""Sweep job specs (``sweepJob.schema.json``): the trial's relative paths and the schema's
required fields.

:mod:`openaml.specs.job` dispatches ``type: sweep`` here: its ``prepare`` resolves the sweep's
inputs and outputs like any job's, then :func:`prepare_trial` resolves the trial's ``code`` and
inline ``environment`` (or a component file the trial names) against the YAML's folder.
:func:`check_sweep` enforces what the schema requires and the entity leaves to submission time:
``objective``, ``limits.max_total_trials``, ``trial`` and the trial's ``environment``.
"""

from __future__ import annotations

from typing import Any

from openaml.entities.sweep import ParameterizedCommand, SweepJob, missing_for_submission

from ._core import SpecContext, is_uri
from .environment import prepare_environment


def prepare_trial(data: dict[str, Any], ctx: SpecContext) -> None:
    """Resolve the paths of a sweep's ``trial`` (a command body, an inline component or a file)."""
    trial = data.get("trial")
    if isinstance(trial, str):
        path = trial.removeprefix("file:")
        if path != trial or not is_uri(path):
            data["trial"] = ctx.local_path(path, "trial")
        return
    if not isinstance(trial, dict):
        return
    if isinstance(trial.get("code"), str):
        trial["code"] = ctx.local_path(trial["code"], "trial", "code")
    if isinstance(trial.get("environment"), dict):
        prepare_environment(trial["environment"], ctx, ("trial", "environment"))


def check_sweep(job: SweepJob, ctx: SpecContext) -> None:
    """As Azure's schema: ``objective``, ``limits`` (with ``max_total_trials``), ``trial`` and a
    trial command's ``environment`` are required."""
    for missing in missing_for_submission(job):
        if missing != "search_space":
            raise ctx.fail(f"Missing required field: a sweep job needs {missing}.", *missing.split("."))
    if isinstance(job.trial, ParameterizedCommand) and job.trial.environment is None:
        raise ctx.fail("Missing required field: a sweep trial needs an environment "
                       "(e.g. azureml:<name>@latest or an inline image).", "trial", "environment")
