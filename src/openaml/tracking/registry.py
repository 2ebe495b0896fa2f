"""What the tracking endpoint needs of a model registry: MLflow's registry verbs.

The workspace's implementation is :class:`openaml.services.mlflow_registry.MlflowRegistry`; the
endpoint receives a *factory* for it (``model_registry=``), called once on the first registry
request, so a job that never registers a model never loads the asset registry. Without one,
the registry's endpoints answer 501 NOT_IMPLEMENTED.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from openaml.services.mlflow_registry_records import ModelVersionInfo, RegisteredModelInfo
from openaml.store.tracking_records import Page

__all__ = ["ModelRegistry", "RegistryFactory"]


class ModelRegistry(Protocol):
    """MLflow's model registry (``AbstractStore``'s verbs); errors are openaml's (NotFoundError,
    AlreadyExistsError, ValidationError), which the endpoint maps to MLflow's codes."""

    def create_registered_model(self, name: str, tags: dict[str, str] | None = None,
                                description: str | None = None) -> RegisteredModelInfo: ...

    def get_registered_model(self, name: str) -> RegisteredModelInfo: ...

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModelInfo: ...

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModelInfo: ...

    def delete_registered_model(self, name: str) -> None: ...

    def search_registered_models(self, filter_string: str | None = None, max_results: int | None = None,
                                 order_by: Sequence[str] | None = None,
                                 page_token: str | None = None) -> Page[RegisteredModelInfo]: ...

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersionInfo]: ...

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None: ...

    def delete_registered_model_tag(self, name: str, key: str) -> None: ...

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None: ...

    def delete_registered_model_alias(self, name: str, alias: str) -> None: ...

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersionInfo: ...

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, str] | None = None, run_link: str | None = None,
                             description: str | None = None, model_id: str | None = None) -> ModelVersionInfo: ...

    def get_model_version(self, name: str, version: str) -> ModelVersionInfo: ...

    def update_model_version(self, name: str, version: str, description: str | None) -> ModelVersionInfo: ...

    def delete_model_version(self, name: str, version: str) -> None: ...

    def search_model_versions(self, filter_string: str | None = None, max_results: int | None = None,
                              order_by: Sequence[str] | None = None,
                              page_token: str | None = None) -> Page[ModelVersionInfo]: ...

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None: ...

    def delete_model_version_tag(self, name: str, version: str, key: str) -> None: ...

    def transition_model_version_stage(self, name: str, version: str, stage: str,
                                       archive_existing_versions: bool = False) -> ModelVersionInfo: ...

    def get_model_version_download_uri(self, name: str, version: str) -> str: ...

    def model_version_files(self, name: str, version: str) -> Path:
        """The stored files of a version, as a local path (served under ``REGISTRY_ARTIFACTS``)."""
        ...


RegistryFactory = Callable[[], ModelRegistry]
