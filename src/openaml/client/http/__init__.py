"""The HTTP backend: a client's workspace on an openaml server (see :mod:`openaml.client.transport`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from openaml.client.http.jobs import HttpJobs
from openaml.client.http.registry import HttpRegistry
from openaml.client.http.resources import HttpComputes, HttpDatastores, HttpWorkspaces
from openaml.client.credentials import BearerAuth, token_source
from openaml.client.http.session import HttpSession, check_server_url
from openaml.entities.compute_sizes import Usage, VmSize
from openaml.rest.paths import WorkspaceScope

__all__ = ["HttpBackend", "check_server_url"]


class HttpBackend:
    """Workspace *scope* on the server at *server*; *transport* (an httpx transport) replaces
    the network, e.g. the app itself in memory for tests. Requests carry the token of
    *credential*, else ``OPENAML_TOKEN``, else the credentials file under *home*
    (:func:`~openaml.client.credentials.token_source`)."""

    def __init__(self, server: str, scope: WorkspaceScope, *, home: Path, transport: Any = None,
                 credential: Any = None) -> None:
        url = check_server_url(server)
        auth = BearerAuth(token_source(credential, url, os.environ, home))
        self.session = HttpSession(url, scope, transport=transport, auth=auth)
        self.workspaces = HttpWorkspaces(self.session)
        self.workspace_name = scope.workspace

    def registry(self) -> HttpRegistry:
        return HttpRegistry(self.session)

    def datastores(self) -> HttpDatastores:
        return HttpDatastores(self.session)

    def computes(self) -> HttpComputes:
        return HttpComputes(self.session)

    def jobs(self) -> HttpJobs:
        return HttpJobs(self.session)

    def machine_sizes(self) -> list[VmSize]:
        return HttpComputes(self.session).machine_sizes()

    def usage(self) -> list[Usage]:
        return HttpComputes(self.session).usage()

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:
        return f"server={self.session.server!r}"
