"""Where ``azureml://`` URIs live on this machine: datastore paths, job outputs, uploads."""

from __future__ import annotations

import re
from pathlib import Path

from openaml.entities import LocalDatastore
from openaml.errors import ValidationError
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
    return datastore_folder(ctx, "workspaceartifactstore") / "ExperimentRun" / f"dcid.{job_name}"


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
