"""Operation groups of :class:`~openaml.MLClient`, with azure-ai-ml's names and verbs.

Each group is a thin edge over one service; business rules live in ``openaml.services``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Union

from openaml.client.poller import LROPoller
from openaml.client.progress import transfer_progress
from openaml.constants import ListViewType
from openaml.entities import (CommandComponent, Data, Environment, Model, ParallelComponent, PipelineComponent,
                              Workspace)
from openaml.entities.compute import Compute
from openaml.entities.datastore import Datastore
from openaml.entities._base import Asset
from openaml.services.compute import ComputeService
from openaml.services.datastores import DatastoreService
from openaml.services.registry import RegistryService

if TYPE_CHECKING:
    from openaml.client.ml_client import MLClient

COMPONENT_TYPES = (CommandComponent, ParallelComponent, PipelineComponent)
Component = Union[CommandComponent, ParallelComponent, PipelineComponent]


class _Operations:
    def __init__(self, client: "MLClient") -> None:
        self._client = client


class _AssetOperations(_Operations):
    """Verbs shared by the versioned asset groups."""

    _kind = ""
    _entity: type[Asset] = Asset

    def _registry(self) -> RegistryService:
        return RegistryService(self._client._context())

    def create_or_update(self, asset: Asset, **kwargs) -> Asset:
        """Register a version (uploading local files); without a version, the next integer."""
        if not isinstance(asset, self._entity):
            raise TypeError(f"expected {self._entity.__name__}, got {type(asset).__name__}")
        with transfer_progress(f"Uploading {asset.name}", self._client._show_progress) as progress:
            return self._registry().create_or_update(asset, progress=progress)

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Asset:
        """One version by number or by label (``latest``); with neither, the latest."""
        return self._registry().get(self._kind, name, version=version, label=label)

    def list(self, name: str | None = None, *, list_view_type: ListViewType = ListViewType.ACTIVE_ONLY,
             **kwargs) -> Iterable[Asset]:
        """Without a name, the latest version of every name; with one, its versions."""
        return self._registry().list(self._kind, name, ListViewType(list_view_type))

    def archive(self, name: str, version: str | None = None, label: str | None = None, **kwargs) -> None:
        """Hide a version (or, without version and label, the whole name) from ``list``."""
        self._registry().archive(self._kind, name, version=version, label=label)

    def restore(self, name: str, version: str | None = None, label: str | None = None, **kwargs) -> None:
        """Bring back an archived version (or name)."""
        self._registry().restore(self._kind, name, version=version, label=label)


class ModelOperations(_AssetOperations):
    """``ml_client.models``."""

    _kind, _entity = "models", Model

    def list(self, name: str | None = None, stage: str | None = None, *,
             list_view_type: ListViewType = ListViewType.ACTIVE_ONLY, **kwargs) -> Iterable[Model]:
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


class EnvironmentOperations(_AssetOperations):
    """``ml_client.environments``."""

    _kind, _entity = "environments", Environment


class ComponentOperations(_AssetOperations):
    """``ml_client.components``: command, parallel and pipeline components."""

    _kind, _entity = "components", CommandComponent

    def create_or_update(self, component: Component | Callable[..., Any], version: str | None = None, *,
                         skip_validation: bool = False, **kwargs) -> Component:
        """Register a component (``CommandComponent``, ``ParallelComponent``,
        ``PipelineComponent``, or a ``@dsl.pipeline`` function, whose pipeline component is
        built from its parameters' defaults); ``version`` overrides the component's own."""
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


class DatastoreOperations(_Operations):
    """``ml_client.datastores``. Secrets come back only with ``include_secrets=True``."""

    def _service(self) -> DatastoreService:
        return DatastoreService(self._client._context())

    def create_or_update(self, datastore: Datastore) -> Datastore:
        return self._service().create_or_update(datastore)

    def get(self, name: str, *, include_secrets: bool = False) -> Datastore:
        return self._service().get(name, include_secrets=include_secrets)

    def get_default(self, *, include_secrets: bool = False) -> Datastore:
        return self._service().get_default(include_secrets=include_secrets)

    def list(self, *, include_secrets: bool = False) -> Iterable[Datastore]:
        return self._service().list(include_secrets=include_secrets)

    def delete(self, name: str) -> None:
        self._service().delete(name)


class ComputeOperations(_Operations):
    """``ml_client.compute``."""

    def _service(self) -> ComputeService:
        return ComputeService(self._client._context())

    def begin_create_or_update(self, compute: Compute) -> LROPoller[Compute]:
        return LROPoller(self._service().create_or_update(compute))

    def begin_update(self, compute: Compute) -> LROPoller[Compute]:
        return self.begin_create_or_update(compute)

    def get(self, name: str) -> Compute:
        return self._service().get(name)

    def list(self, *, compute_type: str | None = None) -> Iterable[Compute]:
        return self._service().list(compute_type)

    def begin_delete(self, name: str, *, action: str = "Delete") -> LROPoller[None]:
        self._service().delete(name)
        return LROPoller(None)


class WorkspaceOperations(_Operations):
    """``ml_client.workspaces``: local workspaces under ``$OPENAML_HOME``."""

    def begin_create(self, workspace: Workspace, update_dependent_resources: bool = False, *,
                     database_url: str | None = None, **kwargs) -> LROPoller[Workspace]:
        """Create a workspace; ``database_url`` (ours) keeps its metadata in PostgreSQL."""
        return LROPoller(self._client._workspaces.create(workspace, database_url=database_url))

    def begin_update(self, workspace: Workspace, **kwargs) -> LROPoller[Workspace]:
        return LROPoller(self._client._workspaces.update(workspace))

    def get(self, name: str | None = None, **kwargs) -> Workspace:
        """A workspace by name; without one, the client's own."""
        return self._client._workspaces.get(name or self._client.workspace_name)

    def list(self, *, scope: str = "resource_group", filtered_kinds: Callable | None = None) -> Iterable[Workspace]:
        return self._client._workspaces.list()

    def begin_delete(self, name: str, *, delete_dependent_resources: bool = False,
                     permanently_delete: bool = False, **kwargs) -> LROPoller[None]:
        self._client._workspaces.delete(name)
        return LROPoller(None)
