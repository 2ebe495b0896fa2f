"""Job inputs and outputs: resolved at submission (so a job is pinned to exact content) and
materialised by the runtime before the command starts.

A resolved input is a small dict with a ``kind``:
``literal`` (a value), ``unset`` (an optional input with no value), ``artifact`` (content in the
artifact store: a manifest digest and its root name), ``datastore`` (a path on a datastore),
``job_output`` (an output of an earlier job) or ``uri`` (anything else, passed through as text).
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path
from typing import Any

from openaml.constants import MODEL_TYPES, PRIMITIVE_TYPES
from openaml.entities import Input, LocalDatastore, Output
from openaml.errors import NotFoundError, ValidationError
from openaml.paths import safe_join
from openaml.services.datastores import DatastoreService
from openaml.services.references import parse_asset_reference
from openaml.services.locations import (DATASTORE_URI, JOB_URI, datastore_path,
                                       job_output_path, local_upload, uri_path)
from openaml.services.workspaces import WorkspaceContext

DEFAULT_INPUT_MODE = "ro_mount"
DEFAULT_OUTPUT_MODE = "rw_mount"



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


def _resolve_path(ctx: WorkspaceContext, name: str, path: str, type_: str, mode: str) -> dict[str, Any]:
    # Submission only: imported here so that a job's agent, which only materialises inputs,
    # does not load the registry and the specs (~70 ms).
    from openaml.services.registry import RegistryService
    from openaml.services.snapshots import ignore_matcher
    from openaml.services.uploads import is_local_path

    field = f"inputs.{name}.path"
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
        resolved = _resolve_path(ctx, name, asset.path, type_, mode)
        return {**resolved, "asset": f"azureml:{asset.name}:{asset.version}"}
    upload = local_upload(path)
    if upload:
        return {"kind": "artifact", "digest": upload[0], "root": upload[1], "uri": path}
    ds = DATASTORE_URI.match(path)
    if ds:
        rel = uri_path(ds["path"], field=field)
        datastore = DatastoreService(ctx).get(ds["ds"])  # raises NotFoundError naming it
        if isinstance(datastore, LocalDatastore):  # refused now, not when the job starts
            safe_join(datastore.path, rel, field=field)
        return {"kind": "datastore", "datastore": ds["ds"], "path": rel, "uri": path}
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
    path = out.path or f"azureml://datastores/{default_datastore}/paths/azureml/{job_name}/{name}/"
    path = path.replace("${{name}}", job_name).replace("${{output_name}}", name) \
               .replace("${{default_datastore}}", default_datastore)
    field = f"outputs.{name}.path"
    ds = DATASTORE_URI.match(path)
    if not ds:
        raise ValidationError(f"output '{name}': path must be azureml://datastores/<name>/paths/<path>, "
                              f"got {path!r}", field=field)
    rel = uri_path(ds["path"], field=field)
    datastore = DatastoreService(ctx).get(ds["ds"])
    if not isinstance(datastore, LocalDatastore):
        raise ValidationError(f"output '{name}': datastore '{ds['ds']}' is {datastore.type}; local jobs "
                              "write outputs to local datastores for now", field=field)
    safe_join(datastore.path, rel, field=field)  # refused now, not when the job ends
    return {"type": out.type, "mode": out.mode or DEFAULT_OUTPUT_MODE, "datastore": ds["ds"],
            "path": rel, "uri": path, "name": out.name, "version": out.version}


# -- run time ---------------------------------------------------------------------------------

def output_location(ctx: WorkspaceContext, resolved: dict[str, Any], name: str | None = None) -> Path:
    """Where a resolved output is published (inside its datastore's folder)."""
    field = f"outputs.{name}.path" if name else "outputs.path"
    return datastore_path(ctx, resolved["datastore"], resolved["path"], field=field)


def materialize_input(ctx: WorkspaceContext, name: str, resolved: dict[str, Any], dest: Path) -> str | None:
    """Make an input available locally; return the path (or value) the command sees."""
    kind = resolved["kind"]
    if kind == "literal":
        return resolved["value"]
    if kind == "unset":
        return None
    if resolved.get("mode") == "direct":
        return resolved["uri"]
    field = f"inputs.{name}.path"
    if kind == "artifact":
        target = ctx.artifacts.materialize(resolved["digest"], safe_join(dest, name, field=field, names=True),
                                           overwrite=True)
        if resolved["mode"] in ("ro_mount", "mount", "eval_mount"):
            _make_read_only(target)
        return str(target)
    if kind == "datastore":
        source = datastore_path(ctx, resolved["datastore"], resolved["path"], field=field)
    elif kind == "job_output":
        source = safe_join(job_output_path(ctx, resolved["job"], resolved["output"]), resolved["path"], field=field)
    else:
        return resolved["uri"]
    if not source.exists():
        raise NotFoundError(f"input '{name}': {resolved['uri']} does not exist ({source})")
    if resolved["mode"] == "download":
        target = safe_join(dest, name, source.name, field=field, names=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, target)
        return str(target)
    return str(source)  # ro_mount on local storage: the path itself



def _make_read_only(path: Path) -> None:
    paths = [path] + (list(path.rglob("*")) if path.is_dir() else [])
    for p in paths:
        mode = p.stat().st_mode
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
