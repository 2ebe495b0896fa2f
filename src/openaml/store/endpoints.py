"""Endpoints and their deployments in the metadata store (tables ``endpoints`` and
``deployments``, revision 0009).

Every change to an endpoint or to one of its deployments bumps the endpoint's ``generation``
in the same transaction, so the endpoint's router, which serves a snapshot of both, can tell
that it must reload. The router's own facts (its pid and port, each deployment's provisioning
state) are written without a bump: they describe what runs, not what is wanted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from openaml.errors import AlreadyExistsError, NotFoundError
from openaml.store import _db
from openaml.store.records import as_utc
from openaml.store.tables import deployments as D
from openaml.store.tables import endpoints as E

if TYPE_CHECKING:
    from openaml.store.metadata import MetadataStore

__all__ = ["DeploymentRecord", "EndpointRecord", "EndpointStore"]


@dataclass(frozen=True)
class EndpointRecord:
    """One endpoint row; ``secret`` is ciphertext, ``runtime`` what its router recorded."""

    kind: str
    name: str
    spec: dict[str, Any]
    secret: bytes | None
    generation: int
    runtime: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DeploymentRecord:
    """One deployment row: the public spec, the pinned content, the recorded state."""

    endpoint: str
    name: str
    spec: dict[str, Any]
    resolved: dict[str, Any]
    state: str
    error: str | None
    created_at: datetime
    updated_at: datetime


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _endpoint(row: Any) -> EndpointRecord:
    return EndpointRecord(row.kind, row.name, dict(row.spec), bytes(row.secret) if row.secret is not None else None,
                          int(row.generation), dict(row.runtime) if row.runtime else None,
                          as_utc(row.created_at), as_utc(row.updated_at))


def _deployment(row: Any) -> DeploymentRecord:
    return DeploymentRecord(row.endpoint, row.name, dict(row.spec), dict(row.resolved), row.state, row.error,
                            as_utc(row.created_at), as_utc(row.updated_at))


class EndpointStore:
    """Endpoints of kind *kind* (``online``) and their deployments, in one workspace."""

    def __init__(self, metadata: "MetadataStore", workspace: str, kind: str = "online") -> None:
        self._engine = metadata.engine
        self.workspace, self.kind = workspace, kind

    def _tx(self, *, write: bool = False):
        return _db.transaction(self._engine, write=write)

    def _e_key(self, name: str) -> list[Any]:
        return [E.c.workspace == self.workspace, E.c.kind == self.kind, E.c.name == name]

    def _d_key(self, endpoint: str, name: str | None = None) -> list[Any]:
        key = [D.c.workspace == self.workspace, D.c.kind == self.kind, D.c.endpoint == endpoint]
        return key + ([D.c.name == name] if name is not None else [])

    def _not_found(self, name: str) -> NotFoundError:
        return NotFoundError(f"online endpoint '{name}' not found in workspace '{self.workspace}'. "
                             "See what exists with: openaml online-endpoint list", name=name)

    def _bump(self, conn: sa.Connection, name: str, now: datetime, **values: Any) -> None:
        done = conn.execute(sa.update(E).where(*self._e_key(name))
                            .values(generation=E.c.generation + 1, updated_at=now, **values))
        if done.rowcount == 0:
            raise self._not_found(name)

    # ---- endpoints ------------------------------------------------------------------------------
    def create_endpoint(self, name: str, spec: dict[str, Any], secret: bytes | None) -> EndpointRecord:
        """Insert a new endpoint; :class:`AlreadyExistsError` if the name is taken."""
        now = _now()
        with self._tx(write=True) as conn:
            if conn.execute(sa.select(E.c.name).where(*self._e_key(name))).first() is not None:
                raise AlreadyExistsError(f"online endpoint '{name}' already exists in workspace "
                                         f"'{self.workspace}'; change it with: openaml online-endpoint update",
                                         name=name)
            conn.execute(sa.insert(E).values(workspace=self.workspace, kind=self.kind, name=name, spec=spec,
                                             secret=secret, generation=1, runtime=None, created_at=now,
                                             updated_at=now))
            return _endpoint(conn.execute(sa.select(E).where(*self._e_key(name))).one())

    def update_endpoint(self, name: str, *, spec: dict[str, Any] | None = None,
                        secret: bytes | None = None) -> EndpointRecord:
        """Replace the spec and/or the sealed keys; bumps the generation."""
        values: dict[str, Any] = {}
        if spec is not None:
            values["spec"] = spec
        if secret is not None:
            values["secret"] = secret
        with self._tx(write=True) as conn:
            self._bump(conn, name, _now(), **values)
            return _endpoint(conn.execute(sa.select(E).where(*self._e_key(name))).one())

    def get_endpoint(self, name: str) -> EndpointRecord | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(E).where(*self._e_key(name))).first()
        return _endpoint(row) if row is not None else None

    def list_endpoints(self) -> list[EndpointRecord]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(E).where(E.c.workspace == self.workspace, E.c.kind == self.kind)
                                .order_by(E.c.name)).all()
        return [_endpoint(r) for r in rows]

    def delete_endpoint(self, name: str) -> bool:
        """Delete the endpoint and its deployments; False if there was none."""
        with self._tx(write=True) as conn:
            conn.execute(sa.delete(D).where(*self._d_key(name)))
            return conn.execute(sa.delete(E).where(*self._e_key(name))).rowcount > 0

    def set_runtime(self, name: str, runtime: dict[str, Any] | None) -> None:
        """Record what runs the endpoint (no generation bump); a deleted endpoint is ignored."""
        with self._tx(write=True) as conn:
            conn.execute(sa.update(E).where(*self._e_key(name)).values(runtime=runtime))

    # ---- deployments ----------------------------------------------------------------------------
    def put_deployment(self, endpoint: str, name: str, spec: dict[str, Any], resolved: dict[str, Any],
                       state: str) -> DeploymentRecord:
        """Create or replace a deployment (its state reset to *state*); bumps the endpoint."""
        now = _now()
        with self._tx(write=True) as conn:
            self._bump(conn, endpoint, now)
            existing = conn.execute(sa.select(D.c.created_at).where(*self._d_key(endpoint, name))).first()
            values = dict(spec=spec, resolved=resolved, state=state, error=None, updated_at=now)
            if existing is None:
                conn.execute(sa.insert(D).values(workspace=self.workspace, kind=self.kind, endpoint=endpoint,
                                                 name=name, created_at=now, **values))
            else:
                conn.execute(sa.update(D).where(*self._d_key(endpoint, name)).values(**values))
            return _deployment(conn.execute(sa.select(D).where(*self._d_key(endpoint, name))).one())

    def get_deployment(self, endpoint: str, name: str) -> DeploymentRecord | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(D).where(*self._d_key(endpoint, name))).first()
        return _deployment(row) if row is not None else None

    def list_deployments(self, endpoint: str) -> list[DeploymentRecord]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(D).where(*self._d_key(endpoint)).order_by(D.c.name)).all()
        return [_deployment(r) for r in rows]

    def delete_deployment(self, endpoint: str, name: str) -> bool:
        """Delete one deployment (bumps the endpoint); False if there was none."""
        with self._tx(write=True) as conn:
            gone = conn.execute(sa.delete(D).where(*self._d_key(endpoint, name))).rowcount > 0
            if gone:
                self._bump(conn, endpoint, _now())
            return gone

    def set_deployment_state(self, endpoint: str, name: str, state: str, error: str | None = None) -> None:
        """Record a deployment's provisioning state (no bump); a deleted one is ignored."""
        with self._tx(write=True) as conn:
            conn.execute(sa.update(D).where(*self._d_key(endpoint, name)).values(state=state, error=error))
