"""Where ``azureml://`` URIs live on this machine: datastore paths, job outputs, uploads."""

from __future__ import annotations

import re
from pathlib import Path

from openaml.entities import LocalDatastore
from openaml.errors import NotFoundError, ValidationError
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


def job_output_path(ctx: WorkspaceContext, job_name: str, output: str) -> Path:
    """The folder of a named output (or ``artifacts``) of a job."""
    record = ctx.jobs.get_job(ctx.name, job_name)
    if record is None:
        raise NotFoundError(f"job '{job_name}' not found in workspace '{ctx.name}'", name=job_name)
    if output in ARTIFACTS_OUTPUTS:
        return job_folder(ctx, job_name)
    best = (record.spec.get("best") or {}).get("name") if record.type == "sweep" else None
    if best:  # a sweep's outputs are its best trial's
        return job_output_path(ctx, best, output)
    forwarded = (record.spec.get("pipeline_outputs") or {}).get(output)
    if forwarded:  # a pipeline's output is the output of one of its steps
        match = JOB_URI.match(forwarded)
        return job_output_path(ctx, match["job"], match["output"])
    outputs = (record.spec.get("resolved") or {}).get("outputs", {})
    if output not in outputs:
        raise NotFoundError(f"job '{job_name}' has no output '{output}' (it has: "
                            f"{', '.join(sorted(outputs)) or 'none'}, and 'artifacts')", name=output)
    resolved = outputs[output]
    return datastore_folder(ctx, resolved["datastore"]) / resolved["path"]


def local_upload(uri: str) -> tuple[str, str] | None:
    """``azureml://datastores/<ds>/paths/LocalUpload/<digest>/<root>`` -> (digest, root)."""
    match = DATASTORE_URI.match(uri)
    if not match:
        return None
    parts = match["path"].strip("/").split("/")
    if len(parts) == 3 and parts[0] == LOCAL_UPLOAD_PREFIX and len(parts[1]) == 64:
        return parts[1], parts[2]
    return None


def local_path_for_uri(ctx: WorkspaceContext, uri: str) -> Path | None:
    """The local file or folder behind a datastore, job-output or ``runs:/`` URI; None for
    URIs that are not on this machine (and for uploads, which live in the artifact store)."""
    if local_upload(uri):
        return None
    if match := DATASTORE_URI.match(uri):
        return datastore_folder(ctx, match["ds"]) / match["path"]
    if match := JOB_URI.match(uri):
        return job_output_path(ctx, match["job"], match["output"]) / (match["path"] or "")
    if match := RUNS_URI.match(uri):
        return job_folder(ctx, match["job"]) / match["path"]
    return None
