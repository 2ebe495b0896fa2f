"""Pipeline jobs: submission-time resolution and validation of the step graph.

Every step is pinned at submission: its component (a file, a registered reference, inline
fields), code snapshot, environment, declared ports, literal and data inputs, and the bindings
that connect it to the pipeline's inputs and to earlier steps. Cycles, dangling bindings,
missing required inputs and out-of-range literals are rejected here, naming the step and the
input. :mod:`openaml.services.pipeline_runtime` then runs the graph.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from openaml.constants import PRIMITIVE_TYPES
from openaml.entities import CommandComponent, Environment, Input, Output
from openaml.entities.nodes import stored_component
from openaml.entities.pipeline import PipelineJob
from openaml.errors import NotFoundError, ValidationError
from openaml.names import JOB, shown, step_job_name, trial_job_name
from openaml.services import job_io
from openaml.services.pipeline_flatten import flatten
from openaml.services.pipeline_settings import bind_settings, pipeline_lookup
from openaml.services.references import parse_asset_reference
from openaml.services.registry import RegistryService
from openaml.services.reuse import digest_json

if TYPE_CHECKING:
    from openaml.services.jobs import JobService
    from openaml.store.jobs import JobRecord

_BINDING = re.compile(r"^\$\{\{\s*parent\.(inputs\.[A-Za-z_][\w]*|outputs\.[A-Za-z_][\w]*|"
                      r"jobs\.[A-Za-z_][\w\-]*\.outputs\.[A-Za-z_][\w]*)\s*\}\}$")
_STEP_FIELDS = ("compute", "resources", "distribution", "environment_variables", "limits")


def binding_of(value: Any) -> str | None:
    """``"${{parent.jobs.a.outputs.b}}"`` -> ``"jobs.a.outputs.b"``; None when not a binding.
    An :class:`Input`/:class:`Output` whose ``path`` is a binding is that binding."""
    if isinstance(value, (Input, Output)):
        return binding_of(value.path) if value.path else None
    if isinstance(value, str):
        match = _BINDING.match(value.strip())
        return match.group(1) if match else None
    if isinstance(value, (Input, Output)):  # {path: ${{parent...}}, type: ...}: its path binds
        return binding_of(value.path) if value.path else None
    text = getattr(value, "binding", None) or getattr(value, "_binding", None)
    return binding_of(text() if callable(text) else text) if text else None


class PipelineKind:
    """``type: pipeline``."""

    type = "pipeline"
    entity = PipelineJob

    def resolve(self, service: "JobService", job: PipelineJob) -> dict[str, Any]:
        return resolve_pipeline(service, job)

    def to_entity(self, service: "JobService", record: "JobRecord", *, with_metrics: bool = True) -> PipelineJob:
        data = dict(record.spec["job"])
        data.update(service.read_only_fields(record, with_metrics=False))
        outputs = record.spec.get("pipeline_outputs") or {}
        if outputs:
            data["outputs"] = {k: {**((data.get("outputs") or {}).get(k) or {}), "path": v} for k, v in outputs.items()}
        return PipelineJob.model_validate(data)

    def try_complete(self, service: "JobService", name: str) -> bool:
        """When every step would be reused, link them now and finish: no orchestrator needed."""
        from openaml.services.job_runtime import RunContext
        from openaml.services.pipeline_runtime import PipelineRuntime
        runtime = PipelineRuntime(service.ctx, service.settings, name, None, RunContext(tracking_url=None))
        return runtime.link_all_if_reused()

    def make_runtime(self, ctx, settings, job_name, launcher, run):
        from openaml.services.pipeline_runtime import PipelineRuntime
        return PipelineRuntime(ctx, settings, job_name, launcher, run)


# -- resolution -------------------------------------------------------------------------------
def resolve_pipeline(service: "JobService", job: PipelineJob) -> dict[str, Any]:
    """Pin the whole graph; raise on anything that would fail later."""
    if job.component is not None and not job.jobs:
        job = _from_component(service, job)
    if not job.jobs:
        raise ValidationError("a pipeline needs at least one step under 'jobs'", field="jobs")
    settings = _settings(job)
    inputs = {n: job_io.resolve_input(service.ctx, n, v) for n, v in (job.inputs or {}).items()}
    warnings: list[str] = []
    nodes = flatten(job.jobs, lambda ref, step: _pipeline_component(service, ref, step), warnings.append)
    lookup = pipeline_lookup(inputs)
    nodes = {name: bind_settings(node, lookup, name) for name, node in nodes.items()}
    for name, node in nodes.items():
        _check_child_names(job.name, name, node)
    steps = {name: _resolve_step(service, job, name, node, settings) for name, node in nodes.items()}
    _check_bindings(job, steps, inputs)
    order = _topological_order(steps)
    outputs_map = _pipeline_outputs(job, steps)
    warnings += [w for step in steps.values() for w in step.pop("warnings", [])]
    return {"steps": steps, "order": order, "inputs": inputs, "outputs_map": outputs_map,
            "settings": settings, "warnings": warnings}


def _from_component(service: "JobService", job: PipelineJob) -> PipelineJob:
    """A pipeline job given as ``component: azureml:my_pipeline:1`` (or a file, or the component):
    the component's steps, its declared inputs and outputs under the job's values and settings."""
    component = job.component
    if isinstance(component, str):
        component = (registered_component(service, component, "component", "pipeline")
                     if component.startswith("azureml:") else service._load_component(component))
    if getattr(component, "type", None) != "pipeline":
        raise ValidationError(f"component {job.component!r} is not a pipeline component", field="component")
    unknown = [k for k in job.inputs if k not in component.inputs]
    if unknown:
        raise ValidationError(f"pipeline component '{component.name}' has no input '{unknown[0]}' (declared: "
                              f"{', '.join(component.inputs) or 'none'})", field=f"inputs.{unknown[0]}")
    missing = [k for k, p in component.inputs.items() if k not in job.inputs and p.default is None and not p.optional]
    if missing:
        raise ValidationError(f"pipeline component '{component.name}' needs input '{missing[0]}'",
                              field=f"inputs.{missing[0]}")
    inputs = {k: port for k, port in component.inputs.items() if port.default is not None or port.optional}
    inputs.update(job.inputs)
    outputs = {}
    for key, port in component.outputs.items():  # the job's settings for an output over the port's
        given = (job.outputs or {}).get(key)
        outputs[key] = Output(**{**port.model_dump(exclude_none=True),
                                 **(given.model_dump(exclude_none=True, exclude_unset=True) if given else {})})
    return job.model_copy(update={"component": None, "jobs": component.jobs, "inputs": inputs, "outputs": outputs})


def _check_child_names(pipeline: str, step: str, node: Any) -> None:
    """A step runs as the job ``<pipeline>-<step>`` (a sweep step's trials as
    ``<pipeline>-<step>_<n>``): refuse now a name that would only fail when the step starts."""
    child = step_job_name(pipeline, step)
    names = [child]
    limits = getattr(node, "limits", None) if getattr(node, "type", None) == "sweep" else None
    if limits is not None and getattr(limits, "max_total_trials", None):
        names.append(trial_job_name(child, limits.max_total_trials - 1))
    for name in names:
        JOB.check(name, field=f"jobs.{step}", subject=f"step {shown(step)} would run as job {shown(name)}, which")


def _settings(job: PipelineJob) -> dict[str, Any]:
    raw = job.settings.model_dump(mode="json", exclude_none=True) if job.settings is not None else {}
    compute = raw.get("default_compute") or job.compute
    return {"default_compute": compute, "default_datastore": raw.get("default_datastore"),
            # Our default: stop at the first failed step (older Azure docs' default). Set
            # settings.continue_on_step_failure: true to let independent branches finish.
            "continue_on_step_failure": bool(raw.get("continue_on_step_failure", False)),
            "force_rerun": bool(raw.get("force_rerun", False))}


def registered_component(service: "JobService", reference: str, step: str, expected: str) -> Any:
    """The registered component an ``azureml:name[:version|@label]`` step names, of type ``expected``."""
    ref = reference.removeprefix("azureml:")
    comp_name, version, label = parse_asset_reference(reference)
    try:
        found = RegistryService(service.ctx).get("components", comp_name, version=version, label=label)
    except NotFoundError:
        raise NotFoundError(f"step '{step}': component '{ref}' not found in workspace "
                            f"'{service.ctx.name}'", field=f"jobs.{step}.component") from None
    if found.type != expected:
        raise ValidationError(f"step '{step}': component '{ref}' is a {found.type} component; write "
                              f"'type: {found.type}' on the step (it is a {expected} step)",
                              field=f"jobs.{step}.type")
    return found


def _pipeline_component(service: "JobService", reference: str, step: str) -> Any:
    """A nested pipeline step's component given as a string: registered, or a file."""
    if reference.startswith("azureml:"):
        return registered_component(service, reference, step, "pipeline")
    return service._load_component(reference)


def _component_of(service: "JobService", name: str, node: Any) -> tuple[CommandComponent, str]:
    """The step's component and a stable id of it (registered ``name:version`` or a hash)."""
    component = stored_component(node)  # None for an inline command: see _inline_component
    if isinstance(component, str) and component:
        found = registered_component(service, component, name, "command")
        return found, f"{found.name}:{found.version}"
    if component is not None and hasattr(component, "command"):
        # An inline or file component is anonymous: its version is the hash of its content,
        # shown on the step's job as properties["openaml.component"] = "<name>:<hash>".
        content = component.model_dump(mode="json", exclude_none=True, exclude={"id", "creation_context", "version"})
        return component, f"{component.name}:{digest_json(content)[:16]}"
    if component is not None:
        raise ValidationError(f"step '{name}': type {getattr(component, 'type', '?')} components are not "
                              "supported in pipelines yet", field=f"jobs.{name}.component")
    inline = _inline_component(name, node)
    content = inline.model_dump(mode="json", exclude_none=True)
    return inline, f"{inline.name}:{digest_json(content)[:16]}"


def _parallel_component(service: "JobService", name: str, node: Any) -> tuple[CommandComponent, str]:
    """A parallel step runs as a command component that starts openaml's mini-batch driver."""
    from openaml.services.parallel import to_command_component
    registered = None
    if isinstance(node.component, str):
        registered = registered_component(service, node.component, name, "parallel")
    component = to_command_component(node, component=registered)
    return component, "parallel:" + digest_json(component.model_dump(mode="json", exclude_none=True,
                                                                     exclude={"id", "creation_context"}))[:16]


def _inline_component(name: str, node: Any) -> CommandComponent:
    """An inline command step as a component: its literal inputs declare typed ports."""
    inputs = {}
    for key, value in (node.inputs or {}).items():
        if isinstance(value, Input):
            inputs[key] = value.model_copy(update={"path": None, "default": None})
        elif isinstance(value, bool):
            inputs[key] = Input(type="boolean")
        elif isinstance(value, int):
            inputs[key] = Input(type="integer")
        elif isinstance(value, float):
            inputs[key] = Input(type="number")
        elif isinstance(value, str) and not (binding_of(value) or "").startswith("jobs."):
            inputs[key] = Input(type="string")
        else:
            inputs[key] = Input(type="uri_folder")
    outputs = {k: (v if isinstance(v, Output) else Output()) for k, v in (node.outputs or {}).items()}
    return CommandComponent(name=re.sub(r"[^a-z0-9_]", "_", name.lower()) or "step", command=node.command,
                            code=node.code, environment=node.environment, inputs=inputs, outputs=outputs,
                            is_deterministic=getattr(node, "is_deterministic", True))


def _resolve_step(service: "JobService", job: PipelineJob, name: str, node: Any,
                  settings: dict[str, Any]) -> dict[str, Any]:
    node_type = getattr(node, "type", "command")
    if node_type == "sweep":
        return _resolve_sweep_step(service, name, node)
    if node_type == "parallel":
        component, component_id = _parallel_component(service, name, node)
    elif node_type == "command":
        component, component_id = _component_of(service, name, node)
    else:
        raise ValidationError(f"step '{name}': type '{node_type}' steps are not supported yet",
                              field=f"jobs.{name}.type")
    declared_in = component.inputs or {}
    declared_out = component.outputs or {}
    values = _step_inputs(service, name, node, declared_in)
    outputs = {}
    for key, value in (node.outputs or {}).items():
        if key not in declared_out:
            raise ValidationError(f"step '{name}' has no output '{key}' (component {component.name} "
                                  f"declares: {', '.join(declared_out) or 'none'})", field=f"jobs.{name}.outputs.{key}")
        outputs[key] = _bound_output(job, _output_override(value))
    env = service._checked(service._environment(component.environment))
    step = {
        "component_id": component_id,
        "component_name": component.name,
        "command": component.command,
        "code": service._snapshot_code(component.code),
        "environment": env,
        "environment_ref": _environment_ref(component.environment),
        "is_deterministic": component.is_deterministic is not False,
        "declared_inputs": {k: v.model_dump(mode="json", exclude_none=True) for k, v in declared_in.items()},
        "declared_outputs": {k: v.model_dump(mode="json", exclude_none=True) for k, v in declared_out.items()},
        "inputs": values,
        "outputs": outputs,
        "display_name": getattr(node, "display_name", None) or name,
        "warnings": [],
    }
    for field in _STEP_FIELDS:
        # A parallel step's converted component already folds the node's settings in (its
        # instance_count becomes driver workers, not copies of the driver).
        value = None if node_type == "parallel" and field == "resources" else getattr(node, field, None)
        if value is None:
            value = getattr(component, field, None)
        if value is not None and hasattr(value, "model_dump"):
            value = value.model_dump(mode="json", exclude_none=True)
        step[field] = value
    step["compute"] = step["compute"] or settings["default_compute"]
    try:  # an unknown compute fails the submission, not the step
        service._compute(step["compute"])
    except NotFoundError as exc:
        raise NotFoundError(f"step '{name}': {exc.message}", field=f"jobs.{name}.compute") from None
    return step


def _resolve_sweep_step(service: "JobService", name: str, node: Any) -> dict[str, Any]:
    """A sweep step runs as a child sweep job; its outputs are its best trial's. Sweeps sample
    at random, so they are never reused."""
    trial = node.trial
    if isinstance(trial, str):
        trial = service._load_component(trial)
    declared_out = dict(getattr(trial, "outputs", None) or {})
    for key, value in (node.outputs or {}).items():  # a sweep declares its outputs itself
        if isinstance(value, Output):
            declared_out.setdefault(key, value)
        elif key not in declared_out:
            declared_out[key] = Output()
    declared_in = dict(getattr(trial, "inputs", None) or {})
    values: dict[str, Any] = {}
    for key, value in (node.inputs or {}).items():
        binding = binding_of(value)
        values[key] = {"bind": binding} if binding else {"raw": True}
    dumped = node.model_dump(mode="json", exclude_none=True)
    return {"kind": "sweep", "node": dumped, "component_id": f"sweep:{name}", "command": None,
            "declared_inputs": {k: v.model_dump(mode="json", exclude_none=True) for k, v in declared_in.items()},
            "declared_outputs": {k: v.model_dump(mode="json", exclude_none=True) for k, v in declared_out.items()},
            "inputs": values, "outputs": {k: _output_override(v) for k, v in (node.outputs or {}).items()},
            "display_name": getattr(node, "display_name", None) or name, "is_deterministic": False,
            "warnings": []}


def _environment_ref(env: Any) -> Any:
    if isinstance(env, Environment):
        return {"inline": env.model_dump(mode="json", exclude_none=True)}
    return env


def _output_override(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    binding = binding_of(value)
    if binding:
        kept = (value.model_dump(mode="json", exclude_none=True, exclude_unset=True, exclude={"path"})
                if isinstance(value, Output) else {})
        return {"bind": binding, "output": kept} if kept else {"bind": binding}
    if isinstance(value, Output):
        return {"output": value.model_dump(mode="json", exclude_none=True)}
    data = {k: getattr(value, k) for k in ("type", "mode", "path", "name", "version") if getattr(value, k, None)}
    return {"output": data} if data else {}


def _bound_output(job: PipelineJob, override: dict[str, Any]) -> dict[str, Any]:
    """A step output bound to ``${{parent.outputs.o}}`` takes the pipeline output's ``type``,
    ``mode``, ``path``, ``name`` and ``version`` (``${{output_name}}`` in its path is ``o``)."""
    binding = override.get("bind") or ""
    if not binding.startswith("outputs."):
        return override
    port = binding.split(".")[1]
    declared = (job.outputs or {}).get(port)
    if not isinstance(declared, Output):
        return override
    # What the pipeline output says (a type left to its default does not override the step's)
    config = declared.model_dump(mode="json", exclude_none=True, exclude_unset=True, exclude={"description"})
    if isinstance(config.get("path"), str):
        config["path"] = config["path"].replace("${{output_name}}", port)
    return {**override, "output": {**override.get("output", {}), **config}}


def _step_inputs(service: "JobService", step: str, node: Any, declared: dict[str, Input]) -> dict[str, Any]:
    given = dict(node.inputs or {})
    for key in given:
        if key not in declared:
            raise ValidationError(f"step '{step}' has no input '{key}' (declared: {', '.join(declared) or 'none'})",
                                  field=f"jobs.{step}.inputs.{key}")
    values: dict[str, Any] = {}
    for key, port in declared.items():
        value = given.get(key)
        binding = binding_of(value)
        if binding:
            values[key] = {"bind": binding}
        elif value is None:
            if port.default is not None:
                values[key] = {"literal": port.default}
            elif port.optional:
                values[key] = {"unset": True}
            else:
                raise ValidationError(f"step '{step}': required input '{key}' has no value",
                                      field=f"jobs.{step}.inputs.{key}")
        elif isinstance(value, Input) and value.type not in PRIMITIVE_TYPES:
            values[key] = {"input": job_io.resolve_input(service.ctx, f"{step}.{key}", value)}
        else:
            literal = value.default if isinstance(value, Input) else value
            values[key] = {"literal": check_literal(step, key, port, literal)}
    return values


def check_literal(step: str, key: str, port: Input, value: Any) -> Any:
    """A literal against its port: type, min/max, enum. Errors name the step and the input."""
    field = f"jobs.{step}.inputs.{key}"
    if port.type not in PRIMITIVE_TYPES:
        if isinstance(value, str):
            return value
        raise ValidationError(f"step '{step}': input '{key}' is {port.type} and needs a path, got {value!r}", field=field)
    try:
        coerced = Input(type=port.type, default=value).default
    except Exception:  # noqa: BLE001 - pydantic or our ValidationError: either way, wrong type
        raise ValidationError(f"step '{step}': input '{key}' must be {port.type}, got {value!r}", field=field) from None
    if port.min is not None and coerced < port.min:
        raise ValidationError(f"step '{step}': input '{key}' = {coerced} is below min {port.min}", field=field)
    if port.max is not None and coerced > port.max:
        raise ValidationError(f"step '{step}': input '{key}' = {coerced} is above max {port.max}", field=field)
    if port.enum and coerced not in port.enum:
        raise ValidationError(f"step '{step}': input '{key}' = {coerced!r} is not one of {port.enum}", field=field)
    return coerced


def _check_bindings(job: PipelineJob, steps: dict[str, dict[str, Any]], inputs: dict[str, Any]) -> None:
    for name, step in steps.items():
        for key, value in step["inputs"].items():
            binding = value.get("bind")
            if not binding:
                continue
            parts = binding.split(".")
            field = f"jobs.{name}.inputs.{key}"
            if parts[0] == "inputs" and parts[1] not in inputs:
                raise ValidationError(f"step '{name}': input '{key}' binds ${{{{parent.{binding}}}}}, but the "
                                      f"pipeline has no input '{parts[1]}'", field=field)
            if parts[0] == "jobs":
                upstream, output = parts[1], parts[3]
                if upstream not in steps:
                    raise ValidationError(f"step '{name}': input '{key}' binds step '{upstream}', which does not "
                                          "exist in this pipeline", field=field)
                if output not in steps[upstream]["declared_outputs"]:
                    raise ValidationError(f"step '{name}': input '{key}' binds output '{output}' of step "
                                          f"'{upstream}', which has no such output", field=field)
            if parts[0] == "outputs":
                raise ValidationError(f"step '{name}': an input cannot bind a pipeline output", field=field)


def dependencies(steps: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """Step -> the steps whose outputs it reads."""
    deps: dict[str, set[str]] = {name: set() for name in steps}
    for name, step in steps.items():
        for value in step["inputs"].values():
            binding = value.get("bind") or ""
            if binding.startswith("jobs."):
                deps[name].add(binding.split(".")[1])
    return deps


def _topological_order(steps: dict[str, dict[str, Any]]) -> list[str]:
    deps = dependencies(steps)
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            cycle = path[path.index(node):] + [node]
            raise ValidationError(f"the pipeline's steps form a cycle: {' -> '.join(cycle)}", field="jobs")
        state[node] = 1
        for upstream in sorted(deps[node]):
            visit(upstream, path + [node])
        state[node] = 2
        order.append(node)

    for name in steps:
        visit(name, [])
    return order


def _pipeline_outputs(job: PipelineJob, steps: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Pipeline output -> [step, step output] that produces it."""
    produced: dict[str, list[str]] = {}
    for name, step in steps.items():
        for key, override in step["outputs"].items():
            binding = override.get("bind") or ""
            if binding.startswith("outputs."):
                produced[binding.split(".")[1]] = [name, key]
    for key in (job.outputs or {}):
        if key not in produced:
            raise ValidationError(f"pipeline output '{key}' is not bound by any step (write "
                                  f"${{{{parent.outputs.{key}}}}} under a step's outputs)", field=f"outputs.{key}")
    return produced
