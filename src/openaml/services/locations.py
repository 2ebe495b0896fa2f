"""Where URIs lead: ``azureml://`` datastore paths, job outputs and uploads, and storage URIs
written the storage's own way (``wasbs://``, ``abfss://``, ``https://``, ``s3://``).

Every path taken from a URI is checked by :func:`openaml.paths.check_relative` (and joined under
its root by :func:`openaml.paths.safe_join` where it is local): a datastore path never leaves
the datastore, a job-output path never leaves the output, a ``runs:/`` path never leaves the
job's folder.

A storage URI is matched to a registered datastore of the same account and container (or
bucket), whose credentials then apply: the one whose endpoint is the URI's, else any (the
datastore says where that account lives: a sovereign cloud, an emulator). A URI no datastore
matches is read anonymously (a public blob) or, for ``s3://``, with the AWS default chain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from openaml.entities import LocalDatastore
from openaml.entities.datastore import AzureBlobDatastore, AzureDataLakeGen2Datastore, Datastore, S3Datastore
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
    """The folder behind a local datastore (the workspace's own artifacts live on one)."""
    datastore = DatastoreService(ctx).get(name)
    if not isinstance(datastore, LocalDatastore):
        raise ValidationError(f"datastore '{name}' is {datastore.type}, not a folder on this machine",
                              field="datastore")
    return Path(datastore.path)


# -- storage URIs -------------------------------------------------------------------------------
_NAME = r"[A-Za-z0-9$][A-Za-z0-9.\-]*"
_HADOOP = re.compile(rf"^(?P<scheme>wasbs?|abfss?)://(?P<container>{_NAME})@(?P<account>[A-Za-z0-9]+)"
                     r"\.(?:blob|dfs)\.(?P<endpoint>[A-Za-z0-9.\-]+)(?:/(?P<path>.*))?$", re.IGNORECASE)
_HTTPS = re.compile(rf"^(?P<scheme>https?)://(?P<account>[A-Za-z0-9]+)\.(?:blob|dfs)\.(?P<endpoint>[A-Za-z0-9.\-]+)"
                    rf"/(?P<container>{_NAME})(?:/(?P<path>.*))?$", re.IGNORECASE)
# An emulator's URLs are path-style: http://127.0.0.1:10000/<account>/<container>/<path>
_EMULATOR = re.compile(r"^(?P<scheme>https?)://(?P<endpoint>(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}|"
                       r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}|localhost)"
                       rf"/(?P<account>[A-Za-z0-9]+)/(?P<container>{_NAME})(?:/(?P<path>.*))?$", re.IGNORECASE)
_S3 = re.compile(r"^s3a?://(?P<container>[A-Za-z0-9][A-Za-z0-9._\-]*)(?:/(?P<path>.*))?$", re.IGNORECASE)
STORAGE_SCHEMES = ("wasb://", "wasbs://", "abfs://", "abfss://", "http://", "https://", "s3://", "s3a://")


@dataclass(frozen=True)
class StorageUri:
    """A storage URI taken apart: Azure's account, container and endpoint (a DNS suffix, or an
    emulator's host:port), or an S3 bucket; and the path inside, decoded and checked."""

    service: str  # "azure" or "s3"
    container: str
    path: str
    account: str | None = None
    endpoint: str | None = None
    secure: bool = True


def parse_storage_uri(uri: str, *, field: str = "path") -> StorageUri | None:
    """The parts of a ``wasbs://``/``abfss://``/``https://``/``s3://`` URI; None for other
    text. A URL with a query is refused: a SAS token in a path would be stored in plain text."""
    if not uri.lower().startswith(STORAGE_SCHEMES):
        return None
    if "?" in uri or "#" in uri:
        raise ValidationError(f"{uri.split('?')[0]}: a storage URL with a query (a SAS token?) is not accepted; "
                              "register a datastore holding the credential and use its URI", field=field)
    s3 = _S3.match(uri)
    if s3:
        return StorageUri("s3", s3["container"], uri_path(s3["path"], field=field))
    for pattern in (_HADOOP, _EMULATOR, _HTTPS):
        found = pattern.match(uri)
        if found:
            scheme = found["scheme"].lower()
            return StorageUri("azure", found["container"], uri_path(found["path"], field=field),
                              account=found["account"], endpoint=found["endpoint"],
                              secure=scheme not in ("http", "wasb", "abfs"))
    if uri.lower().startswith(("http://", "https://")):
        raise ValidationError(f"{uri}: openaml reads http(s) URLs of Azure blob storage only "
                              "(https://<account>.blob.<endpoint>/<container>/<path>)", field=field)
    raise ValidationError(f"{uri} is not a storage URI openaml understands: wasbs://<container>@<account>.blob."
                          "<endpoint>/<path>, abfss://<filesystem>@<account>.dfs.<endpoint>/<path> or "
                          "s3://<bucket>/<path>", field=field)


def match_datastore(ctx: WorkspaceContext, uri: StorageUri) -> str | None:
    """The registered datastore a storage URI lies on, or None (see the module's rule)."""
    candidates = []
    for ds in DatastoreService(ctx).list():
        if uri.service == "s3" and isinstance(ds, S3Datastore) and ds.bucket == uri.container:
            candidates.append((0, ds.name))
        elif uri.service == "azure" and isinstance(ds, (AzureBlobDatastore, AzureDataLakeGen2Datastore)):
            container = ds.container_name if isinstance(ds, AzureBlobDatastore) else ds.filesystem
            if ds.account_name == uri.account and container == uri.container:
                candidates.append((0 if ds.endpoint == uri.endpoint else 1, ds.name))
    return min(candidates)[1] if candidates else None


def adhoc_datastore(uri: StorageUri) -> Datastore:
    """A datastore entity for a URI no registered datastore matches (read anonymously)."""
    if uri.service == "s3":
        return S3Datastore(name="uri", bucket=uri.container)
    return AzureBlobDatastore(name="uri", account_name=uri.account, container_name=uri.container,
                              endpoint=uri.endpoint, protocol="https" if uri.secure else "http")


def local_upload(uri: str) -> tuple[str, str] | None:
    """``azureml://datastores/<ds>/paths/LocalUpload/<digest>/<root>`` -> (digest, root)."""
    match = DATASTORE_URI.match(uri)
    if not match:
        return None
    parts = match["path"].strip("/").split("/")
    if len(parts) == 3 and parts[0] == LOCAL_UPLOAD_PREFIX and len(parts[1]) == 64:
        return parts[1], parts[2]
    return None
