"""Workspaces: a folder under ``$OPENAML_HOME/workspaces/<name>`` holding the metadata database
(SQLite by default, or a PostgreSQL URL recorded at creation), the content-addressed artifact
store, the secret key and the folders behind the default datastores.

A workspace created with object storage (:class:`~openaml.entities.WorkspaceStorage`) keeps its
artifact store under the storage's prefix and has its default datastore, ``workspaceblobstore``,
on that container or bucket; the storage's credentials are sealed with the workspace's key in
``workspace.json``. Its folder keeps the rest: the database, the key, caches, and the
``workspaceartifactstore`` folder where running jobs write their logs.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openaml.constants import DEFAULT_DATASTORE, DEFAULT_DATASTORES
from openaml.entities import LocalDatastore, Workspace, WorkspaceStorage
from openaml.entities.datastore import Datastore
from openaml.entities.secrets import merge_secrets, split_secrets
from openaml.errors import AlreadyExistsError, ValidationError, WorkspaceNotFoundError
from openaml.names import check_name
from openaml.services.settings import Settings
from openaml.store.artifacts import ArtifactStore
from openaml.store.metadata import MetadataStore
from openaml.store.secrets import SecretBox
from openaml.store.workspace_storage import open_artifact_store, open_workspace_storage, probe

if TYPE_CHECKING:
    from openaml.store.jobs import JobStore
    from openaml.store.step_runs import StepRunStore
    from openaml.store.tracking import TrackingStore

WORKSPACE_FILE = "workspace.json"
# The default datastore that lives on a workspace's object storage (the others stay folders:
# running jobs write their logs into workspaceartifactstore's).
STORAGE_DATASTORE = DEFAULT_DATASTORE
# Azure-shaped ids, so code that parses them keeps working; the segments are fixed locally.
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "openaml"


def workspace_arm_id(name: str) -> str:
    return (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{name}")


@dataclass
class WorkspaceContext:
    """An open workspace: what every service needs to act inside it."""

    name: str
    folder: Path
    metadata: MetadataStore
    artifacts: ArtifactStore
    secrets: SecretBox
    config: dict[str, Any]

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
        return self.config.get("default_datastore", DEFAULT_DATASTORE)

    def asset_id(self, kind: str, name: str, version: str | None = None) -> str:
        base = f"azureml:{workspace_arm_id(self.name)}/{kind}/{name}"
        return f"{base}/versions/{version}" if version is not None else base


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


class WorkspaceService:
    """Create, find, open and delete local workspaces.

    Opened workspaces are cached per service so the database is migrated/opened once per process.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._open: dict[str, WorkspaceContext] = {}
        self._lock = threading.Lock()

    # -- queries -------------------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        return (self.settings.workspace_dir(name) / WORKSPACE_FILE).is_file()

    def get(self, name: str) -> Workspace:
        """The workspace entity; raises :class:`WorkspaceNotFoundError`."""
        config = self._read_config(name)
        return self._to_entity(config)

    def list(self) -> list[Workspace]:
        root = self.settings.workspaces_dir
        if not root.is_dir():
            return []
        names = sorted(p.name for p in root.iterdir() if (p / WORKSPACE_FILE).is_file())
        return [self.get(n) for n in names]

    # -- commands ------------------------------------------------------------------------------
    def create(self, workspace: Workspace, *, database_url: str | None = None,
               exist_ok: bool = False) -> Workspace:
        """Create the folder, the stores and the default datastores, all or nothing."""
        name = check_name("workspace", workspace.name)
        if self.exists(name):
            if exist_ok:
                return self.get(name)
            raise AlreadyExistsError(f"Workspace '{name}' already exists at {self.settings.workspace_dir(name)}.")
        if workspace.storage is not None:  # checked before anything is created
            probe(workspace.storage, open_workspace_storage(workspace.storage, name, creating=True))
        final = self.settings.workspace_dir(name)
        if final.exists():  # a leftover without workspace.json: an interrupted create
            shutil.rmtree(final)
        self.settings.workspaces_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.settings.workspaces_dir, prefix=f".creating-{name}-"))
        try:
            config = self._init_folder(staging, workspace, database_url)
            os.replace(staging, final)  # the workspace appears whole or not at all
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            ctx = self.open(name)
            self._create_default_datastores(ctx)
        except BaseException:
            self._open.pop(name, None)
            shutil.rmtree(final, ignore_errors=True)
            raise
        return self._to_entity(config)

    def update(self, workspace: Workspace) -> Workspace:
        """Change description, display name and tags of an existing workspace."""
        config = self._read_config(workspace.name)
        spec = config.setdefault("spec", {})
        for key in ("description", "display_name", "tags"):
            value = getattr(workspace, key)
            if value is not None:
                spec[key] = value
        _write_json_atomic(self.settings.workspace_dir(workspace.name) / WORKSPACE_FILE, config)
        if workspace.name in self._open:
            self._open[workspace.name].config = config
        return self._to_entity(config)

    def update_storage_credentials(self, name: str, credentials: Any) -> Workspace:
        """Replace the credentials of a workspace's object storage (a rotated key, a new SAS
        token; None: the identity chain), checked against the storage first. The default
        datastore on that storage takes them too."""
        config = self._read_config(name)
        folder = self.settings.workspace_dir(name)
        box = SecretBox.open(folder / "secret.key")
        current = self._storage(config, box)
        if current is None:
            raise ValidationError(f"workspace '{name}' keeps its bytes in its folder: it has no storage "
                                  "credentials to change", field="storage")
        storage = WorkspaceStorage(**current.model_dump(exclude={"credentials"}), credentials=credentials)
        probe(storage, open_workspace_storage(storage, name))
        config.pop("storage_secrets", None)
        config.update(self._sealed_storage(storage, box))
        _write_json_atomic(folder / WORKSPACE_FILE, config)
        with self._lock:  # opened with the old credentials: opened again on next use
            stale = self._open.pop(name, None)
        if stale is not None:
            stale.metadata.close()
        ctx = self.open(name)
        blobstore = ctx.metadata.get_resource(name, "datastores", STORAGE_DATASTORE)
        on_storage = blobstore is not None and storage.container in (blobstore.spec.get("container_name"),
                                                                     blobstore.spec.get("bucket"))
        if on_storage:  # not when the user pointed it elsewhere since
            self._put_datastore(ctx, storage.datastore(STORAGE_DATASTORE, blobstore.spec.get("description")))  # type: ignore[union-attr]
        return self._to_entity(config)

    def delete(self, name: str) -> None:
        """Remove a workspace with everything in it."""
        config = self._read_config(name)
        ctx = self._open.pop(name, None)
        if config.get("database_url"):  # shared database: remove only this workspace's rows
            store = ctx.metadata if ctx else MetadataStore(config["database_url"])
            store.delete_workspace_rows(name)
        if ctx:
            ctx.metadata.close()
        folder = self.settings.workspace_dir(name)
        trash = folder.with_name(f".deleting-{name}-{os.getpid()}")
        os.replace(folder, trash)  # disappears at once; the slow removal follows
        shutil.rmtree(trash, ignore_errors=True)

    def opened(self, name: str) -> WorkspaceContext | None:
        """The workspace if this service has opened it already, else None; never blocks (no
        lock, no I/O), so a server's event loop may ask."""
        return self._open.get(name)

    def open(self, name: str) -> WorkspaceContext:
        """Open (once per process) the stores of a workspace."""
        with self._lock:
            if name in self._open:
                return self._open[name]
            config = self._read_config(name)
            folder = self.settings.workspace_dir(name)
            secrets = SecretBox.open(folder / "secret.key")
            storage = self._storage(config, secrets)
            if storage is None:
                artifacts = ArtifactStore(str(folder / "artifacts"))
            else:
                artifacts = open_artifact_store(open_workspace_storage(storage, name), storage.prefix,
                                                digest_cache=folder / "digests.sqlite",
                                                stored_blobs=folder / "stored-blobs.sqlite", storage=storage)
            url = config.get("database_url")
            metadata = MetadataStore(url) if url else MetadataStore.for_sqlite_file(folder / "metadata.db")
            ctx = WorkspaceContext(name=name, folder=folder, metadata=metadata, artifacts=artifacts,
                                   secrets=secrets, config=config)
            self._open[name] = ctx
            ctx.artifacts.sweep_temp()  # uploads a killed process left in flight, over a day old
            return ctx

    def close(self) -> None:
        with self._lock:
            for ctx in self._open.values():
                ctx.metadata.close()
            self._open.clear()

    # -- internals -----------------------------------------------------------------------------
    def _init_folder(self, folder: Path, workspace: Workspace, database_url: str | None) -> dict[str, Any]:
        if workspace.storage is None:
            (folder / "artifacts").mkdir()
        for ds in DEFAULT_DATASTORES:
            if workspace.storage is None or ds != STORAGE_DATASTORE:
                (folder / "datastores" / ds).mkdir(parents=True)
        box = SecretBox.create(folder / "secret.key")
        spec = workspace.model_dump(mode="json", exclude_none=True,
                                    exclude={"id", "mlflow_tracking_uri", "discovery_url", "storage"})
        config = {
            "name": workspace.name,
            "created_at": datetime.now(timezone.utc).isoformat(),
            "default_datastore": DEFAULT_DATASTORE,
            "spec": spec,
        }
        if workspace.storage is not None:
            config.update(self._sealed_storage(workspace.storage, box))
        if database_url:
            config["database_url"] = database_url
            MetadataStore(database_url).close()  # fail now, not later, on a bad URL
        else:
            MetadataStore.for_sqlite_file(folder / "metadata.db").close()
        _write_json_atomic(folder / WORKSPACE_FILE, config)
        return config

    def _create_default_datastores(self, ctx: WorkspaceContext) -> None:
        storage = self._storage(ctx.config, ctx.secrets)
        for ds in DEFAULT_DATASTORES:
            description = f"Default datastore '{ds}' of workspace {ctx.name}"
            entity: Datastore = LocalDatastore(name=ds, path=str(ctx.folder / "datastores" / ds),
                                               description=description)
            if storage is not None and ds == STORAGE_DATASTORE:
                entity = storage.datastore(ds, description)
            self._put_datastore(ctx, entity)

    @staticmethod
    def _put_datastore(ctx: WorkspaceContext, entity: Datastore) -> None:
        """Store a default datastore, its credentials sealed as the datastore service seals them."""
        public, secrets = split_secrets(entity)
        ctx.metadata.put_resource(ctx.name, "datastores", entity.name,
                                  public.model_dump(mode="json", exclude_none=True, exclude={"id"}),
                                  ctx.secrets.encrypt(secrets) if secrets else None)

    @staticmethod
    def _sealed_storage(storage: WorkspaceStorage, box: SecretBox) -> dict[str, Any]:
        """The config entries of a storage: its public part, and its credentials sealed."""
        public, secrets = split_secrets(storage)
        entries: dict[str, Any] = {"storage": public.model_dump(mode="json", exclude_none=True)}
        if secrets:
            entries["storage_secrets"] = box.encrypt(secrets).decode()
        return entries

    @staticmethod
    def _storage(config: dict[str, Any], box: SecretBox) -> WorkspaceStorage | None:
        """The workspace's object storage with its credentials, or None (its folder)."""
        if not config.get("storage"):
            return None
        storage = WorkspaceStorage.model_validate(config["storage"])
        sealed = config.get("storage_secrets")
        return merge_secrets(storage, box.decrypt(sealed.encode())) if sealed else storage

    def _read_config(self, name: str) -> dict[str, Any]:
        path = self.settings.workspace_dir(name) / WORKSPACE_FILE
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise WorkspaceNotFoundError(
                f"No workspace named '{name}' under {self.settings.workspaces_dir}. "
                f"Create it with: openaml workspace create -n {name}", workspace=name) from None

    def _to_entity(self, config: dict[str, Any]) -> Workspace:
        spec = dict(config.get("spec", {}))
        if config.get("storage"):  # where it is, never its credentials (they are sealed apart)
            spec["storage"] = config["storage"]
        spec["name"] = config["name"]
        spec["id"] = workspace_arm_id(config["name"])
        spec.setdefault("location", "local")
        spec.setdefault("resource_group", RESOURCE_GROUP)
        return Workspace.model_validate(spec)
