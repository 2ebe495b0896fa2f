"""``MLClient``: the SDK's entry point, with azure-ai-ml's constructor and operation groups."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openaml.client.config import find_config, load_config, read_config
from openaml.client.operations import (ComponentOperations, ComputeOperations, DataOperations,
                                       DatastoreOperations, EnvironmentOperations, ModelOperations,
                                       WorkspaceOperations)
from openaml.client.endpoints import OnlineDeploymentOperations, OnlineEndpointOperations
from openaml.client.jobs import JobOperations
from openaml.client.poller import LROPoller
from openaml.entities import CommandComponent, Data, Environment, Model, Workspace
from openaml.entities.compute import Compute
from openaml.entities.datastore import Datastore
from openaml.client.local import LocalBackend
from openaml.client.transport import Backend
from openaml.errors import ValidationError
from openaml.services.settings import DEFAULT_WORKSPACE, Settings
from openaml.services.workspaces import WorkspaceContext

if TYPE_CHECKING:
    from openaml.services.jobs import JobService


class MLClient:
    """A client for one workspace, on this machine or on an openaml server.

    ``MLClient(credential, subscription_id, resource_group_name, workspace_name)`` accepts Azure's
    arguments. Without a ``workspace_name`` the client uses the ``config.json`` found walking up
    from the current folder, else the ``default`` workspace (created on first use locally).

    Where the workspace is, chosen once here: ``server="https://host:port"`` (else the
    ``OPENAML_SERVER`` variable, else an ``openaml_server`` key in that ``config.json``) reaches
    it on an openaml server (``openaml server start``) over HTTP; otherwise this process opens
    it under ``$OPENAML_HOME``. ``credential`` is a credential object (an azure-identity
    credential, anything with ``get_token``) or None; anything else is refused. On a server,
    ``subscription_id`` and ``resource_group_name`` go into the resource paths, and requests
    carry the token of ``credential`` (its ``get_token(...).token``; an ``AzureKeyCredential``'s
    key), else of ``OPENAML_TOKEN``, else the one ``openaml login`` saved for that server.

    Keyword arguments of our own: ``openaml_home`` (where local workspaces live), ``server``,
    ``transport`` (an httpx transport to reach the server through, e.g. the app in memory in
    tests), ``show_progress``.
    """

    def __init__(self, credential: Any = None, subscription_id: str | None = None,
                 resource_group_name: str | None = None, workspace_name: str | None = None,
                 registry_name: str | None = None, *, openaml_home: str | Path | None = None,
                 show_progress: bool = True, server: str | None = None, transport: Any = None,
                 **kwargs: Any) -> None:
        check_credential(credential)
        self._credential = credential
        self.subscription_id = subscription_id
        self.resource_group_name = resource_group_name
        self._settings = Settings.from_env(home=openaml_home)
        self._show_progress = show_progress
        config: dict[str, Any] = {}
        if workspace_name is None:
            found = find_config()
            config = read_config(found) if found else {}
        elif server is None and not os.environ.get("OPENAML_SERVER"):
            config = _server_of_config()
        if workspace_name is None:
            workspace_name = config.get("workspace_name") or DEFAULT_WORKSPACE
        self.workspace_name = workspace_name
        server = server or os.environ.get("OPENAML_SERVER") or config.get("openaml_server")
        self._backend: Backend
        if server:
            from openaml.client.http import HttpBackend
            from openaml.rest.paths import DEFAULT_RESOURCE_GROUP, DEFAULT_SUBSCRIPTION, WorkspaceScope
            scope = WorkspaceScope(subscription_id or DEFAULT_SUBSCRIPTION, resource_group_name or DEFAULT_RESOURCE_GROUP,
                                   workspace_name)
            self._backend = HttpBackend(server, scope, home=self._settings.home, transport=transport,
                                        credential=credential)
        else:
            self._backend = LocalBackend(self._settings, workspace_name)
        self.workspaces = WorkspaceOperations(self)
        self.models = ModelOperations(self)
        self.data = DataOperations(self)
        self.environments = EnvironmentOperations(self)
        self.components = ComponentOperations(self)
        self.datastores = DatastoreOperations(self)
        self.compute = ComputeOperations(self)
        self.jobs = JobOperations(self)
        self.online_endpoints = OnlineEndpointOperations(self)
        self.online_deployments = OnlineDeploymentOperations(self)

    @classmethod
    def from_config(cls, credential: Any = None, *, path: str | Path | None = None,
                    file_name: str | None = None, **kwargs: Any) -> "MLClient":
        """Build a client from ``config.json`` found walking up from ``path`` (default: cwd);
        its ``openaml_server`` key, when there, names the server."""
        _, config = load_config(path, file_name)
        if config.get("openaml_server") and "server" not in kwargs:
            kwargs["server"] = config["openaml_server"]
        return cls(credential, config.get("subscription_id"), config.get("resource_group"),
                   config["workspace_name"], **kwargs)

    @property
    def server(self) -> str | None:
        """The server this client talks to, or None when the workspace is opened in this process."""
        return None if isinstance(self._backend, LocalBackend) else self._backend.session.server

    def _local(self, what: str) -> LocalBackend:
        if not isinstance(self._backend, LocalBackend):
            raise ValidationError(f"{what} works on a workspace opened in this process, not over a server yet",
                                  field="server")
        return self._backend

    def _context(self) -> WorkspaceContext:
        """Open the client's workspace on first use; the default one is created if missing."""
        return self._local("opening the workspace's stores").context()

    def workspace_context(self) -> WorkspaceContext:
        """openaml's own: the client's workspace, opened (created first if it is the default
        one), for helpers that run in this process, such as :func:`openaml.data.load_table`."""
        return self._context()

    def _job_service(self) -> "JobService":
        return self._local("the job service").job_service()

    def create_or_update(self, entity: Any, **kwargs: Any) -> Any:
        """Create or update a job, model, data asset, environment, component or datastore.

        Keyword arguments go to the operation group's ``create_or_update`` (``experiment_name=``
        for a job, ``version=`` for a component...), which refuses those it does not take."""
        from openaml.entities.job import CommandJob
        from openaml.entities.pipeline import PipelineJob
        from openaml.entities.sweep import SweepJob
        if isinstance(entity, (CommandJob, PipelineJob, SweepJob)):
            return self.jobs.create_or_update(entity, **kwargs)
        for cls, ops in ((Model, self.models), (Data, self.data), (Environment, self.environments),
                         (CommandComponent, self.components), (Datastore, self.datastores)):
            if isinstance(entity, cls):
                return ops.create_or_update(entity, **kwargs)
        from openaml.entities.deployment import OnlineDeployment
        from openaml.entities.endpoint import OnlineEndpoint
        if isinstance(entity, (Workspace, Compute, OnlineEndpoint, OnlineDeployment)):
            return self.begin_create_or_update(entity, **kwargs).result()
        raise TypeError(f"create_or_update does not take {type(entity).__name__}")

    def begin_create_or_update(self, entity: Any, **kwargs: Any) -> LROPoller[Any]:
        """Create or update a workspace or a compute target; keyword arguments go to the
        operation group's ``begin_*`` method."""
        if isinstance(entity, Workspace):
            if self._backend.workspaces.exists(entity.name):
                return self.workspaces.begin_update(entity, **kwargs)
            return self.workspaces.begin_create(entity, **kwargs)
        if isinstance(entity, Compute):
            return self.compute.begin_create_or_update(entity, **kwargs)
        from openaml.entities.deployment import OnlineDeployment
        from openaml.entities.endpoint import OnlineEndpoint
        if isinstance(entity, OnlineEndpoint):
            return self.online_endpoints.begin_create_or_update(entity, **kwargs)
        if isinstance(entity, OnlineDeployment):
            return self.online_deployments.begin_create_or_update(entity, **kwargs)
        raise TypeError(f"begin_create_or_update does not take {type(entity).__name__}")

    def close(self) -> None:
        """Close open database connections."""
        self._backend.close()

    def __enter__(self) -> "MLClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MLClient(workspace_name={self.workspace_name!r}, {self._backend!r})"


def _server_of_config() -> dict[str, Any]:
    """``{"openaml_server": ...}`` from the config.json found, if it has one; a config.json that
    cannot be read is not this client's concern when the workspace was named."""
    found = find_config()
    if found is None:
        return {}
    try:
        data = json.loads(found.read_text())
    except (OSError, ValueError):
        return {}
    server = data.get("openaml_server") if isinstance(data, dict) else None
    return {"openaml_server": server} if isinstance(server, str) else {}


_CREDENTIAL_ATTRS = ("get_token", "get_token_info", "key", "named_key", "signature")


def check_credential(credential: Any) -> None:
    """Refuse what is not a credential in the credential position (a URL meant as ``server=``,
    a workspace name): it would otherwise be silently ignored."""
    if credential is None:
        return
    if isinstance(credential, (str, bytes, os.PathLike)) or not any(hasattr(credential, a) for a in _CREDENTIAL_ATTRS):
        shown = repr(credential) if isinstance(credential, (str, bytes, os.PathLike)) else type(credential).__name__
        hint = (" To reach an openaml server, pass server=" + repr(credential) + "."
                if isinstance(credential, str) and "://" in credential else "")
        raise ValidationError(f"MLClient's first argument is a credential (an azure-identity credential such "
                              f"as DefaultAzureCredential(), anything with get_token, or None), not {shown}.{hint}",
                              field="credential")
