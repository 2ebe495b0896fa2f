"""Workspaces: create, find, open and delete them through the home's catalog.

Where a workspace's configuration lives is the catalog's business (:mod:`openaml.store.catalog`),
chosen once from the settings: a database's ``workspace_catalog`` table when a database URL is
in use (``OPENAML_DATABASE_URL``, a server's ``--database-url``), so every home and server on
it sees the same workspaces; else ``<home>/workspaces/<name>/workspace.json`` (see
:mod:`openaml.store.folder_catalog`). Either way ``<home>/workspaces/<name>`` is the folder of
the workspace on this machine: its local caches, and, for the home that created it, the files
not kept on object storage (the content-addressed ``artifacts/``, the folders behind the
default datastores).

A workspace created with object storage (:class:`~openaml.entities.WorkspaceStorage`) keeps its
artifact store under the storage's prefix and has its default datastore, ``workspaceblobstore``,
on that container or bucket; the storage's credentials are sealed with the configured secret
key (one key for every workspace of a catalog: ``OPENAML_SECRET_KEY`` or the key file).
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openaml.constants import DEFAULT_DATASTORE, DEFAULT_DATASTORES
from openaml.entities import LocalDatastore, Workspace, WorkspaceStorage
from openaml.entities.datastore import Datastore
from openaml.entities.secrets import merge_secrets, split_secrets
from openaml.errors import AlreadyExistsError, StoreUnavailableError, ValidationError, WorkspaceNotFoundError
from openaml.names import check_name
from openaml.services.settings import DATABASE_URL_ENV, Settings
from openaml.store.artifacts import ArtifactStore
from openaml.store.catalog import DatabaseCatalog, NewResource, WorkspaceCatalog, WorkspaceRecord
from openaml.store.folder_catalog import WORKSPACE_FILE, FolderCatalog
from openaml.store.metadata import MetadataStore
from openaml.store.secrets import Sealer
from openaml.store.workspace_storage import open_artifact_store, open_workspace_storage, probe

if TYPE_CHECKING:
    from openaml.store.jobs import JobStore
    from openaml.store.step_runs import StepRunStore
    from openaml.store.tracking import TrackingStore

# The default datastore that lives on a workspace's object storage (the others stay folders:
# running jobs write their logs into workspaceartifactstore's).
STORAGE_DATASTORE = DEFAULT_DATASTORE
# Azure-shaped ids, so code that parses them keeps working; the segments are fixed locally.
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "openaml"


def workspace_arm_id(name: str) -> str:
    return (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{name}")


def open_catalog(settings: Settings) -> WorkspaceCatalog:
    """The catalog *settings* name: the database's when a database URL is in use, else the home's
    folders."""
    if settings.database_url:
        return DatabaseCatalog(settings.database_url, settings.key_source)
    return FolderCatalog(settings.workspaces_dir, settings.key_source)


@dataclass
class WorkspaceContext:
    """An open workspace: what every service needs to act inside it.

    ``folder``: the workspace's folder on this machine (caches; the files of a workspace this
    home created). ``record``: its configuration as the catalog holds it.
    """

    name: str
    folder: Path
    metadata: MetadataStore
    artifacts: ArtifactStore
    secrets: Sealer
    record: WorkspaceRecord

    @functools.cached_property
    def jobs(self) -> "JobStore":
        from openaml.store.jobs import JobStore
        return JobStore(self.metadata)

    @functools.cached_property
    def tracking(self) -> "TrackingStore":
        from openaml.store.tracking import TrackingStore
        return TrackingStore(self.metadata, self.name)

    @functools.cached_property
    def step_runs(self) -> "StepRunStore":
        from openaml.store.step_runs import StepRunStore
        return StepRunStore(self.metadata)

    @property
    def default_datastore(self) -> str:
        return self.record.default_datastore

    def asset_id(self, kind: str, name: str, version: str | None = None) -> str:
        base = f"azureml:{workspace_arm_id(self.name)}/{kind}/{name}"
        return f"{base}/versions/{version}" if version is not None else base


class WorkspaceService:
    """Create, find, open and delete workspaces.

    Opened workspaces are cached per service so the database is migrated/opened once per process.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._open: dict[str, WorkspaceContext] = {}
        self._lock = threading.RLock()
        self._catalog: WorkspaceCatalog | None = None

    @property
    def catalog(self) -> WorkspaceCatalog:
        """The catalog, opened on first use (a database is reached only when needed)."""
        with self._lock:
            if self._catalog is None:
                self._catalog = open_catalog(self.settings)
            return self._catalog

    # -- queries -------------------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        return self.catalog.get(name) is not None

    def get(self, name: str) -> Workspace:
        """The workspace entity; raises :class:`WorkspaceNotFoundError`."""
        return self._to_entity(self._record(name))

    def list(self) -> list[Workspace]:
        return [self._to_entity(r) for r in self.catalog.list()]

    def not_found(self, name: str) -> WorkspaceNotFoundError:
        """The error a missing workspace *name* raises (also what the server answers a token of
        another workspace, so that it cannot tell a missing workspace from one it may not see)."""
        where = (f"in the database {DATABASE_URL_ENV} names" if self.settings.database_url
                 else f"under {self.settings.workspaces_dir}")
        return WorkspaceNotFoundError(
            f"No workspace named '{name}' {where}. Create it with: openaml workspace create -n {name}",
            workspace=name)

    # -- commands ------------------------------------------------------------------------------
    def create(self, workspace: Workspace, *, database_url: str | None = None,
               exist_ok: bool = False) -> Workspace:
        """Create the workspace with its default datastores, all or nothing.

        An existing one is :class:`AlreadyExistsError`, or with *exist_ok* returned as it is
        (nothing of it rewritten); of concurrent creates of one name exactly one wins.
        ``database_url``: keep the workspace in that database's catalog (a home without a
        database URL of its own remembers where it is).
        """
        name = check_name("workspace", workspace.name)
        catalog_url = self._catalog_url(database_url)
        existing = self.catalog.get(name)
        if existing is not None:
            return self._existing(existing, exist_ok)
        if self.settings.database_url and (self.settings.workspace_dir(name) / WORKSPACE_FILE).is_file():
            raise AlreadyExistsError(
                f"this home has a workspace '{name}' in its folder, made without {DATABASE_URL_ENV}: "
                "pick another name, or open that one without the database URL", name=name)
        if workspace.storage is not None:  # checked before anything is created
            probe(workspace.storage, open_workspace_storage(workspace.storage, name, creating=True))
        record = self._new_record(workspace, catalog_url)
        sealer = self.catalog.secrets(record)
        if workspace.storage is not None:
            public, secrets = split_secrets(workspace.storage)
            record = record.changed(storage=public.model_dump(mode="json", exclude_none=True),
                                    storage_secret=sealer.encrypt(secrets) if secrets else None)
        try:
            self.catalog.create(record, self._default_datastores(record, workspace.storage, sealer),
                                _layout(workspace.storage))
        except AlreadyExistsError:
            won = self.catalog.get(name)
            if won is None:
                raise
            return self._existing(won, exist_ok)
        return self._to_entity(record)

    def update(self, workspace: Workspace) -> Workspace:
        """Change description, display name and tags of an existing workspace."""
        record = self._record(workspace.name)
        spec = dict(record.spec)
        for key in ("description", "display_name", "tags"):
            value = getattr(workspace, key)
            if value is not None:
                spec[key] = value
        record = record.changed(spec=spec)
        self.catalog.update(record)
        with self._lock:
            if workspace.name in self._open:
                self._open[workspace.name].record = record
        return self._to_entity(record)

    def update_storage_credentials(self, name: str, credentials: Any) -> Workspace:
        """Replace the credentials of a workspace's object storage (a rotated key, a new SAS
        token; None: the identity chain), checked against the storage first. The default
        datastore on that storage takes them too."""
        record = self._record(name)
        sealer = self.catalog.secrets(record)
        current = self._storage(record, sealer)
        if current is None:
            raise ValidationError(f"workspace '{name}' keeps its bytes in its folder: it has no storage "
                                  "credentials to change", field="storage")
        storage = WorkspaceStorage(**current.model_dump(exclude={"credentials"}), credentials=credentials)
        probe(storage, open_workspace_storage(storage, name))
        _, secrets = split_secrets(storage)
        record = record.changed(storage_secret=sealer.encrypt(secrets) if secrets else None)
        self.catalog.update(record)
        self._forget(name)  # opened with the old credentials: opened again on next use
        ctx = self.open(name)
        blobstore = ctx.metadata.get_resource(name, "datastores", STORAGE_DATASTORE)
        on_storage = blobstore is not None and storage.container in (blobstore.spec.get("container_name"),
                                                                     blobstore.spec.get("bucket"))
        if on_storage:  # not when the user pointed it elsewhere since
            self._put_datastore(ctx, storage.datastore(STORAGE_DATASTORE, blobstore.spec.get("description")))  # type: ignore[union-attr]
        return self._to_entity(record)

    def delete(self, name: str) -> None:
        """Remove a workspace with everything in it: its catalog entry and metadata rows (one
        transaction in a database), this machine's folder of it, and the folder of its files."""
        record = self._record(name)
        self._forget(name)
        self.catalog.delete(record)
        try:
            folder = self.settings.workspace_dir(name)
        except ValidationError:  # a row whose name is no folder name: nothing of it on disk here
            return
        for path in {folder, self._files_folder(record)}:
            if path == folder or _is_workspace_folder(path, name):
                _remove_folder(path)

    def opened(self, name: str) -> WorkspaceContext | None:
        """The workspace if this service has opened it already, else None; never blocks (no
        lock, no I/O), so a server's event loop may ask."""
        return self._open.get(name)

    def open(self, name: str) -> WorkspaceContext:
        """Open (once per process) the stores of a workspace."""
        with self._lock:
            if name in self._open:
                return self._open[name]
            ctx = self._open[name] = self._open_record(self._record(name))
            ctx.artifacts.sweep_temp()  # uploads a killed process left in flight, over a day old
            return ctx

    def check_key(self) -> None:
        """Check the configured secret key against the catalog now (creating the key file on
        first use); :class:`~openaml.errors.SecretKeyError` names the setting to fix."""
        self.catalog.check_key()

    def rotate_key(self, new_keys: Sequence[bytes]) -> int:
        """Seal every secret of every workspace with the first of *new_keys* (see
        :mod:`openaml.services.key_rotation`, which makes it the current key); return how many."""
        for name in list(self._open):
            self._forget(name)
        return self.catalog.rotate_key(new_keys)

    def close(self) -> None:
        with self._lock:
            opened, self._open = list(self._open.values()), {}
            catalog, self._catalog = self._catalog, None
        for ctx in opened:
            ctx.metadata.close()
        if catalog is not None:
            catalog.close()

    # -- internals -----------------------------------------------------------------------------
    def _forget(self, name: str) -> None:
        """Close an opened workspace (opened again on next use)."""
        with self._lock:
            ctx = self._open.pop(name, None)
        if ctx is not None:
            ctx.metadata.close()

    def _catalog_url(self, database_url: str | None) -> str | None:
        """The database whose catalog a new workspace goes in (None: the home's folders)."""
        if not self.settings.database_url:
            return database_url or None
        if database_url and database_url != self.settings.database_url:
            raise ValidationError(f"this home's workspaces are in the database {DATABASE_URL_ENV} names; a "
                                  "workspace cannot be put in another one", field="database_url")
        return self.settings.database_url

    def _existing(self, record: WorkspaceRecord, exist_ok: bool) -> Workspace:
        if exist_ok:
            return self._to_entity(record)
        where = "" if record.catalog_url else f" at {self.settings.workspace_dir(record.name)}"
        raise AlreadyExistsError(f"Workspace '{record.name}' already exists{where}.", name=record.name)

    def _new_record(self, workspace: Workspace, catalog_url: str | None) -> WorkspaceRecord:
        spec = workspace.model_dump(mode="json", exclude_none=True,
                                    exclude={"id", "mlflow_tracking_uri", "discovery_url", "storage"})
        spec.pop("name", None)
        return WorkspaceRecord(name=workspace.name, spec=spec, default_datastore=DEFAULT_DATASTORE,
                               created_at=datetime.now(timezone.utc),
                               folder=str(self.settings.workspace_dir(workspace.name)), catalog_url=catalog_url)

    def _default_datastores(self, record: WorkspaceRecord, storage: WorkspaceStorage | None,
                            sealer: Sealer) -> list[NewResource]:
        """The default datastores' rows, their credentials sealed as the datastore service seals them."""
        rows = []
        for ds in DEFAULT_DATASTORES:
            description = f"Default datastore '{ds}' of workspace {record.name}"
            entity: Datastore = LocalDatastore(name=ds, path=str(Path(record.folder or "") / "datastores" / ds),
                                               description=description)
            if storage is not None and ds == STORAGE_DATASTORE:
                entity = storage.datastore(ds, description)
            public, secrets = split_secrets(entity)
            rows.append(NewResource("datastores", ds, public.model_dump(mode="json", exclude_none=True, exclude={"id"}),
                                    sealer.encrypt(secrets) if secrets else None))
        return rows

    def _open_record(self, record: WorkspaceRecord) -> WorkspaceContext:
        folder = self.settings.workspace_dir(record.name)  # checks the name: one folder name
        sealer = self.catalog.secrets(record)
        storage = self._storage(record, sealer)
        if storage is None:
            artifacts = ArtifactStore(str(self._files_folder(record, must_exist=True) / "artifacts"))
        else:
            folder.mkdir(parents=True, exist_ok=True)
            artifacts = open_artifact_store(open_workspace_storage(storage, record.name), storage.prefix,
                                            digest_cache=folder / "digests.sqlite",
                                            stored_blobs=folder / "stored-blobs.sqlite", storage=storage)
        folder.mkdir(parents=True, exist_ok=True)  # the local cache, made on demand
        return WorkspaceContext(name=record.name, folder=folder, metadata=self.catalog.metadata(record),
                                artifacts=artifacts, secrets=sealer, record=record)

    def _files_folder(self, record: WorkspaceRecord, *, must_exist: bool = False) -> Path:
        """Where the workspace's files that are not on object storage are."""
        mine = self.settings.workspace_dir(record.name)
        path = Path(record.folder) if record.folder else mine
        if must_exist and path != mine and not path.is_dir():
            raise StoreUnavailableError(
                f"workspace '{record.name}' keeps its files in {path}, a folder of the home that created it, "
                "which this machine does not have: a workspace used from several machines keeps its bytes on "
                "object storage (workspace create --storage, a server's --storage)", workspace=record.name)
        return path

    def _record(self, name: str) -> WorkspaceRecord:
        record = self.catalog.get(name)
        if record is None:
            raise self.not_found(name)
        return record

    @staticmethod
    def _put_datastore(ctx: WorkspaceContext, entity: Datastore) -> None:
        """Store a default datastore, its credentials sealed as the datastore service seals them."""
        public, secrets = split_secrets(entity)
        ctx.metadata.put_resource(ctx.name, "datastores", entity.name,
                                  public.model_dump(mode="json", exclude_none=True, exclude={"id"}),
                                  ctx.secrets.encrypt(secrets) if secrets else None)

    @staticmethod
    def _storage(record: WorkspaceRecord, sealer: Sealer) -> WorkspaceStorage | None:
        """The workspace's object storage with its credentials, or None (its folder)."""
        if not record.storage:
            return None
        storage = WorkspaceStorage.model_validate(record.storage)
        return merge_secrets(storage, sealer.decrypt(record.storage_secret)) if record.storage_secret else storage

    @staticmethod
    def _to_entity(record: WorkspaceRecord) -> Workspace:
        spec = dict(record.spec)
        if record.storage:  # where it is, never its credentials (they are sealed apart)
            spec["storage"] = record.storage
        spec["name"] = record.name
        spec["id"] = workspace_arm_id(record.name)
        spec.setdefault("location", "local")
        spec.setdefault("resource_group", RESOURCE_GROUP)
        return Workspace.model_validate(spec)


def _layout(storage: WorkspaceStorage | None) -> list[str]:
    """The folders a new workspace's files need (relative to its folder)."""
    layout = ["artifacts/tmp"] if storage is None else []  # what the artifact store's first open makes
    return layout + [f"datastores/{ds}" for ds in DEFAULT_DATASTORES if storage is None or ds != STORAGE_DATASTORE]


def _is_workspace_folder(path: Path, name: str) -> bool:
    """Whether *path* looks like a home's folder of workspace *name* (``.../workspaces/<name>``):
    a catalog row naming anything else is not followed to remove it."""
    return path.name == name and path.parent.name == "workspaces"


def _remove_folder(path: Path) -> None:
    if not path.exists():
        return
    trash = path.with_name(f".deleting-{path.name}-{os.getpid()}")
    try:
        os.replace(path, trash)  # disappears at once; the slow removal follows
    except OSError:
        trash = path
    shutil.rmtree(trash, ignore_errors=True)
