"""Table definitions for the metadata store (SQLAlchemy Core).

These objects describe the schema *as the migrations leave it*; the migrations in
``migrations/versions`` are the source of truth for creating it. A test checks that running
the migrations yields exactly these tables, so the two cannot drift apart silently.

Every table carries ``workspace`` so that one PostgreSQL database can hold many workspaces.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

#: The Alembic revision the code expects. Opening a store compares the database's
#: ``alembic_version`` with this in one query and skips Alembic entirely when they match
#: (loading Alembic's script directory costs more than the rest of opening a store).
#: A test fails when it differs from the script directory's head.
HEAD_REVISION = "0001"

# JSONB on PostgreSQL (indexable, compact); plain JSON text elsewhere.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

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
