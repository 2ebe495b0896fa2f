"""Sweep jobs (``type: sweep``): submission, the trial jobs, and the job's entity.

At submission the trial is checked and pinned once, as a command job would be (code snapshot,
environment, input content, compute), so every trial runs the same code even if the folder
changes while the sweep runs. Each trial is then a child command job named ``<sweep>_<n>``
created from that pinned spec with its sampled hyperparameters; the orchestrator that does it is
:class:`openaml.services.sweep_runtime.SweepRuntime`.

A trial is either a command body (``${{search_space.x}}`` in its command) or a component whose
inputs named like the search space receive the sampled values; both are normalised to a
:class:`ParameterizedCommand` plus the component's other inputs (:func:`trial_template`).
"""

from __future__ import annotations

import json
import random
import re
from typing import TYPE_CHECKING, Any

from openaml.entities import CommandComponent, Input, Output
from openaml.entities.job import CommandJob, CommandJobLimits
from openaml.entities.sweep import (ParameterizedCommand, RandomSamplingAlgorithm, SweepJob,
                                    missing_for_submission)
from openaml.errors import ValidationError
from openaml.names import JOB, shown, trial_job_name
from openaml.services.expressions import render_value
from openaml.services.sweep_sampling import sample
from openaml.store.jobs import JobRecord

if TYPE_CHECKING:
    from openaml.services.jobs import JobService

_SEARCH_SPACE = re.compile(r"\$\{\{\s*search_space\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_IGNORED = ("identity", "queue_settings", "resources", "services")


class SweepKind:
    """``type: sweep``: resolved at submission, run by an orchestrator agent."""

    type = "sweep"
    entity = SweepJob

    def resolve(self, service: "JobService", job: SweepJob) -> dict[str, Any]:
        """Check the sweep and pin its trial; the result is stored as the job's ``resolved``."""
        missing = missing_for_submission(job)
        if missing:
            raise ValidationError(f"a sweep job needs {', '.join(missing)}", field=missing[0])
        last = trial_job_name(job.name, job.limits.max_total_trials - 1)
        JOB.check(last, field="name", subject=f"the last trial would run as job {shown(last)}, which")
        template, inputs = trial_template(service, job)
        rng = random.Random(0)
        probe = trial_job(job, template, inputs, {n: sample(d, rng) for n, d in job.search_space.items()},
                          name=job.name)
        try:
            pinned = service._resolve(probe)
        except ValidationError as exc:
            field = exc.details.get("field")
            prefix = "trial." if field in ("code", "environment", "command") else ""
            raise ValidationError(exc.message, field=f"{prefix}{field}" if field else None) from None
        warnings = pinned.pop("warnings")
        warnings += [f"'{f}' does not apply to local compute and is ignored" for f in _IGNORED if getattr(job, f)]
        if isinstance(job.sampling_algorithm, RandomSamplingAlgorithm) and job.sampling_algorithm.rule == "sobol":
            warnings.append("sampling rule 'sobol' is sampled as 'random' locally")
        pinned.pop("outputs")  # each trial's outputs are resolved under its own name
        return {"trial": {"command": template.model_dump(mode="json", exclude_none=True),
                          "inputs": {n: _dump_input(v) for n, v in inputs.items()},
                          "pinned": pinned},
                "compute": pinned["compute"], "slots": pinned["slots"], "warnings": warnings}

    def to_entity(self, service: "JobService", record: JobRecord, *, with_metrics: bool = True) -> SweepJob:
        """The sweep as stored, with its status and, once known, the best trial in ``properties``."""
        return sweep_entity(service, record, with_metrics=with_metrics)

    def make_runtime(self, ctx: Any, settings: Any, job_name: str, launcher: Any, run_ctx: Any) -> Any:
        """The orchestrator that runs the sweep's trials (in the sweep's agent)."""
        from openaml.services.sweep_runtime import SweepRuntime

        return SweepRuntime(ctx, settings, job_name, launcher, run_ctx)


def trial_template(service: "JobService", job: SweepJob) -> tuple[ParameterizedCommand, dict[str, Any]]:
    """The trial as a command body, and the inputs every trial gets (the sweep's, plus a trial
    component's other inputs with their defaults)."""
    trial = job.trial
    if isinstance(trial, ParameterizedCommand):
        return trial, dict(job.inputs)
    component = trial if isinstance(trial, CommandComponent) else _load_component(service, trial)
    if not component.command:
        raise ValidationError("the trial component has no command", field="trial")
    missing = [n for n in job.search_space if n not in component.inputs]
    if missing:
        raise ValidationError(f"search_space {', '.join(missing)} are not inputs of the trial component",
                              field="search_space")
    command = component.command
    for hp in job.search_space:
        command = re.sub(r"\$\{\{\s*inputs\.%s\s*\}\}" % re.escape(hp), "${{search_space.%s}}" % hp, command)
    body = {k: getattr(component, k) for k in ("code", "environment", "distribution", "resources")
            if getattr(component, k) is not None}
    defaults = {n: v for n, v in component.inputs.items() if n not in job.search_space}
    return ParameterizedCommand(command=command, **body), {**defaults, **job.inputs}


def _load_component(service: "JobService", reference: str) -> CommandComponent:
    from openaml.services.references import parse_asset_reference
    from openaml.services.registry import RegistryService
    from openaml.services.uploads import is_local_path

    if is_local_path(reference):
        from openaml.specs import load_component
        component = load_component(reference)
    else:
        name, version, label = parse_asset_reference(reference)
        component = RegistryService(service.ctx).get("components", name, version=version, label=label)
    if not isinstance(component, CommandComponent):
        raise ValidationError(f"trial {reference!r} is not a command component", field="trial")
    return component


def substitute(command: str, parameters: dict[str, Any]) -> str:
    """``command`` with every ``${{search_space.x}}`` replaced by ``parameters[x]``."""
    return _SEARCH_SPACE.sub(lambda m: render_value(parameters[m.group(1)]), command)


def trial_job(job: SweepJob, template: ParameterizedCommand, inputs: dict[str, Any],
              parameters: dict[str, Any], *, name: str | None, experiment_name: str | None = None) -> CommandJob:
    """One trial as a command job: the template's command with the parameters substituted.

    Outputs keep their type, mode and path but not ``name``/``version``: registering an asset
    from every trial would make one version per trial.
    """
    outputs = {n: Output(**{k: v for k, v in o.model_dump(exclude_none=True).items()
                            if k not in ("name", "version")}) if isinstance(o, Output) else o
               for n, o in job.outputs.items()}
    timeout = job.limits.trial_timeout if job.limits else None
    return CommandJob(
        name=name, experiment_name=experiment_name or job.experiment_name, compute=job.compute,
        inputs=inputs, outputs=outputs, command=substitute(template.command, parameters),
        code=template.code, environment=template.environment,
        environment_variables=template.environment_variables, distribution=template.distribution,
        resources=template.resources, limits=CommandJobLimits(timeout=timeout) if timeout else None,
        parent_job_name=job.name,
    )


def _dump_input(value: Any) -> Any:
    return value.model_dump(mode="json", exclude_none=True) if isinstance(value, Input) else value


def sweep_entity(service: "JobService", record: JobRecord, *, with_metrics: bool = True) -> SweepJob:
    """Rebuild a sweep's entity from its record; the best trial goes into ``properties``
    (``best_child_run_id``, ``score``, ``best_parameters`` as JSON), as Azure's sweep shows it."""
    data = dict(record.spec["job"])
    best = record.spec.get("best")
    if best:
        data["properties"] = {**(data.get("properties") or {}), "best_child_run_id": best["name"],
                              "score": render_value(best["value"]),
                              "best_parameters": json.dumps(best["parameters"], sort_keys=True)}
    data.update(service.read_only_fields(record, with_metrics=with_metrics))
    return SweepJob.model_validate(data)
