"""What the service and an endpoint's router share: states, the router's runtime record, the
folders of an endpoint on this machine, and the :class:`EndpointHost` protocol through which
the service reaches whatever serves endpoints (a local router process; later the server).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from openaml.paths import safe_join
from openaml.services.settings import Settings

CONTROL_PREFIX = "/.openaml/"
#: Header naming the deployment a request is for (Azure's).
DEPLOYMENT_HEADER = "azureml-model-deployment"
INFERENCE_SERVER = "inference-server"
STORAGE_INITIALIZER = "storage-initializer"
CONTAINER_TYPES = (INFERENCE_SERVER, STORAGE_INITIALIZER)


class ProvisioningState(str, enum.Enum):
    """Azure's provisioning states of endpoints and deployments."""

    CREATING = "Creating"
    UPDATING = "Updating"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    DELETING = "Deleting"

    @property
    def terminal(self) -> bool:
        return self in (ProvisioningState.SUCCEEDED, ProvisioningState.FAILED)


@dataclass(frozen=True)
class RouterRuntime:
    """The process serving one endpoint, as it recorded itself: pid, loopback port, and the
    process token every process of the endpoint carries (to find them all when it is deleted)."""

    pid: int
    port: int
    token: str
    host: str = "127.0.0.1"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def scoring_uri(self) -> str:
        return f"{self.base_url}/score"

    @property
    def openapi_uri(self) -> str:
        return f"{self.base_url}/swagger.json"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "RouterRuntime | None":
        if not data or not isinstance(data.get("pid"), int) or not isinstance(data.get("port"), int):
            return None
        return cls(pid=data["pid"], port=data["port"], token=str(data.get("token", "")),
                   host=str(data.get("host", "127.0.0.1")))


@dataclass(frozen=True)
class Answer:
    """An endpoint's HTTP answer to an invocation."""

    status: int
    body: bytes
    headers: dict[str, str]


class EndpointHost(Protocol):
    """Runs endpoints: one router per endpoint, started on demand, told to reload, stopped."""

    def ensure(self, workspace: str, endpoint: str, runtime: RouterRuntime | None) -> RouterRuntime:
        """The router serving *endpoint*: *runtime* if it still answers, else a new one."""

    def is_alive(self, runtime: RouterRuntime | None) -> bool:
        """Whether the router *runtime* describes still runs."""

    def reload(self, runtime: RouterRuntime, control_key: str) -> None:
        """Have the router read the store again; returns once it has (keys apply at once)."""

    def stop(self, runtime: RouterRuntime, control_key: str) -> None:
        """Stop the router and every process of the endpoint; returns once they are gone."""

    def post(self, runtime: RouterRuntime, path: str, body: bytes, headers: dict[str, str],
             timeout: float) -> Answer:
        """Send a request to the endpoint as a client would."""


def endpoints_dir(settings: Settings, workspace: str) -> Path:
    """Where the endpoints of *workspace* keep their files on this machine."""
    return safe_join(settings.home / "endpoints", workspace, field="workspace", names=True)


def endpoint_dir(settings: Settings, workspace: str, endpoint: str) -> Path:
    """One endpoint's folder: the router's log and lock, one folder per deployment."""
    return safe_join(endpoints_dir(settings, workspace), endpoint, field="name", names=True)


def deployment_dir(settings: Settings, workspace: str, endpoint: str, deployment: str) -> Path:
    """One deployment's folder: ``model/``, ``code/``, ``logs/``."""
    return safe_join(endpoint_dir(settings, workspace, endpoint), deployment, field="name", names=True)


def log_file(settings: Settings, workspace: str, endpoint: str, deployment: str, container_type: str,
             instance: int = 0) -> Path:
    """The log of one instance's inference server, or the deployment's storage initializer
    (environment, model and code preparation)."""
    logs = deployment_dir(settings, workspace, endpoint, deployment) / "logs"
    if container_type == STORAGE_INITIALIZER:
        return logs / "storage-initializer.log"
    return logs / f"inference-server-{instance}.log"
