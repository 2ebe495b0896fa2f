"""Named resources with secrets: encrypt on write, redact on read, for every resource kind.

:class:`SealedResources` is the one path by which a service stores and reads a resource that may
hold secret fields (datastores, computes, and later endpoint keys and connections). On write
the entity's secrets are split off (:func:`openaml.entities.secrets.split_secrets`), encrypted
with the workspace's key and stored in the row's sealed column; the public spec never holds
them. On read the entity comes back without them unless the caller opts in with
``include_secrets=True`` (datastores offer it; computes do not, as Azure's compute ``get``
never returns a password).
"""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter

from openaml.entities.secrets import merge_secrets, split_secrets
from openaml.services.workspaces import WorkspaceContext
from openaml.store.metadata import ResourceRecord

E = TypeVar("E", bound=BaseModel)
Secrets = dict[str, Any]


class SealedResources(Generic[E]):
    """Resources of one *kind* in one workspace, read back through *adapter*.

    ``upgrade_secrets`` turns a sealed dict written by an older openaml into today's shape.
    """

    def __init__(self, ctx: WorkspaceContext, kind: str, adapter: TypeAdapter,
                 upgrade_secrets: Callable[[Secrets], Secrets] | None = None) -> None:
        self.ctx, self.kind, self._adapter = ctx, kind, adapter
        self._upgrade = upgrade_secrets or (lambda secrets: secrets)

    def put(self, entity: E, *, keep_secrets: bool = False) -> E:
        """Store *entity* (replacing one of the same name); return it without its secrets.

        With ``keep_secrets``, a secret the new entity leaves empty keeps its stored value
        where its place still exists (an update that does not repeat a password keeps it).
        """
        public, secrets = split_secrets(entity)
        if keep_secrets:
            stored = self._stored_secrets(entity.name)  # type: ignore[attr-defined]
            if stored:
                kept = merge_secrets(merge_secrets(public, stored, missing_ok=True), secrets)
                public, secrets = split_secrets(kept)
        sealed = self.ctx.secrets.encrypt(secrets) if secrets else None
        spec = public.model_dump(mode="json", exclude_none=True, exclude={"id"})
        record = self.ctx.metadata.put_resource(self.ctx.name, self.kind, entity.name, spec, sealed)  # type: ignore[attr-defined]
        return self._to_entity(record, include_secrets=False)

    def get(self, name: str, *, include_secrets: bool = False) -> E | None:
        """The resource, or None when there is none by that name."""
        record = self.ctx.metadata.get_resource(self.ctx.name, self.kind, name)
        return None if record is None else self._to_entity(record, include_secrets=include_secrets)

    def list(self, *, include_secrets: bool = False) -> list[E]:
        """Every resource of the kind, sorted by name."""
        records = self.ctx.metadata.list_resources(self.ctx.name, self.kind)
        return [self._to_entity(r, include_secrets=include_secrets) for r in records]

    def delete(self, name: str) -> bool:
        """Delete the resource (secrets included); False when it did not exist."""
        return self.ctx.metadata.delete_resource(self.ctx.name, self.kind, name)

    def _stored_secrets(self, name: str) -> Secrets:
        record = self.ctx.metadata.get_resource(self.ctx.name, self.kind, name)
        return self._upgrade(self.ctx.secrets.decrypt(record.secret)) if record and record.secret else {}

    def _to_entity(self, record: ResourceRecord, *, include_secrets: bool) -> E:
        spec = dict(record.spec, name=record.name, id=self.ctx.asset_id(self.kind, record.name))
        entity = self._adapter.validate_python(spec)
        if include_secrets and record.secret:
            entity = merge_secrets(entity, self._upgrade(self.ctx.secrets.decrypt(record.secret)))
        return entity
