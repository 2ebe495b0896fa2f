"""What the server holds for its lifetime: the workspaces it serves, opened once each, its
tokens (none under ``--no-auth``), and the launcher of their jobs. Request handlers reach
services only through :class:`ServerState`."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from openaml.entities import Workspace, WorkspaceStorage
from openaml.names import check_name
from openaml.rest.paths import WorkspaceScope, check_segment
from openaml.server.settings import ServerSettings
from openaml.services.tokens import TokenService
from openaml.services.workspaces import WorkspaceContext, WorkspaceService
from openaml.tracking.context import TrackingContext
from openaml.tracking.workspace import workspace_tracking_context


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
        self.tokens: TokenService | None = None if settings.no_auth else open_tokens(settings, self.workspaces)
        self._launcher: Any = None
        self._lock = threading.Lock()
        # The MLflow mount's context per workspace, with the workspace context it was built on:
        # a workspace deleted and created again is opened anew, and gets a new tracking context.
        self._tracking: dict[str, tuple[WorkspaceContext, TrackingContext]] = {}

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

    def tracking(self, subscription: str, resource_group: str, workspace: str) -> TrackingContext:
        """The MLflow tracking context of a request's workspace (the same one a job's endpoint
        serves), built once per opened workspace: its caches (known runs, the model registry)
        outlive a request."""
        ctx = self.open(subscription, resource_group, workspace).ctx
        with self._lock:
            cached = self._tracking.get(workspace)
            if cached is None or cached[0] is not ctx:
                cached = (ctx, workspace_tracking_context(ctx))
                self._tracking[workspace] = cached
            return cached[1]

    def create_workspace(self, workspace: Workspace) -> Workspace:
        """Create a workspace in the server's catalog, with its default storage unless it names its own."""
        if workspace.storage is None and self.settings.storage:
            storage = WorkspaceStorage(uri=self.settings.storage)
            workspace = workspace.model_copy(update={"storage": storage.with_environment_credentials(os.environ)})
        return self.workspaces.create(workspace)

    def delete_workspace(self, name: str) -> None:
        """Delete a workspace with everything in it, forget its MLflow tracking context, and revoke
        its tokens (a workspace of that name created later is another one: the old tokens must not
        reach it)."""
        self.workspaces.delete(name)
        with self._lock:
            self._tracking.pop(name, None)
        if self.tokens is not None:
            self.tokens.revoke_workspace(name)

    def job_service(self, ctx: WorkspaceContext) -> Any:
        """The job service of a workspace; its jobs run on this machine's local pool."""
        from openaml.backends.local import LocalLauncher
        from openaml.services.jobs import JobService
        with self._lock:
            if self._launcher is None:
                self._launcher = LocalLauncher()
        return JobService(ctx, self.settings.workspace_settings, self._launcher)

    def close(self) -> None:
        with self._lock:
            self._tracking.clear()
        self.workspaces.close()
        if self.tokens is not None:
            self.tokens.close()


def open_tokens(settings: ServerSettings, workspaces: WorkspaceService) -> TokenService:
    """The tokens of the server *settings* describe, in its database (:func:`~openaml.server.settings.server_database_url`),
    checked against *workspaces*."""
    from openaml.store.tokens import TokenStore
    return TokenService(TokenStore(settings.database), workspaces.exists)
