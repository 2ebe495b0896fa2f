"""Metric history served from one index: (workspace, run_id, key) then the history's order
(timestamp, step, id) and the values themselves, so reading a history is an index range scan in
order with no sort and no table lookups. It replaces ix_metrics_run_key, its prefix.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_HISTORY = ["workspace", "run_id", "key", "timestamp", "step", "id", "value", "is_nan"]


def upgrade() -> None:
    op.create_index("ix_metrics_history", "metrics", _HISTORY)
    op.drop_index("ix_metrics_run_key", table_name="metrics")


def downgrade() -> None:
    op.create_index("ix_metrics_run_key", "metrics", ["workspace", "run_id", "key"])
    op.drop_index("ix_metrics_history", table_name="metrics")
