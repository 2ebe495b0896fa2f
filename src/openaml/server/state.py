"""What the server holds for its lifetime: the workspaces it serves, opened once each, and the
launcher of their jobs. Request handlers reach services only through :class:`ServerState`."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from openaml.entities import Workspace, WorkspaceStorage
from openaml.names import check_name
from openaml.rest.paths import WorkspaceScope, check_segment
from openaml.server.settings import ServerSettings
from openaml.services.workspaces import WorkspaceContext, WorkspaceService


@dataclass(frozen=True)
class Scoped:
    """A request's workspace: where it is on the wire, and the workspace opened."""

    scope: WorkspaceScope
    ctx: WorkspaceContext


class ServerState:
    """The server's services, shared by every request (each service is thread-safe)."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.workspaces = WorkspaceService(settings.workspace_settings)
        self._launcher: Any = None
        self._lock = threading.Lock()

    def scope(self, subscription: str, resource_group: str, workspace: str = "") -> WorkspaceScope:
        """The checked ids of a request's path: each is one segment, nothing else."""
        check_segment(subscription, "subscriptionId")
        check_segment(resource_group, "resourceGroupName")
        if workspace:
            check_name("workspace", workspace, field="workspaceName")
        return WorkspaceScope(subscription, resource_group, workspace)

    def opened(self, subscription: str, resource_group: str, workspace: str) -> Scoped | None:
        """The workspace of a request if it is open already (checked ids, no I/O), else None."""
        scope = self.scope(subscription, resource_group, workspace)
        ctx = self.workspaces.opened(workspace)
        return Scoped(scope, ctx) if ctx is not None else None

    def open(self, subscription: str, resource_group: str, workspace: str) -> Scoped:
        """The workspace of a request, opened (:class:`WorkspaceNotFoundError` if there is none)."""
        scope = self.scope(subscription, resource_group, workspace)
        return Scoped(scope, self.workspaces.open(workspace))

    def create_workspace(self, workspace: Workspace) -> Workspace:
        """Create a workspace with the server's database and default storage unless it names its own."""
        if workspace.storage is None and self.settings.storage:
            storage = WorkspaceStorage(uri=self.settings.storage)
            workspace = workspace.model_copy(update={"storage": storage.with_environment_credentials(os.environ)})
        return self.workspaces.create(workspace, database_url=self.settings.database_url)

    def job_service(self, ctx: WorkspaceContext) -> Any:
        """The job service of a workspace; its jobs run on this machine's local pool."""
        from openaml.backends.local import LocalLauncher
        from openaml.services.jobs import JobService
        with self._lock:
            if self._launcher is None:
                self._launcher = LocalLauncher()
        return JobService(ctx, self.settings.workspace_settings, self._launcher)

    def close(self) -> None:
        self.workspaces.close()
