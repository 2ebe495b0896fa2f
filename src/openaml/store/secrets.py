"""SecretBox: encrypts the secrets of resources (datastore credentials, compute passwords) with
the workspace's Fernet key.

No secret value, and no key, ever appears in a log line, an exception message or a repr.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from openaml.errors import AlreadyExistsError, IntegrityError, NotFoundError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

# cryptography is imported where a secret is sealed or opened, not here: every workspace open
# (each job's agent included) makes a SecretBox, and most never touch a secret.


class SecretBox:
    """Encrypt and decrypt small JSON dicts with a Fernet key kept in a 0600 file."""

    def __init__(self, key: bytes, *, key_path: str | os.PathLike[str] | None = None) -> None:
        self._key_path = str(key_path) if key_path is not None else None
        try:
            # Fernet's own check (32 url-safe base64 bytes), so a bad key fails here, not on first use.
            valid = len(base64.urlsafe_b64decode(key)) == 32
        except (ValueError, TypeError):
            valid = False
        if not valid:
            # Say nothing about the key's content: it might be nearly right.
            raise IntegrityError("the secret key is malformed (expected a Fernet key)",
                                 path=self._key_path)
        self._key = key

    @functools.cached_property
    def _fernet(self) -> "Fernet":
        from cryptography.fernet import Fernet

        return Fernet(self._key)

    def __repr__(self) -> str:
        return f"SecretBox(key_path={self._key_path!r})"

    @classmethod
    def create(cls, key_path: str | os.PathLike[str]) -> "SecretBox":
        """Generate a new key and write it to *key_path* (mode 0600, never overwriting one)."""
        path = Path(key_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        from cryptography.fernet import Fernet

        key = Fernet.generate_key()
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        # O_EXCL + 0600 from the first byte: the key is never readable by others, not even briefly.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(key)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(temp, 0o600)  # in case a permissive umask ever mattered
            try:
                # link() publishes atomically and, unlike rename, refuses to replace an existing
                # key: losing a key means losing every secret encrypted with it.
                os.link(temp, path)
            except FileExistsError:
                raise AlreadyExistsError(f"a secret key already exists at {path}", path=str(path)) from None
        finally:
            os.unlink(temp)
        return cls(key, key_path=path)

    @classmethod
    def open(cls, key_path: str | os.PathLike[str]) -> "SecretBox":
        """Load the key at *key_path*."""
        try:
            key = Path(key_path).read_bytes().strip()
        except FileNotFoundError:
            raise NotFoundError(f"no secret key at {key_path}", path=str(key_path)) from None
        return cls(key, key_path=key_path)

    def encrypt(self, values: dict) -> bytes:
        """Ciphertext (a Fernet token) of the JSON form of *values*."""
        return self._fernet.encrypt(json.dumps(values, sort_keys=True).encode())

    def decrypt(self, token: bytes) -> dict:
        """The dict sealed in *token*; :class:`IntegrityError` if this key did not seal it."""
        from cryptography.fernet import InvalidToken

        try:
            return json.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise IntegrityError(
                "cannot decrypt stored secrets: they were sealed with another key or were altered "
                f"(key file: {self._key_path or 'in memory'})",
                path=self._key_path,
            ) from None
