"""The workspace catalog: the workspaces of a database (name, spec, default datastore, folder,
storage and its sealed credentials), so that every home and server on one database sees the same
ones; and the check of the key that seals the database's secrets.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "workspace_catalog",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("spec", JSONType, nullable=False),
        sa.Column("default_datastore", sa.String(255), nullable=False),
        sa.Column("folder", sa.Text, nullable=True),
        sa.Column("storage", JSONType, nullable=True),
        sa.Column("storage_secret", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "secret_key_checks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("token", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("secret_key_checks")
    op.drop_table("workspace_catalog")
