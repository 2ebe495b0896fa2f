"""One router factory for the versioned asset collections (``models``, ``data``,
``environments``, ``components``), so their routes and rules stay identical; each resource's
own module builds its router from here.

Paths, under a workspace: ``/{kind}`` (names: the container of each, ``$expand=latestVersion``
adds the latest version whole), ``/{kind}/{name}`` (a container), ``/{kind}/{name}/versions``
(GET: its versions; POST: create the next version), ``/{kind}/{name}/versions/{version}``
(GET; PUT: create that version), ``/{kind}/{name}/labels/{label}`` (the version ``latest``
names), ``.../archive`` and ``.../restore`` (POST, on a name or a version), and
``/{kind}/{name}/versions/{version}/content`` (the manifest of its files, whose blobs are at
``/blobs/{digest}``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from openaml.errors import ValidationError
from openaml.names import check_version
from openaml.rest.assets import asset_from_properties, container_resource, version_resource
from openaml.server.routes._common import JSON_BODY, WORKSPACE, json_body, properties, view, workspace
from openaml.server.routes._paging import PageRequest, page_request
from openaml.server.state import Scoped
from openaml.services.registry import RegistryService


def _version(value: str) -> str:
    return check_version(value, field="version")


def build_router(kind: str, noun: str) -> APIRouter:
    """The routes of asset collection *kind* (``noun`` names one in summaries)."""
    router = APIRouter(tags=[kind])
    base = f"{WORKSPACE}/{kind}"

    @router.get(base, summary=f"List {kind}: the container of each name, by name, a page at a time.")
    def list_containers(ws: Scoped = Depends(workspace), listViewType: str | None = None,
                        expand: str | None = Query(None, alias="$expand"), stage: str | None = None,
                        pages: PageRequest = Depends(page_request)) -> dict[str, Any]:
        page = RegistryService(ws.ctx).page(kind, None, view(listViewType), stage=stage, after=pages.after(str),
                                            limit=pages.top)
        return pages.respond(page, lambda a: container_resource(kind, a, ws.scope, expand=expand == "latestVersion"))

    @router.get(base + "/{name}", summary=f"Get a {noun}'s container (its latest version).")
    def get_container(name: str, ws: Scoped = Depends(workspace)) -> dict[str, Any]:
        latest = RegistryService(ws.ctx).list(kind, name, view("All"))
        if not latest:
            RegistryService(ws.ctx).get(kind, name)  # raises the registry's NotFoundError
        return container_resource(kind, latest[0], ws.scope, expand=False)

    @router.get(base + "/{name}/versions", summary=f"List a {noun}'s versions, newest first, a page at a time.")
    def list_versions(name: str, ws: Scoped = Depends(workspace), listViewType: str | None = None,
                      stage: str | None = None, pages: PageRequest = Depends(page_request)) -> dict[str, Any]:
        page = RegistryService(ws.ctx).page(kind, name, view(listViewType), stage=stage, after=pages.after(int),
                                            limit=pages.top)
        return pages.respond(page, lambda a: version_resource(kind, a, ws.scope))

    def create(ws: Scoped, name: str, version: str | None, body: Any) -> dict[str, Any]:
        asset = asset_from_properties(kind, properties(body), name, version)
        return version_resource(kind, RegistryService(ws.ctx).create_or_update(asset), ws.scope)

    @router.post(base + "/{name}/versions", status_code=201, openapi_extra=JSON_BODY,
                 summary=f"Register the next version of a {noun} (openaml's: versions allocated by the server).")
    def create_next(name: str, ws: Scoped = Depends(workspace), body: Any = Depends(json_body)) -> dict[str, Any]:
        return create(ws, name, None, body)

    @router.put(base + "/{name}/versions/{version}", openapi_extra=JSON_BODY,
                summary=f"Register a {noun} version (identical content again: a no-op that applies "
                        "description and tags).")
    def put_version(name: str, version: str, response: Response, ws: Scoped = Depends(workspace),
                    body: Any = Depends(json_body)) -> dict[str, Any]:
        return create(ws, name, _version(version), body)

    # The reads clients repeat most answer a JSONResponse: no response model to validate the
    # body against (FastAPI would do it in another trip through the thread pool).
    @router.get(base + "/{name}/versions/{version}", summary=f"Get a {noun} version.")
    def get_version(name: str, version: str, ws: Scoped = Depends(workspace)) -> JSONResponse:
        asset = RegistryService(ws.ctx).get(kind, name, version=_version(version))
        return JSONResponse(version_resource(kind, asset, ws.scope))

    @router.get(base + "/{name}/labels/{label}", summary=f"Get the {noun} version a label names (latest).")
    def get_label(name: str, label: str, ws: Scoped = Depends(workspace)) -> JSONResponse:
        return JSONResponse(version_resource(kind, RegistryService(ws.ctx).get(kind, name, label=label), ws.scope))

    @router.get(base + "/{name}/versions/{version}/content",
                summary=f"The manifest of a {noun} version's files (openaml's: read them from /blobs).")
    def content(name: str, version: str, ws: Scoped = Depends(workspace)) -> dict[str, Any]:
        stored_name, digest = RegistryService(ws.ctx).content(kind, name, _version(version))
        manifest = ws.ctx.artifacts.get_manifest(digest)
        return {"name": stored_name, "digest": digest, "root": manifest.root, "kind": manifest.kind,
                "size": manifest.total_size}

    for verb in ("archive", "restore"):
        _add_archive(router, base, kind, noun, verb)
    return router


def _add_archive(router: APIRouter, base: str, kind: str, noun: str, verb: str) -> None:
    def act(ws: Scoped, name: str, version: str | None, label: str | None) -> dict[str, Any]:
        if version is not None and label is not None:
            raise ValidationError("give a version or a label, not both", field="label")
        getattr(RegistryService(ws.ctx), verb)(kind, name, version=version, label=label)
        return {}

    @router.post(base + "/{name}/" + verb, summary=f"{verb.capitalize()} a {noun} name (every version), or "
                                                   "the version ?label= names (openaml's).")
    def on_name(name: str, ws: Scoped = Depends(workspace), label: str | None = None) -> dict[str, Any]:
        return act(ws, name, None, label)

    @router.post(base + "/{name}/versions/{version}/" + verb, summary=f"{verb.capitalize()} a {noun} version "
                                                                      "(openaml's).")
    def on_version(name: str, version: str, ws: Scoped = Depends(workspace)) -> dict[str, Any]:
        return act(ws, name, _version(version), None)

    on_name.__name__ = f"{verb}_{kind}_name"
    on_version.__name__ = f"{verb}_{kind}_version"
