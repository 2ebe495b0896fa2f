"""Rotating the secret key: every sealed secret of every workspace of the catalog is sealed again
with the new key, then the new key becomes the current one.

In a database the resealing is one transaction (the database's key check included), so a crash
leaves everything as it was; in a home's folders it goes workspace by workspace. Either way the
resealing opens values sealed with the old or the new key (Fernet's MultiFernet), so running it
again after a crash is safe. Only then is the key file rewritten: the new key first, the old one
on the next line (accepted for reading only, so that a value a running server sealed with the
old key meanwhile still opens; the next rotation drops it). A key that comes from
``OPENAML_SECRET_KEY`` cannot be rewritten from here: the caller says to set it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from openaml.services.settings import Settings
from openaml.services.workspaces import WorkspaceService

#: The variable a new key may come from instead of a file.
NEW_KEY_ENV = "OPENAML_NEW_SECRET_KEY"


@dataclass(frozen=True)
class KeyRotation:
    """What a rotation did: how many sealed values it resealed, and the key file now holding
    the new key (None: the key comes from ``OPENAML_SECRET_KEY``, which its owner must change)."""

    resealed: int
    key_file: Path | None


def rotate_key(settings: Settings, new_keys: Sequence[bytes]) -> KeyRotation:
    """Reseal every secret of the catalog *settings* name with ``new_keys[0]``, then make it the
    current key (see the module)."""
    source = settings.key_source
    old = source.load() or []
    workspaces = WorkspaceService(settings)
    try:
        resealed = workspaces.rotate_key(new_keys)
    finally:
        workspaces.close()
    if source.value:
        return KeyRotation(resealed, None)
    kept = [k for k in old if k not in new_keys][:1]
    source.store([*new_keys, *kept])
    return KeyRotation(resealed, source.file)
