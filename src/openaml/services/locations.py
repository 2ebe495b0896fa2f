"""Where ``azureml://`` URIs live on this machine: datastore paths, job outputs, uploads.

Every path taken from a URI is joined under its root by :func:`openaml.paths.safe_join`: a
datastore path never leaves the datastore's folder, a job-output path never leaves the output,
a ``runs:/`` path never leaves the job's folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from openaml.entities import LocalDatastore
from openaml.errors import ValidationError
from openaml.paths import check_relative, safe_join
from openaml.services.datastores import DatastoreService
from openaml.services.workspaces import WorkspaceContext

DATASTORE_URI = re.compile(r"^azureml://(?:subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/)?"
                           r"datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$", re.IGNORECASE)
JOB_URI = re.compile(r"^azureml://jobs/(?P<job>[^/]+)/outputs/(?P<output>[^/]+)(?:/paths/(?P<path>.*))?$")
RUNS_URI = re.compile(r"^runs:/(?P<job>[^/]+)/?(?P<path>.*)$")
ARTIFACTS_OUTPUTS = ("artifacts", "default")
LOCAL_UPLOAD_PREFIX = "LocalUpload"


def job_folder(ctx: WorkspaceContext, job_name: str) -> Path:
    """Azure's default artifact location of a job: logs, MLflow artifacts, ./outputs."""
    return safe_join(datastore_folder(ctx, "workspaceartifactstore"), "ExperimentRun", f"dcid.{job_name}",
                     field="name")


def logged_model_folder(ctx: WorkspaceContext, model_id: str) -> Path:
    """The artifacts of an MLflow logged model created outside any run (a model logged in a run
    lives in its run's folder)."""
    return safe_join(datastore_folder(ctx, "workspaceartifactstore"), "LoggedModels", model_id, field="model_id")


def uri_path(raw: str | None, *, field: str = "path") -> str:
    """The path part of an ``azureml://`` URI as a checked relative path (``""`` for the root).

    Azure's URIs are URLs, so the path is percent-decoded once (``my%20data`` is ``my data``)
    and checked *after* decoding: ``%2e%2e`` is ``..`` and refused like it.
    """
    try:
        decoded = unquote(raw or "", errors="strict")
    except UnicodeDecodeError:
        raise ValidationError(f"path {raw!r} holds a percent-escape that is not UTF-8", field=field) from None
    return check_relative(decoded, field=field, allow_empty=True)


def datastore_path(ctx: WorkspaceContext, datastore: str, path: str, *, field: str = "path") -> Path:
    """*path* (relative, already decoded) on a local datastore, confined to its folder."""
    return safe_join(datastore_folder(ctx, datastore), path, field=field)


def datastore_folder(ctx: WorkspaceContext, name: str) -> Path:
    """The folder behind a local datastore."""
    datastore = DatastoreService(ctx).get(name)
    if not isinstance(datastore, LocalDatastore):
        raise ValidationError(f"datastore '{name}' is {datastore.type}; only local datastores can be read "
                              "from this machine for now", field="datastore")
    return Path(datastore.path)


def local_upload(uri: str) -> tuple[str, str] | None:
    """``azureml://datastores/<ds>/paths/LocalUpload/<digest>/<root>`` -> (digest, root)."""
    match = DATASTORE_URI.match(uri)
    if not match:
        return None
    parts = match["path"].strip("/").split("/")
    if len(parts) == 3 and parts[0] == LOCAL_UPLOAD_PREFIX and len(parts[1]) == 64:
        return parts[1], parts[2]
    return None
