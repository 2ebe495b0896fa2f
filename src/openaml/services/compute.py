"""Named compute targets. Locally every target runs jobs on this machine (the Ray backend comes
later); the definitions are kept so Azure YAML files and job references resolve."""

from __future__ import annotations

from pydantic import TypeAdapter

from openaml.entities.compute import AnyCompute, Compute
from openaml.errors import NotFoundError
from openaml.names import check_compute_name
from openaml.services.workspaces import WorkspaceContext
from openaml.store.metadata import ResourceRecord

_KIND = "computes"
_ADAPTER = TypeAdapter(AnyCompute)


class ComputeService:
    """Compute targets of one workspace."""

    def __init__(self, ctx: WorkspaceContext) -> None:
        self.ctx = ctx

    def create_or_update(self, compute: Compute) -> Compute:
        check_compute_name(compute.type, compute.name)
        spec = compute.model_dump(mode="json", exclude_none=True, exclude={"id"})
        return self._to_entity(self.ctx.metadata.put_resource(self.ctx.name, _KIND, compute.name, spec))

    def get(self, name: str) -> Compute:
        record = self.ctx.metadata.get_resource(self.ctx.name, _KIND, name)
        if record is None:
            raise NotFoundError(f"compute '{name}' not found in workspace '{self.ctx.name}'. "
                                "See what exists with: openaml compute list", name=name)
        return self._to_entity(record)

    def list(self, compute_type: str | None = None) -> list[Compute]:
        items = [self._to_entity(r) for r in self.ctx.metadata.list_resources(self.ctx.name, _KIND)]
        if compute_type:
            items = [c for c in items if c.type.lower() == compute_type.lower()]
        return items

    def delete(self, name: str) -> None:
        if not self.ctx.metadata.delete_resource(self.ctx.name, _KIND, name):
            raise NotFoundError(f"compute '{name}' not found in workspace '{self.ctx.name}'", name=name)

    def _to_entity(self, record: ResourceRecord) -> Compute:
        spec = dict(record.spec, name=record.name, id=self.ctx.asset_id("computes", record.name))
        return _ADAPTER.validate_python(spec)
