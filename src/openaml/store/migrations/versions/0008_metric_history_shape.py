"""The shape of each metric history beside its latest value: count, smallest and largest step,
and whether the steps are exactly min..max, each once; back-filled from the metrics already
logged. Sampling a history (MLflow's get-history-bulk-interval) reads these instead of counting
every value of every requested run.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = ("n_values", "min_step", "max_step", "steps_once")


def upgrade() -> None:
    with op.batch_alter_table("latest_metrics") as batch:
        batch.add_column(sa.Column("n_values", sa.BigInteger, nullable=False, server_default="1"))
        batch.add_column(sa.Column("min_step", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("max_step", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("steps_once", sa.Boolean, nullable=False, server_default=sa.false()))
    conn = op.get_bind()
    shapes = conn.execute(sa.text(
        "SELECT workspace, run_id, key, COUNT(*), MIN(step), MAX(step), COUNT(DISTINCT step) "
        "FROM metrics GROUP BY workspace, run_id, key")).all()
    update = sa.text("UPDATE latest_metrics SET n_values = :n, min_step = :lo, max_step = :hi, steps_once = :once "
                     "WHERE workspace = :w AND run_id = :r AND key = :k")
    params = [{"w": ws, "r": run_id, "k": key, "n": n, "lo": lo, "hi": hi, "once": n == distinct == hi - lo + 1}
              for ws, run_id, key, n, lo, hi, distinct in shapes]
    if params:
        conn.execute(update, params)


def downgrade() -> None:
    with op.batch_alter_table("latest_metrics") as batch:
        for name in _COLUMNS:
            batch.drop_column(name)
