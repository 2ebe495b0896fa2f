"""Workspaces, datastores and compute targets on a server."""

from __future__ import annotations

from typing import Any

from openaml.client.http.paging import Paged
from openaml.client.http.session import HttpSession
from openaml.entities import Workspace
from openaml.entities.compute import Compute
from openaml.entities.compute_sizes import Usage, VmSize
from openaml.entities.datastore import Datastore
from openaml.errors import NotFoundError, ValidationError
from openaml.rest.paths import WorkspaceScope
from openaml.rest.resources import (compute_from_body, compute_resource, datastore_from_body, datastore_resource,
                                    with_secrets, workspace_from_body, workspace_resource)


class HttpWorkspaces:
    """The workspaces of a server."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session

    def _scope(self, name: str) -> WorkspaceScope:
        scope = self.session.scope
        return WorkspaceScope(scope.subscription, scope.resource_group, name)

    def exists(self, name: str) -> bool:
        try:
            self.get(name)
        except NotFoundError:
            return False
        return True

    def get(self, name: str) -> Workspace:
        body = self.session.json("GET", self._scope(name).base)
        return workspace_from_body(body, body["name"])

    def list(self) -> Paged[Workspace]:
        return Paged(self.session, self.session.scope.workspaces, None, lambda i: workspace_from_body(i, i["name"]))

    def create(self, workspace: Workspace, *, database_url: str | None = None) -> Workspace:
        if database_url:
            raise ValidationError("a server keeps its workspaces in its own database (openaml server start "
                                  "--database-url); database_url is for local workspaces", field="database_url")
        body = workspace_resource(workspace, self._scope(workspace.name))
        if workspace.storage is not None:  # credentials travel in the request only
            body["properties"]["storage"] = workspace.storage.model_dump(mode="json", exclude_none=True)
        answer = self.session.json("PUT", self._scope(workspace.name).base, json=body, headers={"If-None-Match": "*"})
        return workspace_from_body(answer, answer["name"])

    def update(self, workspace: Workspace) -> Workspace:
        body = workspace_resource(workspace, self._scope(workspace.name))
        answer = self.session.json("PUT", self._scope(workspace.name).base, json=body)
        return workspace_from_body(answer, answer["name"])

    def update_storage_credentials(self, name: str, credentials: Any) -> Workspace:
        creds = credentials.model_dump(mode="json", exclude_none=True) if credentials is not None else None
        answer = self.session.json("POST", self._scope(name).base + "/updateStorageCredentials",
                                   json={"credentials": creds})
        return workspace_from_body(answer, answer["name"])

    def delete(self, name: str) -> None:
        self.session.request("DELETE", self._scope(name).base)

    def close(self) -> None:
        self.session.close()


class HttpDatastores:
    """The datastores of a server's workspace."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session

    def _secrets(self, ds: Datastore, include_secrets: bool) -> Datastore:
        if not include_secrets or ds.credentials is None:
            return ds
        body = self.session.json("POST", self.session.scope.of("datastores", ds.name, "listSecrets"))
        return with_secrets(ds, body)

    def create_or_update(self, datastore: Datastore) -> Datastore:
        body = datastore_resource(datastore, self.session.scope, is_default=False)
        answer = self.session.json("PUT", self.session.scope.of("datastores", datastore.name), json=body)
        return datastore_from_body(answer, answer["name"])

    def get(self, name: str, *, include_secrets: bool = False) -> Datastore:
        answer = self.session.json("GET", self.session.scope.of("datastores", name))
        return self._secrets(datastore_from_body(answer, answer["name"]), include_secrets)

    def get_default(self, *, include_secrets: bool = False) -> Datastore:
        body = self.session.json("GET", self.session.scope.of("datastores"), params={"isDefault": "true"})
        if not body["value"]:
            raise NotFoundError("the workspace has no default datastore")
        item = body["value"][0]
        return self._secrets(datastore_from_body(item, item["name"]), include_secrets)

    def list(self, *, include_secrets: bool = False) -> Paged[Datastore]:
        return Paged(self.session, self.session.scope.of("datastores"), None,
                     lambda i: self._secrets(datastore_from_body(i, i["name"]), include_secrets))

    def delete(self, name: str) -> None:
        self.session.request("DELETE", self.session.scope.of("datastores", name))


class HttpComputes:
    """The compute targets of a server's workspace."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session

    def create_or_update(self, compute: Compute) -> Compute:
        body = compute_resource(compute, self.session.scope)
        answer = self.session.json("PUT", self.session.scope.of("computes", compute.name), json=body)
        return compute_from_body(answer, answer["name"])

    def get(self, name: str) -> Compute:
        answer = self.session.json("GET", self.session.scope.of("computes", name))
        return compute_from_body(answer, answer["name"])

    def list(self, compute_type: str | None = None) -> Paged[Compute]:
        return Paged(self.session, self.session.scope.of("computes"), {"computeType": compute_type},
                     lambda i: compute_from_body(i, i["name"]))

    def delete(self, name: str) -> None:
        self.session.request("DELETE", self.session.scope.of("computes", name))

    def machine_sizes(self) -> list[VmSize]:
        return list(Paged(self.session, self.session.scope.of("vmSizes"), None, VmSize.model_validate))

    def usage(self) -> list[Usage]:
        return list(Paged(self.session, self.session.scope.of("usages"), None, Usage.model_validate))
