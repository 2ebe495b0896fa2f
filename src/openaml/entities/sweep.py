"""``SweepJob`` (``type: sweep``): a hyperparameter search whose trials are command jobs.

The fields are azure-ai-ml's (``sweepJob.schema.json``): ``sampling_algorithm``,
``search_space`` (see :mod:`.search_space`), ``objective``, ``limits``, ``early_termination`` and
``trial``: a command-job body (:class:`ParameterizedCommand`) whose ``command`` may use
``${{search_space.<hp>}}`` and ``${{inputs.<x>}}``. In a pipeline, ``trial`` may instead be a
component (a :class:`CommandComponent` or a reference such as ``azureml:train:1`` or
``./train.yml``) whose inputs named like the search space receive the sampled values.

Checked at construction, as Azure checks them: ``grid`` sampling takes only ``choice``;
``bayesian`` takes only ``choice``/``uniform``/``quniform`` and no early termination; every
``${{search_space.x}}`` names a search-space entry and every ``${{inputs.x}}`` an input.
``objective``, ``limits.max_total_trials`` and ``trial`` are required when the job is submitted
(a YAML file must have them too), so ``cmd.sweep(...)`` followed by ``set_limits(...)`` works.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from openaml.errors import ValidationError

from ._base import Entity, Job, none_is_empty
from .credentials import JobIdentity
from .component import CommandComponent, EnvironmentRef, check_port_names, command_bindings, optional_blocks
from .distribution import Distribution, lower_distribution_type
from .inputs_outputs import Output
from .job import CommandJob, JobInput
from .job_status import JobStatus
from .resources import JobResourceConfiguration
from .search_space import Choice, QUniform, SearchSpaceValue, Uniform

SWEEP_READ_ONLY_FIELDS = ("status", "id", "creation_context", "studio_url", "log_files", "error",
                          "metrics", "params")
"""Fields the service fills; a YAML file or a submission cannot set them."""

_BAYESIAN_DISTRIBUTIONS = (Choice, Uniform, QUniform)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class Objective(Entity):
    """What a sweep optimises: ``goal`` (``minimize``/``maximize``, any case) of ``primary_metric``,
    a metric the trial logs through MLflow."""

    goal: Literal["minimize", "maximize"]
    primary_metric: str = Field(min_length=1)

    _lower_goal = field_validator("goal", mode="before")(staticmethod(_lower))

    def __init__(self, goal: str | None = None, primary_metric: str | None = None, **kwargs: Any) -> None:
        super().__init__(goal=goal, primary_metric=primary_metric, **kwargs)

    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


class SweepJobLimits(Entity):
    """``max_total_trials`` (required at submission), ``max_concurrent_trials``, and ``timeout`` /
    ``trial_timeout`` in seconds for the whole sweep / each trial."""

    max_concurrent_trials: int | None = Field(default=None, gt=0)
    max_total_trials: int | None = Field(default=None, gt=0)
    timeout: int | None = Field(default=None, gt=0)
    trial_timeout: int | None = Field(default=None, gt=0)


class RandomSamplingAlgorithm(Entity):
    """Random sampling; ``seed`` makes it reproducible. ``rule: sobol`` is accepted and sampled as
    ``random`` locally; ``logbase`` (a number or ``e``) is the base of the log distributions."""

    type: Literal["random"] = "random"
    rule: Literal["random", "sobol"] | None = None
    seed: int | None = None
    logbase: float | Literal["e"] | None = None

    _lower_values = field_validator("type", "rule", mode="before")(staticmethod(_lower))

    @field_validator("logbase")
    @classmethod
    def _check_logbase(cls, v: Any) -> Any:
        if isinstance(v, float) and (v <= 0 or v == 1):
            raise ValueError("logbase must be a positive number other than 1, or 'e'")
        return v


class GridSamplingAlgorithm(Entity):
    """Every combination of the ``choice`` values, in order."""

    type: Literal["grid"] = "grid"
    _lower_type = field_validator("type", mode="before")(staticmethod(_lower))


class BayesianSamplingAlgorithm(Entity):
    """Bayesian optimisation (locally: Optuna's TPE sampler), informed by finished trials."""

    type: Literal["bayesian"] = "bayesian"
    _lower_type = field_validator("type", mode="before")(staticmethod(_lower))


SamplingAlgorithm = Annotated[
    Union[Annotated[RandomSamplingAlgorithm, Tag("random")], Annotated[GridSamplingAlgorithm, Tag("grid")],
          Annotated[BayesianSamplingAlgorithm, Tag("bayesian")],
          Annotated[Literal["random", "grid", "bayesian"], Tag("name")]],
    Discriminator(lambda v: "name" if isinstance(v, str) else _lower(
        v.get("type") if isinstance(v, dict) else getattr(v, "type", None))),
]
"""``random``/``grid``/``bayesian`` or an object such as ``{type: random, seed: 1}``."""


class _Policy(Entity):
    evaluation_interval: int = Field(default=1, ge=0)
    delay_evaluation: int = Field(default=0, ge=0)

    _lower_type = field_validator("type", mode="before", check_fields=False)(staticmethod(_lower))


class BanditPolicy(_Policy):
    """Stop a trial whose best value so far falls outside the slack of the best trial's:
    ``slack_factor`` (a ratio) or ``slack_amount`` (an absolute distance), exactly one."""

    type: Literal["bandit"] = "bandit"
    slack_factor: float | None = Field(default=None, ge=0)
    slack_amount: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_slack(self) -> "BanditPolicy":
        if (self.slack_factor is None) == (self.slack_amount is None):
            raise ValueError("a bandit policy takes exactly one of slack_factor or slack_amount")
        return self


class MedianStoppingPolicy(_Policy):
    """Stop a trial whose best value so far is worse than the median of the completed trials'
    running averages at the same interval."""

    type: Literal["median_stopping"] = "median_stopping"


class TruncationSelectionPolicy(_Policy):
    """At each evaluation interval, stop the trials in the worst ``truncation_percentage`` percent."""

    type: Literal["truncation_selection"] = "truncation_selection"
    truncation_percentage: int = Field(ge=1, le=99)


EarlyTerminationPolicy = Annotated[
    Union[Annotated[BanditPolicy, Tag("bandit")], Annotated[MedianStoppingPolicy, Tag("median_stopping")],
          Annotated[TruncationSelectionPolicy, Tag("truncation_selection")]],
    Discriminator(lambda v: _lower(v.get("type") if isinstance(v, dict) else getattr(v, "type", None))),
]
"""``{type: bandit | median_stopping | truncation_selection, ...}``."""


class ParameterizedCommand(Entity):
    """A sweep's ``trial``: the body of a command job (``command``, ``code``, ``environment``...).

    ``command`` may use ``${{search_space.<hp>}}`` and the sweep's ``${{inputs.<x>}}``/
    ``${{outputs.<y>}}``; the sweep checks them against its own fields.
    """

    command: str
    code: str | None = None
    environment: EnvironmentRef | None = None
    environment_variables: dict[str, str] | None = None
    resources: JobResourceConfiguration | None = None
    distribution: Distribution | None = None
    queue_settings: dict[str, Any] | None = None

    _lower_distribution_type = field_validator("distribution", mode="before")(
        staticmethod(lower_distribution_type))

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _env_values_are_strings(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): str(val).lower() if isinstance(val, bool) else str(val) for k, val in v.items()}
        return v

    @field_validator("command")
    @classmethod
    def _check_blocks(cls, command: str) -> str:
        optional_blocks(command)
        return command


_COMPONENT_KEYS = frozenset({"inputs", "outputs", "name", "version", "type", "is_deterministic", "display_name"})
_BODY_FIELDS = tuple(ParameterizedCommand.model_fields)


def _trial_tag(value: Any) -> str:
    if isinstance(value, str):
        return "reference"
    if isinstance(value, CommandComponent):
        return "component"
    if isinstance(value, dict) and _COMPONENT_KEYS & set(value):
        return "component"
    return "command"


Trial = Annotated[
    Union[Annotated[str, Tag("reference")], Annotated[CommandComponent, Tag("component")],
          Annotated[ParameterizedCommand, Tag("command")]],
    Discriminator(_trial_tag),
]
"""A command-job body, a :class:`CommandComponent`, or a component reference."""


class SweepJob(Job):
    """A sweep job (``type: sweep``), as azure-ai-ml's ``SweepJob`` (and the ``Sweep`` node that
    ``command(...)(lr=Uniform(...)).sweep(...)`` returns; it is also a pipeline step's class)."""

    type: Literal["sweep"] = "sweep"
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    properties: dict[str, str] | None = None
    experiment_name: str | None = None
    compute: str | None = None
    inputs: dict[str, JobInput] = Field(default_factory=dict)
    outputs: dict[str, Output | None] = Field(default_factory=dict)
    sampling_algorithm: SamplingAlgorithm | None = None
    search_space: dict[str, SearchSpaceValue] = Field(default_factory=dict)
    objective: Objective | None = None
    limits: SweepJobLimits | None = None
    early_termination: EarlyTerminationPolicy | None = None
    trial: Trial | None = None
    resources: JobResourceConfiguration | None = None
    identity: JobIdentity = None
    queue_settings: dict[str, Any] | None = None
    services: dict[str, Any] | None = None
    parent_job_name: str | None = None
    # Read-only: filled by the service.
    status: JobStatus | None = None
    id: str | None = None
    creation_context: dict[str, Any] | None = None
    studio_url: str | None = None
    log_files: dict[str, str] | None = None
    error: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    params: dict[str, Any] | None = None

    _none_is_empty = field_validator("inputs", "outputs", "search_space", mode="before")(staticmethod(none_is_empty))

    @field_validator("sampling_algorithm", mode="before")
    @classmethod
    def _lower_algorithm(cls, v: Any) -> Any:
        return _lower(v)

    @field_validator("trial", mode="before")
    @classmethod
    def _command_job_as_trial(cls, v: Any) -> Any:
        """A :class:`CommandJob` given as the trial contributes its command-job body."""
        if isinstance(v, CommandJob):
            body = {k: getattr(v, k) for k in _BODY_FIELDS if getattr(v, k, None) is not None}
            return ParameterizedCommand(**body)
        return v

    @model_validator(mode="after")
    def _check_sweep(self) -> "SweepJob":
        check_port_names([*self.inputs, *self.outputs])
        problems = sweep_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        # A refused assignment leaves the job as it was (pydantic has already stored the new value
        # when the whole-model checks run).
        missing = object()
        old = self.__dict__.get(name, missing)
        try:
            super().__setattr__(name, value)
        except ValidationError:
            if old is not missing:
                self.__dict__[name] = old
            raise

    def _to_dict(self) -> dict[str, Any]:
        """The YAML-shaped dict; empty ``inputs``/``outputs`` are left out, as Azure leaves them."""
        data = super()._to_dict()
        return {k: v for k, v in data.items() if not (k in ("inputs", "outputs") and v == {})}

    @property
    def algorithm(self) -> str:
        """The sampling algorithm's name (``random`` when none is set)."""
        value = self.sampling_algorithm
        return "random" if value is None else (value if isinstance(value, str) else value.type)

    def set_limits(self, *, max_concurrent_trials: int | None = None, max_total_trials: int | None = None,
                   timeout: int | None = None, trial_timeout: int | None = None) -> None:
        """Update ``limits``; arguments left at None keep their current value."""
        current = self.limits.model_dump(exclude_none=True) if self.limits else {}
        given = {"max_concurrent_trials": max_concurrent_trials, "max_total_trials": max_total_trials,
                 "timeout": timeout, "trial_timeout": trial_timeout}
        self.limits = SweepJobLimits(**{**current, **{k: v for k, v in given.items() if v is not None}})

    def set_objective(self, *, goal: str | None = None, primary_metric: str | None = None) -> None:
        """Update ``objective``; arguments left at None keep their current value."""
        current = self.objective.model_dump() if self.objective else {}
        given = {k: v for k, v in {"goal": goal, "primary_metric": primary_metric}.items() if v is not None}
        self.objective = Objective(**{**current, **given})

    def set_resources(self, **resources: Any) -> None:
        """Update the sweep's ``resources`` (``instance_count``, ``instance_type``...)."""
        current = self.resources._to_dict() if self.resources else {}
        given = {k: v for k, v in resources.items() if v is not None}
        self.resources = JobResourceConfiguration(**{**current, **given})


Sweep = SweepJob
"""azure-ai-ml's name for the node ``.sweep()`` returns; in openaml the same class as :class:`SweepJob`."""


def sweep_problems(job: SweepJob) -> list[str]:
    """What Azure refuses in this combination of algorithm, search space, policy and trial."""
    problems: list[str] = []
    algorithm = job.algorithm
    if algorithm == "grid":
        bad = [n for n, d in job.search_space.items() if not isinstance(d, Choice)]
        if bad:
            problems.append(f"grid sampling supports only choice; search_space {', '.join(bad)} "
                            "use other distributions")
    if algorithm == "bayesian":
        bad = [n for n, d in job.search_space.items() if not isinstance(d, _BAYESIAN_DISTRIBUTIONS)]
        if bad:
            problems.append(f"bayesian sampling supports only choice, uniform and quniform; "
                            f"search_space {', '.join(bad)} use other distributions")
        if job.early_termination is not None:
            problems.append("bayesian sampling does not support an early termination policy")
    if isinstance(job.trial, ParameterizedCommand):
        invalid = [b for b in command_bindings(job.trial.command) if not _valid_binding(b, job)]
        if invalid:
            problems.append("Invalid data binding expression: " + ", ".join(invalid))
    elif isinstance(job.trial, CommandComponent):
        missing = [n for n in job.search_space if n not in job.trial.inputs]
        if missing:
            problems.append(f"search_space {', '.join(missing)} are not inputs of the trial component")
    return problems


def _valid_binding(expr: str, job: SweepJob) -> bool:
    parts = expr.split(".")
    if parts[0] == "search_space":
        return len(parts) == 2 and parts[1] in job.search_space
    ports = {"inputs": job.inputs, "outputs": job.outputs}.get(parts[0])
    return ports is not None and 2 <= len(parts) <= 3 and parts[1] in ports


def missing_for_submission(job: SweepJob) -> list[str]:
    """Required fields a sweep needs before it can run (dotted names)."""
    missing = []
    if job.objective is None:
        missing.append("objective")
    if job.limits is None or job.limits.max_total_trials is None:
        missing.append("limits.max_total_trials")
    if job.trial is None:
        missing.append("trial")
    if not job.search_space:
        missing.append("search_space")
    return missing
