"""``ml_client.online_endpoints`` and ``ml_client.online_deployments``, with azure-ai-ml's verbs.

Endpoints are served on this machine (a router process per endpoint, see
``docs/endpoints.md``); over an openaml server they are not available yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from openaml.client.keywords import OperationGroup
from openaml.client.poller import LROPoller, WaitPolling
from openaml.entities.deployment import OnlineDeployment
from openaml.entities.endpoint import EndpointAadToken, EndpointAuthKeys, EndpointAuthToken, OnlineEndpoint
from openaml.errors import ValidationError
from openaml.services.endpoint_runtime import ProvisioningState


class OnlineEndpointOperations(OperationGroup):
    """``ml_client.online_endpoints``."""

    def _service(self) -> Any:
        return self._client._local("online endpoints").endpoint_service()

    def begin_create_or_update(self, endpoint: OnlineEndpoint, *, local: bool = False) -> LROPoller[OnlineEndpoint]:
        """Create the endpoint (its keys generated, its router started), or update it: traffic
        given replaces the stored split (Azure's rules: it sums to 100; mirror at most 50%, never
        to a deployment with live traffic)."""
        if not isinstance(endpoint, OnlineEndpoint):
            raise TypeError(f"expected an OnlineEndpoint, got {type(endpoint).__name__}")
        return LROPoller(self._service().create_or_update(endpoint))

    def begin_create(self, endpoint: OnlineEndpoint) -> LROPoller[OnlineEndpoint]:
        """openaml's: create only (``openaml online-endpoint create``); an existing endpoint raises
        :class:`~openaml.errors.AlreadyExistsError`."""
        return LROPoller(self._service().create_or_update(endpoint, mode="create"))

    def begin_update(self, endpoint: OnlineEndpoint) -> LROPoller[OnlineEndpoint]:
        """openaml's: update only; a missing endpoint raises :class:`~openaml.errors.NotFoundError`."""
        return LROPoller(self._service().create_or_update(endpoint, mode="update"))

    def begin_update_traffic(self, name: str, *, traffic: dict[str, int] | None = None,
                             mirror_traffic: dict[str, int] | None = None) -> LROPoller[OnlineEndpoint]:
        """openaml's: change only the live and/or mirrored traffic split (``update --traffic``)."""
        return LROPoller(self._service().update_traffic(name, traffic=traffic, mirror_traffic=mirror_traffic))

    def get(self, name: str, *, local: bool = False) -> OnlineEndpoint:
        """The endpoint with ``scoring_uri``, ``openapi_uri`` and its traffic (0 for deployments
        without any); its router is started first if it was not running."""
        return self._service().get(name)

    def list(self, *, local: bool = False) -> Iterable[OnlineEndpoint]:
        """Every online endpoint of the workspace."""
        return self._service().list()

    def begin_delete(self, name: str | None = None, *, local: bool = False) -> LROPoller[None]:
        """Stop every process of the endpoint and delete it with its deployments."""
        if not name:
            raise ValidationError("begin_delete needs the endpoint's name", field="name")
        self._service().delete(name)
        return LROPoller(None)

    def get_keys(self, name: str) -> EndpointAuthKeys | EndpointAuthToken | EndpointAadToken:
        """The endpoint's keys (``auth_mode: key``) or token."""
        return self._service().get_keys(name)

    def begin_regenerate_keys(self, name: str, *, key_type: str = "primary") -> LROPoller[None]:
        """Replace the primary or secondary key; the old one is refused once this returns."""
        self._service().regenerate_keys(name, key_type)
        return LROPoller(None)

    def invoke(self, endpoint_name: str, *, request_file: str | None = None, deployment_name: str | None = None,
               input_data: Any = None, params_override: Any = None, local: bool = False) -> str:
        """Send the JSON of *request_file* to the endpoint (to *deployment_name* only, when given)
        and return the answer's text; an error status raises :class:`~openaml.errors.ScoringError`."""
        if request_file is None:
            raise ValidationError("invoke needs request_file (a JSON file)", field="request_file")
        raw = Path(request_file).read_bytes()
        try:
            body = json.dumps(json.loads(raw)).encode()
        except ValueError as exc:
            raise ValidationError(f"{request_file} is not JSON: {exc}", field="request_file") from None
        return self._service().invoke(endpoint_name, body, deployment_name=deployment_name)


class OnlineDeploymentOperations(OperationGroup):
    """``ml_client.online_deployments``."""

    def _service(self) -> Any:
        return self._client._local("online deployments").endpoint_service()

    def begin_create_or_update(self, deployment: OnlineDeployment, *, local: bool = False, vscode_debug: bool = False,
                               skip_script_validation: bool = False, local_enable_gpu: bool = False
                               ) -> LROPoller[OnlineDeployment]:
        """Pin the deployment's model, code and environment and start its workers. The poller is
        done when it is Succeeded or Failed; ``result()`` raises
        :class:`~openaml.errors.DeploymentFailedError` (with the log's tail) when it failed."""
        return self._begin(deployment, "upsert")

    def begin_create(self, deployment: OnlineDeployment) -> LROPoller[OnlineDeployment]:
        """openaml's: create only (``openaml online-deployment create``); an existing deployment
        raises :class:`~openaml.errors.AlreadyExistsError`."""
        return self._begin(deployment, "create")

    def begin_update(self, deployment: OnlineDeployment) -> LROPoller[OnlineDeployment]:
        """openaml's: update only; a missing deployment raises :class:`~openaml.errors.NotFoundError`."""
        return self._begin(deployment, "update")

    def _begin(self, deployment: OnlineDeployment, mode: str) -> LROPoller[OnlineDeployment]:
        if not isinstance(deployment, OnlineDeployment):
            raise TypeError(f"expected an OnlineDeployment, got {type(deployment).__name__}")
        service = self._service()
        created = service.create_or_update_deployment(deployment, mode=mode)
        return deployment_poller(service, created.endpoint_name, created.name)

    def get(self, name: str, endpoint_name: str, *, local: bool = False) -> OnlineDeployment:
        """One deployment, with its provisioning state."""
        return self._service().get_deployment(endpoint_name, name)

    def list(self, endpoint_name: str, *, local: bool = False) -> Iterable[OnlineDeployment]:
        """The deployments of an endpoint."""
        return self._service().list_deployments(endpoint_name)

    def begin_delete(self, name: str, endpoint_name: str, *, local: bool = False) -> LROPoller[None]:
        """Stop the deployment's workers and delete it (refused while it takes traffic)."""
        self._service().delete_deployment(endpoint_name, name)
        return LROPoller(None)

    def get_logs(self, name: str, endpoint_name: str, lines: int = 100, *, container_type: str | None = None,
                 local: bool = False) -> str:
        """The last *lines* lines of the deployment's inference server log (or of its
        ``storage-initializer``: environment, model and code preparation)."""
        return self._service().get_logs(endpoint_name, name, lines, container_type)


def deployment_poller(service: Any, endpoint: str, name: str) -> LROPoller[OnlineDeployment]:
    """A poller done once the deployment is Succeeded or Failed."""

    def finished() -> bool:
        return ProvisioningState(service.deployment_state(endpoint, name).state).terminal

    def wait(timeout: float | None) -> bool:
        return ProvisioningState(service.wait_deployment(endpoint, name, timeout).state).terminal

    def result() -> OnlineDeployment:
        record = service.deployment_state(endpoint, name)
        if record.state == ProvisioningState.FAILED.value:
            raise service.failure(record)
        return service.get_deployment(endpoint, name)

    return LROPoller(polling_method=WaitPolling(finished, wait, result))
