"""Agent leases and process tracking on jobs: which agent (host boot, process start time) holds
a job, until when its lease runs, and how the job's processes are found (a random token in their
environment, and a cgroup where the host has one).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = ("agent_boot_id", "agent_started_at", "lease_expires_at", "process_token", "process_cgroup")


def upgrade() -> None:
    # Existing rows keep NULLs: a job without a lease is judged as before (heartbeat age).
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("agent_boot_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("agent_started_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("process_token", sa.String(64), nullable=True))
        batch.add_column(sa.Column("process_cgroup", sa.Text, nullable=True))
    # An agent renews the leases of every job it holds (a pipeline's in-process steps) by its pid.
    op.create_index("ix_jobs_agent", "jobs", ["workspace", "agent_pid"])


def downgrade() -> None:
    op.drop_index("ix_jobs_agent", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        for name in _COLUMNS:
            batch.drop_column(name)
