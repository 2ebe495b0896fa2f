"""The versioned asset registry: models, data, environments and components.

Rules (Azure's): a create without a version takes the next integer; ``latest`` is the most
recently created version that is not archived; identical re-registration is a no-op; different
content under an existing version is a conflict; only description and tags (a model's stage, a
component's display name) change after registration; archive hides, restore brings back.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Iterable

from openaml.constants import ListViewType
from openaml.entities import Data, Environment, Model
from openaml.entities._base import Asset
from openaml.errors import (ArchivedError, ImmutableFieldError, NotFoundError, ValidationError)
from openaml.names import check_name, check_version
from openaml.paths import safe_join
from openaml.services import uploads
from openaml.services.component_assets import COMPONENT_CLASSES, component_class
from openaml.services.datastore_io import read_uri
from openaml.services.paging import Key, Page, fill_page
from openaml.services.references import parse_asset_reference
from openaml.services.workspaces import WorkspaceContext
from openaml.store.metadata import AssetRecord

Progress = Callable[[int, int], None]

ENTITY_BY_KIND: dict[str, tuple[type[Asset], ...]] = {
    "models": (Model,),
    "data": (Data,),
    "environments": (Environment,),
    "components": tuple(COMPONENT_CLASSES.values()),  # chosen by the stored spec's type
}
KIND_BY_ENTITY = {cls: kind for kind, classes in ENTITY_BY_KIND.items() for cls in classes}
# Fields a registered version may change; everything else is immutable content.
MUTABLE_FIELDS: dict[str, frozenset[str]] = {
    "models": frozenset({"description", "tags", "stage"}),
    "data": frozenset({"description", "tags"}),
    "environments": frozenset({"description", "tags"}),
    "components": frozenset({"description", "tags", "display_name"}),
}
_READ_ONLY = frozenset({"id", "creation_context", "name", "version"})


def kind_of(asset: Asset) -> str:
    for cls, kind in KIND_BY_ENTITY.items():
        if isinstance(asset, cls):
            return kind
    raise ValidationError(f"{type(asset).__name__} is not a registry asset")


def _identity(kind: str, spec: dict[str, Any]) -> str:
    """Digest of the immutable part of a spec: equal digests mean identical content."""
    fixed = {k: v for k, v in spec.items() if k not in MUTABLE_FIELDS[kind] and k not in _READ_ONLY}
    return hashlib.sha256(json.dumps(fixed, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class RegistryService:
    """Versioned assets of one workspace."""

    def __init__(self, ctx: WorkspaceContext) -> None:
        self.ctx = ctx

    # -- create --------------------------------------------------------------------------------
    def create_or_update(self, asset: Asset, *, progress: Progress | None = None) -> Asset:
        """Register ``asset``: upload its local files, then publish the version atomically."""
        kind = kind_of(asset)
        if not asset.name:
            raise ValidationError("a name is required to register an asset", field="name")
        check_name(_noun(kind), asset.name)
        if asset.version is not None:
            check_version(asset.version)
        spec, digest = uploads.prepare(self.ctx, kind, asset, progress=progress, pin=self._pin)
        spec = {k: v for k, v in spec.items() if k not in _READ_ONLY}
        identity = _identity(kind, spec)
        if asset.version is None and kind == "environments":
            # Azure re-puts the latest version first: an identical definition adds no version.
            latest = self.ctx.metadata.get_latest_version(self.ctx.name, kind, asset.name)
            if latest is not None and _identity(kind, latest.spec) == identity:
                return self._to_entity(latest)
        record = self.ctx.metadata.create_asset_version(
            self.ctx.name, kind, asset.name, asset.version, spec, digest, identity=identity)
        if not record.created:
            # Same content again: Azure applies the mutable fields it was given (get, edit, re-put).
            changes = {k: v for k, v in spec.items()
                       if k in MUTABLE_FIELDS[kind] and record.spec.get(k) != v}
            if changes:
                record = self.ctx.metadata.update_asset_spec(
                    self.ctx.name, kind, record.name, record.version, changes)
        return self._to_entity(record)

    # -- read ----------------------------------------------------------------------------------
    def get(self, kind: str, name: str, version: str | None = None, label: str | None = None) -> Asset:
        """One version; with neither version nor label, the latest."""
        return self._to_entity(self._get_record(kind, name, version, label))

    def resolve(self, kind: str, reference: str) -> Asset:
        """Resolve ``azureml:name:version``, ``azureml:name@latest``, ``name:version`` or ``name``."""
        name, version, label = parse_asset_reference(reference)
        return self.get(kind, name, version=version, label=label)

    def list(self, kind: str, name: str | None = None,
             view: ListViewType = ListViewType.ACTIVE_ONLY, *, stage: str | None = None) -> list[Asset]:
        """Without a name: the latest version of each name. With a name: its versions, newest first."""
        if name is None:
            records = []
            for container in self.ctx.metadata.list_containers(self.ctx.name, kind, view):
                rec = self._container_head(kind, container.name, container.latest_version)
                if rec is not None:
                    records.append(rec)
        else:
            if self.ctx.metadata.container_archived(self.ctx.name, kind, name) is None:
                raise self._not_found(kind, name)
            records = self.ctx.metadata.list_versions(self.ctx.name, kind, name, view)
        if stage is not None:
            records = [r for r in records if r.spec.get("stage") == stage]
        return [self._to_entity(r) for r in records]

    def page(self, kind: str, name: str | None = None, view: ListViewType = ListViewType.ACTIVE_ONLY, *,
             stage: str | None = None, after: Key | None = None, limit: int = 100) -> Page[Asset]:
        """One page of :meth:`list`: names in name order after the name *after*; a name's versions
        newest first, after the version whose creation sequence is *after*."""
        def keep(record: AssetRecord | None) -> bool:
            return record is not None and (stage is None or record.spec.get("stage") == stage)

        md, ws = self.ctx.metadata, self.ctx.name
        if name is None:
            def heads(position: Key | None, n: int) -> list[tuple[str, AssetRecord | None]]:
                found = md.list_containers(ws, kind, view, after=_key(position, str), limit=n)
                return [(c.name, self._container_head(kind, c.name, c.latest_version)) for c in found]
            named = fill_page(heads, lambda item: item[0], lambda item: keep(item[1]), after=after, limit=limit)
            records = [record for _, record in named.items if record is not None]
            return Page([self._to_entity(r) for r in records], named.next)
        if md.container_archived(ws, kind, name) is None:
            raise self._not_found(kind, name)
        page = fill_page(lambda position, n: md.list_versions(ws, kind, name, view, before_seq=_key(position, int),
                                                              limit=n),
                         lambda r: r.seq, keep, after=after, limit=limit)
        return Page([self._to_entity(r) for r in page.items], page.next)

    # -- change --------------------------------------------------------------------------------
    def archive(self, kind: str, name: str, version: str | None = None, label: str | None = None) -> None:
        self._set_archived(kind, name, version, label, True)

    def restore(self, kind: str, name: str, version: str | None = None, label: str | None = None) -> None:
        self._set_archived(kind, name, version, label, False)

    def update(self, asset: Asset) -> Asset:
        """Apply changes to the mutable fields of a registered version; anything else is refused."""
        kind = kind_of(asset)
        if not asset.name or not asset.version:
            raise ValidationError("update needs the name and version of a registered asset", field="version")
        current = self._get_record(kind, asset.name, asset.version, None)
        new_spec = asset.model_dump(mode="json", exclude_none=True)
        changes: dict[str, Any] = {}
        for key in set(new_spec) | set(current.spec):
            if key in _READ_ONLY:
                continue
            old, new = current.spec.get(key), new_spec.get(key)
            if old == new:
                continue
            if key not in MUTABLE_FIELDS[kind]:
                if key in ("path", "code") and new is not None and old is not None:
                    continue  # a re-resolved local path is not a change of content
                allowed = ", ".join(sorted(MUTABLE_FIELDS[kind]))
                raise ImmutableFieldError(
                    f"'{key}' of {kind} {asset.name}:{asset.version} cannot change; only {allowed} can. "
                    "Register a new version instead.", field=key)
            changes[key] = new
        if not changes:
            return self._to_entity(current)
        record = self.ctx.metadata.update_asset_spec(self.ctx.name, kind, asset.name, asset.version, changes)
        return self._to_entity(record)

    def download(self, kind: str, name: str, version: str | None, download_path: str | Path,
                 *, progress: Progress | None = None, overwrite: bool = False) -> Path:
        """Write the files of a version to ``<download_path>/<name>/<root>`` and return that path.

        The name is joined under *download_path* by :func:`~openaml.paths.safe_join`, so even a
        hostile stored name writes nowhere else. An existing ``<root>`` there is replaced only
        with ``overwrite=True`` (atomically: the new files are staged, then renamed into place);
        otherwise :class:`AlreadyExistsError` names it and nothing is written. A version that
        points at a datastore is read from there (remote files through the cache).
        """
        stored_name, digest = self.content(kind, name, version)
        dest = safe_join(download_path, stored_name, field="name")
        return self.ctx.artifacts.materialize(digest, dest, progress=progress, overwrite=overwrite)

    def content(self, kind: str, name: str, version: str | None) -> tuple[str, str]:
        """``(name, manifest digest)`` of a version's files (the latest without a version),
        read into the store first when the version points at a datastore."""
        record = self._get_record(kind, name, version, None if version else "latest")
        digest = record.content_digest
        if not digest:
            content = read_uri(self.ctx, str(record.spec.get("path") or ""))
            if content is None:
                raise ValidationError(
                    f"{kind} {name}:{record.version} points at {record.spec.get('path')!r}, which is not "
                    "stored in this workspace; read it from there", field="path")
            digest = content.digest
        return record.name, digest

    # -- internals -----------------------------------------------------------------------------
    def _pin(self, kind: str, reference: str) -> tuple[str, str | None]:
        """A workspace reference (``azureml:name@latest``) resolved now and pinned to its
        version, as Azure does for a component's environment and a pipeline's components;
        with the version's content digest."""
        name, version, label = parse_asset_reference(reference)
        record = self._get_record(kind, name, version, label)
        return f"azureml:{record.name}:{record.version}", record.content_digest

    def _get_record(self, kind: str, name: str, version: str | None, label: str | None) -> AssetRecord:
        if version is not None and label is not None:
            raise ValidationError("give a version or a label, not both", field="label")
        if version is not None:
            rec = self.ctx.metadata.get_asset_version(self.ctx.name, kind, name, str(version))
            if rec is None:
                raise self._not_found(kind, name, str(version))
            return rec
        if label not in (None, "latest"):
            return self._get_record(kind, name, self._aliased_version(kind, name, label), None)
        rec, archived = self.ctx.metadata.latest_of(self.ctx.name, kind, name)
        if rec is not None:
            if archived:
                raise ArchivedError(
                    f"{kind} '{name}' is archived; restore it (openaml {_noun(kind)} restore -n {name}) "
                    "or name an explicit version", name=name)
            return rec
        if archived is not None:
            raise ArchivedError(
                f"every version of {kind} '{name}' is archived; restore one "
                f"(openaml {_noun(kind)} restore -n {name} -v <version>) or name an explicit version",
                name=name)
        raise self._not_found(kind, name)

    def _aliased_version(self, kind: str, name: str, label: str) -> str:
        """The version a model's alias (MLflow's ``@champion``) names; models have no other labels."""
        if kind == "models":
            from openaml.store.registered_models import RegisteredModelStore

            version = RegisteredModelStore(self.ctx.metadata, self.ctx.name).aliases(name).get(label)
            if version is not None:
                return version
            raise ValidationError(f"unknown label '{label}' of model '{name}': it is neither 'latest' nor an "
                                  "alias of the model (MLflow's set_registered_model_alias sets aliases)",
                                  field="label")
        raise ValidationError(f"unknown label '{label}'; the only label is 'latest'", field="label")

    def _container_head(self, kind: str, name: str, latest: str | None) -> AssetRecord | None:
        if latest is not None:
            rec = self.ctx.metadata.get_asset_version(self.ctx.name, kind, name, latest)
            if rec is not None:
                return rec
        versions = self.ctx.metadata.list_versions(self.ctx.name, kind, name, ListViewType.ALL)
        return versions[0] if versions else None

    def _set_archived(self, kind: str, name: str, version: str | None, label: str | None, flag: bool) -> None:
        if label is not None:
            version = self._get_record(kind, name, None, label).version
        self.ctx.metadata.set_archived(self.ctx.name, kind, name, version, flag)

    def _not_found(self, kind: str, name: str, version: str | None = None) -> NotFoundError:
        what = f"{name}:{version}" if version else name
        hint = f"openaml {_noun(kind)} list" + ("" if version is None else f" -n {name}")
        return NotFoundError(f"{_noun(kind)} '{what}' not found in workspace '{self.ctx.name}'. "
                             f"See what exists with: {hint}", name=name, version=version)

    def _to_entity(self, record: AssetRecord) -> Asset:
        data = dict(record.spec)
        data.update(name=record.name, version=record.version,
                    id=self.ctx.asset_id(record.kind, record.name, record.version),
                    creation_context={"created_at": record.created_at.isoformat(),
                                      "last_modified_at": record.updated_at.isoformat(),
                                      "archived": record.archived})
        cls = component_class(data) if record.kind == "components" else ENTITY_BY_KIND[record.kind][0]
        return cls.model_validate(data)


def _key(position: Key | None, kind: type) -> Any:
    """A page position of the type this list is keyed by (the server checks tokens before)."""
    if position is not None and not isinstance(position, kind):
        raise ValidationError(f"a position in this list is a {kind.__name__}, not {position!r}", field="after")
    return position


def _noun(kind: str) -> str:
    return {"models": "model", "data": "data", "environments": "environment", "components": "component"}[kind]


def iter_kinds() -> Iterable[str]:
    return ENTITY_BY_KIND.keys()
