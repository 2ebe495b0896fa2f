"""Records the metadata store returns: frozen dataclasses, never ORM objects or rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True)
class AssetRecord:
    """One immutable asset version. ``created`` is False when an identical version existed."""

    kind: str
    name: str
    version: str
    spec: dict
    content_digest: str | None
    archived: bool
    created_at: datetime
    updated_at: datetime
    created: bool = True
    #: Its place in the order of creation under its name (orders versions; pages resume after one).
    seq: int = 0


@dataclass(frozen=True)
class ContainerRecord:
    """An asset name; ``latest_version`` is its most recently created non-archived version."""

    kind: str
    name: str
    latest_version: str | None
    archived: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ResourceRecord:
    """A named, replaceable resource (datastore, compute, workspace); ``secret`` is ciphertext."""

    kind: str
    name: str
    spec: dict
    secret: bytes | None
    created_at: datetime
    updated_at: datetime


def as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is stored as UTC.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def asset_from_row(row: Any, *, created: bool = True) -> AssetRecord:
    return AssetRecord(
        kind=row.kind, name=row.name, version=row.version, spec=dict(row.spec),
        content_digest=row.content_digest, archived=bool(row.archived),
        created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at), created=created, seq=row.seq,
    )


def resource_from_row(row: Any) -> ResourceRecord:
    return ResourceRecord(
        kind=row.kind, name=row.name, spec=dict(row.spec),
        secret=bytes(row.secret) if row.secret is not None else None,
        created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
    )
