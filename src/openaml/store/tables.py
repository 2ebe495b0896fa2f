"""Table definitions for the metadata store (SQLAlchemy Core).

These objects describe the schema *as the migrations leave it*; the migrations in
``migrations/versions`` are the source of truth for creating it. A test checks that running
the migrations yields exactly these tables, so the two cannot drift apart silently.

Every table carries ``workspace`` so that one PostgreSQL database can hold many workspaces,
except the catalog of those workspaces (``workspace_catalog``, keyed by ``name``) and the check
of the key their secrets are sealed with (``secret_key_checks``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

#: The Alembic revision the code expects. Opening a store compares the database's
#: ``alembic_version`` with this in one query and skips Alembic entirely when they match
#: (loading Alembic's script directory costs more than the rest of opening a store).
#: A test fails when it differs from the script directory's head.
HEAD_REVISION = "0011"


class _JSONDocument(sa.types.TypeDecorator):
    """JSONB on PostgreSQL (indexable, compact); plain JSON text elsewhere.

    Unlike ``JSON().with_variant(postgresql.JSONB(), ...)`` this imports the PostgreSQL dialect
    only when a PostgreSQL engine uses the column: loading it (and its asyncpg module) costs
    ~20 ms that every job's agent on SQLite would pay.
    """

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> Any:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(sa.JSON())


JSONType = _JSONDocument()

metadata = sa.MetaData()

asset_containers = sa.Table(
    "asset_containers",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("archived", sa.Boolean, nullable=False, default=False),
    # Last sequence number handed to a version of this name; bumped under the container lock,
    # so ``asset_versions.seq`` orders versions exactly by creation, even within one timestamp.
    sa.Column("last_seq", sa.BigInteger, nullable=False, default=0),
    # Largest integer version ever registered under this name (archived included): a create
    # without a version takes this + 1, without scanning the versions.
    sa.Column("max_int_version", sa.BigInteger, nullable=False, default=0, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

asset_versions = sa.Table(
    "asset_versions",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("version", sa.String(255), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("spec", JSONType, nullable=False),
    sa.Column("content_digest", sa.String(128), nullable=True),
    # Digest of the immutable content the caller computed; equal identity = same asset.
    sa.Column("identity", sa.String(128), nullable=False),
    sa.Column("archived", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(
        ["workspace", "kind", "name"],
        ["asset_containers.workspace", "asset_containers.kind", "asset_containers.name"],
        name="fk_asset_versions_container",
        ondelete="CASCADE",
    ),
    sa.UniqueConstraint("workspace", "kind", "name", "seq", name="uq_asset_versions_seq"),
)

resources = sa.Table(
    "resources",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("spec", JSONType, nullable=False),
    sa.Column("secret", sa.LargeBinary, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


# ---- jobs (revision 0002) ---------------------------------------------------------------------

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("parent_job_name", sa.String(255), nullable=True),
    sa.Column("experiment_name", sa.String(255), nullable=False),
    sa.Column("display_name", sa.String(255), nullable=True),
    sa.Column("spec", JSONType, nullable=False),
    sa.Column("error", JSONType, nullable=True),
    sa.Column("archived", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("agent_pid", sa.Integer, nullable=True),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
    # Revision 0005: the agent holding the job (its host's boot and its process start time, so a
    # reused pid never passes for it), its lease, and how the job's processes are found.
    sa.Column("agent_boot_id", sa.String(255), nullable=True),
    sa.Column("agent_started_at", sa.Float, nullable=True),
    sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("process_token", sa.String(64), nullable=True),
    sa.Column("process_cgroup", sa.Text, nullable=True),
    # Allocated under a per-workspace lock: orders jobs newest first even within one timestamp.
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("workspace", "seq", name="uq_jobs_seq"),
    sa.Index("ix_jobs_parent", "workspace", "parent_job_name"),
    sa.Index("ix_jobs_agent", "workspace", "agent_pid"),
)

# ---- MLflow tracking (revision 0002): MLflow's data model, keyed by workspace ---------------

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("experiment_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("artifact_location", sa.Text, nullable=False),
    sa.Column("lifecycle_stage", sa.String(16), nullable=False),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("last_update_time", sa.BigInteger, nullable=False),
    sa.Column("tags", JSONType, nullable=False),
    sa.UniqueConstraint("workspace", "name", name="uq_experiments_name"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("run_id", sa.String(255), primary_key=True),
    sa.Column("experiment_id", sa.String(32), nullable=False),
    sa.Column("run_name", sa.String(255), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=True),
    sa.Column("end_time", sa.BigInteger, nullable=True),
    sa.Column("artifact_uri", sa.Text, nullable=False),
    sa.Column("lifecycle_stage", sa.String(16), nullable=False),
    sa.Column("user_id", sa.String(255), nullable=True),
    sa.Index("ix_runs_experiment", "workspace", "experiment_id"),
)


def _run_kv(name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("workspace", sa.String(255), primary_key=True),
        sa.Column("run_id", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


params = _run_kv("params")
run_tags = _run_kv("run_tags")

# SQLite needs INTEGER (not BIGINT) for an auto-incrementing primary key.
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("workspace", sa.String(255), nullable=False),
    sa.Column("run_id", sa.String(255), nullable=False),
    sa.Column("key", sa.String(250), nullable=False),
    # NaN is stored as 0 with is_nan set (SQLite turns NaN into NULL); +-inf are stored as is.
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("is_nan", sa.Boolean, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    # Revision 0007: a history is one range of this index, already in MLflow's order (timestamp,
    # step; then logging order), holding the values too: no sort, no lookups into the table.
    sa.Index("ix_metrics_history", "workspace", "run_id", "key", "timestamp", "step", "id", "value", "is_nan"),
)

latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("run_id", sa.String(255), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("is_nan", sa.Boolean, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    # Revision 0008: the shape of the key's whole history, kept by every log_batch: how many
    # values, the smallest and largest step, and whether the steps are exactly min..max, each
    # logged once (what a training loop logs). A sampled history of such a key needs no count
    # and no ranking of its values (openaml.store.metric_history). steps_once may be false for
    # a history that is in fact so (batches that filled a gap out of order): that only costs
    # the slower sampling; it is never true for one that is not.
    sa.Column("n_values", sa.BigInteger, nullable=False, server_default="1"),
    sa.Column("min_step", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("max_step", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("steps_once", sa.Boolean, nullable=False, server_default=sa.false()),
)

logged_models = sa.Table(
    "logged_models",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("model_id", sa.String(64), primary_key=True),
    sa.Column("experiment_id", sa.String(32), nullable=False),
    sa.Column("source_run_id", sa.String(255), nullable=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("model_type", sa.String(255), nullable=True),
    sa.Column("artifact_location", sa.Text, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("lifecycle_stage", sa.String(16), nullable=False),
    sa.Column("params", JSONType, nullable=False),
    sa.Column("tags", JSONType, nullable=False),
    sa.Column("creation_timestamp", sa.BigInteger, nullable=False),
    sa.Column("last_updated_timestamp", sa.BigInteger, nullable=False),
    sa.Index("ix_logged_models_experiment", "workspace", "experiment_id"),
)

# MLflow 3's run outputs (``log_outputs``): which logged models a run produced, at which step.
run_outputs = sa.Table(
    "run_outputs",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("run_id", sa.String(255), primary_key=True),
    sa.Column("model_id", sa.String(64), primary_key=True),
    sa.Column("step", sa.BigInteger, nullable=False),
)


# ---- Pipeline step reuse (revision 0004) ---------------------------------------------------
#: One row per successful, reusable step run: its reuse key (hash of component, code,
#: environment, inputs and settings), the key's parts (to say what changed on a rerun), and the
#: step identity (pipeline + step name) under which the latest earlier run is looked up.
step_runs = sa.Table(
    "step_runs",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("job_name", sa.String(255), primary_key=True),
    sa.Column("reuse_key", sa.String(64), nullable=False),
    sa.Column("step_identity", sa.String(512), nullable=False),
    sa.Column("key_parts", JSONType, nullable=False),
    sa.Column("output_digests", JSONType, nullable=False),
    sa.Column("reusable", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_step_runs_key", "workspace", "reuse_key"),
    sa.Index("ix_step_runs_identity", "workspace", "step_identity", "created_at"),
)



# ---- MLflow's model registry and run inputs (revision 0006) -----------------------------------
#: What MLflow keeps per registered model that the asset registry has no place for: its
#: description and tags. A registered model is a model name (its versions are the workspace's
#: model versions); this row exists once MLflow created or edited the name.
registered_models = sa.Table(
    "registered_models",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("tags", JSONType, nullable=False),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("last_update_time", sa.BigInteger, nullable=False),
)

#: MLflow's aliases: a named pointer per model name to one of its versions (``@champion``).
model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("alias", sa.String(255), primary_key=True),
    sa.Column("version", sa.String(255), nullable=False),
)

#: Datasets a run read (``mlflow.log_input``), one row per run and dataset (name, digest).
run_dataset_inputs = sa.Table(
    "run_dataset_inputs",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("run_id", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(500), primary_key=True),
    sa.Column("digest", sa.String(255), primary_key=True),
    sa.Column("source_type", sa.String(255), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("schema", sa.Text, nullable=True),
    sa.Column("profile", sa.Text, nullable=True),
    sa.Column("tags", JSONType, nullable=False),
    sa.Column("logged_at", sa.BigInteger, nullable=False),
)

#: Logged models a run read (MLflow 3's model inputs).
run_model_inputs = sa.Table(
    "run_model_inputs",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("run_id", sa.String(255), primary_key=True),
    sa.Column("model_id", sa.String(64), primary_key=True),
    sa.Column("logged_at", sa.BigInteger, nullable=False),
)

#: Metrics logged with a ``model_id`` (MLflow 3): the logged model's ``data.metrics``.
logged_model_metrics = sa.Table(
    "logged_model_metrics",
    metadata,
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
    sa.Index("ix_logged_model_metrics_model", "workspace", "model_id"),
)


# ---- the workspace catalog (revision 0009) ------------------------------------------------------
#: The workspaces of a database (when a home or a server names one): what a per-home
#: ``workspace.json`` holds otherwise, so that every home and server on the database sees the
#: same workspaces. ``name`` is the primary key: of two concurrent creates exactly one wins.
workspace_catalog = sa.Table(
    "workspace_catalog",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("spec", JSONType, nullable=False),
    sa.Column("default_datastore", sa.String(255), nullable=False),
    # Where the files that are not on object storage live (artifacts/, datastores/): the folder
    # the creating home made.
    sa.Column("folder", sa.Text, nullable=True),
    sa.Column("storage", JSONType, nullable=True),  # a WorkspaceStorage without its credentials
    sa.Column("storage_secret", sa.LargeBinary, nullable=True),  # its credentials, sealed
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: A token of a fixed text sealed with the key of the database's secrets: a wrong key is found
#: before anything is sealed with it (one row, ``name`` = "secrets").
secret_key_checks = sa.Table(
    "secret_key_checks",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("token", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# ---- The server's access tokens (revision 0010) ---------------------------------------------
#: One row per token an openaml server issued, in the server's own database: its id (public,
#: in the token itself), the sha256 of its secret (never the secret), its role and workspace
#: (NULL for a server administrator), when it was created, last used and revoked. ``workspace``
#: is the token's workspace, not a tenant key: an admin token has none.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("workspace", sa.String(255), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_api_tokens_workspace", "workspace"),
)


# ---- endpoints and their deployments (revision 0011) ------------------------------------------
#: Online endpoints (``kind`` "online"; batch endpoints will share the table with "batch"): the
#: public spec (traffic, mirror traffic, auth mode...), the keys sealed with the workspace's key,
#: ``generation`` (bumped by every change to the endpoint or its deployments, so the endpoint's
#: router knows when to reload) and ``runtime`` (the router's pid, port and process token).
endpoints = sa.Table(
    "endpoints",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("spec", JSONType, nullable=False),
    sa.Column("secret", sa.LargeBinary, nullable=True),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("runtime", JSONType, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: Deployments of an endpoint: the public spec, what was pinned when it was created (model,
#: code and environment content), and its provisioning state as its router last recorded it.
deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("workspace", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("endpoint", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("spec", JSONType, nullable=False),
    sa.Column("resolved", JSONType, nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["workspace", "kind", "endpoint"],
                            ["endpoints.workspace", "endpoints.kind", "endpoints.name"],
                            name="fk_deployments_endpoint", ondelete="CASCADE"),
)
