"""Endpoints and their deployments: the endpoint's spec, sealed keys, generation and router
runtime; each deployment's spec, pinned content and provisioning state.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "endpoints",
        sa.Column("workspace", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("spec", _JSON, nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=True),
        sa.Column("generation", sa.BigInteger, nullable=False),
        sa.Column("runtime", _JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "deployments",
        sa.Column("workspace", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("endpoint", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("spec", _JSON, nullable=False),
        sa.Column("resolved", _JSON, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace", "kind", "endpoint"],
                                ["endpoints.workspace", "endpoints.kind", "endpoints.name"],
                                name="fk_deployments_endpoint", ondelete="CASCADE"),
    )


def downgrade() -> None:
    op.drop_table("deployments")
    op.drop_table("endpoints")
