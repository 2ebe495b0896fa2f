"""Parallel steps as command jobs: the driver's command line, built from a parallel component.

A parallel component (or a :class:`~openaml.entities.parallel.Parallel` node, whose settings
override its component's) becomes a command that runs :mod:`openaml.services.parallel_driver`
in the component's ``task.code`` folder, with the component's environment::

    OPENAML_PARALLEL_DRIVER_DIGEST=<sha> python /…/openaml/services/parallel_driver.py
        --entry-script score.py --input "${{inputs.data}}" --append-row-to "${{outputs.scores}}" …
        -- <task.program_arguments>

The driver is referenced where openaml is installed (jobs run on this machine) rather than copied
into the code snapshot, so the user's snapshot stays theirs and nothing is written to disk; its
digest is an environment variable of the job (a prefix of the command in the component form),
so it is part of a step's reuse key and a changed driver is not reused from an older run. ``resources.instance_count`` multiplies the worker count on this
machine (Azure runs ``max_concurrency_per_instance`` workers on each of ``instance_count``
nodes); the command itself runs once.
"""

from __future__ import annotations

import hashlib
import shlex
from functools import lru_cache
from typing import Any, Mapping

from openaml.entities import CommandComponent, Input, Output
from openaml.entities.job import Command
from openaml.entities.parallel import Parallel, ParallelComponent, effective_component
from openaml.errors import ValidationError
from openaml.services.job_constants import PARALLEL_DRIVER_PATH

DRIVER_PATH = PARALLEL_DRIVER_PATH
DIGEST_VARIABLE = "OPENAML_PARALLEL_DRIVER_DIGEST"
SUMMARY_FILE = "logs/parallel_run_summary.json"
"""The driver's JSON summary, relative to the code folder: the runtime keeps ``./logs`` as job
artifacts, so it lands in the job's folder."""


@lru_cache(maxsize=1)
def driver_digest() -> str:
    """The first 16 hex digits of the driver's sha256."""
    return hashlib.sha256(DRIVER_PATH.read_bytes()).hexdigest()[:16]


def resolve_parallel(source: ParallelComponent | Parallel,
                     component: ParallelComponent | None = None) -> ParallelComponent:
    """The component to run: ``source`` itself, or a node's component with its overrides.

    ``component`` is the resolved component of a node whose ``component`` is a reference.
    """
    if isinstance(source, ParallelComponent):
        comp = source
    elif isinstance(source, Parallel):
        try:
            comp = effective_component(source, component)
        except TypeError:
            raise ValidationError("the parallel step's component is a reference "
                                  f"({source.component!r}); resolve it first", field="component") from None
    else:
        raise ValidationError(f"{type(source).__name__} is not a parallel component or step", field="type")
    _check_runnable(comp)
    return comp


def _check_runnable(comp: ParallelComponent) -> None:
    if comp.input_data_name is None:
        raise ValidationError("a parallel component needs input_data: ${{inputs.<name>}}", field="input_data")
    if comp.task is None or not comp.task.entry_script:
        raise ValidationError("a parallel component needs task.entry_script (the script with init() and "
                              "run(mini_batch))", field="task.entry_script")
    if comp.task.environment is None:
        raise ValidationError("a parallel component needs task.environment", field="task.environment")


def driver_command(comp: ParallelComponent) -> str:
    """The driver's command line for ``comp``, with ``${{inputs.x}}``/``${{outputs.y}}`` bindings
    left for the job runtime to expand (without the environment-variable prefix)."""
    task = comp.task
    data = comp.input_data_name
    instances = (comp.resources.instance_count if comp.resources else None) or 1
    retry = comp.retry_settings
    args = ["python", shlex.quote(str(DRIVER_PATH)),
            "--entry-script", shlex.quote(task.entry_script),
            "--input", f'"${{{{inputs.{data}}}}}"', "--input-type", comp.inputs[data].type,
            "--append-row-to", f'"${{{{outputs.{comp.append_row_to_name}}}}}"' if comp.append_row_to_name else "''"]
    if comp.mini_batch_size is not None:
        args += ["--mini-batch-size", shlex.quote(str(comp.mini_batch_size))]
    if comp.partition_keys:
        args += ["--partition-keys", *map(shlex.quote, comp.partition_keys)]
    args += ["--max-concurrency", str(comp.max_concurrency_per_instance * instances),
             "--max-retries", str(retry.max_retries), "--timeout", str(retry.timeout),
             "--error-threshold", str(comp.error_threshold),
             "--mini-batch-error-threshold", str(comp.mini_batch_error_threshold),
             "--logging-level", comp.logging_level, "--summary-file", SUMMARY_FILE]
    if task.program_arguments:
        args += ["--", task.program_arguments.strip()]
    return " ".join(args)


def _single_run_resources(comp: ParallelComponent) -> Any:
    """The component's resources without ``instance_count``: the driver runs once and spreads
    its workers (``driver_command`` multiplied the concurrency by the instance count)."""
    if comp.resources is None:
        return None
    rest = comp.resources.model_copy(update={"instance_count": None})
    return rest if rest._to_dict() else None


def to_command_component(source: ParallelComponent | Parallel, *,
                         component: ParallelComponent | None = None) -> CommandComponent:
    """A :class:`CommandComponent` that runs ``source`` through the driver (for pipeline steps).

    Same name, version, ports, code, environment and determinism; the merged
    ``environment_variables`` (the node's over the component's) and the driver's digest prefix
    the command, as a command component has no environment variables of its own.
    """
    comp = resolve_parallel(source, component)
    variables = {**(comp.environment_variables or {}), DIGEST_VARIABLE: driver_digest()}
    prefix = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in variables.items())
    return CommandComponent(
        name=comp.name or "parallel", version=comp.version, display_name=comp.display_name,
        description=comp.description, tags=comp.tags, is_deterministic=comp.is_deterministic,
        inputs=comp.inputs, outputs=comp.outputs, command=f"{prefix} {driver_command(comp)}",
        code=comp.task.code, environment=comp.task.environment, resources=_single_run_resources(comp))


def parallel_to_command(source: ParallelComponent | Parallel, inputs: Mapping[str, Any] | None = None,
                        outputs: Mapping[str, Any] | None = None, *,
                        component: ParallelComponent | None = None, **job_fields: Any) -> Command:
    """A :class:`Command` job that runs ``source`` over ``inputs`` (on top of a node's own inputs),
    ready for ``ml_client.jobs.create_or_update``.

    Every declared input gets a value: the one given, else its default, else (when optional) none;
    a required input without one raises. Outputs default to the declared ones. ``job_fields``
    (``name``, ``display_name``, ``experiment_name``, ``compute``, ``tags``...) go to the job.
    """
    comp = resolve_parallel(source, component)
    given_in = {**(source.inputs if isinstance(source, Parallel) else {}), **(inputs or {})}
    given_out = {**(source.outputs if isinstance(source, Parallel) else {}), **(outputs or {})}
    if isinstance(source, Parallel):
        for key in ("name", "display_name", "description", "tags", "experiment_name", "compute"):
            if getattr(source, key) is not None:
                job_fields.setdefault(key, getattr(source, key))
    return Command(
        command=driver_command(comp), code=comp.task.code, environment=comp.task.environment,
        inputs=_job_inputs(comp, given_in), outputs=_job_outputs(comp, given_out),
        environment_variables={**(comp.environment_variables or {}), DIGEST_VARIABLE: driver_digest()},
        resources=_single_run_resources(comp), is_deterministic=comp.is_deterministic, **job_fields)


def _job_inputs(comp: ParallelComponent, given: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(comp.inputs))
    if unknown:
        raise ValidationError(f"the parallel component has no input {unknown[0]!r} "
                              f"(declared: {', '.join(comp.inputs) or 'none'})", field=f"inputs.{unknown[0]}")
    values: dict[str, Any] = {}
    for name, port in comp.inputs.items():
        value = given.get(name)
        if value is None and port.default is not None:
            value = port.default
        elif value is None and port.optional:
            value = Input(type=port.type, optional=True)
        elif value is None:
            raise ValidationError(f"required input '{name}' of the parallel component has no value",
                                  field=f"inputs.{name}")
        elif isinstance(value, Input) and "type" not in value.model_fields_set:
            value = value.model_copy(update={"type": port.type})  # Input(path=...) takes the port's type
        values[name] = value
    return values


def _job_outputs(comp: ParallelComponent, given: Mapping[str, Any]) -> dict[str, Output]:
    unknown = sorted(set(given) - set(comp.outputs))
    if unknown:
        raise ValidationError(f"the parallel component has no output {unknown[0]!r} "
                              f"(declared: {', '.join(comp.outputs) or 'none'})", field=f"outputs.{unknown[0]}")
    outputs = {}
    for name, port in comp.outputs.items():
        value = given.get(name)
        outputs[name] = value if isinstance(value, Output) else Output.model_validate(
            {"type": port.type, **(value if isinstance(value, dict) else {})})
    return outputs
