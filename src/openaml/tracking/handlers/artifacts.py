"""Proxied artifacts (``mlflow server --serve-artifacts``) mapped onto job folders.

``mlflow-artifacts:/<experiment>/<run>/artifacts/<path>`` is the file ``<path>`` under
``artifact_root_for_run(<run>)``; ``<experiment>/models/<model_id>/artifacts/<path>`` (a logged
model without a run) lives under ``artifact_root_for_model(<model_id>)``;
``openaml-registered-models/<name>/<version>/<path>`` are the stored files of a registered model
version (read-only: what ``get-download-uri`` answers). Uploads are written to a
temp file beside the target and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import mimetypes
import os
import posixpath
import tempfile
from pathlib import Path
from typing import Any

from openaml.paths import check_relative, safe_join
from openaml.services.mlflow_registry_records import REGISTRY_ARTIFACTS
from openaml.tracking.context import FileResponse, Request, TextResponse, TrackingContext
from openaml.tracking.wire import MlflowApiError, invalid, required

_TEMP_PREFIX = ".openaml-upload-"
# Folders of a job's folder that hold its logs (see services.job_runtime), not MLflow artifacts.
_JOB_LOGS = frozenset({"user_logs", "system_logs"})


def _segments(path: str) -> list[str]:
    """The segments of a client's artifact path, checked by :func:`openaml.paths.check_relative`
    (``..``, absolute paths, backslashes and control characters are MLflow's 400
    ``INVALID_PARAMETER_VALUE``)."""
    checked = check_relative(path, field="path", allow_empty=True)
    return checked.split("/") if checked else []


def _run_root(ctx: TrackingContext, run_id: str) -> Path:
    if run_id not in ctx.known_runs:
        ctx.store.get_run(run_id)  # NotFoundError -> RESOURCE_DOES_NOT_EXIST
        ctx.known_runs.add(run_id)
    return Path(ctx.artifact_root_for_run(run_id))


def resolve(ctx: TrackingContext, req: Request, path: str) -> Path | None:
    """The local path behind an mlflow-artifacts path; None above a run's (or model's) root.
    The part below the root is joined by :func:`openaml.paths.safe_join`: a symbolic link
    inside the run's folder never leads a client outside it."""
    parts = _segments(path)
    if parts[:1] == [REGISTRY_ARTIFACTS]:
        if len(parts) < 3:
            return None
        return safe_join(ctx.registry(req).model_version_files(parts[1], parts[2]), *parts[3:])
    if len(parts) >= 3 and parts[2] == "artifacts":
        return safe_join(_run_root(ctx, parts[1]), *parts[3:])
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        if ctx.artifact_root_for_model is None:
            raise invalid("This tracking server stores logged models only inside runs; "
                          "log the model from within a run.")
        ctx.store.get_logged_model(parts[2])
        return safe_join(ctx.artifact_root_for_model(parts[2]), *parts[4:])
    return None


def _target(ctx: TrackingContext, req: Request, path: str) -> Path:
    target = resolve(ctx, req, path)
    if target is None:
        raise invalid(f"Artifact path {path!r} is not inside a run's artifacts.")
    return target


def _writable(path: str) -> str:
    if _segments(path)[:1] == [REGISTRY_ARTIFACTS]:
        raise invalid(f"Artifact path {path!r} is a registered model version's files, which are read-only.")
    return path


def upload(ctx: TrackingContext, req: Request) -> TextResponse:
    target = _target(ctx, req, _writable(req.path_params["path"]))
    if target.is_dir():
        raise invalid(f"Cannot upload to {req.path_params['path']!r}: it is a folder.")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in req.stream():
                out.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return TextResponse("")  # MLflow answers an upload with an empty body


def download(ctx: TrackingContext, req: Request) -> FileResponse:
    path = req.path_params["path"]
    target = _target(ctx, req, path)
    if not target.is_file():
        raise MlflowApiError("RESOURCE_DOES_NOT_EXIST", f"Artifact {path!r} does not exist.", 404)
    return FileResponse(target, mimetypes.guess_type(target.name)[0] or "application/octet-stream")


def delete(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    """Delete artifacts. A run's folder is its job's folder, whose logs are the job's record and
    not MLflow artifacts: they are never deleted (the run's root is emptied of everything else)."""
    from openaml.store.folders import remove_tree

    path = _writable(req.path_params["path"])
    target = _target(ctx, req, path)
    parts = _segments(path)
    in_run = len(parts) >= 3 and parts[2] == "artifacts"
    if in_run and len(parts) > 3 and parts[3] in _JOB_LOGS:
        raise invalid(f"Artifact path {path!r} is in the job's logs, which cannot be deleted.")
    if in_run and len(parts) == 3:  # the run's root: everything but the job's logs
        for entry in list(target.iterdir()) if target.is_dir() else []:
            if entry.name not in _JOB_LOGS:
                remove_tree(entry)
        return {}
    remove_tree(target)
    return {}


def _entries(folder: Path, prefix: str | None) -> list[dict[str, Any]]:
    if not folder.is_dir():
        return []
    files = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith(_TEMP_PREFIX):
            continue
        path = posixpath.join(prefix, entry.name) if prefix else entry.name
        if entry.is_dir():
            files.append({"path": path, "is_dir": True})
        else:
            files.append({"path": path, "is_dir": False, "file_size": entry.stat().st_size})
    return files


def list_proxied(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    """``GET /api/2.0/mlflow-artifacts/artifacts?path=...``: names relative to *path*."""
    parts = _segments(req.args.get("path") or "")
    if len(parts) == 2 and parts[0] != REGISTRY_ARTIFACTS:  # <experiment>/<run>: the run's one folder
        _run_root(ctx, parts[1])
        return {"files": [{"path": "artifacts", "is_dir": True}]}
    folder = resolve(ctx, req, "/".join(parts)) if parts else None
    files = _entries(folder, None) if folder is not None else []
    return {"files": files} if files else {}


def list_run(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    """``GET /api/2.0/mlflow/artifacts/list?run_id=&path=``: paths relative to the run's root."""
    run_id = str(required(req.args, "run_id", "run_uuid"))
    run = ctx.store.get_run(run_id)
    path = "/".join(_segments(req.args.get("path") or ""))
    files = _entries(safe_join(_run_root(ctx, run_id), path), path or None)
    response: dict[str, Any] = {"root_uri": run.artifact_uri}
    if files:
        response["files"] = files
    return response
