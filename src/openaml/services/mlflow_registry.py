"""MLflow's model registry over the workspace's models (MLflow's ``AbstractStore`` verbs).

The mapping, in one place:

- a **registered model** is a workspace model name; its description and tags (which the asset
  registry has no place for) are a row of :class:`~openaml.store.registered_models.
  RegisteredModelStore`, and models registered with ``openaml model create`` are registered
  models too;
- a **model version** is a workspace model version, numbered by the registry's
  auto-versioning (1..N): type ``mlflow_model`` with the flavors of its ``MLmodel`` file
  (``custom_model`` when the source has none), its files published content-addressed from the
  run's artifacts (so the version stays when the job's folder changes), ``job_name`` the job the
  run belongs to, ``path`` the job's ``azureml://jobs/<job>/outputs/artifacts/paths/<path>``;
  the version's description, tags and stage are the Model's, and MLflow's source, run id,
  logged-model id and storage location are its ``mlflow.*`` properties;
- an **alias** is a per-name pointer to a version, which ``ml_client.models.get(name,
  label=<alias>)`` resolves too;
- MLflow's **deletes archive**: a deleted version is an archived one (the registry forgets
  nothing), so version numbers never come back, even after the name is deleted and created again.

Names follow openaml's (Azure's) asset rules, stricter than MLflow's: ``my model`` is refused
with INVALID_PARAMETER_VALUE naming the rule.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from openaml.constants import ListViewType
from openaml.entities import Model
from openaml.errors import AlreadyExistsError, NotFoundError, ValidationError
from openaml.names import check_name
from openaml.services import locations
from openaml.services.mlflow_registry_records import (
    ACTIVE_STAGES, REGISTRY_ARTIFACTS, STAGES, ModelVersionInfo, RegisteredModelInfo, canonical_stage, check_alias,
)
from openaml.services.mlflow_registry_search import (
    filter_versions, search_model_versions, search_registered_models,
)
from openaml.services.mlflow_registry_sources import ArtifactRoot, RunFiles, SourceResolver
from openaml.services.registry import RegistryService
from openaml.services.workspaces import WorkspaceContext
from openaml.store.records import AssetRecord
from openaml.store.registered_models import MODELS, RegisteredModelStore
from openaml.store.tracking_records import Page

__all__ = ["MlflowRegistry"]

# Model properties holding what MLflow knows of a version (set at registration, immutable).
SOURCE, STORAGE, RUN_ID, MODEL_ID, RUN_LINK = (
    "mlflow.source", "mlflow.storage_location", "mlflow.run_id", "mlflow.model_id", "mlflow.run_link")
MODEL_VERSIONS_TAG = "mlflow.modelVersions"  # a logged model's tag listing its registered versions
_PARENT_RUN_TAG = "mlflow.parentRunId"
_MLMODEL = "MLmodel"


def _ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def _checked_name(name: object, field: str = "name") -> str:
    try:
        return check_name("model", name, field=field)
    except ValidationError as exc:
        raise ValidationError(f"{exc.message} (openaml keeps Azure ML's naming rules for models, "
                              "stricter than MLflow's)", field=field, rule="asset") from None


class MlflowRegistry:
    """MLflow's registered models and model versions of one workspace."""

    def __init__(self, ctx: WorkspaceContext, artifact_root_for_run: ArtifactRoot | None = None) -> None:
        self.ctx = ctx
        self.registry = RegistryService(ctx)
        self.names = RegisteredModelStore(ctx.metadata, ctx.name)
        self._root_for_run = artifact_root_for_run or (lambda run_id: locations.job_folder(ctx, run_id))
        self.sources = SourceResolver(ctx.tracking, self._root_for_run)

    # ---- reading ------------------------------------------------------------------------------

    def _records(self, name: str) -> list[AssetRecord]:
        """The versions MLflow sees (not archived), newest first."""
        return self.ctx.metadata.list_versions(self.ctx.name, MODELS, name, ListViewType.ACTIVE_ONLY)

    def _require(self, name: str) -> None:
        if not self.names.exists(name):
            raise NotFoundError(f"Registered Model with name={name} not found", name=name)

    def _record(self, name: str, version: object) -> AssetRecord:
        version = str(version)
        record = self.ctx.metadata.get_asset_version(self.ctx.name, MODELS, name, version)
        if record is None or record.archived or not self.names.exists(name):
            raise NotFoundError(f"Model Version (name={name}, version={version}) not found",
                                name=name, version=version)
        return record

    def _version(self, record: AssetRecord, aliases: dict[str, str] | None = None) -> ModelVersionInfo:
        spec, props = record.spec, record.spec.get("properties") or {}
        aliases = self.names.aliases(record.name) if aliases is None else aliases
        return ModelVersionInfo(
            name=record.name, version=record.version, creation_timestamp=_ms(record.created_at),
            last_updated_timestamp=_ms(record.updated_at), current_stage=spec.get("stage") or "None",
            description=spec.get("description") or "", source=props.get(SOURCE) or spec.get("path", ""),
            storage_location=props.get(STORAGE) or props.get(SOURCE) or spec.get("path", ""),
            run_id=props.get(RUN_ID) or spec.get("job_name") or "", run_link=props.get(RUN_LINK, ""),
            model_id=props.get(MODEL_ID), tags=dict(spec.get("tags") or {}),
            aliases=tuple(a for a, v in aliases.items() if v == record.version),
        )

    def _latest_per_stage(self, versions: list[ModelVersionInfo], stages: Sequence[str]) -> list[ModelVersionInfo]:
        latest: dict[str, ModelVersionInfo] = {}
        for mv in versions:  # newest first: the first of each stage wins
            if mv.current_stage in stages:
                latest.setdefault(mv.current_stage, mv)
        return sorted(latest.values(), key=lambda mv: versions.index(mv), reverse=True)

    def get_registered_model(self, name: str) -> RegisteredModelInfo:
        """The registered model *name*; NotFoundError when MLflow does not see it."""
        self._require(name)
        aliases = self.names.aliases(name)
        versions = [self._version(r, aliases) for r in self._records(name)]
        row = self.names.get(name)
        container = self.ctx.metadata.get_container(self.ctx.name, MODELS, name)
        created = [t for t in (row and row.creation_time, container and _ms(container.created_at)) if t]
        updated = [t for t in (row and row.last_update_time, container and _ms(container.updated_at)) if t]
        return RegisteredModelInfo(
            name=name, creation_timestamp=min(created), last_updated_timestamp=max(updated),
            description=row.description if row else None, tags=dict(row.tags) if row else {},
            aliases=aliases, latest_versions=tuple(self._latest_per_stage(versions, STAGES)))

    def search_registered_models(self, filter_string: str | None = None, max_results: int | None = None,
                                 order_by: Sequence[str] | None = None,
                                 page_token: str | None = None) -> Page[RegisteredModelInfo]:
        """Registered models matching MLflow's filter (see :mod:`mlflow_registry_search`)."""
        names = {c.name for c in self.ctx.metadata.list_containers(self.ctx.name, MODELS, ListViewType.ACTIVE_ONLY)}
        names |= {r.name for r in self.names.list() if self.names.exists(r.name)}
        models = [self.get_registered_model(n) for n in sorted(names)]
        return search_registered_models(models, filter_string, max_results, order_by, page_token)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersionInfo]:
        """The newest version in each of *stages* (all stages when none are given)."""
        wanted = [canonical_stage(s) for s in stages] if stages else list(STAGES)
        self._require(name)
        aliases = self.names.aliases(name)
        return self._latest_per_stage([self._version(r, aliases) for r in self._records(name)], wanted)

    def get_model_version(self, name: str, version: str) -> ModelVersionInfo:
        """One version; NotFoundError when it does not exist or was deleted."""
        return self._version(self._record(name, version))

    def get_model_version_download_uri(self, name: str, version: str) -> str:
        """Where MLflow clients read the version's files: its stored (published) copy, served
        read-only by the endpoint, so ``load_model("models:/m/1")`` reads what was registered even
        when the run's folder changed since; a version whose files are not stored in the workspace
        (a datastore reference) answers where it points."""
        record = self._record(name, version)
        if record.content_digest is None:
            return self._version(record).storage_location
        return f"mlflow-artifacts:/{REGISTRY_ARTIFACTS}/{record.name}/{record.version}"

    def model_version_files(self, name: str, version: str) -> Path:
        """The stored files of a version as a local folder (or file), read-only in spirit: hard
        links to the content-addressed blobs where the store allows, kept by digest under the
        workspace's ``cache/registered-models`` (content never changes, so neither does the cache)."""
        record = self._record(name, version)
        if record.content_digest is None:
            raise NotFoundError(f"Model Version (name={name}, version={version}) has no files stored in this "
                                "workspace.", name=name, version=version)
        cache = self.ctx.folder / "cache" / "registered-models" / record.content_digest
        target = cache / self.ctx.artifacts.get_manifest(record.content_digest).root
        if not target.exists():
            try:
                self.ctx.artifacts.materialize(record.content_digest, cache, share=True)
            except AlreadyExistsError:
                pass  # another request materialised it first: same content
        return target

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersionInfo:
        """The version *alias* points at (``latest``: the newest version)."""
        check_alias(alias, reserved=False)
        self._require(name)
        if alias.lower() == "latest":
            records = self._records(name)
            if not records:
                raise NotFoundError(f"Latest version not found for model {name}.", name=name)
            return self._version(records[0])
        version = self.names.aliases(name).get(alias)
        if version is None:
            raise ValidationError(f"Registered model alias {alias} not found.", field="alias")
        return self.get_model_version(name, version)

    def search_model_versions(self, filter_string: str | None = None, max_results: int | None = None,
                              order_by: Sequence[str] | None = None,
                              page_token: str | None = None) -> Page[ModelVersionInfo]:
        """Model versions of every registered model matching MLflow's filter."""
        keep = filter_versions(filter_string)
        found = []
        for container in self.ctx.metadata.list_containers(self.ctx.name, MODELS, ListViewType.ACTIVE_ONLY):
            aliases = self.names.aliases(container.name)
            found += [mv for mv in (self._version(r, aliases) for r in self._records(container.name)) if keep(mv)]
        return search_model_versions(found, max_results, order_by, page_token)

    # ---- registered models --------------------------------------------------------------------

    def create_registered_model(self, name: str, tags: dict[str, str] | None = None,
                                description: str | None = None) -> RegisteredModelInfo:
        """Create an empty registered model; AlreadyExistsError when the name is in use."""
        self.names.create(_checked_name(name), description or None, tags or {})
        return self.get_registered_model(name)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModelInfo:
        """Set the description (None or "" clears it)."""
        self._require(name)
        self.names.update(name, description=description or None)
        return self.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModelInfo:
        """Move the name with its versions, description, tags and aliases."""
        self.names.rename(name, _checked_name(new_name, "new_name"))
        return self.get_registered_model(new_name)

    def delete_registered_model(self, name: str) -> None:
        """MLflow's delete: every version and the name are archived, tags and aliases dropped."""
        self.names.delete(name)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        self._require(name)
        self.names.update(name, set_tags={key: value})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._require(name)
        self.names.update(name, delete_tag=key)

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        """Point *alias* at *version* (which must exist)."""
        check_alias(alias, reserved=True)
        record = self._record(name, version)
        self.names.set_alias(name, alias, record.version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        check_alias(alias, reserved=False)
        self._require(name)
        self.names.delete_alias(name, alias)

    # ---- model versions -----------------------------------------------------------------------

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, str] | None = None, run_link: str | None = None,
                             description: str | None = None, model_id: str | None = None) -> ModelVersionInfo:
        """Register the files *source* names as the next version of *name* (see the module)."""
        self._require(name)
        if source.startswith("models:/") and ("@" in source or source.count("/") >= 2):
            return self._copy_version(name, source, tags, run_link, description)
        files = self.sources.resolve(source, run_id or None, model_id or None)
        properties = {SOURCE: source, STORAGE: files.storage_location, RUN_ID: files.run_id,
                      MODEL_ID: files.model_id, RUN_LINK: run_link}
        model = Model(name=name, type="mlflow_model" if (files.local / _MLMODEL).is_file() else "custom_model",
                      path=self._registry_path(files), description=description or None, tags=tags or None,
                      properties={k: v for k, v in properties.items() if v},
                      job_name=self._job_of(files.run_id))
        created = self.registry.create_or_update(model)
        if files.model_id:
            self._note_on_logged_model(files.model_id, name, str(created.version))
        return self.get_model_version(name, str(created.version))

    def _registry_path(self, files: RunFiles) -> str:
        """The job's output URI when the run is a job's (its folder is the job's artifacts), else
        the local folder: the registry publishes either into the content-addressed store."""
        root = self._root_for_run(files.run_id)
        if self.ctx.jobs.get_job(self.ctx.name, files.run_id) is not None and \
                Path(root) == locations.job_folder(self.ctx, files.run_id):
            return f"azureml://jobs/{files.run_id}/outputs/artifacts/paths/{quote(files.relative)}"
        return str(files.local)

    def _job_of(self, run_id: str) -> str | None:
        """The job a run belongs to: the run itself, or the nearest parent run that is a job."""
        for _ in range(16):  # parent chains are short; a loop of tags must not spin
            if self.ctx.jobs.get_job(self.ctx.name, run_id) is not None:
                return run_id
            try:
                parent = self.ctx.tracking.get_run(run_id).tags.get(_PARENT_RUN_TAG)
            except NotFoundError:
                return None
            if not parent:
                return None
            run_id = parent
        return None

    def _copy_version(self, name: str, source: str, tags: dict[str, str] | None, run_link: str | None,
                      description: str | None) -> ModelVersionInfo:
        """``models:/<name>/<version>`` (or ``@alias``): a new version with the same files."""
        ref = source[len("models:/"):]
        src_name, _, version = ref.partition("/") if "/" in ref else ref.partition("@")
        if "@" in ref and "/" not in ref:
            src = self.get_model_version_by_alias(src_name, version)
        elif version.lower() in {s.lower() for s in STAGES}:  # models:/<name>/<stage>: its newest
            found = self.get_latest_versions(src_name, [version])
            if not found:
                raise NotFoundError(f"No versions of model {src_name} in stage {version}.", name=src_name)
            src = found[0]
        else:
            src = self.get_model_version(src_name, version)
        record = self._record(src.name, src.version)
        if not record.content_digest:
            raise ValidationError(f"Invalid model version source: {source!r}. Its files are not stored in "
                                  "this workspace.", field="source")
        properties = {SOURCE: f"models:/{src.name}/{src.version}", STORAGE: src.storage_location,
                      RUN_ID: src.run_id, MODEL_ID: src.model_id, RUN_LINK: run_link}
        with tempfile.TemporaryDirectory(prefix="openaml-copy-") as tmp:
            # Shared hard links where the store allows: re-registering costs hashing, not copying.
            folder = self.ctx.artifacts.materialize(record.content_digest, tmp, share=True)
            created = self.registry.create_or_update(Model(
                name=name, type=record.spec.get("type", "custom_model"), path=str(folder),
                description=description or None, tags=tags or None,
                properties={k: v for k, v in properties.items() if v}, job_name=record.spec.get("job_name")))
        return self.get_model_version(name, str(created.version))

    def _note_on_logged_model(self, model_id: str, name: str, version: str) -> None:
        """MLflow 3 lists a logged model's registered versions in its ``mlflow.modelVersions`` tag."""
        model = self.ctx.tracking.get_logged_model(model_id)
        listed = json.loads(model.tags.get(MODEL_VERSIONS_TAG) or "[]")
        entry = {"name": name, "version": version}
        if entry not in listed:
            self.ctx.tracking.set_logged_model_tags(model_id, {MODEL_VERSIONS_TAG: json.dumps(listed + [entry])})

    def _update(self, name: str, version: str, **changes) -> ModelVersionInfo:
        record = self._record(name, version)
        model = self.registry.get(MODELS, record.name, record.version)
        for key, value in changes.items():
            setattr(model, key, value)
        self.registry.update(model)
        return self.get_model_version(name, record.version)

    def update_model_version(self, name: str, version: str, description: str | None) -> ModelVersionInfo:
        return self._update(name, version, description=description or None)

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        tags = self._record(name, version).spec.get("tags") or {}
        self._update(name, version, tags={**tags, key: value})

    def delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        tags = dict(self._record(name, version).spec.get("tags") or {})
        if tags.pop(key, None) is not None:
            self._update(name, version, tags=tags or None)

    def transition_model_version_stage(self, name: str, version: str, stage: str,
                                       archive_existing_versions: bool = False) -> ModelVersionInfo:
        """Move the version to *stage*; with *archive_existing_versions* (Staging and Production
        only), the other versions in that stage move to Archived."""
        stage = canonical_stage(stage)
        if archive_existing_versions and stage not in ACTIVE_STAGES:
            raise ValidationError(f"Model version transition cannot archive existing model versions because "
                                  f"'{stage}' is not an Active stage. Valid stages are {list(ACTIVE_STAGES)}",
                                  field="archive_existing_versions")
        target = self._record(name, version).version
        if archive_existing_versions:  # first, so the moved version is the last one changed (as MLflow orders)
            for record in self._records(name):
                if record.version != target and record.spec.get("stage") == stage:
                    self._update(name, record.version, stage="Archived")
        self._update(name, target, stage=None if stage == "None" else stage)
        return self.get_model_version(name, target)

    def delete_model_version(self, name: str, version: str) -> None:
        """MLflow's delete: the version is archived and its aliases dropped."""
        record = self._record(name, version)
        self.names.delete_version(name, record.version)
