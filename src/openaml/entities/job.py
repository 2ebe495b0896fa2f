"""``CommandJob`` (and ``Command``, what ``command(...)`` builds): one command run on local compute.

The fields are azure-ai-ml's (``commandJob.schema.json``). Validation at construction follows its
client-side checks: every ``${{inputs.x}}``/``${{outputs.y}}`` in ``command`` names a declared
input/output ("Invalid data binding expression: inputs.zz"), ``$[[ ... ]]`` blocks are balanced,
port names are valid, and ``command`` is required unless the job names a ``component``.

``status``, ``id``, ``creation_context``, ``studio_url``, ``log_files``, ``error``, ``metrics`` and
``params`` are read-only: the service fills them, and the spec layer ignores them in YAML.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Discriminator, Field, Tag, ValidationInfo, field_validator

from ._base import Entity, Job, none_is_empty
from .bindings import PositiveBindableInt, bindable_text
from .component import (CommandComponent, EnvironmentRef, invalid_bindings, optional_blocks,
                        outputs_named_apart)
from .credentials import JobIdentity
from .distribution import Distribution, lower_distribution_type
from .inputs_outputs import Input, Output
from .job_status import JobStatus
from .nodes import NodePorts, node_label, parse_binding, stored_component, to_port_value
from .resources import JobResourceConfiguration
from .search_space import SearchSpaceValue, is_distribution

if TYPE_CHECKING:
    from .sweep import SweepJob


def _check_literal(value: Any) -> Any:
    value = to_port_value(value)  # a DSL placeholder becomes its ${{parent...}} binding string
    if not isinstance(value, (bool, int, float, str)):
        raise ValueError(f"an input is an Input, a mapping or a literal (str, int, float, bool), "
                         f"not {type(value).__name__}")
    return value


JobInput = Annotated[
    Union[Annotated[Input, Tag("Input")],
          Annotated[Union[bool, int, float, str], BeforeValidator(_check_literal), Tag("Literal")]],
    Discriminator(lambda v: "Input" if isinstance(v, (dict, Input)) else "Literal"),
]
"""A data/model input (``{type, path, mode}`` or :class:`Input`) or a literal value (``lr: 0.01``)."""

ComponentRef = Annotated[
    Union[Annotated[str, Tag("reference")], Annotated[CommandComponent, Tag("inline")]],
    Discriminator(lambda v: "reference" if isinstance(v, str) else "inline"),
]
"""``azureml:name:1`` / ``azureml:name@latest`` / a component file's path, or a component."""


def _check_output_binding(value: Any) -> Any:
    binding = parse_binding(value)
    if binding is None or binding.step is not None or binding.direction != "outputs":
        raise ValueError(f"an output is an Output, a mapping or a ${{{{parent.outputs.<name>}}}} "
                         f"binding, not {value!r}")
    return value


NodeOutputValue = Union[Annotated[
    Union[Annotated[Output, Tag("Output")],
          Annotated[str, BeforeValidator(_check_output_binding), Tag("binding")]],
    Discriminator(lambda v: "binding" if isinstance(v, str) else "Output"),
], None]
"""A job output: an :class:`Output`, nothing (the default location), or in a pipeline step a
``${{parent.outputs.<name>}}`` binding string."""

READ_ONLY_FIELDS = ("status", "id", "creation_context", "studio_url", "log_files", "error",
                    "metrics", "params")
"""Fields the service fills; a YAML file or a submission cannot set them."""

_IGNORED_RESOURCES = ("instance_type", "docker_args", "shm_size", "locations",
                      "max_instance_count", "properties")


def _as_env_value(value: Any) -> Any:
    value = to_port_value(value)  # a @dsl.pipeline parameter becomes its binding
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, (int, float)) else value


class CommandJobLimits(Entity):
    """Limits of a command job: ``timeout`` in seconds, after which the job is canceled (in a
    pipeline step, possibly ``${{parent.inputs.<name>}}``)."""

    timeout: PositiveBindableInt = None


class CommandJob(Job):
    """A command job (``type: command``), as azure-ai-ml's ``CommandJob``.

    Either ``command`` (with ``environment``, ``code``...) or ``component`` (the "component job"
    form: a component file or ``azureml:`` reference plus ``inputs``) describes what runs.
    ``inputs``/``outputs`` are declared before ``command`` so its bindings can be checked.
    """

    type: Literal["command"] = "command"
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    properties: dict[str, str] | None = None
    experiment_name: str | None = None
    compute: Annotated[str | None, BeforeValidator(bindable_text)] = None
    component: ComponentRef | None = None
    inputs: dict[str, JobInput] = Field(default_factory=dict)
    outputs: dict[str, NodeOutputValue] = Field(default_factory=dict, validate_default=True)
    command: str | None = Field(default=None, validate_default=True)
    code: str | None = None
    environment: EnvironmentRef | None = None
    environment_variables: dict[str, str] | None = None
    distribution: Distribution | None = None
    resources: JobResourceConfiguration | None = None
    limits: CommandJobLimits | None = None
    identity: JobIdentity = None
    queue_settings: dict[str, Any] | None = None
    services: dict[str, Any] | None = None
    parent_job_name: str | None = None
    is_deterministic: bool = True
    # Read-only: filled by the service.
    status: JobStatus | None = None
    id: str | None = None
    creation_context: dict[str, Any] | None = None
    studio_url: str | None = None
    log_files: dict[str, str] | None = None
    error: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    params: dict[str, Any] | None = None

    _lower_distribution_type = field_validator("distribution", mode="before")(
        staticmethod(lower_distribution_type))

    _none_is_empty = field_validator("inputs", "outputs", mode="before")(staticmethod(none_is_empty))

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _env_values_are_strings(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): _as_env_value(val) for k, val in v.items()}
        return v

    _check_port_names = field_validator("outputs")(staticmethod(outputs_named_apart))

    @field_validator("command")
    @classmethod
    def _check_command(cls, command: str | None, info: ValidationInfo) -> str | None:
        if command is None:
            if info.data.get("component") is None and "component" in info.data:
                raise ValueError("command is required unless the job names a component.")
            return command
        if info.data.get("component") is not None:
            raise ValueError("A job with a component takes its command from the component; "
                             "set either command or component, not both.")
        optional_blocks(command)
        if "inputs" not in info.data or "outputs" not in info.data:
            return command  # the ports themselves are invalid; that error is reported
        invalid = invalid_bindings(command, info.data["inputs"], info.data["outputs"])
        if invalid:
            raise ValueError("Invalid data binding expression: " + ", ".join(invalid))
        return command

    def set_resources(self, **resources: Any) -> None:
        """Update ``resources`` (``instance_count``, ``instance_type``, ``shm_size``...)."""
        current = self.resources._to_dict() if self.resources else {}
        given = {k: v for k, v in resources.items() if v is not None}
        self.resources = JobResourceConfiguration(**{**current, **given})

    def set_limits(self, *, timeout: int) -> None:
        """Set ``limits.timeout`` in seconds."""
        self.limits = CommandJobLimits(timeout=timeout)

    def set_queue_settings(self, *, job_tier: str | None = None, priority: str | None = None) -> None:
        """Set ``queue_settings`` (not applied locally; reported by :func:`ignored_fields`)."""
        settings = {"job_tier": job_tier, "priority": priority}
        self.queue_settings = {k: v for k, v in settings.items() if v is not None} or None


CommandInput = Annotated[
    Union[Annotated[SearchSpaceValue, Tag("SearchSpace")], Annotated[JobInput, Tag("JobInput")]],
    Discriminator(lambda v: "SearchSpace" if is_distribution(v) else "JobInput"),
]
"""A job input, or a search-space distribution (``cmd(lr=Uniform(0.01, 0.1))``) before ``.sweep()``."""

_INPUT_BINDING = r"\$\{\{\s*inputs\.%s\s*\}\}"


class Command(NodePorts, CommandJob):
    """What ``command(...)`` and ``load_job`` return for a command, as azure-ai-ml's ``Command`` node.

    It is a :class:`CommandJob`, so it can be submitted directly. Calling it with input values
    returns a copy with those inputs set; inputs set to distributions (``Uniform(0.01, 0.1)``) make
    it a template for :meth:`sweep`.
    """

    inputs: dict[str, CommandInput] = Field(default_factory=dict)

    def __call__(self, *args: Any, **inputs: Any) -> "Command":
        """A new ``Command`` whose inputs take the given values (literals, :class:`Input`,
        search-space distributions or, inside ``@dsl.pipeline``, pipeline parameters and other
        nodes' outputs); every name must be an input of this command.

        Inside a ``@dsl.pipeline`` function the new node is a step, named by the DSL (after its
        variable) rather than after this node's ``name``. A node made in that function only to
        be called (``step = command(...); a = step(x=1)``) is a template, not a step, as in
        azure-ai-ml, unless something already binds to it."""
        from .nodes import adopt_node, current_builder, node_inputs

        if args:
            raise TypeError("a Command takes its input values as keyword arguments")
        component = stored_component(self)
        if isinstance(component, CommandComponent):
            values = node_inputs(component, inputs, node_label(self))
        else:
            values = {name: _bound_like(self.inputs.get(name), value) for name, value in inputs.items()}
            unknown = sorted(set(values) - set(self.inputs))
            if unknown:
                from openaml.errors import ValidationError
                raise ValidationError(f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not "
                                      f"an input of this command; its inputs: {', '.join(self.inputs) or 'none'}",
                                      field=f"inputs.{unknown[0]}")
        node = self.model_copy(deep=True)
        node.inputs = {**node.inputs, **values}  # validated, as the constructor's inputs are
        builder = current_builder()
        if builder is not None:
            builder.discard_template(self)
            node.name = None  # the template's name is its component's; steps are named by the DSL
        return adopt_node(node)

    def sweep(self, *, primary_metric: str, goal: str, sampling_algorithm: Any = "random",
              compute: str | None = None, max_concurrent_trials: int | None = None,
              max_total_trials: int | None = None, timeout: int | None = None,
              trial_timeout: int | None = None, early_termination_policy: Any = None,
              search_space: dict[str, Any] | None = None, identity: Any = None,
              queue_settings: Any = None, job_tier: str | None = None,
              priority: str | None = None) -> "SweepJob":
        """A :class:`~openaml.entities.sweep.SweepJob` over the inputs set to distributions.

        Those inputs (and ``search_space``) become the search space; the trial's command reads
        them as ``${{search_space.<name>}}`` (Azure binds a swept ``${{inputs.<name>}}`` to the
        trial's value), and the other inputs stay the sweep's inputs. This command's
        ``limits.timeout`` is the default ``trial_timeout``.
        """
        import re

        from .sweep import ParameterizedCommand, SweepJob, SweepJobLimits

        space = {n: v for n, v in self.inputs.items() if is_distribution(v)}
        space.update(search_space or {})
        command = self.command or ""
        for hp in space:
            command = re.sub(_INPUT_BINDING % re.escape(hp), "${{search_space.%s}}" % hp, command)
        body = {k: getattr(self, k) for k in ("code", "environment", "environment_variables",
                                              "resources", "distribution") if getattr(self, k) is not None}
        if trial_timeout is None and self.limits is not None:
            trial_timeout = self.limits.timeout
        limits = {"max_concurrent_trials": max_concurrent_trials, "max_total_trials": max_total_trials,
                  "timeout": timeout, "trial_timeout": trial_timeout}
        queue = dict(queue_settings or self.queue_settings or {})
        queue.update({k: v for k, v in (("job_tier", job_tier), ("priority", priority)) if v is not None})
        return SweepJob(
            name=self.name, display_name=self.display_name, description=self.description,
            tags=self.tags, properties=self.properties, experiment_name=self.experiment_name,
            compute=compute or self.compute,
            inputs={n: v for n, v in self.inputs.items() if n not in space},
            outputs=self.outputs, search_space=space,
            sampling_algorithm=sampling_algorithm,
            objective={"goal": goal, "primary_metric": primary_metric},
            limits=SweepJobLimits(**limits) if any(v is not None for v in limits.values()) else None,
            early_termination=early_termination_policy,
            trial=ParameterizedCommand(command=command, **body),
            identity=identity if identity is not None else self.identity,
            queue_settings=queue or None,
        )

    def to_command_job(self) -> "Command":
        """The runnable command job of a component node: ``command``, ``code``, ``environment``,
        ``distribution``, ``resources`` and ``is_deterministic`` come from the component (the
        node's own ``resources``/``distribution`` win); every component input and output is
        present. Without a component, a copy of this job. See :func:`.nodes.command_job_of`."""
        from .nodes import command_job_of

        return command_job_of(self)



def _bound_like(previous: Any, value: Any) -> Any:
    """A plain command's new input value; a data input bound to a pipeline input or a node
    output keeps its declared type and mode (``{type: uri_file, path: ${{parent...}}}``)."""
    value = to_port_value(value)
    if (isinstance(previous, Input) and not previous.is_primitive and parse_binding(value) is not None):
        return previous.model_copy(update={"path": value})
    return value


ANONYMOUS_COMPONENT = "azureml_anonymous"
"""The name of the component a command without a ``name`` describes (azure-ai-ml's)."""


def described_component(job: CommandJob) -> CommandComponent:
    """The :class:`CommandComponent` a plain command describes, as azure-ai-ml's
    ``command(...).component``: named after the job (``azureml_anonymous`` version ``1`` when it
    has no name), with its command, code, environment and distribution, and a typed port for
    each input (a literal declares its type and default) and output (paths left out)."""
    return CommandComponent(
        name=job.name or ANONYMOUS_COMPONENT, version=None if job.name else "1",
        display_name=job.display_name, description=job.description, tags=job.tags,
        is_deterministic=job.is_deterministic, command=job.command, code=job.code,
        environment=job.environment, distribution=job.distribution,
        inputs={name: _input_port(value) for name, value in job.inputs.items()},
        outputs={name: _output_port(value) for name, value in job.outputs.items()})


_LITERAL_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))


def _input_port(value: Any) -> Input:
    if isinstance(value, Input):
        if value.is_primitive:
            return value.model_copy()
        return value.model_copy(update={"path": None, "datastore": None, "path_on_compute": None})
    if is_distribution(value):
        return Input(type=_swept_type(value))
    binding = parse_binding(value)
    if binding is not None:  # bound in a pipeline: a step's output is data, a parameter text
        return Input(type="uri_folder" if binding.step else "string")
    kind = next(name for klass, name in _LITERAL_TYPES if isinstance(value, klass))
    return Input(type=kind, default=value)


def _swept_type(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else value.type
    if kind == "randint":
        return "integer"
    if kind == "choice":
        values = value.get("values") if isinstance(value, dict) else value.values
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return "integer"
        if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return "number"
        return "string"
    return "number"


def _output_port(value: Any) -> Output:
    if isinstance(value, Output):
        return value.model_copy(update={"path": None, "name": None, "version": None, "datastore": None})
    return Output()  # the default location, or a binding to a pipeline output


class _DescribedComponent:
    """``Command.component``: the component a command runs. A plain command (built by
    ``command(...)`` or from YAML without ``component:``) holds none; reading ``component`` then
    gives the component it describes (:func:`described_component`, a new copy each time), as
    azure-ai-ml's does. :func:`.nodes.stored_component` reads what the command holds.

    A data descriptor set on the class after pydantic built it, so pydantic keeps the field:
    validation, assignment (``node.component = c``), dumps and copies use the instance's dict.
    Read on the class it raises AttributeError, so pydantic still finds the inherited field when
    it builds a subclass."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            raise AttributeError("component")
        held = obj.__dict__.get("component")
        if held is not None or obj.__dict__.get("command") is None:
            return held
        return described_component(obj)

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__setattr__("component", value)  # pydantic's assignment, which validates


Command.component = _DescribedComponent()  # type: ignore[assignment,misc]


def ignored_fields(job: CommandJob) -> list[str]:
    """Dotted names of the fields set on ``job`` that have no effect on local compute.

    The service reports them once, as a warning, when the job is submitted.
    """
    ignored = [name for name in ("identity", "queue_settings", "services")
               if getattr(job, name)]
    if job.resources is not None:
        ignored += [f"resources.{name}" for name in _IGNORED_RESOURCES
                    if getattr(job.resources, name) is not None]
    ignored += [f"inputs.{name}.path_on_compute" for name, value in job.inputs.items()
                if isinstance(value, Input) and value.path_on_compute is not None]
    return ignored
