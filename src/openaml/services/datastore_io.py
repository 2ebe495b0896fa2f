"""Reading and writing a datastore: a folder on this machine, or remote storage through fsspec.

:func:`open_datastore` chooses once, by the datastore's type, between :class:`LocalFolder` and
:class:`RemoteStore`; both offer what jobs and the registry need (:class:`DatastoreIO`): check
a path at submission, read a path as content of the workspace's store, publish content at a
path, and the URI and environment variables a job reading in ``direct`` mode gets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from openaml.entities import LocalDatastore
from openaml.entities.datastore import Datastore
from openaml.paths import safe_join
from openaml.services import contents, remote_data
from openaml.services.datastores import DatastoreService
from openaml.services.locations import (DATASTORE_URI, StorageUri, adhoc_datastore, match_datastore,
                                        parse_storage_uri, uri_path)
from openaml.services.workspaces import WorkspaceContext
from openaml.store.storage import FileSystemFactory, Storage, credential_env, open_storage

Log = Callable[[str], None]


@dataclass(frozen=True)
class ReadResult:
    """A datastore path read into the store: its content, and a line saying what moved (None
    when nothing crossed a network: a local folder)."""

    content: contents.Content
    summary: str | None = None


class DatastoreIO(Protocol):
    """One datastore, opened for jobs and the registry."""

    name: str
    remote: bool

    def check_path(self, rel: str, *, field: str) -> None:
        """Refuse, now, a path that could not be read or written (a symlink leading out)."""
        ...

    def read(self, ctx: WorkspaceContext, rel: str, *, field: str) -> ReadResult:
        """The file or folder *rel* as content of the workspace's store."""
        ...

    def publish(self, ctx: WorkspaceContext, rel: str, content: contents.Content, *, label: str,
                warn: Log) -> str | None:
        """Write *content* at *rel* (a folder's files merged under it, a file as ``rel``), each
        reader seeing whole files only; returns a line saying what moved, or None."""
        ...

    def direct_uri(self, rel: str) -> str:
        """What a job reading *rel* in ``direct`` mode is given."""
        ...

    def job_env(self) -> dict[str, str]:
        """The variables through which a ``direct`` job finds the datastore's credentials."""
        ...


class LocalFolder:
    """A ``local`` datastore: its folder, read by snapshotting into the store."""

    remote = False

    def __init__(self, datastore: LocalDatastore) -> None:
        self.name, self.folder = datastore.name, Path(datastore.path)

    def check_path(self, rel: str, *, field: str) -> None:
        safe_join(self.folder, rel, field=field)

    def read(self, ctx: WorkspaceContext, rel: str, *, field: str) -> ReadResult:
        return ReadResult(contents.snapshot(ctx, self.folder, rel, f"datastore {self.name}", field=field))

    def publish(self, ctx: WorkspaceContext, rel: str, content: contents.Content, *, label: str,
                warn: Log) -> str | None:
        location = safe_join(self.folder, rel, field="path")
        ctx.artifacts.materialize_into(content.digest, location.parent if content.kind == "file" else location)
        return None

    def direct_uri(self, rel: str) -> str:
        return str(safe_join(self.folder, rel, field="path"))

    def job_env(self) -> dict[str, str]:
        return {}


class RemoteStore:
    """A datastore on remote storage (Azure Blob, ADLS Gen2, Azure Files, S3)."""

    remote = True

    def __init__(self, datastore: Datastore, storage: Storage) -> None:
        self.name, self.datastore, self.storage = datastore.name, datastore, storage

    def check_path(self, rel: str, *, field: str) -> None:
        self.storage.path(rel, field=field)

    def read(self, ctx: WorkspaceContext, rel: str, *, field: str) -> ReadResult:
        content, moved = remote_data.fetch(ctx, self.storage, rel, field=field)
        return ReadResult(content, f"{self.storage.url(rel)}: {moved.describe('downloaded')}")

    def publish(self, ctx: WorkspaceContext, rel: str, content: contents.Content, *, label: str,
                warn: Log) -> str | None:
        moved = remote_data.publish(ctx, self.storage, rel, content, label=label, warn=warn)
        return f"{self.storage.url(rel)}: {moved.describe('uploaded')}"

    def direct_uri(self, rel: str) -> str:
        return self.storage.url(rel)

    def job_env(self) -> dict[str, str]:
        return credential_env(self.datastore)


def open_datastore(ctx: WorkspaceContext, name: str, *, factory: FileSystemFactory | None = None) -> DatastoreIO:
    """The registered datastore *name*, opened with its secrets (raises NotFoundError naming it)."""
    datastore = DatastoreService(ctx).get(name, include_secrets=True)
    if isinstance(datastore, LocalDatastore):
        return LocalFolder(datastore)
    return RemoteStore(datastore, open_storage(datastore, factory=factory))


def open_uri(uri: StorageUri) -> DatastoreIO:
    """The storage of a URI no registered datastore matches, opened without credentials."""
    datastore = adhoc_datastore(uri)
    return RemoteStore(datastore, open_storage(datastore, anonymous=uri.service == "azure"))


def open_remote(ctx: WorkspaceContext, *, datastore: str | None = None, uri: str | None = None) -> Storage | None:
    """The remote storage of the registered *datastore*, or of a storage *uri* no registered
    datastore matches (opened without credentials, as :func:`open_uri`); None for a local
    datastore. What a mount reads from."""
    if datastore is not None:
        target = open_datastore(ctx, datastore)
        return target.storage if isinstance(target, RemoteStore) else None
    parsed = parse_storage_uri(uri or "", field="path")
    if parsed is None:
        return None
    opened = open_uri(parsed)
    return opened.storage if isinstance(opened, RemoteStore) else None


def read_datastore_path(ctx: WorkspaceContext, datastore: str, path: str, *, field: str = "path",
                        log: Log | None = None) -> contents.Content:
    """The content of ``azureml://datastores/<ds>/paths/<path>``: a published job output when the
    path is one's default location (whatever datastore it names), else the datastore's file or
    folder read into the store (a remote read logs one line of what it moved to *log*)."""
    published = contents.published_at_default_path(ctx, datastore, path, field=field)
    if published is not None:
        return published
    result = open_datastore(ctx, datastore).read(ctx, path, field=field)
    if log is not None and result.summary:
        log(result.summary)
    return result.content


def read_uri(ctx: WorkspaceContext, uri: str, *, field: str = "path", log: Log | None = None) -> contents.Content | None:
    """The content at an ``azureml://datastores/`` URI or a storage URI (``wasbs://``, ``s3://``,
    ...), read into the store; None for any other text."""
    found = DATASTORE_URI.match(uri)
    if found:
        return read_datastore_path(ctx, found["ds"], uri_path(found["path"], field=field), field=field, log=log)
    parsed = parse_storage_uri(uri, field=field)
    if parsed is None:
        return None
    matched = match_datastore(ctx, parsed)
    if matched:
        return read_datastore_path(ctx, matched, parsed.path, field=field, log=log)
    result = open_uri(parsed).read(ctx, parsed.path, field=field)
    if log is not None and result.summary:
        log(result.summary)
    return result.content


def check_datastore_uri(ctx: WorkspaceContext, uri: str, *, field: str = "path") -> None:
    """Refuse an ``azureml://datastores/`` URI naming a datastore that does not exist or a path
    that leaves it; other URIs pass (an asset may point anywhere, as in Azure)."""
    found = DATASTORE_URI.match(uri)
    if found:
        rel = uri_path(found["path"], field=field)
        datastore = DatastoreService(ctx).get(found["ds"])
        if isinstance(datastore, LocalDatastore):
            safe_join(datastore.path, rel, field=field)
