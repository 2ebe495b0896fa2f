"""Job inputs and outputs: resolved at submission (so a job is pinned to exact content) and
materialised by the runtime before the command starts.

A resolved input is a small dict with a ``kind``:
``literal`` (a value), ``unset`` (an optional input with no value), ``artifact`` (content in the
artifact store: a manifest digest and its root name), ``datastore`` (a path on a datastore),
``job_output`` (an output of an earlier job) or ``uri`` (anything else, passed through as text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openaml.constants import MODEL_TYPES, PRIMITIVE_TYPES
from openaml.entities import Input, LocalDatastore, Output
from openaml.errors import NotFoundError, ValidationError
from openaml.names import check_name, check_version
from openaml.paths import safe_join
from openaml.services import contents
from openaml.services.datastores import DatastoreService
from openaml.services.references import parse_asset_reference
from openaml.services.locations import DATASTORE_URI, JOB_URI, datastore_path, local_upload, uri_path
from openaml.services.workspaces import WorkspaceContext

DEFAULT_INPUT_MODE = "ro_mount"
DEFAULT_OUTPUT_MODE = "rw_mount"
# Input modes whose data the command may read but not change (Azure's read-only mounts).
READ_ONLY_MODES = frozenset({"ro_mount", "mount", "eval_mount"})



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
    if out.name is not None:  # registered as a data or model asset when the job ends: check now
        check_name("model" if out.type in MODEL_TYPES else "data", out.name, field=f"outputs.{name}.name")
    if out.version is not None:
        check_version(out.version, field=f"outputs.{name}.version")
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


def deliver_output(ctx: WorkspaceContext, job_name: str, name: str, resolved: dict[str, Any],
                   content: contents.Content) -> None:
    """An output path the user chose receives the published files too (merged, each file
    renamed into place whole); a ``uri_file`` output is the file at that path itself (its
    content's root is the path's last part). The default place lives only in the store."""
    if resolved["path"] == contents.default_output_path(job_name, name):
        return
    location = output_location(ctx, resolved, name)
    ctx.artifacts.materialize_into(content.digest, location.parent if content.kind == "file" else location)


def materialize_input(ctx: WorkspaceContext, name: str, resolved: dict[str, Any], dest: Path) -> str | None:
    """Make an input available locally; return the path (or value) the command sees.

    Data inputs are materialised from the content-addressed store: read-only in the mount
    modes (hard links to the read-only blobs, or copies where a link would not protect them),
    writable copies in the download modes. A folder that can still change (a local datastore
    path, a job's artifacts) is snapshotted into the store first, so the command reads pinned
    content and writes nothing back."""
    kind = resolved["kind"]
    if kind == "literal":
        return resolved["value"]
    if kind == "unset":
        return None
    if resolved.get("mode") == "direct" or kind == "uri":
        return resolved["uri"]
    field = f"inputs.{name}.path"
    try:
        digest = input_digest(ctx, resolved, field=field)
    except NotFoundError as exc:
        raise NotFoundError(f"input '{name}': {resolved['uri']}: {exc.message}", field=f"inputs.{name}") from None
    read_only = resolved["mode"] in READ_ONLY_MODES
    target = ctx.artifacts.materialize(digest, safe_join(dest, name, field=field, names=True), overwrite=True,
                                       read_only=read_only, share=read_only and contents.can_share_blobs())
    return str(target)


def input_digest(ctx: WorkspaceContext, resolved: dict[str, Any], *, field: str = "path") -> str:
    """The manifest digest of a resolved data input (``artifact``, ``datastore`` or
    ``job_output``): what the job reads, and what reuse keys are made of."""
    kind = resolved["kind"]
    if kind == "artifact":
        return resolved["digest"]
    if kind == "datastore":
        return contents.datastore_path(ctx, resolved["datastore"], resolved["path"], field=field).digest
    if kind == "job_output":
        return contents.job_output(ctx, resolved["job"], resolved["output"], resolved["path"], field=field).digest
    raise ValidationError(f"an input of kind {kind!r} has no content in the workspace", field="inputs")
