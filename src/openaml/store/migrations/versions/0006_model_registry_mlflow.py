"""MLflow's model registry and run inputs: registered-model descriptions and tags, aliases,
the datasets and logged models a run read, and metrics logged against a logged model.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("workspace", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("tags", _JSON, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "model_aliases",
        sa.Column("workspace", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("alias", sa.String(255), primary_key=True),
        sa.Column("version", sa.String(255), nullable=False),
    )
    op.create_table(
        "run_dataset_inputs",
        sa.Column("workspace", sa.String(255), primary_key=True),
        sa.Column("run_id", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(500), primary_key=True),
        sa.Column("digest", sa.String(255), primary_key=True),
        sa.Column("source_type", sa.String(255), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("schema", sa.Text, nullable=True),
        sa.Column("profile", sa.Text, nullable=True),
        sa.Column("tags", _JSON, nullable=False),
        sa.Column("logged_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "run_model_inputs",
        sa.Column("workspace", sa.String(255), primary_key=True),
        sa.Column("run_id", sa.String(255), primary_key=True),
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column("logged_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "logged_model_metrics",
        sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("workspace", sa.String(255), nullable=False),
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(255), nullable=True),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("dataset_name", sa.String(500), nullable=True),
        sa.Column("dataset_digest", sa.String(255), nullable=True),
    )
    op.create_index("ix_logged_model_metrics_model", "logged_model_metrics", ["workspace", "model_id"])


def downgrade() -> None:
    op.drop_index("ix_logged_model_metrics_model", table_name="logged_model_metrics")
    for table in ("logged_model_metrics", "run_model_inputs", "run_dataset_inputs", "model_aliases",
                  "registered_models"):
        op.drop_table(table)
