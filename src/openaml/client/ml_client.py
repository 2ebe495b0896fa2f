"""``MLClient``: the SDK's entry point, with azure-ai-ml's constructor and operation groups."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from openaml.client.config import find_config, load_config, read_config
from openaml.client.operations import (ComponentOperations, ComputeOperations, DataOperations,
                                       DatastoreOperations, EnvironmentOperations, ModelOperations,
                                       WorkspaceOperations)
from openaml.client.jobs import JobOperations
from openaml.client.poller import LROPoller
from openaml.entities import CommandComponent, Data, Environment, Model, Workspace
from openaml.entities.compute import Compute
from openaml.entities.datastore import Datastore
from openaml.services.settings import DEFAULT_WORKSPACE, Settings
from openaml.services.workspaces import WorkspaceContext, WorkspaceService

if TYPE_CHECKING:
    from openaml.services.jobs import JobService


class MLClient:
    """A client for one workspace.

    ``MLClient(credential, subscription_id, resource_group_name, workspace_name)`` accepts Azure's
    arguments; the credential and the Azure ids are accepted and not needed locally. Without a
    ``workspace_name`` the client uses the ``config.json`` found walking up from the current folder,
    else the ``default`` workspace under ``$OPENAML_HOME`` (created on first use).

    Keyword arguments of our own: ``openaml_home`` (where local workspaces live).
    """

    def __init__(self, credential: Any = None, subscription_id: str | None = None,
                 resource_group_name: str | None = None, workspace_name: str | None = None,
                 registry_name: str | None = None, *, openaml_home: str | Path | None = None,
                 show_progress: bool = True, **kwargs: Any) -> None:
        self._credential = credential
        self.subscription_id = subscription_id
        self.resource_group_name = resource_group_name
        self._settings = Settings.from_env(home=openaml_home)
        self._show_progress = show_progress
        self._workspaces = WorkspaceService(self._settings)
        if workspace_name is None:
            found = find_config()
            workspace_name = read_config(found)["workspace_name"] if found else DEFAULT_WORKSPACE
        self.workspace_name = workspace_name
        self.workspaces = WorkspaceOperations(self)
        self.models = ModelOperations(self)
        self.data = DataOperations(self)
        self.environments = EnvironmentOperations(self)
        self.components = ComponentOperations(self)
        self.datastores = DatastoreOperations(self)
        self.compute = ComputeOperations(self)
        self.jobs = JobOperations(self)
        self._launcher = None

    @classmethod
    def from_config(cls, credential: Any = None, *, path: str | Path | None = None,
                    file_name: str | None = None, **kwargs: Any) -> "MLClient":
        """Build a client from ``config.json`` found walking up from ``path`` (default: cwd)."""
        _, config = load_config(path, file_name)
        return cls(credential, config.get("subscription_id"), config.get("resource_group"),
                   config["workspace_name"], **kwargs)

    def _context(self) -> WorkspaceContext:
        """Open the client's workspace on first use; the default one is created if missing."""
        if self.workspace_name == DEFAULT_WORKSPACE and not self._workspaces.exists(DEFAULT_WORKSPACE):
            self._workspaces.create(Workspace(name=DEFAULT_WORKSPACE), exist_ok=True)
        return self._workspaces.open(self.workspace_name)

    def workspace_context(self) -> WorkspaceContext:
        """openaml's own: the client's workspace, opened (created first if it is the default
        one), for helpers that run in this process, such as :func:`openaml.data.load_table`."""
        return self._context()

    def _job_service(self) -> "JobService":
        from openaml.backends.local import LocalLauncher
        from openaml.services.jobs import JobService
        if self._launcher is None:
            self._launcher = LocalLauncher()
        return JobService(self._context(), self._settings, self._launcher)

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
        if isinstance(entity, (Workspace, Compute)):
            return self.begin_create_or_update(entity, **kwargs).result()
        raise TypeError(f"create_or_update does not take {type(entity).__name__}")

    def begin_create_or_update(self, entity: Any, **kwargs: Any) -> LROPoller[Any]:
        """Create or update a workspace or a compute target; keyword arguments go to the
        operation group's ``begin_*`` method."""
        if isinstance(entity, Workspace):
            if self._workspaces.exists(entity.name):
                return self.workspaces.begin_update(entity, **kwargs)
            return self.workspaces.begin_create(entity, **kwargs)
        if isinstance(entity, Compute):
            return self.compute.begin_create_or_update(entity, **kwargs)
        raise TypeError(f"begin_create_or_update does not take {type(entity).__name__}")

    def close(self) -> None:
        """Close open database connections."""
        self._workspaces.close()

    def __enter__(self) -> "MLClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MLClient(workspace_name={self.workspace_name!r}, home={str(self._settings.home)!r})"
