"""``CommandJob`` (and ``Command``, what ``command(...)`` builds): one command run on local compute.

The fields are azure-ai-ml's (``commandJob.schema.json``). Validation at construction follows its
client-side checks: every ``${{inputs.x}}``/``${{outputs.y}}`` in ``command`` names a declared
input/output ("Invalid data binding expression: inputs.zz"), ``$[[ ... ]]`` blocks are balanced,
port names are valid, and ``command`` is required unless the job names a ``component``.

``status``, ``id``, ``creation_context``, ``studio_url``, ``log_files``, ``error``, ``metrics`` and
``params`` are read-only: the service fills them, and the spec layer ignores them in YAML.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Discriminator, Field, Tag, ValidationInfo, field_validator

from ._base import Entity
from .component import EnvironmentRef, check_port_names, invalid_bindings, optional_blocks
from .distribution import Distribution, lower_distribution_type
from .inputs_outputs import Input, Output
from .job_status import JobStatus
from .resources import JobResourceConfiguration



def _check_literal(value: Any) -> Any:
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

READ_ONLY_FIELDS = ("status", "id", "creation_context", "studio_url", "log_files", "error",
                    "metrics", "params")
"""Fields the service fills; a YAML file or a submission cannot set them."""

_IGNORED_RESOURCES = ("instance_type", "docker_args", "shm_size", "locations",
                      "max_instance_count", "properties")


def _as_env_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, (int, float)) else value


class CommandJobLimits(Entity):
    """Limits of a command job: ``timeout`` in seconds, after which the job is canceled."""

    timeout: int | None = Field(default=None, gt=0)


class CommandJob(Entity):
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
    compute: str | None = None
    component: str | None = None
    inputs: dict[str, JobInput] = Field(default_factory=dict)
    outputs: dict[str, Output | None] = Field(default_factory=dict, validate_default=True)
    command: str | None = Field(default=None, validate_default=True)
    code: str | None = None
    environment: EnvironmentRef | None = None
    environment_variables: dict[str, str] | None = None
    distribution: Distribution | None = None
    resources: JobResourceConfiguration | None = None
    limits: CommandJobLimits | None = None
    identity: dict[str, Any] | None = None
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

    @field_validator("inputs", "outputs", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return {} if v is None else v

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _env_values_are_strings(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): _as_env_value(val) for k, val in v.items()}
        return v

    @field_validator("outputs")
    @classmethod
    def _check_port_names(cls, outputs: dict[str, Output | None],
                          info: ValidationInfo) -> dict[str, Output | None]:
        check_port_names([*info.data.get("inputs", {}), *outputs])
        return outputs

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


class Command(CommandJob):
    """What ``command(...)`` and ``load_job`` return for a command, as azure-ai-ml's ``Command`` node.

    It is a :class:`CommandJob`, so it can be submitted directly. Pipeline-node behaviour
    (calling it, ``.sweep()``) belongs here when pipelines and sweeps arrive.
    """


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
