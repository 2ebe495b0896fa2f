"""The workspace catalog: where a home (or a server) finds its workspaces' configuration.

One small interface, two implementations chosen once from the settings:

- :class:`DatabaseCatalog`: a table of a database (a server's ``--database-url``, a home's
  ``OPENAML_DATABASE_URL``). Every home and server on that database sees the same workspaces;
  the workspace's metadata lives in the same database; its secrets are sealed with the one key
  the database's key check accepts. A home's folder of the workspace is only a local cache.
- :class:`~openaml.store.folder_catalog.FolderCatalog`: ``workspace.json`` files under a home
  (today's layout, unchanged for existing homes).

Records are frozen dataclasses; the catalog also says where a record's metadata is and what
seals its secrets, so the workspace service never branches on which catalog it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Protocol

import sqlalchemy as sa

from openaml.errors import AlreadyExistsError, WorkspaceNotFoundError
from openaml.store import _db
from openaml.store.keyring import KeyRing
from openaml.store.metadata import MetadataStore, delete_workspace_rows, holds_workspace_rows
from openaml.store.records import as_utc
from openaml.store.secrets import KeySource, SecretBox, Sealer
from openaml.store.tables import resources as R
from openaml.store.tables import secret_key_checks as K
from openaml.store.tables import workspace_catalog as W

#: The one row of ``secret_key_checks``.
_KEY_CHECK = "secrets"


@dataclass(frozen=True)
class WorkspaceRecord:
    """A workspace's configuration as its catalog keeps it.

    ``spec``: the entity's public fields (description, display name, tags, location...).
    ``folder``: where its files that are not on object storage live (``artifacts/``,
    ``datastores/``). ``storage``: its object storage without credentials; ``storage_secret``
    those, sealed. ``database_url``: where its metadata is when not in its catalog's own place
    (workspaces made by older openaml with ``--database-url``). ``catalog_url``: the database
    whose catalog holds it (None: a folder catalog).
    """

    name: str
    spec: dict[str, Any]
    default_datastore: str
    created_at: datetime
    folder: str | None = None
    storage: dict[str, Any] | None = None
    storage_secret: bytes | None = field(default=None, repr=False)
    database_url: str | None = field(default=None, repr=False)
    catalog_url: str | None = field(default=None, repr=False)

    def changed(self, **changes: Any) -> "WorkspaceRecord":
        return replace(self, **changes)


@dataclass(frozen=True)
class NewResource:
    """A resource row written with a new workspace (its default datastores)."""

    kind: str
    name: str
    spec: dict[str, Any]
    secret: bytes | None = field(default=None, repr=False)


#: Turns a sealed value into the same value sealed with the new key (a rotation's).
Reseal = Callable[[bytes], bytes]


class WorkspaceCatalog(Protocol):
    """Where workspaces are listed, and what each one's metadata and secrets are."""

    def get(self, name: str) -> WorkspaceRecord | None:
        """The record, or None."""
        ...

    def list(self) -> list[WorkspaceRecord]:
        """Every workspace, sorted by name."""
        ...

    def create(self, record: WorkspaceRecord, resources: Sequence[NewResource], layout: Sequence[str]) -> None:
        """Publish a new workspace with its *resources*, all or nothing; the folders of *layout*
        (relative to ``record.folder``) are made first. :class:`AlreadyExistsError` when the name
        is taken: exactly one of concurrent creates wins, and the loser changes nothing."""
        ...

    def update(self, record: WorkspaceRecord) -> None:
        """Replace an existing workspace's record."""
        ...

    def delete(self, record: WorkspaceRecord) -> None:
        """Remove the workspace from the catalog with its metadata rows (not its files)."""
        ...

    def metadata(self, record: WorkspaceRecord) -> MetadataStore:
        """The metadata store of the workspace."""
        ...

    def secrets(self, record: WorkspaceRecord) -> Sealer:
        """What seals the workspace's secrets (checked against the catalog on first use)."""
        ...

    def check_key(self) -> None:
        """Check the configured secret key against the catalog now; :class:`SecretKeyError`."""
        ...

    def rotate_key(self, new_keys: Sequence[bytes]) -> int:
        """Seal every secret of every workspace with the first of *new_keys*; return how many.
        Safe to run again after a crash (a value sealed with either key is resealed)."""
        ...

    def close(self) -> None: ...


class DatabaseCatalog:
    """The workspaces of one database, in its ``workspace_catalog`` table."""

    def __init__(self, url: str, source: KeySource) -> None:
        self.url = url
        self.store = MetadataStore(url)  # migrates the database to head
        self.label = f"the database {self.store.url}"
        self.ring = KeyRing(source, self)

    def __repr__(self) -> str:
        return f"DatabaseCatalog({self.store.url!r})"

    def _tx(self, *, write: bool = False):
        return _db.transaction(self.store.engine, write=write)

    # -- records -------------------------------------------------------------------------------
    def get(self, name: str) -> WorkspaceRecord | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(W).where(W.c.name == name)).first()
        return None if row is None else self._record(row)

    def list(self) -> list[WorkspaceRecord]:
        with self._tx() as conn:
            return [self._record(r) for r in conn.execute(sa.select(W).order_by(W.c.name))]

    def create(self, record: WorkspaceRecord, resources: Sequence[NewResource], layout: Sequence[str]) -> None:
        if record.folder:
            for rel in layout:
                (Path(record.folder) / rel).mkdir(parents=True, exist_ok=True)
        now = datetime.now(timezone.utc)
        with self._tx(write=True) as conn:
            try:
                # The primary key decides between concurrent creates; the loser's transaction
                # rolls back having written nothing.
                conn.execute(sa.insert(W).values(**self._row(record), created_at=record.created_at, updated_at=now))
            except sa.exc.IntegrityError:
                raise self._exists(record.name) from None
            if holds_workspace_rows(conn, record.name):
                raise AlreadyExistsError(
                    f"{self.label} already holds rows of a workspace '{record.name}' that is not in its catalog "
                    "(made by an older openaml with --database-url, from some home's folder): open it from that "
                    "home, or pick another name", name=record.name)
            for res in resources:
                conn.execute(sa.insert(R).values(workspace=record.name, kind=res.kind, name=res.name, spec=res.spec,
                                                 secret=res.secret, created_at=now, updated_at=now))

    def update(self, record: WorkspaceRecord) -> None:
        with self._tx(write=True) as conn:
            done = conn.execute(sa.update(W).where(W.c.name == record.name).values(
                **self._row(record), updated_at=datetime.now(timezone.utc)))
        if done.rowcount == 0:
            raise WorkspaceNotFoundError(f"No workspace named '{record.name}' in {self.label}.", workspace=record.name)

    def delete(self, record: WorkspaceRecord) -> None:
        with self._tx(write=True) as conn:
            delete_workspace_rows(conn, record.name)
            conn.execute(sa.delete(W).where(W.c.name == record.name))

    def metadata(self, record: WorkspaceRecord) -> MetadataStore:
        return self.store

    def secrets(self, record: WorkspaceRecord) -> Sealer:
        return self.ring.sealer()

    def check_key(self) -> None:
        self.ring.check()

    def close(self) -> None:
        self.store.close()

    # -- the key -------------------------------------------------------------------------------
    def key_check(self) -> bytes | None:
        with self._tx() as conn:
            token = conn.execute(sa.select(K.c.token).where(K.c.name == _KEY_CHECK)).scalar()
        return None if token is None else bytes(token)

    def claim_key_check(self, token: bytes) -> bytes:
        insert = _db.dialect_insert(self.store.engine)
        with self._tx(write=True) as conn:
            conn.execute(insert(K).values(name=_KEY_CHECK, token=token, updated_at=datetime.now(timezone.utc))
                         .on_conflict_do_nothing(index_elements=["name"]))
            return bytes(conn.execute(sa.select(K.c.token).where(K.c.name == _KEY_CHECK)).scalar_one())

    def rotate_key(self, new_keys: Sequence[bytes]) -> int:
        """Every sealed value of the catalog's workspaces (their resources' secrets and storage
        credentials) and the key check, in one transaction: a crash leaves the old key's state."""
        box = self.ring.rotating(new_keys)
        return reseal_database(self.store, box, names=None, check=KeyRing.check_token(new_keys))

    # -- rows ----------------------------------------------------------------------------------
    def _exists(self, name: str) -> AlreadyExistsError:
        return AlreadyExistsError(f"Workspace '{name}' already exists in {self.label}.", name=name)

    @staticmethod
    def _row(record: WorkspaceRecord) -> dict[str, Any]:
        return {"name": record.name, "spec": record.spec, "default_datastore": record.default_datastore,
                "folder": record.folder, "storage": record.storage, "storage_secret": record.storage_secret}

    def _record(self, row: Any) -> WorkspaceRecord:
        return WorkspaceRecord(name=row.name, spec=dict(row.spec or {}), default_datastore=row.default_datastore,
                               created_at=as_utc(row.created_at), folder=row.folder,
                               storage=dict(row.storage) if row.storage else None,
                               storage_secret=bytes(row.storage_secret) if row.storage_secret is not None else None,
                               catalog_url=self.url)


def reseal_database(store: MetadataStore, box: SecretBox, *, names: Sequence[str] | None,
                    check: bytes | None) -> int:
    """Reseal with *box* (:meth:`SecretBox.rotate`), in one transaction, the resources' secrets
    of the workspaces *names* (None: every workspace of the database's catalog, with their
    storage credentials) and store *check* as the database's key check (when given)."""
    now = datetime.now(timezone.utc)
    count = 0
    with _db.transaction(store.engine, write=True) as conn:
        workspaces = sa.select(W.c.name) if names is None else None
        where = R.c.workspace.in_(workspaces if workspaces is not None else list(names or []))
        rows = conn.execute(sa.select(R.c.workspace, R.c.kind, R.c.name, R.c.secret)
                            .where(R.c.secret.is_not(None), where).with_for_update()).all()
        for row in rows:
            conn.execute(sa.update(R).where(R.c.workspace == row.workspace, R.c.kind == row.kind,
                                            R.c.name == row.name).values(secret=box.rotate(row.secret)))
            count += 1
        if names is None:
            sealed = conn.execute(sa.select(W.c.name, W.c.storage_secret).where(W.c.storage_secret.is_not(None))
                                  .with_for_update()).all()
            for row in sealed:
                conn.execute(sa.update(W).where(W.c.name == row.name).values(
                    storage_secret=box.rotate(row.storage_secret), updated_at=now))
                count += 1
        if check is not None:
            conn.execute(sa.delete(K).where(K.c.name == _KEY_CHECK))
            conn.execute(sa.insert(K).values(name=_KEY_CHECK, token=check, updated_at=now))
    return count
