"""Turning an asset's local files into content-addressed artifacts before it is registered.

A local ``path`` (model, data), ``code`` (component) or ``build.path`` (environment) is uploaded
to the workspace's artifact store; the stored spec then names the upload the way Azure does,
``azureml://datastores/workspaceblobstore/paths/LocalUpload/<digest>/<name>``, and the registry
row keeps the manifest digest to find the bytes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from openaml.entities import CommandComponent, Data, Environment, Model
from openaml.entities._base import Asset
from openaml.errors import MissingFileError, NotFoundError, ValidationError
from openaml.services.locations import JOB_URI, LOCAL_UPLOAD_PREFIX, RUNS_URI, local_path_for_uri
from openaml.services.snapshots import ignore_matcher
from openaml.services.workspaces import WorkspaceContext

Progress = Callable[[int, int], None]
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def is_local_path(value: str) -> bool:
    return not _URI.match(value)


def upload_uri(ctx: WorkspaceContext, digest: str, root: str, datastore: str | None = None) -> str:
    return f"azureml://datastores/{datastore or ctx.default_datastore}/paths/{LOCAL_UPLOAD_PREFIX}/{digest}/{root}"


def _check_datastore(ctx: WorkspaceContext, name: str | None) -> None:
    if name and ctx.metadata.get_resource(ctx.name, "datastores", name) is None:
        raise NotFoundError(f"datastore '{name}' not found in workspace '{ctx.name}'. "
                            "See what exists with: openaml datastore list", field="datastore")


def _local(value: str, field: str) -> Path:
    path = Path(value).expanduser().resolve()
    if not path.exists():
        raise MissingFileError(f"{field}: '{value}' does not exist (resolved to {path})", field=field, path=str(path))
    return path


def _source_path(ctx: WorkspaceContext, path: str) -> Path | None:
    """The local file or folder to store for ``path``: a local path, or a job-output or
    ``runs:/`` URI (a job's output is copied into the version, so registering the model a job
    logged keeps it even if the job is archived). None for other URIs, such as datastore
    paths, which stay references as in Azure."""
    if is_local_path(path):
        return _local(path, "path")
    if not (JOB_URI.match(path) or RUNS_URI.match(path)):
        return None
    local = local_path_for_uri(ctx, path)
    if local is None:
        return None
    if not local.exists():
        raise MissingFileError(f"path: {path} does not exist ({local})", field="path", path=str(local))
    return local


def prepare(ctx: WorkspaceContext, kind: str, asset: Asset, *, progress: Progress | None = None
            ) -> tuple[dict[str, Any], str | None]:
    """Upload what is local and return ``(spec to store, content digest or None)``."""
    handler = {"models": _prepare_model, "data": _prepare_data,
               "environments": _prepare_environment, "components": _prepare_component}[kind]
    return handler(ctx, asset, progress)


def _upload(ctx: WorkspaceContext, path: Path, progress: Progress | None,
            ignore: Callable[[str], bool] | None = None, datastore: str | None = None) -> tuple[str, str]:
    _check_datastore(ctx, datastore)
    digest, manifest = ctx.artifacts.put_path(path, ignore=ignore, progress=progress)
    return digest, upload_uri(ctx, digest, manifest.root, datastore)


def _prepare_model(ctx: WorkspaceContext, model: Model, progress: Progress | None):
    spec = model.model_dump(mode="json", exclude_none=True)
    if not model.path:
        raise ValidationError("a model needs a path (a local file or folder, or a URI)", field="path")
    local = _source_path(ctx, model.path)
    if local is None:
        return spec, None
    if model.type == "mlflow_model":
        if not local.is_dir():
            raise ValidationError("an mlflow_model path must be a folder holding an MLmodel file",
                                  field="path", path=str(local))
        from openaml.specs.mlmodel import read_mlmodel_flavors  # here: YAML parsing is costly to import
        spec["flavors"] = read_mlmodel_flavors(local)
    digest, uploaded = _upload(ctx, local, progress, datastore=model.datastore)
    spec["path"] = uploaded if is_local_path(model.path) else model.path
    return spec, digest


def _prepare_data(ctx: WorkspaceContext, data: Data, progress: Progress | None):
    spec = data.model_dump(mode="json", exclude_none=True)
    if not data.path:
        raise ValidationError("a data asset needs a path (a local file or folder, or a URI)", field="path")
    local = _source_path(ctx, data.path)
    if local is None:
        return spec, None
    if data.type == "uri_file" and not local.is_file():
        raise ValidationError(f"type uri_file needs a file, but {local} is a folder; use type uri_folder",
                              field="type")
    if data.type in ("uri_folder", "mltable") and not local.is_dir():
        raise ValidationError(f"type {data.type} needs a folder, but {local} is a file; use type uri_file",
                              field="type")
    if data.type == "mltable":
        from openaml.specs.mltable import validate_mltable_folder
        validate_mltable_folder(local)
    digest, uploaded = _upload(ctx, local, progress, datastore=data.datastore)
    spec["path"] = uploaded if is_local_path(data.path) else data.path
    return spec, digest


def _environment_spec(ctx: WorkspaceContext, env: Environment, progress: Progress | None,
                      field_prefix: str = "") -> tuple[dict[str, Any], str | None]:
    env.validate_for_registration()
    spec = env.model_dump(mode="json", exclude_none=True)
    if isinstance(env.conda_file, str):
        from openaml.specs.yamlio import read_yaml_file
        spec["conda_file"] = read_yaml_file(_local(env.conda_file, field_prefix + "conda_file"))
    digest = None
    if env.build is not None and env.build.path and is_local_path(env.build.path):
        local = _local(env.build.path, field_prefix + "build.path")
        if not (local / (env.build.dockerfile_path or "Dockerfile")).is_file():
            raise MissingFileError(
                f"the build context {local} has no {env.build.dockerfile_path or 'Dockerfile'}",
                field=field_prefix + "build.dockerfile_path")
        digest, spec["build"]["path"] = _upload(ctx, local, progress, ignore_matcher(local))
    return spec, digest


def _prepare_environment(ctx: WorkspaceContext, env: Environment, progress: Progress | None):
    return _environment_spec(ctx, env, progress)


def _prepare_component(ctx: WorkspaceContext, comp: CommandComponent, progress: Progress | None):
    spec = comp.model_dump(mode="json", exclude_none=True)
    digest = None
    if isinstance(comp.environment, Environment):
        spec["environment"], _ = _environment_spec(ctx, comp.environment, progress, "environment.")
    if comp.code and is_local_path(comp.code):
        local = _local(comp.code, "code")
        digest, spec["code"] = _upload(ctx, local, progress, ignore_matcher(local) if local.is_dir() else None)
    return spec, digest
