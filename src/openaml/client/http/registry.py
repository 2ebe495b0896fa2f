"""Versioned assets on a server (:class:`~openaml.client.transport.RegistryApi` over HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openaml.client.http.localize import Localizer
from openaml.client.http.paging import Paged
from openaml.client.http.session import HttpSession
from openaml.client.http.uploads import Uploader, remote_store
from openaml.constants import ListViewType
from openaml.entities._base import Asset
from openaml.paths import safe_join
from openaml.rest.assets import asset_properties, version_from_resource

Progress = Any


def kind_of(asset: Asset) -> str:
    from openaml.services.registry import kind_of as registry_kind
    return registry_kind(asset)


class HttpRegistry:
    """The registry of a server's workspace."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session

    def _path(self, kind: str, *parts: str) -> str:
        return self.session.scope.of(kind, *parts)

    def create_or_update(self, asset: Asset, *, progress: Progress | None = None) -> Asset:
        kind = kind_of(asset)
        data = asset.model_dump(mode="json", exclude_none=True)
        local = Localizer(Uploader(self.session), progress, in_job=False).asset(kind, data)
        props = asset_properties(kind, type(asset).model_validate(local))
        name = asset.name or ""
        if asset.version is None:
            body = self.session.json("POST", self._path(kind, name, "versions"), json={"properties": props})
        else:
            body = self.session.json("PUT", self._path(kind, name, "versions", asset.version),
                                     json={"properties": props})
        return version_from_resource(kind, body)

    def get(self, kind: str, name: str, version: str | None = None, label: str | None = None) -> Asset:
        if version is not None and label is not None:
            from openaml.errors import ValidationError
            raise ValidationError("give a version or a label, not both", field="label")
        path = (self._path(kind, name, "versions", str(version)) if version is not None
                else self._path(kind, name, "labels", label or "latest"))
        return version_from_resource(kind, self.session.json("GET", path))

    def list(self, kind: str, name: str | None = None, view: ListViewType = ListViewType.ACTIVE_ONLY, *,
             stage: str | None = None) -> Paged[Asset]:
        """Every name's latest version (or *name*'s versions), read a page at a time."""
        params = {"listViewType": ListViewType(view).value, "stage": stage}
        if name is None:
            return Paged(self.session, self._path(kind), {**params, "$expand": "latestVersion"},
                         lambda item: version_from_resource(kind, item["properties"]["latestVersionResource"]))
        return Paged(self.session, self._path(kind, name, "versions"), params,
                     lambda item: version_from_resource(kind, item))

    def _act(self, verb: str, kind: str, name: str, version: str | None, label: str | None) -> None:
        if version is not None:
            self.session.request("POST", self._path(kind, name, "versions", str(version), verb))
        else:
            self.session.request("POST", self._path(kind, name, verb), params={"label": label})

    def archive(self, kind: str, name: str, version: str | None = None, label: str | None = None) -> None:
        self._act("archive", kind, name, version, label)

    def restore(self, kind: str, name: str, version: str | None = None, label: str | None = None) -> None:
        self._act("restore", kind, name, version, label)

    def download(self, kind: str, name: str, version: str | None, download_path: str | Path, *,
                 progress: Progress | None = None, overwrite: bool = False) -> Path:
        version = version or self.get(kind, name).version
        content = self.session.json("GET", self._path(kind, name, "versions", str(version), "content"))
        dest = safe_join(download_path, content["name"], field="name")
        return remote_store(self.session).materialize(content["digest"], dest, progress=progress, overwrite=overwrite)
