"""``.../workspaces/{ws}/codes/{digest}/versions/1``: uploads, as Azure's code versions.

A code version here is content-addressed: its name is the digest of a manifest in the
workspace's store (uploaded through :mod:`~openaml.server.routes.blobs`), its version ``1``,
and its ``codeUri`` the ``LocalUpload`` URI jobs and assets name it by. ``PUT`` commits an
upload: it answers only once the manifest and every file it lists are stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from openaml.errors import MissingFileError, ValidationError
from openaml.rest.assets import code_resource
from openaml.server.routes._common import JSON_BODY, WORKSPACE, json_body, properties, workspace
from openaml.server.state import Scoped
from openaml.services.locations import local_upload
from openaml.services.uploads import upload_uri
from openaml.store.manifest import check_digest

router = APIRouter(tags=["codes"])
BASE = f"{WORKSPACE}/codes/{{name}}/versions/{{version}}"


def _checked(name: str, version: str) -> str:
    check_digest(name)
    if version != "1":
        raise ValidationError("a code version is named by its content: its version is 1", field="version")
    return name


@router.put(BASE, openapi_extra=JSON_BODY,
            summary="Commit an upload: codeUri names the manifest; every file it lists must be stored.")
def put_code(name: str, version: str, ws: Scoped = Depends(workspace), body: Any = Depends(json_body)
             ) -> dict[str, Any]:
    digest = _checked(name, version)
    uri = properties(body).get("codeUri")
    upload = local_upload(uri) if isinstance(uri, str) else None
    if upload is None or upload[0] != digest:
        raise ValidationError(f"codeUri must be azureml://datastores/<datastore>/paths/LocalUpload/{digest}/<root>",
                              field="properties.codeUri")
    manifest = ws.ctx.artifacts.get_manifest(digest)
    missing = ws.ctx.artifacts.missing_blobs(digest)
    if missing:
        raise MissingFileError(f"{len(missing)} file(s) of upload {digest} are not stored yet (first: "
                               f"{missing[0]}); upload them to /blobs first", field="properties.codeUri")
    return code_resource(ws.scope, digest, upload_uri(ws.ctx, digest, manifest.root))


@router.get(BASE, summary="Get a code version (an upload that is stored).")
def get_code(name: str, version: str, ws: Scoped = Depends(workspace)) -> dict[str, Any]:
    digest = _checked(name, version)
    manifest = ws.ctx.artifacts.get_manifest(digest)
    return code_resource(ws.scope, digest, upload_uri(ws.ctx, digest, manifest.root))
