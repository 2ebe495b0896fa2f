"""Named compute targets. Locally every target runs jobs on this machine (the Ray backend comes
later); the definitions are kept so Azure YAML files and job references resolve.

Secrets (``ssh_settings.admin_password``) are write-only, as in Azure: encrypted when stored
(:mod:`openaml.services.sealed`), never returned by ``get``/``list``, and kept by an update that
does not repeat them.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from openaml.entities.compute import AnyCompute, Compute
from openaml.errors import NotFoundError
from openaml.names import check_compute_name
from openaml.services.sealed import SealedResources
from openaml.services.workspaces import WorkspaceContext

_KIND = "computes"
_ADAPTER = TypeAdapter(AnyCompute)


class ComputeService:
    """Compute targets of one workspace."""

    def __init__(self, ctx: WorkspaceContext) -> None:
        self.ctx = ctx
        self._store: SealedResources[Compute] = SealedResources(ctx, _KIND, _ADAPTER)

    def create_or_update(self, compute: Compute) -> Compute:
        """Store a compute (replacing one of the same name); the result holds no secrets."""
        check_compute_name(compute.type, compute.name)
        return self._store.put(compute, keep_secrets=True)

    def get(self, name: str) -> Compute:
        found = self._store.get(name)
        if found is None:
            raise NotFoundError(f"compute '{name}' not found in workspace '{self.ctx.name}'. "
                                "See what exists with: openaml compute list", name=name)
        return found

    def list(self, compute_type: str | None = None) -> list[Compute]:
        items = self._store.list()
        if compute_type:
            items = [c for c in items if c.type.lower() == compute_type.lower()]
        return items

    def delete(self, name: str) -> None:
        if not self._store.delete(name):
            raise NotFoundError(f"compute '{name}' not found in workspace '{self.ctx.name}'", name=name)
