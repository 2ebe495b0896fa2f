"""``Data``: a versioned data asset (``uri_file``, ``uri_folder`` or ``mltable``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from openaml.errors import ValidationError

from ._base import Asset


class Data(Asset):
    """A registered data asset. ``path`` is required to register but may be None while building."""

    asset_kind: ClassVar[str] = "data"

    type: Literal["uri_file", "uri_folder", "mltable"] = "uri_folder"
    path: str | None = None
    datastore: str | None = None

    def validate_for_registration(self) -> None:
        """Raise :class:`openaml.errors.ValidationError` unless the asset can be registered."""
        if not self.path:
            raise ValidationError("A data asset needs a path.", field="path")
