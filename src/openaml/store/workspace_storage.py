"""A workspace's own bytes on object storage (:class:`~openaml.entities.WorkspaceStorage`): the
content-addressed artifact store under a prefix of the container or bucket, and the check made
before such a workspace is created, so a wrong credential or an unreachable storage is one clear
error and nothing is created.

Only the bytes move: the metadata database, the secret key and the caches of local files'
digests stay in the workspace's folder.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from openaml.entities import AzureBlobDatastore, S3Datastore
from openaml.entities.workspace_storage import WorkspaceStorage
from openaml.errors import DatastoreAccessError
from openaml.store._blobs import FsspecBlobs
from openaml.store.artifacts import ArtifactStore
from openaml.store.digest_cache import StoredBlobs
from openaml.store.storage import Storage, account_url, open_storage

__all__ = ["REACH_SECONDS", "check_reachable", "open_artifact_store", "open_workspace_storage", "probe"]

# How long the storage's endpoint may take to accept a connection when a workspace is created.
# The plugins retry an unreachable endpoint for a minute or more before they give up.
REACH_SECONDS = 5.0
_PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")


def open_workspace_storage(storage: WorkspaceStorage, workspace: str, *, creating: bool = False) -> Storage:
    """The container or bucket, opened with the storage's credentials; errors name the workspace
    and say how to give other credentials (*creating*: the workspace does not exist yet)."""
    fix = ("give the right ones: --storage-credentials FILE, or the standard environment variables" if creating
           else f"change them with: openaml workspace update -n {workspace} --storage-credentials FILE")
    return open_storage(storage.datastore("storage"), label=f"workspace '{workspace}' storage", owner="workspace",
                        fix=fix)


def open_artifact_store(opened: Storage, prefix: str, *, digest_cache: str | os.PathLike[str],
                        stored_blobs: str | os.PathLike[str], storage: WorkspaceStorage | None = None) -> ArtifactStore:
    """The artifact store under *prefix* of the opened storage. *digest_cache* (local files'
    digests) and *stored_blobs* (blobs known to be on the storage) are local files. With
    *storage*, the first request of the process is preceded by the connection check
    (:func:`check_reachable`): an endpoint gone since the workspace was created is one line at
    once, not a minute of the plugin's retries."""
    if storage is not None:
        opened.check_first(lambda: check_reachable(storage, opened))
    backend = FsspecBlobs(opened.fs, opened.path(prefix), errors=opened.errors, known=StoredBlobs(Path(stored_blobs)),
                          identity=f"{opened.identity}/{prefix}")
    return ArtifactStore(opened.url(prefix), backend=backend, digest_cache=digest_cache)


def probe(storage: WorkspaceStorage, opened: Storage) -> None:
    """Refuse, with one line, storage that cannot hold a workspace: an endpoint that does not
    answer, a container or bucket that does not exist, credentials it refuses, or no right to
    write, read back and delete a blob under the prefix. Leaves nothing behind."""
    check_reachable(storage, opened)
    kind = "container" if storage.service == "azure" else "bucket"
    try:
        with opened.errors(f"checking the {kind}",
                           missing=f"the {kind} '{storage.container}' does not exist; create it first"):
            opened.fs.info(opened.path())
    except DatastoreAccessError:
        pass  # a container's SAS may not read the container's properties: the test blob says
    path = opened.path(f"{storage.prefix}/.openaml-probe-{uuid.uuid4().hex}")
    data = b"openaml workspace storage check\n"
    with opened.errors("writing, reading and deleting a test blob"):
        opened.fs.pipe_file(path, data)
        try:
            if opened.fs.cat_file(path) != data:
                raise DatastoreAccessError(f"{opened.label} ({opened.spec.url}): a test blob read back differs "
                                           "from what was written")
        finally:
            opened.fs.rm_file(path)


def _endpoint(storage: WorkspaceStorage) -> tuple[str, int]:
    datastore = storage.datastore("storage")
    if isinstance(datastore, AzureBlobDatastore):
        url = account_url(datastore, "blob")
    else:
        assert isinstance(datastore, S3Datastore)
        url = datastore.endpoint_url or (f"https://s3.{datastore.region}.amazonaws.com" if datastore.region
                                         else "https://s3.amazonaws.com")
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (80 if parts.scheme == "http" else 443)


def check_reachable(storage: WorkspaceStorage, opened: Storage) -> None:
    """One TCP connection with a deadline (not when a proxy is set: it may be the only way out);
    raises :class:`DatastoreAccessError` naming the storage and the endpoint."""
    if any(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES):
        return
    host, port = _endpoint(storage)
    try:
        socket.create_connection((host, port), timeout=REACH_SECONDS).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DatastoreAccessError(f"{opened.label} ({opened.spec.url}): cannot reach {host}:{port} "
                                   f"({reason})") from None
