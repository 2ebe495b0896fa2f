"""``command(...)``: azure-ai-ml's builder for a command job, with the same keyword arguments."""

from __future__ import annotations

from typing import Any

from .distribution import MpiDistribution, PyTorchDistribution, RayDistribution, TensorFlowDistribution
from .environment import Environment
from .inputs_outputs import Input, Output
from .job import Command

DistributionArg = MpiDistribution | PyTorchDistribution | TensorFlowDistribution | RayDistribution


def command(
    *,
    name: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    properties: dict[str, str] | None = None,
    experiment_name: str | None = None,
    command: str | None = None,
    code: str | None = None,
    environment: str | Environment | None = None,
    environment_variables: dict[str, Any] | None = None,
    distribution: dict[str, Any] | DistributionArg | None = None,
    compute: str | None = None,
    inputs: dict[str, Input | dict[str, Any] | str | int | float | bool] | None = None,
    outputs: dict[str, Output | dict[str, Any] | None] | None = None,
    instance_count: int | None = None,
    instance_type: str | None = None,
    locations: list[str] | None = None,
    docker_args: str | list[str] | None = None,
    shm_size: str | None = None,
    timeout: int | None = None,
    identity: Any = None,
    is_deterministic: bool = True,
    services: dict[str, Any] | None = None,
    job_tier: str | None = None,
    priority: str | None = None,
    parent_job_name: str | None = None,
    **kwargs: Any,
) -> Command:
    """Build a :class:`Command` that can be submitted with ``ml_client.jobs.create_or_update``.

    As in azure-ai-ml, ``instance_count``/``instance_type``/``locations``/``docker_args``/
    ``shm_size`` go into ``resources``, ``timeout`` (seconds) into ``limits`` and
    ``job_tier``/``priority`` into ``queue_settings``. Inputs may be literals (``lr=0.01``) or
    :class:`Input` (a primitive ``Input(type="integer", optional=True)`` declares an optional
    input for a ``$[[ ... ]]`` block; its value is its ``default``). Other keyword arguments
    (``component``, ``resources``, ``limits``, ``queue_settings``...) are passed to
    :class:`Command`, which rejects unknown ones with :class:`openaml.errors.ValidationError`.
    """
    job = Command(
        name=name, display_name=display_name, description=description, tags=tags,
        properties=properties, experiment_name=experiment_name, compute=compute,
        inputs=inputs or {}, outputs=outputs or {}, command=command, code=_path_str(code),
        environment=environment,
        environment_variables=environment_variables, distribution=distribution,
        identity=identity, is_deterministic=is_deterministic, services=services,
        parent_job_name=parent_job_name, **kwargs,
    )
    resources = {"instance_count": instance_count, "instance_type": instance_type,
                 "locations": locations, "docker_args": docker_args, "shm_size": shm_size}
    if any(v is not None for v in resources.values()):
        job.set_resources(**resources)
    if timeout is not None:
        job.set_limits(timeout=timeout)
    if job_tier is not None or priority is not None:
        job.set_queue_settings(job_tier=job_tier, priority=priority)
    return job


def _path_str(code: Any) -> Any:
    """``code`` may be an ``os.PathLike``, as in azure-ai-ml; the entity keeps a string."""
    return code if code is None or isinstance(code, str) else str(code)
