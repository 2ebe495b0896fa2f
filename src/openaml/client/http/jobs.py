"""Jobs on a server (:class:`~openaml.client.transport.JobApi` over HTTP): submitted with their
local files uploaded first, followed by asking for what their logs gained, downloaded from the
server's store."""

from __future__ import annotations

import time
from urllib.parse import quote
from pathlib import Path
from typing import Any, TextIO

from openaml.client.http.localize import Localizer
from openaml.client.http.paging import MAX_PAGE, Paged
from openaml.client.http.session import HttpSession
from openaml.client.http.uploads import Uploader, remote_store
from openaml.constants import ListViewType
from openaml.entities.job_status import JobStatus, is_terminal
from openaml.rest.jobs import job_from_resource, job_properties
from openaml.services import job_logs
from openaml.services.jobs import Submission

POLL = 0.25


class HttpLogs:
    """A job's logs on a server, as :func:`openaml.services.job_logs.stream` reads them."""

    def __init__(self, session: HttpSession, name: str) -> None:
        self.session, self.name = session, name
        self.web_view = f"{session.server}{session.scope.of('jobs', name)}"

    def state(self) -> job_logs.LogState:
        body = self.session.json("GET", self.session.scope.of("jobs", self.name, "logs"))
        return job_logs.LogState(body["status"], body.get("error"), list(body.get("warnings") or []),
                                 [f["path"] for f in body.get("files") or []])

    def read(self, rel: str, offset: int, size: int) -> bytes:
        path = self.session.scope.of("jobs", self.name, "logs") + "/" + quote(rel, safe="/")
        response = self.session.request("GET", path, headers={"Range": f"bytes={offset}-{offset + size - 1}"})
        return response.content


class HttpJobs:
    """The jobs of a server's workspace."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session

    def _path(self, *parts: str) -> str:
        return self.session.scope.of("jobs", *parts)

    def _localized(self, job: Any, warnings: list[str]) -> dict[str, Any]:
        localizer = Localizer(Uploader(self.session), in_job=True)
        data = localizer.job(job.model_dump(mode="json", exclude_none=True))
        warnings.extend(localizer.warnings)
        return {"properties": job_properties(type(job).model_validate(data))}

    def submit(self, job: Any, *, experiment_name: str | None = None, compute: str | None = None,
               description: str | None = None, tags: dict[str, str] | None = None) -> Submission:
        updates = {k: v for k, v in {"experiment_name": experiment_name, "compute": compute,
                                     "description": description, "tags": tags}.items() if v is not None}
        if updates:
            job = job.model_copy(update=updates)
        warnings: list[str] = []
        body = self._localized(job, warnings)
        if job.name:
            answer = self.session.json("PUT", self._path(job.name), json=body)
        else:
            answer = self.session.json("POST", self.session.scope.of("jobs"), json=body)
        return Submission(job_from_resource(answer), warnings + list(answer.get("warnings") or []))

    def get(self, name: str) -> Any:
        return job_from_resource(self.session.json("GET", self._path(name)))

    def list(self, parent_job_name: str | None = None, view: ListViewType = ListViewType.ACTIVE_ONLY,
             max_results: int | None = None) -> Paged[Any]:
        """Jobs newest first, read a page at a time, at most *max_results*."""
        top = min(max_results, MAX_PAGE) if max_results else None
        return Paged(self.session, self.session.scope.of("jobs"),
                     {"parentJobName": parent_job_name, "listViewType": ListViewType(view).value, "$top": top},
                     job_from_resource, limit=max_results)

    def cancel(self, name: str) -> None:
        self.session.request("POST", self._path(name, "cancel"))

    def status(self, name: str) -> str:
        return self.session.json("GET", self._path(name, "logs"))["status"]

    def wait(self, name: str, timeout: float | None = None) -> str:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.status(name)
            if is_terminal(JobStatus(status)) or (deadline is not None and time.monotonic() > deadline):
                return status
            time.sleep(POLL)

    def archive(self, name: str) -> None:
        self.session.request("POST", self._path(name, "archive"))

    def restore(self, name: str) -> None:
        self.session.request("POST", self._path(name, "restore"))

    def update(self, name: str, *, display_name: str | None = None, description: str | None = None,
               tags: dict[str, str] | None = None, properties: dict[str, str] | None = None) -> Any:
        props = {"displayName": display_name, "description": description, "tags": tags, "properties": properties}
        answer = self.session.json("PATCH", self._path(name),
                                   json={"properties": {k: v for k, v in props.items() if v is not None}})
        return job_from_resource(answer)

    def check(self, job: Any) -> list[str]:
        warnings: list[str] = []
        body = self._localized(job, warnings)
        return warnings + list(self.session.json("POST", self._path("validate"), json=body)["warnings"])

    def stream(self, name: str, out: TextIO, *, raise_on_failure: bool = True) -> str:
        return job_logs.stream(HttpLogs(self.session, name), name, out, poll=POLL, raise_on_failure=raise_on_failure)

    def download(self, name: str, download_path: str | Path, *, output_name: str | None = None,
                 all: bool = False, overwrite: bool = False) -> None:
        items = self.session.json("POST", self._path(name, "download"),
                                  params={"outputName": output_name, "all": "true" if all else None})["value"]
        targets = job_logs.check_targets(download_path, [i["target"] for i in items], overwrite)
        store = remote_store(self.session)
        for item, target in zip(items, targets):
            store.materialize(item["digest"], target.parent, overwrite=True)
