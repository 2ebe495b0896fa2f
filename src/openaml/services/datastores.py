"""Datastores: where data lives. Credentials are split off, encrypted with the workspace key and
returned only when ``include_secrets=True`` is asked (through :mod:`openaml.services.sealed`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from openaml.entities import LocalDatastore
from openaml.entities.datastore import AnyDatastore, Datastore
from openaml.errors import NotFoundError, ValidationError
from openaml.names import check_name
from openaml.services.sealed import SealedResources
from openaml.services.workspaces import WorkspaceContext

_KIND = "datastores"
_ADAPTER = TypeAdapter(AnyDatastore)


def _upgrade_secrets(secrets: dict[str, Any]) -> dict[str, Any]:
    """Datastores sealed before secrets were generic hold the credential's fields at the top
    (``{"account_key": ...}``); today's shape nests them (``{"credentials": {...}}``)."""
    if secrets and "credentials" not in secrets:
        return {"credentials": secrets}
    return secrets


class DatastoreService:
    """Datastores of one workspace."""

    def __init__(self, ctx: WorkspaceContext) -> None:
        self.ctx = ctx
        self._store: SealedResources[Datastore] = SealedResources(ctx, _KIND, _ADAPTER, _upgrade_secrets)

    def create_or_update(self, datastore: Datastore) -> Datastore:
        """Store a datastore (replacing one of the same name); its secrets are encrypted."""
        check_name("datastore", datastore.name)
        if isinstance(datastore, LocalDatastore):
            folder = Path(datastore.path).expanduser()
            if not folder.is_absolute():
                raise ValidationError("a local datastore path must be absolute", field="path")
            folder.mkdir(parents=True, exist_ok=True)
        return self._store.put(datastore)

    def get(self, name: str, *, include_secrets: bool = False) -> Datastore:
        found = self._store.get(name, include_secrets=include_secrets)
        if found is None:
            raise NotFoundError(f"datastore '{name}' not found in workspace '{self.ctx.name}'. "
                                "See what exists with: openaml datastore list", name=name)
        return found

    def get_default(self, *, include_secrets: bool = False) -> Datastore:
        return self.get(self.ctx.default_datastore, include_secrets=include_secrets)

    def list(self, *, include_secrets: bool = False) -> list[Datastore]:
        return self._store.list(include_secrets=include_secrets)

    def delete(self, name: str) -> None:
        if name == self.ctx.default_datastore:
            raise ValidationError(f"'{name}' is the workspace's default datastore and cannot be deleted",
                                  field="name")
        if not self._store.delete(name):
            raise NotFoundError(f"datastore '{name}' not found in workspace '{self.ctx.name}'", name=name)
