"""Online endpoints (``ManagedOnlineEndpoint``, ``KubernetesOnlineEndpoint``) and their keys.

An endpoint is a stable scoring address in front of deployments: ``traffic`` splits live
requests between deployments by weight (percentages summing to 100, or an empty mapping),
``mirror_traffic`` copies a share of them to one deployment whose answers are discarded.
Locally both kinds are served the same way, by a router process on a loopback port
(``scoring_uri``). Read-only fields (``scoring_uri``, ``openapi_uri``, ``provisioning_state``)
are filled by the service.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ._base import Entity, Resource, SecretText
from .credentials import IdentityConfiguration

AuthMode = Literal["key", "aml_token", "aad_token"]


def _percentages(value: Any) -> Any:
    if value is None:
        return {}
    if isinstance(value, dict):
        for name, weight in value.items():
            if isinstance(weight, bool) or not isinstance(weight, int):
                raise ValueError(f"the share of '{name}' must be a whole percentage, not {weight!r}")
    return value


class OnlineEndpoint(Resource):
    """Base of online endpoints (azure-ai-ml's ``OnlineEndpoint``)."""

    auth_mode: AuthMode = "key"
    properties: dict[str, Any] | None = None
    location: str | None = None
    traffic: dict[str, int] = Field(default_factory=dict)
    mirror_traffic: dict[str, int] = Field(default_factory=dict)
    identity: IdentityConfiguration | None = None
    kind: str | None = None
    scoring_uri: str | None = None  # read-only
    openapi_uri: str | None = None  # read-only
    provisioning_state: str | None = None  # read-only

    @field_validator("auth_mode", mode="before")
    @classmethod
    def _lower_auth_mode(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v

    _percent_traffic = field_validator("traffic", "mirror_traffic", mode="before")(staticmethod(_percentages))


class ManagedOnlineEndpoint(OnlineEndpoint):
    """An online endpoint on managed compute (served locally by a router process)."""

    public_network_access: Literal["enabled", "disabled"] | None = None


class KubernetesOnlineEndpoint(OnlineEndpoint):
    """An online endpoint on an attached Kubernetes compute; accepted, and served locally the
    same way as a managed one (``compute`` is kept)."""

    compute: str | None = None


class EndpointAuthKeys(Entity):
    """The two keys of an endpoint in ``key`` mode (``get_keys``); either is accepted as
    ``Authorization: Bearer <key>``."""

    primary_key: SecretText = None
    secondary_key: SecretText = None


class EndpointAuthToken(Entity):
    """The token of an endpoint in ``aml_token`` mode (``get_keys``)."""

    access_token: SecretText = None
    expiry_time_utc: int = 0
    refresh_after_time_utc: int = 0
    token_type: str | None = None


class EndpointAadToken(Entity):
    """The token of an endpoint in ``aad_token`` mode (``get_keys``); locally the workspace's
    endpoint token, as no Microsoft Entra ID is involved."""

    access_token: SecretText = None
    expiry_time_utc: int = 0


ONLINE_ENDPOINT_CLASSES: dict[str, type[OnlineEndpoint]] = {
    "managed": ManagedOnlineEndpoint,
    "kubernetes": KubernetesOnlineEndpoint,
}


def endpoint_kind(endpoint: OnlineEndpoint) -> str:
    """``managed`` or ``kubernetes``: the key the stored spec is read back with."""
    return "kubernetes" if isinstance(endpoint, KubernetesOnlineEndpoint) else "managed"
