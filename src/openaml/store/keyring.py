"""KeyRing: the secret key of one catalog of workspaces (a database, or a home's folder), loaded
from its :class:`~openaml.store.secrets.KeySource` on first use and checked once against the
catalog's *key check*: a token of a fixed text, sealed with the key that seals the catalog's
secrets. A wrong key is then one clear error naming the setting to fix, before anything is
sealed with it (two keys in one database would leave half its secrets unreadable).

The first use in a catalog without a check records the key's (creating the key file if there
is none); a home without a key never creates one for a catalog that already has a check.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from openaml.errors import SecretKeyError
from openaml.store.secrets import KeySource, SecretBox

#: What a key check seals: any fixed text does; this one says what it is to whoever looks.
CHECK = {"openaml": "secret key check"}


class KeyChecks(Protocol):
    """Where a catalog keeps its key check."""

    #: The catalog in words, for messages ("the database postgresql://host/db").
    label: str

    def key_check(self) -> bytes | None: ...

    def claim_key_check(self, token: bytes) -> bytes:
        """Store *token* unless a check is stored already; return the stored one."""
        ...


class KeyRing:
    """The verified keys of one catalog, shared by its workspaces (thread-safe)."""

    def __init__(self, source: KeySource, checks: KeyChecks) -> None:
        self.source, self.checks = source, checks
        self._keys: tuple[bytes, ...] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KeyRing({self.source!r}, {self.checks.label!r})"

    def keys(self) -> tuple[bytes, ...]:
        """The keys, current first, checked against the catalog (on first call)."""
        with self._lock:
            if self._keys is None:
                self._keys = self._verified(self._load())
            return self._keys

    def check(self) -> None:
        """Load and check the key now (a server does at start); :class:`SecretKeyError` if wrong."""
        self.keys()

    def reload(self) -> bool:
        """Read the source again (a rotation may have changed it); True when the keys changed."""
        keys = self.source.load()
        with self._lock:
            if keys is None or tuple(keys) == self._keys:
                return False
            self._keys = self._verified(keys)
            return True

    def sealer(self, legacy_key: Path | None = None) -> "RingSealer":
        """What a workspace seals with: these keys, plus (to read only) an old per-workspace key."""
        return RingSealer(self, legacy_key)

    def rotating(self, new_keys: Sequence[bytes], legacy_keys: Sequence[bytes] = ()) -> SecretBox:
        """A box that opens what the current keys, *new_keys* or *legacy_keys* sealed and seals
        with the first of *new_keys*: a rotation's. Checked: the catalog's check must open with
        the current or the new keys (the latter when a rotation already committed it)."""
        current = self.source.load() or []
        box = SecretBox([*new_keys, *current, *legacy_keys], setting=f"{self.source.setting} and the new key")
        stored = self.checks.key_check()
        if stored is not None and not SecretBox([*new_keys, *current], setting=self.source.setting).opens(stored):
            raise SecretKeyError(
                f"neither the secret key from {self.source.setting} nor the new key is the key of "
                f"{self.checks.label}: {self.source.hint}", setting=self.source.setting)
        return box

    @staticmethod
    def check_token(keys: Sequence[bytes]) -> bytes:
        """The key check of *keys* (sealed with the first)."""
        return SecretBox(list(keys)).encrypt(CHECK)

    def _load(self) -> list[bytes]:
        keys = self.source.load()
        if keys is not None:
            return keys
        if self.checks.key_check() is not None:
            raise SecretKeyError(
                f"{self.checks.label} holds secrets sealed with a secret key, and {self.source.setting} "
                f"does not exist: {self.source.hint}", setting=self.source.setting)
        return self.source.create()

    def _verified(self, keys: Sequence[bytes]) -> tuple[bytes, ...]:
        box = SecretBox(list(keys), setting=self.source.setting)
        stored = self.checks.key_check()
        if stored is None:
            stored = self.checks.claim_key_check(box.encrypt(CHECK))
        if not box.opens(stored):
            raise SecretKeyError(
                f"the secret key from {self.source.setting} is not the key that sealed the secrets of "
                f"{self.checks.label}: {self.source.hint} (if a `openaml server rotate-key` stopped half-way, "
                "run it again)", setting=self.source.setting)
        return tuple(keys)


class RingSealer:
    """Seals with a ring's current key; opens with any of its keys or a legacy per-workspace key,
    reading the ring's source again once when a token opens with none (a rotation elsewhere)."""

    def __init__(self, ring: KeyRing, legacy_key: Path | None) -> None:
        self.ring, self.legacy_key = ring, legacy_key
        self._box: SecretBox | None = None
        self._for: tuple[bytes, ...] | None = None

    def __repr__(self) -> str:
        return f"RingSealer({self.ring!r}, legacy_key={str(self.legacy_key) if self.legacy_key else None!r})"

    def box(self) -> SecretBox:
        keys = self.ring.keys()
        if self._box is None or self._for != keys:
            legacy = list(SecretBox.open(self.legacy_key).keys) if self.legacy_key else []
            self._box, self._for = SecretBox([*keys, *legacy], setting=self.ring.source.setting), keys
        return self._box

    def encrypt(self, values: dict) -> bytes:
        return self.box().encrypt(values)

    def decrypt(self, token: bytes) -> dict:
        try:
            return self.box().decrypt(token)
        except SecretKeyError:
            if not self.ring.reload():
                raise
        return self.box().decrypt(token)
