"""``.../workspaces/{ws}/jobs``: submit, read, list (a parent's children too), cancel, archive,
follow the logs of and download jobs. Jobs run on the server's machine (its local pool).

``PUT /jobs/{name}`` submits a job of that name (Azure's); ``POST /jobs`` one the server names
(openaml's). The answer to a submission carries the job and, top-level, its ``warnings``.
Logs: ``GET /jobs/{name}/logs`` gives the status and the log files written so far,
``GET /jobs/{name}/logs/{file}`` a file's bytes (``Range: bytes=<from>-<to>`` for what was
added since): a client follows a job by asking again. ``POST /jobs/{name}/download`` gives the
folders a download writes, each a manifest whose blobs are at ``/blobs``.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from openaml.errors import ValidationError
from openaml.rest.envelope import collection
from openaml.rest.jobs import job_from_properties, job_resource
from openaml.server.routes._common import JSON_BODY, WORKSPACE, json_body, properties, state_of, view, workspace
from openaml.server.routes._paging import PageRequest, page_request
from openaml.server.state import Scoped
from openaml.services import contents, job_logs

router = APIRouter(tags=["jobs"])
BASE = f"{WORKSPACE}/jobs"
_RANGE = re.compile(r"^bytes=(\d{1,18})-(\d{0,18})$")
MAX_LOG_READ = 8 << 20


def _jobs(request: Request, ws: Scoped) -> Any:
    return state_of(request).job_service(ws.ctx)


@router.get(BASE, summary="List jobs, newest first, a page at a time (parentJobName: that job's children).")
def list_jobs(request: Request, ws: Scoped = Depends(workspace), parentJobName: str | None = None,
              listViewType: str | None = None, pages: PageRequest = Depends(page_request)) -> dict[str, Any]:
    page = _jobs(request, ws).page(parentJobName, view(listViewType), after=pages.after(int), limit=pages.top)
    return pages.respond(page, lambda j: job_resource(j, ws.scope))


def _submit(request: Request, ws: Scoped, name: str | None, body: Any) -> dict[str, Any]:
    job, _ = job_from_properties(properties(body), name)
    submission = _jobs(request, ws).submit(job)
    return {**job_resource(submission.job, ws.scope), "warnings": submission.warnings}


@router.post(BASE, status_code=201, openapi_extra=JSON_BODY, summary="Submit a job the server names (openaml's).")
def create_job(request: Request, ws: Scoped = Depends(workspace), body: Any = Depends(json_body)) -> dict[str, Any]:
    return _submit(request, ws, None, body)


@router.post(BASE + "/validate", openapi_extra=JSON_BODY,
             summary="Check a job as submission would, without storing or running it (openaml's).")
def validate_job(request: Request, ws: Scoped = Depends(workspace), body: Any = Depends(json_body)
                 ) -> dict[str, Any]:
    job, _ = job_from_properties(properties(body), None)
    return {"warnings": _jobs(request, ws).check(job)}


@router.put(BASE + "/{name}", status_code=201, openapi_extra=JSON_BODY, summary="Submit a job named so.")
def put_job(name: str, request: Request, ws: Scoped = Depends(workspace), body: Any = Depends(json_body)
            ) -> dict[str, Any]:
    return _submit(request, ws, name, body)


@router.get(BASE + "/{name}", summary="Get a job: status, error, latest metrics and params.")
def get_job(name: str, request: Request, ws: Scoped = Depends(workspace)) -> JSONResponse:
    return JSONResponse(job_resource(_jobs(request, ws).get(name), ws.scope))  # no response model: see _versioned


@router.patch(BASE + "/{name}", openapi_extra=JSON_BODY,
              summary="Change a job's displayName, description, tags or properties.")
def update_job(name: str, request: Request, ws: Scoped = Depends(workspace), body: Any = Depends(json_body)
               ) -> dict[str, Any]:
    props = properties(body)
    unknown = set(props) - {"displayName", "description", "tags", "properties"}
    if unknown:
        raise ValidationError(f"only displayName, description, tags and properties change, not "
                              f"{', '.join(sorted(unknown))}", field="properties")
    job = _jobs(request, ws).update(name, display_name=props.get("displayName"), description=props.get("description"),
                                    tags=props.get("tags"), properties=props.get("properties"))
    return job_resource(job, ws.scope)


@router.post(BASE + "/{name}/cancel", status_code=202,
             summary="Cancel a job: its agent stops its whole process tree, then it is Canceled.")
def cancel_job(name: str, request: Request, ws: Scoped = Depends(workspace)) -> dict[str, Any]:
    record = _jobs(request, ws).cancel(name)
    return {"status": record.status}


def _archive_route(verb: str) -> None:
    def act(name: str, request: Request, ws: Scoped = Depends(workspace)) -> dict[str, Any]:
        getattr(_jobs(request, ws), verb)(name)
        return {}
    router.add_api_route(BASE + "/{name}/" + verb, act, methods=["POST"], name=f"{verb}_job",
                         summary=f"{verb.capitalize()} a job (openaml's).")


_archive_route("archive")
_archive_route("restore")


@router.get(BASE + "/{name}/logs", summary="The job's status and the log files it has written so far.")
def logs(name: str, request: Request, ws: Scoped = Depends(workspace)) -> dict[str, Any]:
    source = job_logs.FolderLogs(_jobs(request, ws), name)
    try:
        state = source.state()
        files = [{"path": rel, "size": (source.folder / rel).stat().st_size} for rel in state.files]
    finally:
        source.close()
    return {"status": state.status, "error": state.error, "warnings": state.warnings, "files": files}


@router.get(BASE + "/{name}/logs/{path:path}", summary="A log file's bytes; Range: bytes=<from>-[<to>].")
def log_file(name: str, path: str, request: Request, ws: Scoped = Depends(workspace)) -> Response:
    source = job_logs.FolderLogs(_jobs(request, ws), name)
    start, end = 0, None
    asked = request.headers.get("range")
    if asked:
        match = _RANGE.match(asked.strip())
        if not match:
            raise ValidationError(f"Range must be bytes=<from>-[<to>], not {asked!r}", field="Range")
        start, end = int(match[1]), (int(match[2]) if match[2] else None)
        if end is not None and end < start:
            raise ValidationError("Range ends before it starts", field="Range")
    size = MAX_LOG_READ if end is None else min(MAX_LOG_READ, end - start + 1)
    try:
        source.state()  # an ended job's logs may be on the workspace's storage
        data = source.read(path, start, size)  # only a log file the job wrote: NotFoundError otherwise
    finally:
        source.close()
    return Response(data, status_code=206 if asked else 200, media_type="application/octet-stream",
                    headers={"Content-Range": f"bytes {start}-{start + len(data) - 1}/*"} if asked and data else {})


@router.post(BASE + "/{name}/download",
             summary="The folders a download of the job writes, each as a manifest (openaml's).")
def download(name: str, request: Request, ws: Scoped = Depends(workspace), outputName: str | None = None,
             all: bool = False) -> dict[str, Any]:
    items = job_logs.download_plan(_jobs(request, ws), name, outputName, all)
    out = []
    for item in items:
        content = item.source
        if not isinstance(content, contents.Content):
            if not content.exists():
                continue
            content = contents.snapshot(ws.ctx, content, "", f"folder of job {name}")
        leaf = item.target.rsplit("/", 1)[-1]
        out.append({"target": item.target, "digest": ws.ctx.artifacts.as_folder(content.digest, leaf)})
    return collection(out)


