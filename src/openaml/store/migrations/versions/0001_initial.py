"""Initial schema: asset containers and versions, resources.

Revision ID: 0001
Revises:
Create Date: 2024-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copy of the column type at this revision: migrations must not follow later code.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _key() -> list[sa.Column]:
    return [
        sa.Column("workspace", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "asset_containers",
        *_key(),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        *_stamps(),
    )
    op.create_table(
        "asset_versions",
        *_key(),
        sa.Column("version", sa.String(255), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("spec", _JSON, nullable=False),
        sa.Column("content_digest", sa.String(128), nullable=True),
        sa.Column("identity", sa.String(128), nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["workspace", "kind", "name"],
            ["asset_containers.workspace", "asset_containers.kind", "asset_containers.name"],
            name="fk_asset_versions_container",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("workspace", "kind", "name", "seq", name="uq_asset_versions_seq"),
    )
    op.create_table(
        "resources",
        *_key(),
        sa.Column("spec", _JSON, nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=True),
        *_stamps(),
    )


def downgrade() -> None:
    op.drop_table("resources")
    op.drop_table("asset_versions")
    op.drop_table("asset_containers")
