"""MLflow's registered models beside the asset registry: what MLflow keeps per model name that
the registry has no place for (description, tags, aliases), and the operations on a name as a
whole (create over an archived name, delete, rename), each one transaction.

A registered model *is* a workspace model name: its versions are the registry's model
versions (``asset_versions`` of kind ``models``). A name exists for MLflow when its container
is active, or when it has no container yet but a row here (created by MLflow, no version yet).
MLflow's deletes archive (the registry never forgets a version), so a name deleted and created
again keeps counting its versions where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from openaml.errors import AlreadyExistsError, NotFoundError
from openaml.store import _db
from openaml.store.tables import asset_containers as C
from openaml.store.tables import asset_versions as V
from openaml.store.tables import model_aliases as A
from openaml.store.tables import registered_models as RM

if TYPE_CHECKING:
    from openaml.store.metadata import MetadataStore

__all__ = ["MODELS", "RegisteredModelRow", "RegisteredModelStore"]

MODELS = "models"  # the registry's kind for models
_UNSET: Any = object()


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class RegisteredModelRow:
    """MLflow's own data about one model name."""

    name: str
    description: str | None
    tags: dict[str, str]
    creation_time: int
    last_update_time: int


def _row(r: Any) -> RegisteredModelRow:
    return RegisteredModelRow(r.name, r.description, dict(r.tags), r.creation_time, r.last_update_time)


class RegisteredModelStore:
    """Registered-model rows and aliases of one workspace."""

    def __init__(self, metadata: "MetadataStore", workspace: str) -> None:
        self._engine = metadata.engine
        self.workspace = workspace
        self._insert = _db.dialect_insert(self._engine)

    def _tx(self, *, write: bool = False):
        return _db.transaction(self._engine, write=write)

    def _rm_key(self, name: str) -> list[Any]:
        return [RM.c.workspace == self.workspace, RM.c.name == name]

    def _c_key(self, name: str) -> list[Any]:
        return [C.c.workspace == self.workspace, C.c.kind == MODELS, C.c.name == name]

    def _v_key(self, name: str) -> list[Any]:
        return [V.c.workspace == self.workspace, V.c.kind == MODELS, V.c.name == name]

    def _a_key(self, name: str) -> list[Any]:
        return [A.c.workspace == self.workspace, A.c.name == name]

    # ---- reads --------------------------------------------------------------------------------

    def get(self, name: str) -> RegisteredModelRow | None:
        """The row of *name*, or None."""
        with self._tx() as conn:
            found = conn.execute(sa.select(RM).where(*self._rm_key(name))).first()
        return _row(found) if found is not None else None

    def list(self) -> list[RegisteredModelRow]:
        """Every row of the workspace, by name."""
        with self._tx() as conn:
            return [_row(r) for r in conn.execute(sa.select(RM).where(RM.c.workspace == self.workspace)
                                                  .order_by(RM.c.name))]

    def exists(self, name: str) -> bool:
        """Whether MLflow sees *name*: an active container, or a row and no container."""
        with self._tx() as conn:
            return self._exists(conn, name)

    def _exists(self, conn: sa.Connection, name: str) -> bool:
        archived = conn.execute(sa.select(C.c.archived).where(*self._c_key(name))).first()
        if archived is not None:
            return not archived.archived
        return conn.execute(sa.select(RM.c.name).where(*self._rm_key(name))).first() is not None

    def aliases(self, name: str) -> dict[str, str]:
        """The aliases of *name* (alias -> version), sorted by alias."""
        with self._tx() as conn:
            rows = conn.execute(sa.select(A.c.alias, A.c.version).where(*self._a_key(name)).order_by(A.c.alias))
            return dict(rows.all())

    # ---- names as a whole ---------------------------------------------------------------------

    def create(self, name: str, description: str | None, tags: dict[str, str]) -> RegisteredModelRow:
        """Create the registered model *name*; :class:`AlreadyExistsError` when MLflow sees it.

        An archived name (``openaml model archive``, or an MLflow delete) starts afresh: its
        versions stay archived and the name is restored, empty.
        """
        now = _now_ms()
        with self._tx(write=True) as conn:
            if self._exists(conn, name):
                raise AlreadyExistsError(f"Registered Model (name={name}) already exists.", name=name)
            if conn.execute(sa.select(C.c.name).where(*self._c_key(name))).first() is not None:
                stamp = datetime.now(timezone.utc)
                conn.execute(sa.update(V).where(*self._v_key(name), V.c.archived.is_(False))
                             .values(archived=True, updated_at=stamp))
                conn.execute(sa.update(C).where(*self._c_key(name)).values(archived=False, updated_at=stamp))
            conn.execute(sa.delete(RM).where(*self._rm_key(name)))
            conn.execute(sa.delete(A).where(*self._a_key(name)))
            conn.execute(sa.insert(RM).values(workspace=self.workspace, name=name, description=description,
                                              tags=dict(tags), creation_time=now, last_update_time=now))
        return RegisteredModelRow(name, description, dict(tags), now, now)

    def update(self, name: str, *, description: str | None = _UNSET, set_tags: dict[str, str] | None = None,
               delete_tag: str | None = None) -> None:
        """Change the description and tags of *name* (the row is created when missing: a name
        registered by ``openaml model create`` has none until MLflow edits it)."""
        now = _now_ms()
        with self._tx(write=True) as conn:
            found = conn.execute(sa.select(RM).where(*self._rm_key(name)).with_for_update()).first()
            if found is None:
                conn.execute(sa.insert(RM).values(workspace=self.workspace, name=name, description=None,
                                                  tags={}, creation_time=now, last_update_time=now))
                tags, old_description = {}, None
            else:
                tags, old_description = dict(found.tags), found.description
            tags.update(set_tags or {})
            if delete_tag is not None:
                tags.pop(delete_tag, None)
            conn.execute(sa.update(RM).where(*self._rm_key(name)).values(
                tags=tags, last_update_time=now,
                description=old_description if description is _UNSET else description))

    def delete(self, name: str) -> None:
        """MLflow's delete: archive every version and the name, drop the row and the aliases."""
        stamp = datetime.now(timezone.utc)
        with self._tx(write=True) as conn:
            if not self._exists(conn, name):
                raise NotFoundError(f"Registered Model with name={name} not found", name=name)
            conn.execute(sa.update(V).where(*self._v_key(name), V.c.archived.is_(False))
                         .values(archived=True, updated_at=stamp))
            conn.execute(sa.update(C).where(*self._c_key(name)).values(archived=True, updated_at=stamp))
            conn.execute(sa.delete(RM).where(*self._rm_key(name)))
            conn.execute(sa.delete(A).where(*self._a_key(name)))

    def rename(self, name: str, new_name: str) -> None:
        """Move the name with its versions, row and aliases; :class:`AlreadyExistsError` when
        *new_name* is in use in any way (an archived name included: its versions would mix)."""
        stamp = datetime.now(timezone.utc)
        with self._tx(write=True) as conn:
            if not self._exists(conn, name):
                raise NotFoundError(f"Registered Model with name={name} not found", name=name)
            taken = (conn.execute(sa.select(C.c.archived).where(*self._c_key(new_name))).first()
                     or conn.execute(sa.select(RM.c.name).where(*self._rm_key(new_name))).first())
            if taken is not None:
                raise AlreadyExistsError(f"Registered Model (name={new_name}) already exists.", name=new_name)
            container = conn.execute(sa.select(C).where(*self._c_key(name))).first()
            if container is not None:
                # The new container first: the versions' foreign key must find it.
                conn.execute(sa.insert(C).values({**container._mapping, "name": new_name, "updated_at": stamp}))
                conn.execute(sa.update(V).where(*self._v_key(name)).values(name=new_name, updated_at=stamp))
                conn.execute(sa.delete(C).where(*self._c_key(name)))
            conn.execute(sa.update(RM).where(*self._rm_key(name)).values(name=new_name, last_update_time=_now_ms()))
            conn.execute(sa.update(A).where(*self._a_key(name)).values(name=new_name))

    # ---- versions and aliases -----------------------------------------------------------------

    def delete_version(self, name: str, version: str) -> None:
        """MLflow's delete of a version: archive it and drop the aliases that point at it."""
        with self._tx(write=True) as conn:
            done = conn.execute(sa.update(V).where(*self._v_key(name), V.c.version == version,
                                                   V.c.archived.is_(False))
                                .values(archived=True, updated_at=datetime.now(timezone.utc)))
            if done.rowcount == 0:
                raise NotFoundError(f"Model Version (name={name}, version={version}) not found",
                                    name=name, version=version)
            conn.execute(sa.delete(A).where(*self._a_key(name), A.c.version == version))

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point *alias* of *name* at *version* (moving it if it pointed elsewhere)."""
        stmt = self._insert(A).values(workspace=self.workspace, name=name, alias=alias, version=version)
        with self._tx(write=True) as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["workspace", "name", "alias"],
                                                    set_={"version": version}))

    def delete_alias(self, name: str, alias: str) -> None:
        """Drop *alias* of *name* (nothing happens when there is none, as in MLflow)."""
        with self._tx(write=True) as conn:
            conn.execute(sa.delete(A).where(*self._a_key(name), A.c.alias == alias))
