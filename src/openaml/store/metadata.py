"""Metadata store: versioned assets and named resources over SQLAlchemy 2 (SQLite or PostgreSQL).

Records returned are frozen dataclasses, never ORM objects or rows, so nothing above the store
holds a session. Asset versions follow Azure ML's registry rules: name+version is immutable,
a create without version takes the next integer, ``latest`` is the most recently created
version that is not archived.
"""

from __future__ import annotations

from datetime import datetime, timezone
from os import PathLike
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from openaml.constants import ListViewType
from openaml.errors import ArchivedError, NotFoundError, ValidationError, VersionConflictError
from openaml.names import INT_VERSION_MAX, int_version
from openaml.store import _db, tables
from openaml.store.records import (
    AssetRecord, ContainerRecord, ResourceRecord, as_utc, asset_from_row, resource_from_row,
)
from openaml.store.tables import asset_containers as C
from openaml.store.tables import asset_versions as V
from openaml.store.tables import resources as R

ASSET_KINDS = frozenset({"models", "data", "environments", "components"})
RESOURCE_KINDS = frozenset({"datastores", "computes", "workspaces"})

__all__ = [
    "ASSET_KINDS", "RESOURCE_KINDS", "AssetRecord", "ContainerRecord", "MetadataStore", "ResourceRecord",
    "delete_workspace_rows", "holds_workspace_rows", "workspace_tables",
]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _version_not_found(kind: str, name: str, version: str) -> NotFoundError:
    return NotFoundError(f"{kind} {name}:{version} not found.", kind=kind, name=name, version=version)


def _check_kind(kind: str, allowed: frozenset[str]) -> None:
    if kind not in allowed:
        raise ValueError(f"unknown kind {kind!r}; expected one of {sorted(allowed)}")


def _view_filter(column: sa.ColumnElement[bool], view: ListViewType | str) -> list[Any]:
    view = ListViewType(view)
    if view is ListViewType.ACTIVE_ONLY:
        return [column.is_(False)]
    if view is ListViewType.ARCHIVED_ONLY:
        return [column.is_(True)]
    return []


_C_KEY = (C.c.workspace == sa.bindparam("w"), C.c.kind == sa.bindparam("k"), C.c.name == sa.bindparam("n"))
_V_KEY = (V.c.workspace == sa.bindparam("w"), V.c.kind == sa.bindparam("k"), V.c.name == sa.bindparam("n"))
_LOCK_SELECT = sa.select(C.c.last_seq, C.c.max_int_version).where(*_C_KEY).with_for_update()
_VERSION_SELECT = sa.select(V).where(*_V_KEY, V.c.version == sa.bindparam("v"))
_VERSION_INSERT = sa.insert(V)
_CONTAINER_BUMP = sa.update(C).where(*_C_KEY).values(
    last_seq=sa.bindparam("seq"), updated_at=sa.bindparam("now"), max_int_version=sa.bindparam("mx"))
_LATEST_SELECT = (sa.select(V).where(*_V_KEY, V.c.archived.is_(False)).order_by(V.c.seq.desc()).limit(1))
_ARCHIVED_SELECT = sa.select(C.c.archived).where(*_C_KEY)
# The name's flag and its latest active version in one round trip (the registry's hottest read).
_LATEST_OF_SELECT = (
    sa.select(C.c.archived.label("container_archived"), *V.c)
    .select_from(C.outerjoin(V, sa.and_(V.c.workspace == C.c.workspace, V.c.kind == C.c.kind,
                                        V.c.name == C.c.name, V.c.archived.is_(False))))
    .where(*_C_KEY).order_by(V.c.seq.desc()).limit(1)
)


class MetadataStore:
    """Asset versions and resources of any number of workspaces in one database.

    The URL decides the backend: ``sqlite:///path/metadata.db`` (WAL mode) or
    ``postgresql+psycopg://user:pw@host/db``. Opening runs Alembic's ``upgrade head`` unless the
    database is already at head. Every method is one transaction.
    """

    def __init__(self, url: str | sa.URL, *, echo: bool = False) -> None:
        self.url = _db.safe_url(url)
        self._engine = _db.create_engine(url, echo=echo)
        self._insert = _db.dialect_insert(self._engine)
        # Built once: executing a prebuilt statement with parameters skips SQLAlchemy's
        # per-call construction and cache-key work (most of a registration's cost otherwise).
        self._stmt_lock_insert = (
            self._insert(C)
            .values(workspace=sa.bindparam("w"), kind=sa.bindparam("k"), name=sa.bindparam("n"),
                    archived=False, last_seq=0, max_int_version=0,
                    created_at=sa.bindparam("now"), updated_at=sa.bindparam("now"))
            .on_conflict_do_nothing(index_elements=["workspace", "kind", "name"])
        )
        try:
            _db.upgrade_to_head(self._engine)
        except BaseException:
            self._engine.dispose()
            raise

    @classmethod
    def for_sqlite_file(cls, path: str | PathLike[str]) -> "MetadataStore":
        """Open (creating if needed) the SQLite database at *path*."""
        path = Path(path).absolute()
        path.parent.mkdir(parents=True, exist_ok=True)
        # URL.create, not an f-string: a '?' or '#' in the path must not become URL syntax.
        return cls(sa.URL.create("sqlite", database=str(path)))

    @property
    def engine(self) -> sa.Engine:
        """The engine (one connection pool per database), shared on purpose by the workspace's
        other stores (tracking, registered models)."""
        return self._engine

    def close(self) -> None:
        """Release pooled connections."""
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"MetadataStore({self.url!r})"

    def _tx(self, *, write: bool = False):
        return _db.transaction(self._engine, write=write)

    # ---- assets -------------------------------------------------------------------------------

    def create_asset_version(
        self, workspace: str, kind: str, name: str, version: str | None, spec: dict,
        content_digest: str | None, *, identity: str,
    ) -> AssetRecord:
        """Register *name*:*version* (next integer when *version* is None).

        Re-registering an existing version with the same *identity* returns the existing record
        with ``created=False``; a different identity raises :class:`VersionConflictError`.
        """
        _check_kind(kind, ASSET_KINDS)
        now = _now()
        key = {"w": workspace, "k": kind, "n": name}
        with self._tx(write=True) as conn:
            conn.execute(self._stmt_lock_insert, {**key, "now": now})
            row = conn.execute(_LOCK_SELECT, key).one()
            last_seq, max_int = row.last_seq, row.max_int_version
            if max_int > INT_VERSION_MAX:  # written before integers were bounded: count again
                max_int = self._largest_int_version(conn, key)
            if version is None:
                version = self._next_version(kind, name, max_int)
            else:
                existing = conn.execute(_VERSION_SELECT, {**key, "v": version}).first()
                if existing is not None:
                    if existing.identity == identity:
                        return asset_from_row(existing, created=False)
                    raise VersionConflictError(
                        f"{kind} {name}:{version} already exists with different content; versions "
                        "are immutable. Pick another version, or omit the version to get the next one.",
                        kind=kind, name=name, version=version,
                    )
            conn.execute(_VERSION_INSERT, dict(
                workspace=workspace, kind=kind, name=name, version=version, seq=last_seq + 1,
                spec=spec, content_digest=content_digest, identity=identity, archived=False,
                created_at=now, updated_at=now,
            ))
            new_max = max(max_int, int_version(version) or 0)
            conn.execute(_CONTAINER_BUMP, {**key, "seq": last_seq + 1, "now": now, "mx": new_max})
        return AssetRecord(kind=kind, name=name, version=version, spec=dict(spec),
                           content_digest=content_digest, archived=False, created_at=now, updated_at=now,
                           seq=last_seq + 1)

    @staticmethod
    def _largest_int_version(conn: sa.Connection, key: dict[str, str]) -> int:
        """The largest bounded integer version of a name (huge ones are labels, not numbers)."""
        found = conn.execute(sa.select(V.c.version).where(*_V_KEY), key).scalars()
        return max((int_version(v) or 0 for v in found), default=0)

    @staticmethod
    def _next_version(kind: str, name: str, max_int: int) -> str:
        if max_int >= INT_VERSION_MAX:
            raise ValidationError(
                f"{kind} {name!r} has reached the largest integer version ({INT_VERSION_MAX}); "
                "give a version explicitly", field="version", kind=kind, name=name)
        return str(max_int + 1)

    @staticmethod
    def _container_key(workspace: str, kind: str, name: str) -> list[Any]:
        return [C.c.workspace == workspace, C.c.kind == kind, C.c.name == name]

    @staticmethod
    def _version_key(workspace: str, kind: str, name: str, version: str) -> list[Any]:
        return [V.c.workspace == workspace, V.c.kind == kind, V.c.name == name, V.c.version == version]

    def get_asset_version(self, workspace: str, kind: str, name: str, version: str) -> AssetRecord | None:
        """The version, archived or not; None when it does not exist."""
        with self._tx() as conn:
            row = conn.execute(sa.select(V).where(*self._version_key(workspace, kind, name, version))).first()
        return asset_from_row(row) if row is not None else None

    def get_latest_version(self, workspace: str, kind: str, name: str) -> AssetRecord | None:
        """The most recently created version that is not archived; None if there is none."""
        with self._tx() as conn:
            row = conn.execute(_LATEST_SELECT, {"w": workspace, "k": kind, "n": name}).first()
        return asset_from_row(row) if row is not None else None

    def latest_of(self, workspace: str, kind: str, name: str) -> tuple[AssetRecord | None, bool | None]:
        """The most recently created version that is not archived (None if there is none) and
        the name's archived flag (None when the name does not exist), read together."""
        with self._tx() as conn:
            row = conn.execute(_LATEST_OF_SELECT, {"w": workspace, "k": kind, "n": name}).first()
        if row is None:
            return None, None
        return (asset_from_row(row) if row.version is not None else None), bool(row.container_archived)

    def _containers(
        self, conn: sa.Connection, workspace: str, kind: str, *where: Any, limit: int | None = None,
    ) -> list[ContainerRecord]:
        latest = (
            sa.select(V.c.name, sa.func.max(V.c.seq).label("seq"))
            .where(V.c.workspace == workspace, V.c.kind == kind, V.c.archived.is_(False))
            .group_by(V.c.name).subquery()
        )
        lv = V.alias("lv")
        query = (
            sa.select(C, lv.c.version.label("latest_version"))
            .select_from(
                C.outerjoin(latest, latest.c.name == C.c.name).outerjoin(
                    lv, sa.and_(lv.c.workspace == workspace, lv.c.kind == kind,
                                lv.c.name == latest.c.name, lv.c.seq == latest.c.seq)
                )
            )
            .where(C.c.workspace == workspace, C.c.kind == kind, *where)
            .order_by(C.c.name)
            .limit(limit)
        )
        return [
            ContainerRecord(kind=r.kind, name=r.name, latest_version=r.latest_version,
                            archived=bool(r.archived), created_at=as_utc(r.created_at),
                            updated_at=as_utc(r.updated_at))
            for r in conn.execute(query)
        ]

    def container_archived(self, workspace: str, kind: str, name: str) -> bool | None:
        """The container's archived flag by primary key; None when the name does not exist."""
        with self._tx() as conn:
            value = conn.execute(_ARCHIVED_SELECT, {"w": workspace, "k": kind, "n": name}).scalar()
        return None if value is None else bool(value)

    def list_containers(self, workspace: str, kind: str, view: ListViewType, *, after: str | None = None,
                        limit: int | None = None) -> list[ContainerRecord]:
        """Asset names of *kind*, sorted by name, filtered by the container's archived flag;
        with *after*, only the names that sort after it; at most *limit*."""
        where = _view_filter(C.c.archived, view)
        if after is not None:
            where.append(C.c.name > after)
        with self._tx() as conn:
            return self._containers(conn, workspace, kind, *where, limit=limit)

    def get_container(self, workspace: str, kind: str, name: str) -> ContainerRecord | None:
        """One asset name, archived or not; None when no version was ever registered."""
        with self._tx() as conn:
            found = self._containers(conn, workspace, kind, C.c.name == name)
        return found[0] if found else None

    def list_versions(self, workspace: str, kind: str, name: str, view: ListViewType, *,
                      before_seq: int | None = None, limit: int | None = None) -> list[AssetRecord]:
        """Versions of *name*, newest first, filtered by each version's archived flag; with
        *before_seq*, only those created before that one; at most *limit*."""
        where = _view_filter(V.c.archived, view)
        if before_seq is not None:
            where.append(V.c.seq < before_seq)
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(V)
                .where(V.c.workspace == workspace, V.c.kind == kind, V.c.name == name, *where)
                .order_by(V.c.seq.desc())
                .limit(limit)
            )
            return [asset_from_row(r) for r in rows]

    def set_archived(self, workspace: str, kind: str, name: str, version: str | None, archived: bool) -> None:
        """Archive or restore one version, or the container when *version* is None.

        Restoring a version whose container is archived raises :class:`ArchivedError`.
        """
        now = _now()
        with self._tx(write=True) as conn:
            container = conn.execute(
                sa.select(C.c.archived).where(*self._container_key(workspace, kind, name)).with_for_update()
            ).first()
            if container is None:
                raise NotFoundError(f"{kind} {name} not found.", kind=kind, name=name)
            if version is None:
                conn.execute(sa.update(C).where(*self._container_key(workspace, kind, name))
                             .values(archived=archived, updated_at=now))
                return
            if not archived and container.archived:
                raise ArchivedError(
                    f"{kind} {name} is archived; restore it before restoring version {version}.",
                    kind=kind, name=name, version=version,
                )
            done = conn.execute(sa.update(V).where(*self._version_key(workspace, kind, name, version))
                                .values(archived=archived, updated_at=now))
            if done.rowcount == 0:
                raise _version_not_found(kind, name, version)

    def update_asset_spec(
        self, workspace: str, kind: str, name: str, version: str, changes: dict,
    ) -> AssetRecord:
        """Shallow-merge *changes* into the version's spec; the caller decides what may change."""
        with self._tx(write=True) as conn:
            key = self._version_key(workspace, kind, name, version)
            row = conn.execute(sa.select(V).where(*key).with_for_update()).first()
            if row is None:
                raise _version_not_found(kind, name, version)
            conn.execute(sa.update(V).where(*key).values(spec={**row.spec, **changes}, updated_at=_now()))
            return asset_from_row(conn.execute(sa.select(V).where(*key)).one())

    # ---- resources ----------------------------------------------------------------------------

    def put_resource(self, workspace: str, kind: str, name: str, spec: dict,
                     secret: bytes | None = None) -> ResourceRecord:
        """Insert or replace a resource; ``created_at`` survives a replace."""
        _check_kind(kind, RESOURCE_KINDS)
        now = _now()
        stmt = self._insert(R).values(workspace=workspace, kind=kind, name=name, spec=spec, secret=secret,
                                      created_at=now, updated_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=["workspace", "kind", "name"],
            set_={"spec": stmt.excluded.spec, "secret": stmt.excluded.secret, "updated_at": now},
        )
        with self._tx(write=True) as conn:
            conn.execute(stmt)
            row = conn.execute(sa.select(R).where(*self._resource_key(workspace, kind, name))).one()
            return resource_from_row(row)

    @staticmethod
    def _resource_key(workspace: str, kind: str, name: str) -> list[Any]:
        return [R.c.workspace == workspace, R.c.kind == kind, R.c.name == name]

    def get_resource(self, workspace: str, kind: str, name: str) -> ResourceRecord | None:
        """The resource, or None."""
        with self._tx() as conn:
            row = conn.execute(sa.select(R).where(*self._resource_key(workspace, kind, name))).first()
        return resource_from_row(row) if row is not None else None

    def list_resources(self, workspace: str, kind: str) -> list[ResourceRecord]:
        """Resources of *kind* in *workspace*, sorted by name."""
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(R).where(R.c.workspace == workspace, R.c.kind == kind).order_by(R.c.name)
            )
            return [resource_from_row(r) for r in rows]

    def delete_resource(self, workspace: str, kind: str, name: str) -> bool:
        """Delete a resource; False when it did not exist."""
        with self._tx(write=True) as conn:
            return conn.execute(sa.delete(R).where(*self._resource_key(workspace, kind, name))).rowcount > 0

    def delete_workspace_rows(self, workspace: str) -> None:
        """Delete every row of *workspace* (assets, resources, jobs, runs...) in one transaction."""
        with self._tx(write=True) as conn:
            delete_workspace_rows(conn, workspace)


def workspace_tables() -> list[sa.Table]:
    """Every table holding rows of workspaces (a ``workspace`` column), children first."""
    return [t for t in reversed(tables.metadata.sorted_tables) if "workspace" in t.c]


def delete_workspace_rows(conn: sa.Connection, workspace: str) -> None:
    """Delete every row of *workspace* in the transaction of *conn*."""
    for table in workspace_tables():  # children first: asset versions before their containers
        conn.execute(sa.delete(table).where(table.c.workspace == workspace))


def holds_workspace_rows(conn: sa.Connection, workspace: str) -> bool:
    """Whether any table holds a row of *workspace*."""
    return any(conn.execute(sa.select(sa.literal(1)).select_from(t).where(t.c.workspace == workspace).limit(1))
               .first() is not None for t in workspace_tables())
