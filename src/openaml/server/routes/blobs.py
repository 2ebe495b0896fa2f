"""``.../workspaces/{ws}/blobs``: the workspace's content-addressed store, for uploads and
downloads (openaml's; Azure hands out storage SAS URLs instead).

``POST /blobs/missing`` (``{"digests": [...]}`` -> ``{"missing": [...]}``) says which bytes a
client must send; ``PUT /blobs/{sha256}`` streams one blob in, hashed as it arrives and stored
only when whole and equal to its name (a cut or changed upload stores nothing);
``GET``/``HEAD /blobs/{sha256}`` stream one out. A manifest is a blob too; it becomes an
upload others can name once ``PUT /codes/{digest}/versions/1`` has found every file of it stored.
"""

from __future__ import annotations

from typing import Any, Iterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from openaml.errors import PayloadTooLargeError, ValidationError
from openaml.server.routes._common import JSON_BODY, WORKSPACE, json_body, state_of, workspace
from openaml.server.state import Scoped
from openaml.store.manifest import check_digest

router = APIRouter(tags=["blobs"])
BASE = f"{WORKSPACE}/blobs"
MAX_DIGESTS = 100_000
_CHUNK = 1 << 20


@router.post(BASE + "/missing", openapi_extra=JSON_BODY,
             summary="Which of these sha256 digests the workspace's store does not hold.")
def missing(ws: Scoped = Depends(workspace), body: Any = Depends(json_body)) -> dict[str, list[str]]:
    digests = body.get("digests") if isinstance(body, dict) else None
    if not isinstance(digests, list) or len(digests) > MAX_DIGESTS:
        raise ValidationError(f"digests must be a list of at most {MAX_DIGESTS} sha256 digests", field="digests")
    wanted = sorted({check_digest(d) for d in digests})
    return {"missing": [d for d in wanted if not ws.ctx.artifacts.has(d)]}


@router.put(BASE + "/{digest}", status_code=201,
            openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {}}}},
            summary="Store one blob: the body's bytes, whose sha256 must be the path's digest.")
async def put_blob(digest: str, request: Request, ws: Scoped = Depends(workspace)) -> dict[str, Any]:
    check_digest(digest)
    cap = state_of(request).settings.max_blob_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise PayloadTooLargeError(f"a blob of {declared} bytes is over the {cap} accepted", field="blob")
    writer = await run_in_threadpool(ws.ctx.artifacts.begin_blob, max_bytes=cap)
    try:
        async for chunk in request.stream():
            writer.write(chunk)
        entry = await run_in_threadpool(writer.commit, digest)
    finally:
        writer.abort()  # a dropped connection or a wrong digest leaves nothing behind
    return {"digest": entry.digest, "size": entry.size}


@router.head(BASE + "/{digest}", summary="Whether a blob is stored (200) or not (404).")
def head_blob(digest: str, ws: Scoped = Depends(workspace)) -> Response:
    return Response(status_code=200 if ws.ctx.artifacts.has(check_digest(digest)) else 404)


@router.get(BASE + "/{digest}", response_class=StreamingResponse,
            summary="Read one blob (the client checks its bytes against the digest).")
def get_blob(digest: str, ws: Scoped = Depends(workspace)) -> StreamingResponse:
    source = ws.ctx.artifacts.open(check_digest(digest))  # NotFoundError when absent

    def chunks() -> Iterator[bytes]:
        with source:
            while chunk := source.read(_CHUNK):
                yield chunk

    return StreamingResponse(chunks(), media_type="application/octet-stream")
