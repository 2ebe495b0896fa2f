"""Online deployments (``ManagedOnlineDeployment``, ``KubernetesOnlineDeployment``) and their
settings, with azure-ai-ml's constructor arguments.

A deployment is a model plus the code and environment that serve it, behind one endpoint:
``instance_count`` worker processes (or between ``min_instances`` and ``max_instances`` with
``TargetUtilizationScaleSettings``), ``request_settings`` (timeout, concurrency per instance)
and ``liveness_probe``/``readiness_probe``. ``code_path``/``scoring_script`` are azure-ai-ml's
shortcut for ``code_configuration``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from ._base import Entity
from .environment import Environment
from .model import Model


class CodeConfiguration(Entity):
    """The scoring code: a local folder (``code``) and the entry script in it (``scoring_script``),
    which defines ``init()`` and ``run(raw_data)``."""

    code: str | None = None
    scoring_script: str | None = None

    def __init__(self, code: Any = None, scoring_script: Any = None, **data: Any) -> None:
        super().__init__(code=None if code is None else str(code),
                         scoring_script=None if scoring_script is None else str(scoring_script), **data)

    # Validation from a dict (YAML, nested values) skips this __init__, as it does Entity's.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


class OnlineRequestSettings(Entity):
    """Per-request limits. Defaults as Azure's: 5,000 ms timeout, one request at a time per
    instance, 500 ms in the queue at most."""

    request_timeout_ms: int | None = Field(default=None, ge=1, le=180_000)
    max_concurrent_requests_per_instance: int | None = Field(default=None, ge=1, le=1000)
    max_queue_wait_ms: int | None = Field(default=None, ge=0, le=600_000)


class ProbeSettings(Entity):
    """A liveness or readiness probe (``GET /`` on the worker). Seconds, as Azure's; defaults
    initial_delay 10, period 10, timeout 2, success_threshold 1, failure_threshold 30."""

    failure_threshold: int | None = Field(default=None, ge=1, le=10_000)
    success_threshold: int | None = Field(default=None, ge=1, le=10_000)
    timeout: int | None = Field(default=None, ge=1, le=3600)
    period: int | None = Field(default=None, ge=1, le=3600)
    initial_delay: int | None = Field(default=None, ge=0, le=3600)


class DefaultScaleSettings(Entity):
    """A fixed number of instances: the deployment's ``instance_count``."""

    type: Literal["default"] = "default"


class TargetUtilizationScaleSettings(Entity):
    """Between ``min_instances`` and ``max_instances`` workers, added or removed every
    ``polling_interval`` seconds to keep busy slots near ``target_utilization_percentage``."""

    type: Literal["target_utilization"] = "target_utilization"
    min_instances: int | None = Field(default=None, ge=1, le=100)
    max_instances: int | None = Field(default=None, ge=1, le=100)
    polling_interval: int | None = Field(default=None, ge=1, le=3600)
    target_utilization_percentage: int | None = Field(default=None, ge=1, le=100)

    @model_validator(mode="after")
    def _max_ge_min(self) -> "TargetUtilizationScaleSettings":
        if self.min_instances and self.max_instances and self.max_instances < self.min_instances:
            raise ValueError(f"max_instances ({self.max_instances}) must be >= min_instances ({self.min_instances})")
        return self


ScaleSettings = Annotated[Union[DefaultScaleSettings, TargetUtilizationScaleSettings], Field(discriminator="type")]


class ResourceSettings(Entity):
    """CPU, memory and GPU of a Kubernetes container (kept; not enforced locally)."""

    cpu: str | None = None
    memory: str | None = None
    gpu: str | None = None


class ResourceRequirementsSettings(Entity):
    """Requests and limits of a Kubernetes container (kept; not enforced locally)."""

    requests: ResourceSettings | None = None
    limits: ResourceSettings | None = None


class OnlineDeployment(Entity):
    """Base of online deployments (azure-ai-ml's ``OnlineDeployment``)."""

    name: str
    endpoint_name: str | None = None
    type: str = "managed"
    description: str | None = None
    tags: dict[str, str] | None = None
    properties: dict[str, Any] | None = None
    model: str | Model | None = None
    code_configuration: CodeConfiguration | None = None
    environment: str | Environment | None = None
    environment_variables: dict[str, str] | None = None
    app_insights_enabled: bool = False
    scale_settings: ScaleSettings | None = None
    request_settings: OnlineRequestSettings | None = None
    liveness_probe: ProbeSettings | None = None
    readiness_probe: ProbeSettings | None = None
    instance_type: str | None = None
    instance_count: int | None = Field(default=None, ge=0, le=100)
    model_mount_path: str | None = None
    data_collector: dict[str, Any] | None = None
    id: str | None = None  # read-only
    provisioning_state: str | None = None  # read-only
    creation_context: dict[str, Any] | None = None  # read-only

    def __init__(self, *, code_path: Any = None, scoring_script: Any = None, **data: Any) -> None:
        if code_path is not None or scoring_script is not None:
            if data.get("code_configuration") is not None:
                from openaml.errors import ValidationError
                raise ValidationError("give code_configuration, or code_path and scoring_script, not both",
                                      field="code_configuration")
            data["code_configuration"] = CodeConfiguration(code=code_path, scoring_script=scoring_script)
        super().__init__(**data)

    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _text_values(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): v if isinstance(v, str) else str(v) for k, v in v.items()}
        return v

    @property
    def code_path(self) -> str | None:
        """azure-ai-ml's shortcut for ``code_configuration.code``."""
        return self.code_configuration.code if self.code_configuration else None

    @property
    def scoring_script(self) -> str | None:
        """azure-ai-ml's shortcut for ``code_configuration.scoring_script``."""
        return self.code_configuration.scoring_script if self.code_configuration else None


class ManagedOnlineDeployment(OnlineDeployment):
    """A deployment on managed compute; ``instance_type`` is kept (locally every instance is a
    process on this machine)."""

    type: Literal["managed"] = "managed"
    egress_public_network_access: Literal["enabled", "disabled"] | None = None
    private_network_connection: bool | None = None


class KubernetesOnlineDeployment(OnlineDeployment):
    """A deployment on an attached Kubernetes compute; served locally as a managed one
    (``resources`` is kept, not enforced)."""

    type: Literal["kubernetes"] = "kubernetes"
    resources: ResourceRequirementsSettings | None = None


ONLINE_DEPLOYMENT_CLASSES: dict[str, type[OnlineDeployment]] = {
    "managed": ManagedOnlineDeployment,
    "kubernetes": KubernetesOnlineDeployment,
}
