"""The token store on each metadata backend (SQLite, PostgreSQL): what is stored, found, listed
by workspace, revoked once, touched. PostgreSQL tests share a database: names are unique."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from openaml.entities.tokens import Role, TokenInfo
from openaml.store.tokens import TokenStore


def test_tokens_round_trip_on_each_backend(db_url: str):
    store = TokenStore(db_url)
    workspace = f"ws-{uuid.uuid4().hex[:8]}"
    when = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    ids = [uuid.uuid4().hex[:16] for _ in range(3)]
    infos = [TokenInfo(id=ids[0], name="a", role=Role.OWNER, workspace=workspace, created_at=when),
             TokenInfo(id=ids[1], name="b", role=Role.READER, workspace=workspace, created_at=when + timedelta(1),
                       description="ci"),
             TokenInfo(id=ids[2], name="root", role=Role.ADMIN, workspace=None, created_at=when)]
    try:
        for i, info in enumerate(infos):
            store.add(info, f"{i:064x}")
        found = store.find(ids[1])
        assert found is not None and found.info == infos[1] and found.secret_sha256 == f"{1:064x}"
        assert store.find("f" * 16) is None
        assert [t.id for t in store.list(workspace)] == ids[:2]
        assert ids[2] in {t.id for t in store.list()}
        assert store.revoke(ids[0], when + timedelta(2)) and not store.revoke("e" * 16, when)
        store.revoke(ids[0], when + timedelta(5))  # the first revocation's time stays
        assert store.find(ids[0]).info.revoked_at == when + timedelta(2)
        assert store.revoke_workspace(workspace, when + timedelta(3)) == 1  # b; a already was
        store.touch(ids[2], when + timedelta(4))
        assert store.find(ids[2]).info.last_used_at == when + timedelta(4)
    finally:
        store.close()
