"""URIs an MLTable names (or is loaded from), read through a workspace.

A URI is read as a job input in ``download`` mode is (:func:`openaml.services.job_io.read_data_path`): ``azureml://datastores/<ds>/paths/<p>`` with the
datastore's credentials, a storage URI (``wasbs://``, ``abfss://``, ``https://``, ``s3://``) with
the registered datastore of its container or bucket (else anonymously, or the AWS chain), a data
asset ``azureml:<name>:<version>`` (or ``@latest``), a job's output
``azureml://jobs/<job>/outputs/<o>``. Remote files land in the workspace's content-addressed
store, cached by ETag, so an unchanged file is downloaded once.

The workspace is the ``ml_client``'s, else the one a job runs in (``AZUREML_ARM_WORKSPACE_NAME``),
else the one :class:`~openaml.MLClient` finds (a ``config.json``, else ``default``); it is opened
only when a URI has to be read.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from openaml.errors import ValidationError
from openaml.services.locations import STORAGE_SCHEMES

from .sources import StoredTree

if TYPE_CHECKING:
    from openaml.client.ml_client import MLClient
    from openaml.services.workspaces import WorkspaceContext

_JOB_WORKSPACE = "AZUREML_ARM_WORKSPACE_NAME"


class UriTrees:
    """Opens URIs as :class:`~.sources.StoredTree` s; each URI is read once per instance, so a
    loaded table keeps reading the content it first saw."""

    def __init__(self, ml_client: "MLClient | None" = None) -> None:
        self._client, self._own = ml_client, ml_client is None
        self._ctx: WorkspaceContext | None = None
        self._trees: dict[str, StoredTree] = {}

    def context(self) -> "WorkspaceContext":
        if self._ctx is None:
            if self._client is None:
                from openaml.client.ml_client import MLClient

                self._client = MLClient(workspace_name=os.environ.get(_JOB_WORKSPACE) or None, show_progress=False)
            self._ctx = self._client.workspace_context()
        return self._ctx

    def open(self, uri: str, field: str) -> StoredTree:
        """The file or folder *uri* names, read into the workspace's store."""
        if uri not in self._trees:
            self._trees[uri] = self._read(uri, field)
        return self._trees[uri]

    def _read(self, uri: str, field: str) -> StoredTree:
        from openaml.services.job_io import read_data_path

        if not (uri.startswith("azureml:") or uri.lower().startswith(STORAGE_SCHEMES)):
            raise ValidationError(f"{uri!r}: openaml reads azureml://datastores/<ds>/paths/<p>, azureml:<asset>:"
                                  "<version>, azureml://jobs/<job>/outputs/<o>, wasbs://, abfss://, https:// (Azure "
                                  "blobs) and s3:// URIs", field=field)
        ctx = self.context()
        digest = read_data_path(ctx, uri, field=field)
        return StoredTree(ctx.artifacts.get_manifest(digest), ctx.artifacts.read_bytes, uri)

    def close(self) -> None:
        """Close the workspace connections this opened (not those of a client it was given)."""
        if self._own and self._client is not None:
            self._client.close()
            self._client, self._ctx = None, None
