"""FolderCatalog: a home's workspaces as ``<home>/workspaces/<name>/workspace.json`` files (the
layout of a home without a database URL, unchanged for existing homes).

A ``workspace.json`` is one of:

- a workspace's record (name, created_at, default_datastore, spec, storage and its sealed
  ``storage_secrets``, and ``database_url`` for the workspaces older openaml made with
  ``--database-url``), its metadata in the folder's ``metadata.db`` unless that URL says;
- a link ``{"name", "catalog_url"}`` to a database's catalog, written by ``workspace create
  --database-url`` in a home that has no database URL of its own: the record lives in that
  database (see :class:`~openaml.store.catalog.DatabaseCatalog`), and the folder is a cache.

Secrets are sealed with the home's key (``OPENAML_SECRET_KEY`` or the key file), checked against
``workspaces/.key-check``; a workspace made before keys were per home keeps its own
``secret.key``, still read (and dropped from use by the next ``rotate-key``).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from openaml.errors import AlreadyExistsError, WorkspaceNotFoundError
from openaml.paths import safe_join
from openaml.store.catalog import DatabaseCatalog, NewResource, WorkspaceRecord, reseal_database
from openaml.store.keyring import KeyRing
from openaml.store.metadata import MetadataStore
from openaml.store.records import as_utc
from openaml.store.secrets import KeySource, SecretBox, Sealer, write_private_file

WORKSPACE_FILE = "workspace.json"
#: A workspace's own key, from before keys were per home: read, never written.
LEGACY_KEY_FILE = "secret.key"
KEY_CHECK_FILE = ".key-check"


class FolderCatalog:
    """The workspaces under *root* (``<home>/workspaces``)."""

    def __init__(self, root: Path, source: KeySource) -> None:
        self.root = Path(root)
        self.source = source
        self.label = f"the workspaces under {self.root}"
        self.ring = KeyRing(source, self)
        self._linked: dict[str, DatabaseCatalog] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FolderCatalog({str(self.root)!r})"

    def folder(self, name: str) -> Path:
        """The folder of workspace *name*; a name that is not one folder name is refused."""
        return safe_join(self.root, name, field="workspace", names=True)

    # -- records -------------------------------------------------------------------------------
    def get(self, name: str) -> WorkspaceRecord | None:
        folder = self.folder(name)
        try:
            data = json.loads((folder / WORKSPACE_FILE).read_text())
        except FileNotFoundError:
            return None
        if data.get("catalog_url"):
            return self.linked(data["catalog_url"]).get(name)
        return _record(data, folder)

    def list(self) -> list[WorkspaceRecord]:
        if not self.root.is_dir():
            return []
        names = sorted(p.name for p in self.root.iterdir()
                       if not p.name.startswith(".") and (p / WORKSPACE_FILE).is_file())
        return [r for r in (self.get(n) for n in names) if r is not None]

    def create(self, record: WorkspaceRecord, resources: Sequence[NewResource], layout: Sequence[str]) -> None:
        final = self.folder(record.name)
        if (final / WORKSPACE_FILE).is_file():
            raise _exists(record.name, final)
        if record.catalog_url:
            self._create_linked(record, resources, layout, final)
            return
        if final.exists():  # a leftover without workspace.json: an interrupted create
            shutil.rmtree(final)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=f".creating-{record.name}-"))
        try:
            for rel in layout:
                (staging / rel).mkdir(parents=True, exist_ok=True)
            store = self._store(record, staging)
            try:
                for res in resources:
                    store.put_resource(record.name, res.kind, res.name, res.spec, res.secret)
            finally:
                store.close()
            _write_json(staging / WORKSPACE_FILE, _data(record))
            try:
                os.replace(staging, final)  # the workspace appears whole or not at all
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):  # a concurrent create won
                    raise _exists(record.name, final) from None
                raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _create_linked(self, record: WorkspaceRecord, resources: Sequence[NewResource], layout: Sequence[str],
                       final: Path) -> None:
        catalog = self.linked(record.catalog_url or "")
        catalog.create(record, resources, layout)
        link = json.dumps({"name": record.name, "catalog_url": record.catalog_url}, indent=2).encode()
        try:
            write_private_file(final / WORKSPACE_FILE, link, replace=False, what="a workspace")
        except AlreadyExistsError:
            catalog.delete(record)
            raise _exists(record.name, final) from None

    def update(self, record: WorkspaceRecord) -> None:
        if record.catalog_url:
            self.linked(record.catalog_url).update(record)
            return
        path = self.folder(record.name) / WORKSPACE_FILE
        if not path.is_file():
            raise WorkspaceNotFoundError(f"No workspace named '{record.name}' under {self.root}.",
                                         workspace=record.name)
        _write_json(path, _data(record))

    def delete(self, record: WorkspaceRecord) -> None:
        """Remove the workspace's rows (from its database, when elsewhere) and its folder."""
        if record.catalog_url:
            self.linked(record.catalog_url).delete(record)
        elif record.database_url:  # shared database: remove only this workspace's rows
            store = MetadataStore(record.database_url)
            try:
                store.delete_workspace_rows(record.name)
            finally:
                store.close()
        folder = self.folder(record.name)
        if folder.exists():
            trash = folder.with_name(f".deleting-{record.name}-{os.getpid()}")
            os.replace(folder, trash)  # disappears at once; the slow removal follows
            shutil.rmtree(trash, ignore_errors=True)

    def metadata(self, record: WorkspaceRecord) -> MetadataStore:
        if record.catalog_url:
            return self.linked(record.catalog_url).metadata(record)
        return self._store(record, self.folder(record.name))

    def secrets(self, record: WorkspaceRecord) -> Sealer:
        if record.catalog_url:
            return self.linked(record.catalog_url).secrets(record)
        folder = self.folder(record.name)
        legacy = folder / LEGACY_KEY_FILE  # not a leftover of an interrupted create: a workspace's
        return self.ring.sealer(legacy if legacy.is_file() and (folder / WORKSPACE_FILE).is_file() else None)

    def check_key(self) -> None:
        self.ring.check()

    def rotate_key(self, new_keys: Sequence[bytes]) -> int:
        """Workspace by workspace (each its own transaction), then every linked database (each
        one transaction), then the key check: a crash half-way leaves values sealed with either
        key, which a second run reseals."""
        count = 0
        links: set[str] = set()
        for record in self.list():
            if record.catalog_url:
                links.add(record.catalog_url)
                continue
            legacy = self.folder(record.name) / LEGACY_KEY_FILE
            box = self.ring.rotating(new_keys, SecretBox.open(legacy).keys if legacy.is_file() else ())
            store = self.metadata(record)
            try:
                count += reseal_database(store, box, names=[record.name], check=None)
            finally:
                store.close()
            if record.storage_secret:
                self.update(record.changed(storage_secret=box.rotate(record.storage_secret)))
                count += 1
        for url in sorted(links):
            count += self.linked(url).rotate_key(new_keys)
        write_private_file(self.root / KEY_CHECK_FILE, KeyRing.check_token(new_keys), replace=True)
        return count

    def close(self) -> None:
        with self._lock:
            catalogs, self._linked = list(self._linked.values()), {}
        for catalog in catalogs:
            catalog.close()

    # -- the key check -------------------------------------------------------------------------
    def key_check(self) -> bytes | None:
        try:
            return (self.root / KEY_CHECK_FILE).read_bytes()
        except FileNotFoundError:
            return None

    def claim_key_check(self, token: bytes) -> bytes:
        try:
            write_private_file(self.root / KEY_CHECK_FILE, token, replace=False, what="a key check")
        except AlreadyExistsError:
            pass  # a concurrent first use wrote its own: that one stands
        return (self.root / KEY_CHECK_FILE).read_bytes()

    # -- internals -----------------------------------------------------------------------------
    def linked(self, url: str) -> DatabaseCatalog:
        """The catalog of the database a link names (opened once)."""
        with self._lock:
            if url not in self._linked:
                self._linked[url] = DatabaseCatalog(url, self.source)
            return self._linked[url]

    @staticmethod
    def _store(record: WorkspaceRecord, folder: Path) -> MetadataStore:
        if record.database_url:
            return MetadataStore(record.database_url)
        return MetadataStore.for_sqlite_file(folder / "metadata.db")


def _exists(name: str, folder: Path) -> AlreadyExistsError:
    return AlreadyExistsError(f"Workspace '{name}' already exists at {folder}.", name=name)


def _record(data: dict[str, Any], folder: Path) -> WorkspaceRecord:
    sealed = data.get("storage_secrets")
    return WorkspaceRecord(name=data["name"], spec=dict(data.get("spec") or {}),
                           default_datastore=data.get("default_datastore") or "workspaceblobstore",
                           created_at=as_utc(datetime.fromisoformat(data["created_at"])), folder=str(folder),
                           storage=data.get("storage") or None,
                           storage_secret=sealed.encode() if sealed else None,
                           database_url=data.get("database_url") or None)


def _data(record: WorkspaceRecord) -> dict[str, Any]:
    """A record as ``workspace.json`` holds it (the layout older openaml reads too)."""
    data: dict[str, Any] = {"name": record.name, "created_at": record.created_at.isoformat(),
                            "default_datastore": record.default_datastore, "spec": record.spec}
    if record.storage:
        data["storage"] = record.storage
    if record.storage_secret:
        data["storage_secrets"] = record.storage_secret.decode()
    if record.database_url:
        data["database_url"] = record.database_url
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)
