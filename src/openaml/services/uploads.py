"""Turning an asset's local files into content-addressed artifacts before it is registered.

A local ``path`` (model, data), ``code`` (component) or ``build.path`` (environment) is uploaded
to the workspace's artifact store; the stored spec then names the upload the way Azure does,
``azureml://datastores/workspaceblobstore/paths/LocalUpload/<digest>/<name>``, and the registry
row keeps the manifest digest to find the bytes.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, Callable

from openaml.entities import Data, Environment, Model
from openaml.entities._base import Asset
from openaml.errors import MissingFileError, NotFoundError, ValidationError
from openaml.paths import check_relative
from openaml.services import contents
from openaml.services.datastore_io import check_datastore_uri
from openaml.services.locations import (ARTIFACTS_OUTPUTS, JOB_URI, LOCAL_UPLOAD_PREFIX, RUNS_URI, local_upload,
                                        uri_path)
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


def _source(ctx: WorkspaceContext, path: str) -> Path | contents.Content | None:
    """What to store for ``path``: a local file or folder (uploaded), the content of a job's
    output or ``runs:/`` URI (already in the store: the version names the same manifest, so
    registering what a job produced copies nothing and survives the job's archiving), or None
    for other URIs, such as datastore paths, which stay references as in Azure."""
    if is_local_path(path):
        return _local(path, "path")
    uploaded = uploaded_content(ctx, path, "path")
    if uploaded is not None:
        return uploaded
    job, run = JOB_URI.match(path), RUNS_URI.match(path)
    if not (job or run):
        return None
    # Checked before anything is looked up: MLflow's runs:/ URIs are not percent-decoded (as
    # MLflow), azureml:// ones are, once.
    inner = uri_path(job["path"]) if job else check_relative(run["path"], field="path", allow_empty=True)
    try:
        if job:
            return contents.job_output(ctx, job["job"], job["output"], inner)
        return contents.job_output(ctx, run["job"], ARTIFACTS_OUTPUTS[0], inner)
    except NotFoundError as exc:
        raise MissingFileError(f"path: {path}: {exc.message}", field="path") from None


def uploaded_content(ctx: WorkspaceContext, uri: str, field: str) -> contents.Content | None:
    """The content of a ``LocalUpload`` URI (files uploaded earlier, e.g. by a client of the
    server), checked to be whole in the store; None for any other URI."""
    upload = local_upload(uri)
    if upload is None:
        return None
    manifest = ctx.artifacts.get_manifest(upload[0])  # NotFoundError when never uploaded
    if manifest.root != upload[1]:
        raise ValidationError(f"{uri}: the upload's root is {manifest.root!r}, not {upload[1]!r}", field=field)
    return contents.Content(upload[0], manifest.root, manifest.kind)


def _stored_file(ctx: WorkspaceContext, content: contents.Content, name: str, folder: str) -> Path:
    """One file of stored content, written to *folder* (to read an MLmodel or MLTable file)."""
    if content.kind != "folder":
        raise ValidationError(f"{content.root} is a file; a folder holding {name} is needed", field="path")
    digest, _ = ctx.artifacts.put_sub_manifest(content.digest, name)
    return ctx.artifacts.materialize(digest, folder)


def prepare(ctx: WorkspaceContext, kind: str, asset: Asset, *, progress: Progress | None = None,
            pin: Callable[[str, str], tuple[str, str | None]] | None = None) -> tuple[dict[str, Any], str | None]:
    """Upload what is local and return ``(spec to store, content digest or None)``; ``pin``
    resolves the workspace references a component holds (see ``component_assets``)."""
    if kind == "components":  # command, parallel and pipeline components (and their steps' code)
        from openaml.services.component_assets import prepare_component
        return prepare_component(ctx, asset, progress, pin)
    handler = {"models": _prepare_model, "data": _prepare_data, "environments": _prepare_environment}[kind]
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
    local = _source(ctx, model.path)
    if local is None:
        check_datastore_uri(ctx, model.path)
        return spec, None
    if model.type == "mlflow_model":
        from openaml.specs.mlmodel import read_mlmodel_flavors  # here: YAML parsing is costly to import
        if isinstance(local, contents.Content):
            with tempfile.TemporaryDirectory() as tmp:
                spec["flavors"] = read_mlmodel_flavors(_stored_file(ctx, local, "MLmodel", tmp))
        elif not local.is_dir():
            raise ValidationError("an mlflow_model path must be a folder holding an MLmodel file",
                                  field="path", path=str(local))
        else:
            spec["flavors"] = read_mlmodel_flavors(local)
    if isinstance(local, contents.Content):
        return spec, local.digest
    digest, uploaded = _upload(ctx, local, progress, datastore=model.datastore)
    spec["path"] = uploaded if is_local_path(model.path) else model.path
    return spec, digest


def _prepare_data(ctx: WorkspaceContext, data: Data, progress: Progress | None):
    spec = data.model_dump(mode="json", exclude_none=True)
    if not data.path:
        raise ValidationError("a data asset needs a path (a local file or folder, or a URI)", field="path")
    local = _source(ctx, data.path)
    if local is None:  # a URI: recorded as it is, nothing copied (as Azure)
        check_datastore_uri(ctx, data.path)
        return spec, None
    stored = isinstance(local, contents.Content)
    is_file = local.kind == "file" if stored else local.is_file()
    if data.type == "uri_file" and not is_file:
        raise ValidationError(f"type uri_file needs a file, but {data.path} is a folder; use type uri_folder",
                              field="type")
    if data.type in ("uri_folder", "mltable") and is_file:
        raise ValidationError(f"type {data.type} needs a folder, but {data.path} is a file; use type uri_file",
                              field="type")
    if data.type == "mltable":
        from openaml.specs.mltable import validate_mltable_folder
        if stored:
            with tempfile.TemporaryDirectory() as tmp:
                validate_mltable_folder(_stored_file(ctx, local, "MLTable", tmp).parent)
        else:
            validate_mltable_folder(local)
    if stored:
        return spec, local.digest
    digest, uploaded = _upload(ctx, local, progress, datastore=data.datastore)
    spec["path"] = uploaded if is_local_path(data.path) else data.path
    return spec, digest


def environment_spec(ctx: WorkspaceContext, env: Environment, progress: Progress | None,
                     field_prefix: str = "") -> tuple[dict[str, Any], str | None]:
    """The stored spec of an environment (its conda file read in, its build context uploaded)
    and the build context's digest; ``field_prefix`` goes in front of field names in errors."""
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
    elif env.build is not None and env.build.path:
        uploaded = uploaded_content(ctx, env.build.path, field_prefix + "build.path")
        digest = uploaded.digest if uploaded is not None else None
        dockerfile = env.build.dockerfile_path or "Dockerfile"
        if uploaded is not None and dockerfile not in ctx.artifacts.get_manifest(uploaded.digest).files:
            raise MissingFileError(f"the build context {env.build.path} has no {dockerfile}",
                                   field=field_prefix + "build.dockerfile_path")
    return spec, digest


def _prepare_environment(ctx: WorkspaceContext, env: Environment, progress: Progress | None):
    return environment_spec(ctx, env, progress)


def upload_code(ctx: WorkspaceContext, code: str, progress: Progress | None, field: str = "code"
                ) -> tuple[str | None, str]:
    """A component's ``code``: a local file or folder is uploaded (``.amlignore``/``.gitignore``
    honoured) and named by its upload URI; an upload already in the store keeps its URI. Returns
    ``(manifest digest or None, the code to store)``."""
    if is_local_path(code):
        local = _local(code, field)
        return _upload(ctx, local, progress, ignore_matcher(local) if local.is_dir() else None)
    upload = local_upload(code)
    return (upload[0] if upload else None), code
