"""Job inputs and outputs: resolved at submission (so a job is pinned to exact content) and
materialised by the runtime before the command starts.

A resolved input is a small dict with a ``kind``:
``literal`` (a value), ``unset`` (an optional input with no value), ``artifact`` (content in the
artifact store: a manifest digest and its root name), ``datastore`` (a path on a registered
datastore, local or remote: an ``azureml://datastores/`` URI, or a storage URI such as
``wasbs://`` or ``s3://`` on a registered datastore's container or bucket), ``remote`` (a
storage URI no datastore matches, read without credentials), ``job_output`` (an output of an
earlier job) or ``uri`` (anything else, passed through as text in ``direct`` mode).

Input modes: ``ro_mount``/``mount``/``eval_mount`` give read-only files, ``download``/
``eval_download`` writable copies (an ``mltable`` folder is materialised like any folder).
Remote data in the read-only modes is mounted with FUSE where the host allows one
(:mod:`openaml.services.fuse_mounts`), with one log line of what was listed; otherwise, and in
the download modes, it is fetched into the workspace's store first (unchanged objects come from
the cache, by ETag) with one log line of what moved, saying why it was not mounted. ``direct``
passes the storage's URL through and gives the job the datastore's credentials as the variables
Azure's and AWS's SDKs read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openaml.constants import MODEL_TYPES, PRIMITIVE_TYPES
from openaml.entities import Input, LocalDatastore, Output
from openaml.errors import NotFoundError, ValidationError
from openaml.names import check_name, check_version
from openaml.paths import safe_join
from openaml.services import contents
from openaml.services.datastore_io import open_datastore, open_remote, read_datastore_path, read_uri
from openaml.services.fuse_mounts import InputMounts, MountSource
from openaml.services.remote_data import describe_listing, list_remote
from openaml.services.datastores import DatastoreService
from openaml.services.references import parse_asset_reference
from openaml.services.locations import (DATASTORE_URI, JOB_URI, local_upload, match_datastore, parse_storage_uri,
                                        uri_path)
from openaml.services.workspaces import WorkspaceContext
from openaml.store.storage import unusable

DEFAULT_INPUT_MODE = "ro_mount"
DEFAULT_OUTPUT_MODE = "rw_mount"
# Input modes whose data the command may read but not change (Azure's read-only mounts).
READ_ONLY_MODES = frozenset({"ro_mount", "mount", "eval_mount"})
DATA_KINDS = ("artifact", "datastore", "remote", "job_output")  # kinds whose content can be read
Log = Callable[[str], None]


def _check_datastore_path(ctx: WorkspaceContext, datastore_name: str, rel: str, field: str) -> None:
    """Refuse now, not when the job runs, a path that leaves a local datastore or a datastore
    openaml cannot reach (ADLS Gen1, an Azure Files share with a SAS token)."""
    datastore = DatastoreService(ctx).get(datastore_name)  # raises NotFoundError naming it
    if isinstance(datastore, LocalDatastore):
        safe_join(datastore.path, rel, field=field)
    problem = unusable(datastore)
    if problem:
        raise ValidationError(problem[0], field=field)


@dataclass(frozen=True)
class _Place:
    """Where a URI lies: a path on a registered datastore, or (``datastore`` None) on storage no
    registered datastore matches."""

    datastore: str | None
    path: str


def _on_datastore(ctx: WorkspaceContext, path: str, mode: str | None, field: str) -> _Place | None:
    """The place of an ``azureml://datastores/`` URI or a storage URI; None for other text."""
    ds = DATASTORE_URI.match(path)
    if ds:
        return _Place(ds["ds"], uri_path(ds["path"], field=field))
    try:
        parsed = parse_storage_uri(path, field=field)
    except ValidationError:
        if mode == "direct":  # any URL may be passed through to the command as text
            return None
        raise
    if parsed is None:
        return None
    return _Place(match_datastore(ctx, parsed), parsed.path)


# -- submission -------------------------------------------------------------------------------
def resolve_input(ctx: WorkspaceContext, name: str, value: Any) -> dict[str, Any]:
    """Pin one job input to exact content or a location."""
    if not isinstance(value, Input):
        return {"kind": "literal", "value": value}
    if value.type in PRIMITIVE_TYPES:
        return {"kind": "literal", "value": value.default} if value.default is not None else {"kind": "unset"}
    mode = value.mode or DEFAULT_INPUT_MODE
    base = {"type": value.type, "mode": mode}
    if not value.path:
        if value.optional:
            return {"kind": "unset"}
        raise ValidationError(f"input '{name}' of type {value.type} needs a path", field=f"inputs.{name}.path")
    return {**base, **_resolve_path(ctx, name, value.path, value.type, mode)}


def read_data_path(ctx: WorkspaceContext, path: str, *, field: str, log: Log | None = None) -> str:
    """The manifest digest of what a data *path* names (a data asset reference, an
    ``azureml://datastores/`` or storage URI, a job's output), read into the store as an input in
    ``download`` mode is (remote files through the ETag cache). Errors name *field*."""
    return input_digest(ctx, {"mode": "download", **_resolve_path(ctx, "data", path, "uri_folder", "download",
                                                                  field=field)}, field=field, log=log)


def _resolve_path(ctx: WorkspaceContext, name: str, path: str, type_: str, mode: str, *,
                  field: str | None = None) -> dict[str, Any]:
    # Submission only: imported here so that a job's agent, which only materialises inputs,
    # does not load the registry and the specs (~70 ms).
    from openaml.services.registry import RegistryService
    from openaml.services.snapshots import ignore_matcher
    from openaml.services.uploads import is_local_path

    field = field or f"inputs.{name}.path"
    if is_local_path(path):
        local = Path(path).expanduser().resolve()
        if not local.exists():
            raise ValidationError(f"input '{name}': local path {local} does not exist", field=field)
        ignore = ignore_matcher(local) if local.is_dir() else None
        digest, manifest = ctx.artifacts.put_path(local, ignore=ignore)
        return {"kind": "artifact", "digest": digest, "root": manifest.root, "uri": path}
    if path.startswith("azureml:") and not path.startswith("azureml://"):
        kind = "models" if type_ in MODEL_TYPES else "data"
        asset_name, version, label = parse_asset_reference(path)
        asset = RegistryService(ctx).get(kind, asset_name, version=version, label=label)
        resolved = _resolve_path(ctx, name, asset.path, type_, mode, field=field)
        return {**resolved, "asset": f"azureml:{asset.name}:{asset.version}"}
    upload = local_upload(path)
    if upload:
        return {"kind": "artifact", "digest": upload[0], "root": upload[1], "uri": path}
    place = _on_datastore(ctx, path, mode, field)
    if place is not None and place.datastore is None:
        return {"kind": "remote", "uri": path}
    if place is not None:
        _check_datastore_path(ctx, place.datastore, place.path, field)
        return {"kind": "datastore", "datastore": place.datastore, "path": place.path, "uri": path}
    job = JOB_URI.match(path)
    if job:
        rel = uri_path(job["path"], field=field)
        if ctx.jobs.get_job(ctx.name, job["job"]) is None:
            raise NotFoundError(f"input '{name}' names job '{job['job']}', which does not exist", field=field)
        return {"kind": "job_output", "job": job["job"], "output": job["output"], "path": rel, "uri": path}
    if mode != "direct":
        raise ValidationError(
            f"input '{name}': {path!r} is not reachable from local compute with mode '{mode}'; "
            "use mode: direct to pass the URI to your code, or register the data in the workspace",
            field=f"inputs.{name}.mode")
    return {"kind": "uri", "uri": path}



def resolve_output(ctx: WorkspaceContext, job_name: str, name: str, value: Output | None,
                   default_datastore: str) -> dict[str, Any]:
    """Where an output will be published, and whether to register it."""
    out = value or Output()
    if out.name is not None:  # registered as a data or model asset when the job ends: check now
        check_name("model" if out.type in MODEL_TYPES else "data", out.name, field=f"outputs.{name}.name")
    if out.version is not None:
        check_version(out.version, field=f"outputs.{name}.version")
    path = out.path or f"azureml://datastores/{default_datastore}/paths/azureml/{job_name}/{name}/"
    path = path.replace("${{name}}", job_name).replace("${{output_name}}", name) \
               .replace("${{default_datastore}}", default_datastore)
    field = f"outputs.{name}.path"
    place = _on_datastore(ctx, path, None, field)
    if place is None or place.datastore is None:
        raise ValidationError(f"output '{name}': path must be azureml://datastores/<name>/paths/<path>, or a "
                              f"storage URI on a registered datastore's container or bucket; got {path!r}",
                              field=field)
    _check_datastore_path(ctx, place.datastore, place.path, field)  # refused now, not when the job ends
    return {"type": out.type, "mode": out.mode or DEFAULT_OUTPUT_MODE, "datastore": place.datastore,
            "path": place.path, "uri": path, "name": out.name, "version": out.version}


# -- run time ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class MaterializedInput:
    """What the command sees of an input: its value (a path, a URI, a literal) and, for a
    ``direct`` input on a datastore with credentials, the variables that carry them."""

    value: Any
    env: dict[str, str] = field(default_factory=dict)


def deliver_output(ctx: WorkspaceContext, job_name: str, name: str, resolved: dict[str, Any],
                   content: contents.Content, warn: Log | None = None) -> str | None:
    """An output path the user chose receives the published files too (merged, each file
    appearing whole; on remote storage, staged and then put in place: see ``remote_data``); a
    ``uri_file`` output is the file at that path itself (its content's root is the path's last
    part). The default place on the workspace's default datastore lives only in the store.
    Returns a line saying what was uploaded, for a remote datastore."""
    if resolved["path"] == contents.default_output_path(job_name, name) \
            and resolved["datastore"] == ctx.default_datastore:
        return None
    target = open_datastore(ctx, resolved["datastore"])
    return target.publish(ctx, resolved["path"], content, label=f"{job_name}.{name}", warn=warn or (lambda _: None))


def materialize_input(ctx: WorkspaceContext, name: str, resolved: dict[str, Any], dest: Path, *,
                      log: Log | None = None, mounts: InputMounts | None = None) -> MaterializedInput:
    """Make an input available locally; return what the command sees.

    Remote data in the mount modes is mounted read-only with FUSE when *mounts* can (the caller
    closes them when the job ends). Other data inputs are materialised from the content-addressed
    store: read-only in the mount modes (hard links to the read-only blobs, or copies where a
    link would not protect them), writable copies in the download modes. A folder that can still
    change (a local datastore path, a job's artifacts) is snapshotted into the store first, and
    remote data is fetched into it, so the command reads pinned content and writes nothing back.
    *log* gets one line per remote read."""
    kind = resolved["kind"]
    if kind == "literal":
        return MaterializedInput(resolved["value"])
    if kind == "unset":
        return MaterializedInput(None)
    if resolved.get("mode") == "direct" or kind == "uri":
        return _direct(ctx, resolved)
    field = f"inputs.{name}.path"
    mode = resolved["mode"]
    read_only = mode in READ_ONLY_MODES
    how = "downloaded"
    if read_only and mounts is not None:
        mounted, why = _mount(ctx, name, resolved, dest, mounts, log)
        if mounted is not None:
            return mounted
        how = "read-only, downloaded" + (f": no FUSE mount: {why}" if why else "")

    def said(line: str) -> None:
        if log is not None:
            log(f"input {name} ({mode}, {how}): {line}")
    try:
        digest = input_digest(ctx, resolved, field=field, log=said)
    except NotFoundError as exc:
        raise NotFoundError(f"input '{name}': {resolved['uri']}: {exc.message}", field=f"inputs.{name}") from None
    target = ctx.artifacts.materialize(digest, safe_join(dest, name, field=field, names=True), overwrite=True,
                                       read_only=read_only, share=read_only and contents.can_share_blobs())
    return MaterializedInput(str(target))


def _mount(ctx: WorkspaceContext, name: str, resolved: dict[str, Any], dest: Path, mounts: InputMounts,
           log: Log | None) -> tuple[MaterializedInput | None, str | None]:
    """Mount a remote input read-only: ``(what the command sees, None)``; ``(None, why not)``
    when the host cannot mount; ``(None, None)`` when the input is not remote (a local
    datastore, a job's published output). A storage that refuses the listing fails the job as
    a download would."""
    field = f"inputs.{name}.path"
    if resolved["kind"] == "datastore":
        if contents.published_at_default_path(ctx, resolved["datastore"], resolved["path"], field=field):
            return None, None
        source, rel = MountSource(datastore=resolved["datastore"]), resolved["path"]
        storage = open_remote(ctx, datastore=resolved["datastore"])
    elif resolved["kind"] == "remote":
        parsed = parse_storage_uri(resolved["uri"], field=field)
        source, rel = MountSource(uri=resolved["uri"]), parsed.path if parsed else ""
        storage = open_remote(ctx, uri=resolved["uri"])
    else:
        return None, None
    if storage is None:
        return None, None
    if not mounts.support.available:
        return None, mounts.support.reason
    started = time.monotonic()
    listing = list_remote(storage, rel, field=field)
    mountpoint = safe_join(dest, name, field=field, names=True)
    why = mounts.mount(listing, source, mountpoint, label=name)
    if why is not None:
        return None, why
    if log is not None:
        log(f"input {name} ({resolved['mode']}, mounted read-only with FUSE): {storage.url(rel)}: "
            f"{describe_listing(listing)} listed in {time.monotonic() - started:.1f} s")
    return MaterializedInput(str(mountpoint / listing.root)), None


def _direct(ctx: WorkspaceContext, resolved: dict[str, Any]) -> MaterializedInput:
    """The URI itself; on a registered datastore, its storage URL and credentials."""
    if resolved["kind"] != "datastore":
        return MaterializedInput(resolved["uri"])
    target = open_datastore(ctx, resolved["datastore"])
    return MaterializedInput(target.direct_uri(resolved["path"]), target.job_env())


def input_digest(ctx: WorkspaceContext, resolved: dict[str, Any], *, field: str = "path",
                 log: Log | None = None) -> str:
    """The manifest digest of a resolved data input (one of :data:`DATA_KINDS`): what the job
    reads, and what reuse keys are made of. Remote data is fetched (or found unchanged) now."""
    kind = resolved["kind"]
    if kind == "artifact":
        return resolved["digest"]
    if kind == "datastore":
        return read_datastore_path(ctx, resolved["datastore"], resolved["path"], field=field, log=log).digest
    if kind == "remote":
        return read_uri(ctx, resolved["uri"], field=field, log=log).digest
    if kind == "job_output":
        return contents.job_output(ctx, resolved["job"], resolved["output"], resolved["path"], field=field).digest
    raise ValidationError(f"an input of kind {kind!r} has no content in the workspace", field="inputs")
