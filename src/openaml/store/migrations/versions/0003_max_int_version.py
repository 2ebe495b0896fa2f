"""Containers remember their largest integer version, so allocating the next one is O(1).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_INTEGER = re.compile(r"[0-9]+")
# openaml.names.INT_VERSION_MAX, copied: a migration must not change when the package does.
# Larger integer versions (stored before versions were bounded) are labels, not numbers; counting
# them would overflow the column and stop the upgrade.
_INT_VERSION_MAX = 2**31 - 1


def upgrade() -> None:
    with op.batch_alter_table("asset_containers") as batch:
        batch.add_column(sa.Column("max_int_version", sa.BigInteger, nullable=False, server_default="0"))
    conn = op.get_bind()
    best: dict[tuple[str, str, str], int] = {}
    for ws, kind, name, version in conn.execute(
            sa.text("SELECT workspace, kind, name, version FROM asset_versions")):
        if _INTEGER.fullmatch(version) and len(version.lstrip("0")) <= 10 and int(version) <= _INT_VERSION_MAX:
            key = (ws, kind, name)
            best[key] = max(best.get(key, 0), int(version))
    for (ws, kind, name), value in best.items():
        conn.execute(sa.text("UPDATE asset_containers SET max_int_version = :v "
                             "WHERE workspace = :w AND kind = :k AND name = :n"),
                     {"v": value, "w": ws, "k": kind, "n": name})


def downgrade() -> None:
    with op.batch_alter_table("asset_containers") as batch:
        batch.drop_column("max_int_version")
