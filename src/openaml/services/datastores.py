"""Datastores: where data lives. Credentials are split off, encrypted with the workspace key and
returned only when ``include_secrets=True`` is asked."""

from __future__ import annotations

from pathlib import Path

from pydantic import TypeAdapter

from openaml.entities import LocalDatastore
from openaml.entities.datastore import AnyDatastore, Datastore, merge_secrets, split_secrets
from openaml.errors import NotFoundError, ValidationError
from openaml.names import check_name
from openaml.services.workspaces import WorkspaceContext
from openaml.store.metadata import ResourceRecord

_KIND = "datastores"
_ADAPTER = TypeAdapter(AnyDatastore)


class DatastoreService:
    """Datastores of one workspace."""

    def __init__(self, ctx: WorkspaceContext) -> None:
        self.ctx = ctx

    def create_or_update(self, datastore: Datastore) -> Datastore:
        """Store a datastore (replacing one of the same name); its secrets are encrypted."""
        check_name("datastore", datastore.name)
        if isinstance(datastore, LocalDatastore):
            folder = Path(datastore.path).expanduser()
            if not folder.is_absolute():
                raise ValidationError("a local datastore path must be absolute", field="path")
            folder.mkdir(parents=True, exist_ok=True)
        public, secrets = split_secrets(datastore)
        sealed = self.ctx.secrets.encrypt(secrets) if secrets else None
        spec = public.model_dump(mode="json", exclude_none=True, exclude={"id"})
        record = self.ctx.metadata.put_resource(self.ctx.name, _KIND, datastore.name, spec, sealed)
        return self._to_entity(record, include_secrets=False)

    def get(self, name: str, *, include_secrets: bool = False) -> Datastore:
        record = self.ctx.metadata.get_resource(self.ctx.name, _KIND, name)
        if record is None:
            raise NotFoundError(f"datastore '{name}' not found in workspace '{self.ctx.name}'. "
                                "See what exists with: openaml datastore list", name=name)
        return self._to_entity(record, include_secrets=include_secrets)

    def get_default(self, *, include_secrets: bool = False) -> Datastore:
        return self.get(self.ctx.default_datastore, include_secrets=include_secrets)

    def list(self, *, include_secrets: bool = False) -> list[Datastore]:
        records = self.ctx.metadata.list_resources(self.ctx.name, _KIND)
        return [self._to_entity(r, include_secrets=include_secrets) for r in records]

    def delete(self, name: str) -> None:
        if name == self.ctx.default_datastore:
            raise ValidationError(f"'{name}' is the workspace's default datastore and cannot be deleted",
                                  field="name")
        if not self.ctx.metadata.delete_resource(self.ctx.name, _KIND, name):
            raise NotFoundError(f"datastore '{name}' not found in workspace '{self.ctx.name}'", name=name)

    def _to_entity(self, record: ResourceRecord, *, include_secrets: bool) -> Datastore:
        spec = dict(record.spec, name=record.name, id=f"{self.ctx.asset_id('datastores', record.name)}")
        datastore = _ADAPTER.validate_python(spec)
        if include_secrets and record.secret:
            datastore = merge_secrets(datastore, self.ctx.secrets.decrypt(record.secret))
        return datastore
