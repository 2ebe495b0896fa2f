"""Rotating the secret key: every sealed secret of every workspace of the catalog is sealed again
with the new key, then the new key becomes the current one.

Three steps, each safe to repeat:

1. the key file gets the new key after the current one(s): still current, the old key seals,
   and everyone reading the file (servers re-read it when a value does not open) opens both;
2. every sealed value is sealed again with the new key: in a database in one transaction (its
   key check included), so a crash leaves everything as it was; in a home's folders workspace by
   workspace, and values sealed with either key open meanwhile (Fernet's MultiFernet);
3. the key file gets the new key first and the old one second (read only, so that a value a
   running server sealed with it during the rotation still opens; the next rotation drops it).

Running it again after a crash at any point finishes the job. A key that comes from
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
    the new key (None: the key comes from ``OPENAML_SECRET_KEY``, which its owner must change),
    and whether the key before it stays there to read."""

    resealed: int
    key_file: Path | None
    kept_previous: bool = False


def rotate_key(settings: Settings, new_keys: Sequence[bytes]) -> KeyRotation:
    """Reseal every secret of the catalog *settings* name with ``new_keys[0]``, then make it the
    current key (see the module)."""
    source = settings.key_source
    old = source.load() or []
    reading = [*old, *(k for k in new_keys if k not in old)]
    if not source.value and old and reading != old:
        source.store(reading)  # step 1: the new key opens, the old one still seals
    workspaces = WorkspaceService(settings)
    try:
        resealed = workspaces.rotate_key(new_keys)
    finally:
        workspaces.close()
    if source.value:
        return KeyRotation(resealed, None)
    kept = [k for k in old if k not in new_keys][:1]  # the one current before, read only
    source.store([*new_keys, *kept])
    return KeyRotation(resealed, source.file, kept_previous=bool(kept))
