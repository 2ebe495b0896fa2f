"""Operation groups of :class:`~openaml.MLClient`, with azure-ai-ml's names and verbs.

Each group is a thin edge over one service; business rules live in ``openaml.services``. The
methods take azure-ai-ml's parameter names, positionally or by keyword
(``models.create_or_update(model=m)``), and an unknown keyword argument raises ``TypeError``
(:mod:`openaml.client.keywords`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable, Union

from openaml.client.keywords import OperationGroup
from openaml.client.poller import LROPoller
from openaml.client.progress import transfer_progress
from openaml.constants import ListViewType
from openaml.entities import (CommandComponent, Data, Environment, Model, ParallelComponent, PipelineComponent,
                              Workspace)
from openaml.entities.compute import Compute
from openaml.entities.credentials import CredentialConfiguration
from openaml.entities.compute_sizes import Usage, VmSize
from openaml.entities.datastore import Datastore
from openaml.entities._base import Asset
from openaml.client.transport import ComputeApi, DatastoreApi, RegistryApi


COMPONENT_TYPES = (CommandComponent, ParallelComponent, PipelineComponent)
Component = Union[CommandComponent, ParallelComponent, PipelineComponent]


class _AssetOperations(OperationGroup):
    """Verbs shared by the versioned asset groups."""

    _kind = ""
    _entity: type[Asset] = Asset

    def _registry(self) -> RegistryApi:
        return self._client._backend.registry()

    def _register(self, asset: Asset) -> Asset:
        """Register a version (uploading local files); without a version, the next integer."""
        if not isinstance(asset, self._entity):
            raise TypeError(f"expected {self._entity.__name__}, got {type(asset).__name__}")
        with transfer_progress(f"Uploading {asset.name}", self._client._show_progress) as progress:
            return self._registry().create_or_update(asset, progress=progress)

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Asset:
        """One version by number or by label (``latest``); with neither, the latest."""
        return self._registry().get(self._kind, name, version=version, label=label)

    def list(self, name: str | None = None, *,
             list_view_type: ListViewType = ListViewType.ACTIVE_ONLY) -> Iterable[Asset]:
        """Without a name, the latest version of every name; with one, its versions."""
        return self._registry().list(self._kind, name, ListViewType(list_view_type))

    def archive(self, name: str, version: str | None = None, label: str | None = None) -> None:
        """Hide a version (or, without version and label, the whole name) from ``list``."""
        self._registry().archive(self._kind, name, version=version, label=label)

    def restore(self, name: str, version: str | None = None, label: str | None = None) -> None:
        """Bring back an archived version (or name)."""
        self._registry().restore(self._kind, name, version=version, label=label)


class ModelOperations(_AssetOperations):
    """``ml_client.models``."""

    _kind, _entity = "models", Model

    def create_or_update(self, model: Model) -> Model:
        """Register a model version (uploading its local files); without a version, the next integer."""
        return self._register(model)

    def list(self, name: str | None = None, stage: str | None = None, *,
             list_view_type: ListViewType = ListViewType.ACTIVE_ONLY) -> Iterable[Model]:
        """Models, optionally only those in ``stage``."""
        return self._registry().list(self._kind, name, ListViewType(list_view_type), stage=stage)

    def download(self, name: str, version: str | None = None, download_path: str | Path = ".", *,
                 overwrite: bool = False) -> None:
        """Write the model's files to ``<download_path>/<name>/``. Files already there are
        replaced only with ``overwrite=True``; otherwise :class:`AlreadyExistsError` names them."""
        with transfer_progress(f"Downloading {name}", self._client._show_progress) as progress:
            self._registry().download(self._kind, name, version, download_path, progress=progress,
                                      overwrite=overwrite)


class DataOperations(_AssetOperations):
    """``ml_client.data``."""

    _kind, _entity = "data", Data

    def create_or_update(self, data: Data) -> Data:
        """Register a data asset version (uploading local files); without a version, the next integer."""
        return self._register(data)


class EnvironmentOperations(_AssetOperations):
    """``ml_client.environments``."""

    _kind, _entity = "environments", Environment

    def create_or_update(self, environment: Environment) -> Environment:
        """Register an environment version; without a version, the next integer."""
        return self._register(environment)


class ComponentOperations(_AssetOperations):
    """``ml_client.components``: command, parallel and pipeline components."""

    _kind, _entity = "components", CommandComponent

    def create_or_update(self, component: Component | Callable[..., Any], version: str | None = None, *,
                         skip_validation: bool = False) -> Component:
        """Register a component (``CommandComponent``, ``ParallelComponent``,
        ``PipelineComponent``, or a ``@dsl.pipeline`` function, whose pipeline component is
        built from its parameters' defaults); ``version`` overrides the component's own. A
        ``command()`` node's ``.component`` registers the command as a component, as in
        azure-ai-ml."""
        definition = getattr(component, "_pipeline_definition", None)
        if definition is not None:
            component = definition.as_component()
        if not isinstance(component, COMPONENT_TYPES):
            raise TypeError(f"expected a component (CommandComponent, ParallelComponent, PipelineComponent) "
                            f"or a @dsl.pipeline function, got {type(component).__name__}")
        if version is not None:
            component = component.model_copy(update={"version": str(version)})
        with transfer_progress(f"Uploading {component.name}", self._client._show_progress) as progress:
            return self._registry().create_or_update(component, progress=progress)

    def download(self, name: str, download_path: str | Path = ".", *, version: str | None = None,
                 overwrite: bool = False) -> None:
        """Write the component's code snapshot to ``<download_path>/<name>/``; files already
        there are replaced only with ``overwrite=True``."""
        self._registry().download(self._kind, name, version, download_path, overwrite=overwrite)


class DatastoreOperations(OperationGroup):
    """``ml_client.datastores``. Secrets come back only with ``include_secrets=True``."""

    def _service(self) -> DatastoreApi:
        return self._client._backend.datastores()

    def create_or_update(self, datastore: Datastore) -> Datastore:
        """Create a datastore, or replace the one of that name."""
        return self._service().create_or_update(datastore)

    def get(self, name: str, *, include_secrets: bool = False) -> Datastore:
        """One datastore; its credentials only with ``include_secrets=True``."""
        return self._service().get(name, include_secrets=include_secrets)

    def get_default(self, *, include_secrets: bool = False) -> Datastore:
        """The workspace's default datastore (``workspaceblobstore`` unless changed)."""
        return self._service().get_default(include_secrets=include_secrets)

    def list(self, *, include_secrets: bool = False) -> Iterable[Datastore]:
        """Every datastore of the workspace."""
        return self._service().list(include_secrets=include_secrets)

    def delete(self, name: str) -> None:
        """Forget a datastore (its files stay where they are)."""
        self._service().delete(name)


class ComputeOperations(OperationGroup):
    """``ml_client.compute``."""

    def _service(self) -> ComputeApi:
        return self._client._backend.computes()

    def begin_create_or_update(self, compute: Compute) -> LROPoller[Compute]:
        """Create a compute target, or replace the one of that name (done when this returns)."""
        return LROPoller(self._service().create_or_update(compute))

    def begin_update(self, compute: Compute) -> LROPoller[Compute]:
        """Replace a compute target's definition."""
        return self.begin_create_or_update(compute)

    def get(self, name: str) -> Compute:
        """One compute target."""
        return self._service().get(name)

    def list(self, *, compute_type: str | None = None) -> Iterable[Compute]:
        """Compute targets, optionally of one type (``amlcompute``...)."""
        return self._service().list(compute_type)

    def begin_delete(self, name: str, *, action: str = "Delete") -> LROPoller[None]:
        """Delete a compute target (done when this returns)."""
        self._service().delete(name)
        return LROPoller(None)

    def list_sizes(self, *, location: str | None = None, compute_type: str | None = None) -> Iterable[VmSize]:
        """The one size every local compute has: this machine's cores, memory and GPUs."""
        return self._client._backend.machine_sizes()

    def list_usage(self, *, location: str | None = None) -> Iterable[Usage]:
        """vCPUs and job slots held by the workspace's running jobs (see
        :mod:`openaml.services.compute_usage`)."""
        return self._client._backend.usage()


class WorkspaceOperations(OperationGroup):
    """``ml_client.workspaces``: local workspaces under ``$OPENAML_HOME``."""

    def begin_create(self, workspace: Workspace, update_dependent_resources: bool = False, *,
                     database_url: str | None = None) -> LROPoller[Workspace]:
        """Create a workspace; ``database_url`` (ours) puts it in that database's catalog (its
        metadata there too), shared by every home and server on it (a home whose settings name a
        database, ``OPENAML_DATABASE_URL``, puts it there anyway). An existing workspace is
        :class:`~openaml.errors.AlreadyExistsError` and is left untouched.

        ``workspace.storage`` (ours: a :class:`~openaml.entities.WorkspaceStorage`, or just its
        URI, ``azure://<account>/<container>[/<prefix>]`` or ``s3://<bucket>[/<prefix>]``) puts the
        default datastore and the artifact store on that object storage. Without credentials in
        it, they come from the standard environment variables (``AZURE_STORAGE_KEY``,
        ``AZURE_STORAGE_SAS_TOKEN``, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``), else the
        Azure identity chain or the AWS default chain. The storage is checked first: a wrong
        credential or an unreachable endpoint is one error and nothing is created.
        """
        if workspace.storage is not None:
            workspace = workspace.model_copy(
                update={"storage": workspace.storage.with_environment_credentials(os.environ)})
        return LROPoller(self._client._backend.workspaces.create(workspace, database_url=database_url))

    def begin_update(self, workspace: Workspace, *, update_dependent_resources: bool = False,
                     storage_credentials: CredentialConfiguration | None = None) -> LROPoller[Workspace]:
        """Change a workspace's description, display name or tags; ``storage_credentials``
        (ours) replaces the credentials of its object storage (``NoneCredentialConfiguration()``:
        the identity chain), checked against the storage first."""
        if storage_credentials is not None:
            self._client._backend.workspaces.update_storage_credentials(workspace.name, storage_credentials)
        return LROPoller(self._client._backend.workspaces.update(workspace))

    def get(self, name: str | None = None) -> Workspace:
        """A workspace by name; without one, the client's own."""
        return self._client._backend.workspaces.get(name or self._client.workspace_name)

    def list(self, *, scope: str = "resource_group", filtered_kinds: str | list[str] | Callable | None = None
             ) -> Iterable[Workspace]:
        """The workspaces under ``$OPENAML_HOME``."""
        return self._client._backend.workspaces.list()

    def begin_delete(self, name: str, *, delete_dependent_resources: bool = False,
                     permanently_delete: bool = False) -> LROPoller[None]:
        """Delete a workspace and everything in it (done when this returns)."""
        self._client._backend.workspaces.delete(name)
        return LROPoller(None)
