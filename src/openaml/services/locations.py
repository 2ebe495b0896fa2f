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
from openaml.errors import NotFoundError, ValidationError
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
    return datastore_path(ctx, resolved["datastore"], resolved["path"], field=f"outputs.{output}.path")


def local_upload(uri: str) -> tuple[str, str] | None:
    """``azureml://datastores/<ds>/paths/LocalUpload/<digest>/<root>`` -> (digest, root)."""
    match = DATASTORE_URI.match(uri)
    if not match:
        return None
    parts = match["path"].strip("/").split("/")
    if len(parts) == 3 and parts[0] == LOCAL_UPLOAD_PREFIX and len(parts[1]) == 64:
        return parts[1], parts[2]
    return None


def local_path_for_uri(ctx: WorkspaceContext, uri: str, *, field: str = "path") -> Path | None:
    """The local file or folder behind a datastore, job-output or ``runs:/`` URI; None for
    URIs that are not on this machine (and for uploads, which live in the artifact store).
    A path that would leave its datastore, output or job folder raises :class:`ValidationError`."""
    if local_upload(uri):
        return None
    if match := DATASTORE_URI.match(uri):
        return datastore_path(ctx, match["ds"], uri_path(match["path"], field=field), field=field)
    if match := JOB_URI.match(uri):
        return safe_join(job_output_path(ctx, match["job"], match["output"]), uri_path(match["path"], field=field),
                         field=field)
    if match := RUNS_URI.match(uri):  # MLflow's runs:/ URIs are not percent-decoded (as MLflow)
        return safe_join(job_folder(ctx, match["job"]), match["path"], field=field)
    return None
