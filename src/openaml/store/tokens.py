"""The server's access tokens: rows of ``api_tokens`` in the server's database.

The store keeps what :class:`~openaml.services.tokens.TokenService` hands it: a token's record
and the sha256 of its secret, never the secret. Every method is one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from openaml.entities.tokens import Role, TokenInfo
from openaml.store import _db
from openaml.store.records import as_utc
from openaml.store.tables import api_tokens as T

_BY_ID = sa.select(T).where(T.c.id == sa.bindparam("id"))


@dataclass(frozen=True)
class StoredToken:
    """A token's record and the sha256 (hex) of its secret, as stored."""

    info: TokenInfo
    secret_sha256: str


class TokenStore:
    """Tokens in the database at *url* (SQLite in WAL mode, or PostgreSQL); opening it brings the
    database to the current schema, as :class:`~openaml.store.metadata.MetadataStore` does."""

    def __init__(self, url: str | sa.URL) -> None:
        self.url = _db.safe_url(url)
        _db.ensure_sqlite_folder(url)  # a server's first start on a fresh home
        self._engine = _db.create_engine(url)
        try:
            _db.upgrade_to_head(self._engine)
        except BaseException:
            self._engine.dispose()
            raise

    def add(self, info: TokenInfo, secret_sha256: str) -> None:
        """Store a new token."""
        with _db.transaction(self._engine, write=True) as conn:
            conn.execute(sa.insert(T).values(
                id=info.id, secret_sha256=secret_sha256, name=info.name, description=info.description,
                role=info.role.value, workspace=info.workspace, created_at=info.created_at))

    def find(self, token_id: str) -> StoredToken | None:
        """The token of that id, revoked or not; None when there is none."""
        with _db.transaction(self._engine, write=False) as conn:
            row = conn.execute(_BY_ID, {"id": token_id}).first()
        return StoredToken(_info(row), row.secret_sha256) if row else None

    def list(self, workspace: str | None = None) -> list[TokenInfo]:
        """Every token, oldest first; only that workspace's when *workspace* is given."""
        query = sa.select(T).order_by(T.c.created_at, T.c.id)
        if workspace is not None:
            query = query.where(T.c.workspace == workspace)
        with _db.transaction(self._engine, write=False) as conn:
            return [_info(row) for row in conn.execute(query)]

    def revoke(self, token_id: str, when: datetime) -> bool:
        """Mark a token revoked (once: a second revocation keeps the first time); False when
        there is no such token."""
        with _db.transaction(self._engine, write=True) as conn:
            found = conn.execute(sa.select(T.c.id).where(T.c.id == token_id)).first()
            conn.execute(sa.update(T).where(T.c.id == token_id, T.c.revoked_at.is_(None)).values(revoked_at=when))
        return found is not None

    def revoke_workspace(self, workspace: str, when: datetime) -> int:
        """Revoke every token of a workspace; how many were still valid."""
        with _db.transaction(self._engine, write=True) as conn:
            result = conn.execute(sa.update(T).where(T.c.workspace == workspace, T.c.revoked_at.is_(None))
                                  .values(revoked_at=when))
        return result.rowcount or 0

    def touch(self, token_id: str, when: datetime) -> None:
        """Record that a token was used at *when*."""
        with _db.transaction(self._engine, write=True) as conn:
            conn.execute(sa.update(T).where(T.c.id == token_id).values(last_used_at=when))

    def close(self) -> None:
        """Release pooled connections."""
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"TokenStore({self.url!r})"


def _info(row: Any) -> TokenInfo:
    return TokenInfo(id=row.id, name=row.name, description=row.description, role=Role(row.role),
                     workspace=row.workspace, created_at=as_utc(row.created_at),
                     last_used_at=as_utc(row.last_used_at) if row.last_used_at else None,
                     revoked_at=as_utc(row.revoked_at) if row.revoked_at else None)
