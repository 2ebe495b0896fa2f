"""The in-process backend: the client's own process opens the workspace and calls the services."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from openaml.client.transport import ComputeApi, DatastoreApi, JobApi, RegistryApi
from openaml.constants import ListViewType
from openaml.entities import Workspace
from openaml.entities.compute_sizes import Usage, VmSize
from openaml.services import compute_usage, job_logs
from openaml.services.compute import ComputeService
from openaml.services.datastores import DatastoreService
from openaml.services.jobs import JobService, Submission
from openaml.services.registry import RegistryService
from openaml.services.settings import DEFAULT_WORKSPACE, Settings
from openaml.services.workspaces import WorkspaceContext, WorkspaceService


class LocalJobs:
    """:class:`~openaml.client.transport.JobApi` over a :class:`JobService` and :mod:`job_logs`."""

    def __init__(self, service: JobService) -> None:
        self.service = service

    def submit(self, job: Any, *, experiment_name: str | None = None, compute: str | None = None,
               description: str | None = None, tags: dict[str, str] | None = None) -> Submission:
        return self.service.submit(job, experiment_name=experiment_name, compute=compute,
                                   description=description, tags=tags)

    def get(self, name: str) -> Any:
        return self.service.get(name)

    def list(self, parent_job_name: str | None = None, view: ListViewType = ListViewType.ACTIVE_ONLY,
             max_results: int | None = None) -> list[Any]:
        return self.service.list(parent_job_name, view, max_results)

    def cancel(self, name: str) -> None:
        self.service.cancel(name)

    def status(self, name: str) -> str:
        return self.service.record(name).status

    def wait(self, name: str, timeout: float | None = None) -> str:
        return self.service.wait(name, timeout=timeout).status

    def archive(self, name: str) -> None:
        self.service.archive(name)

    def restore(self, name: str) -> None:
        self.service.restore(name)

    def update(self, name: str, **fields: Any) -> Any:
        return self.service.update(name, **fields)

    def check(self, job: Any) -> list[str]:
        return self.service.check(job)

    def stream(self, name: str, out: TextIO, *, raise_on_failure: bool = True) -> str:
        return job_logs.stream(self.service, name, out, raise_on_failure=raise_on_failure)

    def download(self, name: str, download_path: str | Path, *, output_name: str | None = None,
                 all: bool = False, overwrite: bool = False) -> None:
        job_logs.download(self.service, name, download_path, output_name=output_name, all=all, overwrite=overwrite)


class LocalBackend:
    """Workspaces under ``settings.home``, opened in this process; the default workspace is
    created on first use."""

    def __init__(self, settings: Settings, workspace_name: str) -> None:
        self.settings = settings
        self.workspace_name = workspace_name
        self.workspaces = WorkspaceService(settings)
        self._launcher: Any = None

    def context(self) -> WorkspaceContext:
        if self.workspace_name == DEFAULT_WORKSPACE and not self.workspaces.exists(DEFAULT_WORKSPACE):
            self.workspaces.create(Workspace(name=DEFAULT_WORKSPACE), exist_ok=True)
        return self.workspaces.open(self.workspace_name)

    def registry(self) -> RegistryApi:
        return RegistryService(self.context())

    def datastores(self) -> DatastoreApi:
        return DatastoreService(self.context())

    def computes(self) -> ComputeApi:
        return ComputeService(self.context())

    def job_service(self) -> JobService:
        from openaml.backends.local import LocalLauncher
        if self._launcher is None:
            self._launcher = LocalLauncher()
        return JobService(self.context(), self.settings, self._launcher)

    def jobs(self) -> JobApi:
        return LocalJobs(self.job_service())

    def endpoint_service(self) -> Any:
        """The online endpoints of the workspace, served by routers on this machine."""
        from openaml.backends.local.serving.host import LocalEndpointHost
        from openaml.services.endpoints import EndpointService
        return EndpointService(self.context(), self.settings, LocalEndpointHost(self.settings))

    def machine_sizes(self) -> list[VmSize]:
        return [compute_usage.machine_size(self.settings.home)]

    def usage(self) -> list[Usage]:
        return compute_usage.usage(self.context())

    def close(self) -> None:
        self.workspaces.close()

    def __repr__(self) -> str:
        return f"home={str(self.settings.home)!r}"
