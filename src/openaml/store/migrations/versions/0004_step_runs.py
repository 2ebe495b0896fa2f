"""Pipeline step runs, for reuse by content.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "step_runs",
        sa.Column("workspace", sa.String(255), primary_key=True),
        sa.Column("job_name", sa.String(255), primary_key=True),
        sa.Column("reuse_key", sa.String(64), nullable=False),
        sa.Column("step_identity", sa.String(512), nullable=False),
        sa.Column("key_parts", JSONType, nullable=False),
        sa.Column("output_digests", JSONType, nullable=False),
        sa.Column("reusable", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_step_runs_key", "step_runs", ["workspace", "reuse_key"])
    op.create_index("ix_step_runs_identity", "step_runs", ["workspace", "step_identity", "created_at"])


def downgrade() -> None:
    op.drop_table("step_runs")
