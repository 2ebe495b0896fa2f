"""Jobs and MLflow tracking: jobs, experiments, runs, params, run tags, metric history,
latest metrics, logged models and run outputs.

Revision ID: 0002
Revises: 0001
Create Date: 2024-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copies of the column types at this revision: migrations must not follow later code.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def _ws() -> sa.Column:
    return sa.Column("workspace", sa.String(255), primary_key=True)


def _create_jobs() -> None:
    op.create_table(
        "jobs",
        _ws(),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("parent_job_name", sa.String(255), nullable=True),
        sa.Column("experiment_name", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("spec", _JSON, nullable=False),
        sa.Column("error", _JSON, nullable=True),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("started_at", _TS, nullable=True),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("agent_pid", sa.Integer, nullable=True),
        sa.Column("heartbeat_at", _TS, nullable=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("workspace", "seq", name="uq_jobs_seq"),
    )
    op.create_index("ix_jobs_parent", "jobs", ["workspace", "parent_job_name"])


def _create_experiments_and_runs() -> None:
    op.create_table(
        "experiments",
        _ws(),
        sa.Column("experiment_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("artifact_location", sa.Text, nullable=False),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
        sa.Column("tags", _JSON, nullable=False),
        sa.UniqueConstraint("workspace", "name", name="uq_experiments_name"),
    )
    op.create_table(
        "runs",
        _ws(),
        sa.Column("run_id", sa.String(255), primary_key=True),
        sa.Column("experiment_id", sa.String(32), nullable=False),
        sa.Column("run_name", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=True),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("artifact_uri", sa.Text, nullable=False),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=True),
    )
    op.create_index("ix_runs_experiment", "runs", ["workspace", "experiment_id"])
    for name in ("params", "run_tags"):
        op.create_table(
            name,
            _ws(),
            sa.Column("run_id", sa.String(255), primary_key=True),
            sa.Column("key", sa.String(250), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )


def _metric_columns() -> list[sa.Column]:
    return [
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
    ]


def _create_metrics() -> None:
    op.create_table(
        "metrics",
        sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("workspace", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(255), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        *_metric_columns(),
    )
    op.create_index("ix_metrics_run_key", "metrics", ["workspace", "run_id", "key"])
    op.create_table(
        "latest_metrics",
        _ws(),
        sa.Column("run_id", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        *_metric_columns(),
    )


def _create_logged_models() -> None:
    op.create_table(
        "logged_models",
        _ws(),
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column("experiment_id", sa.String(32), nullable=False),
        sa.Column("source_run_id", sa.String(255), nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("model_type", sa.String(255), nullable=True),
        sa.Column("artifact_location", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("tags", _JSON, nullable=False),
        sa.Column("creation_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_logged_models_experiment", "logged_models", ["workspace", "experiment_id"])
    op.create_table(
        "run_outputs",
        _ws(),
        sa.Column("run_id", sa.String(255), primary_key=True),
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column("step", sa.BigInteger, nullable=False),
    )


def upgrade() -> None:
    _create_jobs()
    _create_experiments_and_runs()
    _create_metrics()
    _create_logged_models()


def downgrade() -> None:
    for name in ("run_outputs", "logged_models", "latest_metrics", "metrics", "run_tags", "params",
                 "runs", "experiments", "jobs"):
        op.drop_table(name)
