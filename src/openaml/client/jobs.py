"""``ml_client.jobs``: submit, follow, cancel and download jobs, with azure-ai-ml's verbs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from openaml.client.keywords import OperationGroup
from openaml.client.poller import LROPoller, WaitPolling
from openaml.constants import ListViewType
from openaml.entities.job import CommandJob
from openaml.entities.job_status import JobStatus, is_terminal
from openaml.client.transport import JobApi

if TYPE_CHECKING:
    from openaml.client.ml_client import MLClient


class ValidationResult:
    """What ``jobs.validate`` returns: ``passed`` and the ``error_messages`` by field."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.error_messages = errors
        self.passed = not errors

    def __repr__(self) -> str:
        return f"ValidationResult(passed={self.passed}, error_messages={self.error_messages})"


class JobOperations(OperationGroup):
    """Jobs of the client's workspace. ``create_or_update`` returns as soon as the job is queued."""

    def __init__(self, client: "MLClient") -> None:
        super().__init__(client)
        self.last_warnings: list[str] = []

    def _service(self) -> JobApi:
        return self._client._backend.jobs()

    def create_or_update(self, job: CommandJob, *, description: str | None = None, compute: str | None = None,
                         tags: dict[str, str] | None = None, experiment_name: str | None = None,
                         skip_validation: bool = False) -> CommandJob:
        """Submit a job; it runs on this machine in a detached agent process."""
        submission = self._service().submit(job, experiment_name=experiment_name, compute=compute,
                                            description=description, tags=tags)
        self.last_warnings = submission.warnings
        for warning in submission.warnings:
            print(f"Warning: {warning}", file=sys.stderr)
        return submission.job

    def get(self, name: str) -> CommandJob:
        """A job with its status, error, latest metric values and params."""
        return self._service().get(name)

    def list(self, *, parent_job_name: str | None = None,
             list_view_type: ListViewType = ListViewType.ACTIVE_ONLY,
             max_results: int | None = None) -> Iterable[CommandJob]:
        """Jobs, newest first; with ``parent_job_name``, that job's children."""
        return self._service().list(parent_job_name, ListViewType(list_view_type), max_results)

    def stream(self, name: str, *, raise_exception_on_failed_job: bool = True) -> None:
        """Print the job's logs as they are written until it ends, then a summary.

        Raises :class:`openaml.errors.JobFailedError` if the job failed. Ctrl-C stops following;
        the job goes on."""
        self._service().stream(name, sys.stdout, raise_on_failure=raise_exception_on_failed_job)

    def download(self, name: str, *, download_path: str | Path = ".", output_name: str | None = None,
                 all: bool = False, overwrite: bool = False) -> None:
        """Write ``artifacts/`` and ``named-outputs/<name>/`` under ``download_path``. Folders
        already there are replaced only with ``overwrite=True``; otherwise
        :class:`AlreadyExistsError` names them and nothing is written."""
        self._service().download(name, download_path, output_name=output_name, all=all, overwrite=overwrite)

    def begin_cancel(self, name: str) -> LROPoller[None]:
        """Stop the job's whole process tree. The poller's ``status()`` is ``"InProgress"`` until
        the job has ended (``Canceled``, or whatever it reached first); ``.result()`` waits for it."""
        service = self._service()
        service.cancel(name)

        def ended(status: str) -> bool:
            return is_terminal(JobStatus(status))

        return LROPoller(polling_method=WaitPolling(
            is_finished=lambda: ended(service.status(name)),
            wait_until=lambda timeout: ended(service.wait(name, timeout=timeout))))

    def archive(self, name: str) -> None:
        """Hide a job from ``list``."""
        self._service().archive(name)

    def restore(self, name: str) -> None:
        """Bring back an archived job."""
        self._service().restore(name)

    def update(self, name: str, *, display_name: str | None = None, description: str | None = None,
               tags: dict[str, str] | None = None, properties: dict[str, str] | None = None) -> CommandJob:
        """Change a job's display name, description, tags or properties."""
        return self._service().update(name, display_name=display_name, description=description,
                                      tags=tags, properties=properties)

    def validate(self, job: CommandJob, *, raise_on_failure: bool = False) -> ValidationResult:
        """Check a job without running it: bindings, references, files."""
        from openaml.errors import OpenAMLError
        try:
            self._service().check(job)
        except OpenAMLError as exc:
            if raise_on_failure:
                raise
            return ValidationResult({exc.details.get("field") or "job": exc.message})
        return ValidationResult({})
