"""SecretBox: encrypts the secrets of resources (datastore credentials, compute passwords,
workspace storage credentials) with Fernet keys; KeySource: where the key comes from.

A box holds one or more keys: the first seals, any opens (Fernet's MultiFernet), so a key being
rotated and its successor both read while the rotation runs. The key comes from the
configuration, not from a workspace: ``OPENAML_SECRET_KEY`` (keys separated by commas or
spaces, the first current) or a key file (one key a line, the first current; default
``<OPENAML_HOME>/secret.key``, mode 0600, created on first use).

No secret value, and no key, ever appears in a log line, an exception message or a repr.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from openaml.errors import AlreadyExistsError, IntegrityError, NotFoundError, SecretKeyError

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

# cryptography is imported where a secret is sealed or opened, not here: every workspace open
# (each job's agent included) makes a box, and most never touch a secret.

#: The variable holding the key itself (its value is never shown).
KEY_ENV = "OPENAML_SECRET_KEY"
#: The variable naming the key file.
KEY_FILE_ENV = "OPENAML_SECRET_KEY_FILE"
_SEPARATORS = re.compile(r"[\s,]+")


class Sealer(Protocol):
    """What a workspace seals and opens its secrets with (a :class:`SecretBox`, or a key ring
    that loads one on first use)."""

    def encrypt(self, values: dict) -> bytes: ...
    def decrypt(self, token: bytes) -> dict: ...


def is_fernet_key(key: bytes) -> bool:
    """Fernet's own check: 32 bytes, url-safe base64 encoded."""
    try:
        return len(base64.urlsafe_b64decode(key)) == 32 and re.fullmatch(rb"[A-Za-z0-9_\-]+=*", key) is not None
    except (ValueError, TypeError):
        return False


def parse_keys(text: str | bytes, *, origin: str) -> list[bytes]:
    """The keys in *text* (separated by commas, spaces or newlines; the first is current).

    *origin* names where the text came from in the error a malformed key raises (which says
    nothing about the key's content: it might be nearly right)."""
    raw = text.decode("ascii", "replace") if isinstance(text, bytes) else text
    keys = [k.encode() for k in _SEPARATORS.split(raw.strip()) if k]
    if not keys:
        raise SecretKeyError(f"{origin} holds no secret key", setting=origin)
    for position, key in enumerate(keys, 1):
        if not is_fernet_key(key):
            where = f"key {position} of {origin}" if len(keys) > 1 else origin
            raise SecretKeyError(f"{where} is not a secret key (a Fernet key: 32 url-safe base64-encoded bytes, "
                                 "as `openaml server rotate-key` or Fernet.generate_key() makes)", setting=origin)
    return keys


def new_key() -> bytes:
    """A fresh random key."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key()


class SecretBox:
    """Encrypt and decrypt small JSON dicts: the first key seals, any key opens.

    ``setting`` names where the keys came from, for the error a wrong key raises.
    """

    def __init__(self, keys: bytes | Sequence[bytes], *, key_path: str | os.PathLike[str] | None = None,
                 setting: str | None = None) -> None:
        self._key_path = str(key_path) if key_path is not None else None
        self._setting = setting or (f"the key file {self._key_path}" if self._key_path else "the secret key")
        keys = [keys] if isinstance(keys, bytes) else list(keys)
        if not keys or not all(is_fernet_key(k) for k in keys):
            # Say nothing about the key's content: it might be nearly right.
            raise IntegrityError(f"{self._setting} is malformed (expected a Fernet key)", path=self._key_path)
        self._keys = tuple(keys)

    @functools.cached_property
    def _fernet(self) -> "MultiFernet":
        from cryptography.fernet import Fernet, MultiFernet

        return MultiFernet([Fernet(k) for k in self._keys])

    def __repr__(self) -> str:
        return f"SecretBox(key_path={self._key_path!r}, keys={len(self._keys)})"

    @classmethod
    def create(cls, key_path: str | os.PathLike[str]) -> "SecretBox":
        """Generate a new key and write it to *key_path* (mode 0600, never overwriting one)."""
        path = Path(key_path)
        key = new_key()
        write_key_file(path, [key], replace=False)
        return cls(key, key_path=path)

    @classmethod
    def open(cls, key_path: str | os.PathLike[str]) -> "SecretBox":
        """Load the key(s) at *key_path*."""
        try:
            text = Path(key_path).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no secret key at {key_path}", path=str(key_path)) from None
        try:
            keys = parse_keys(text, origin=f"the key file {key_path}")
        except SecretKeyError:
            raise IntegrityError(f"the secret key at {key_path} is malformed (expected a Fernet key)",
                                 path=str(key_path)) from None
        return cls(keys, key_path=key_path)

    @property
    def keys(self) -> tuple[bytes, ...]:
        """The keys, current first (for a caller that rotates or compares them; never shown)."""
        return self._keys

    def encrypt(self, values: dict) -> bytes:
        """Ciphertext (a Fernet token) of the JSON form of *values*, sealed with the first key."""
        return self._fernet.encrypt(json.dumps(values, sort_keys=True).encode())

    def decrypt(self, token: bytes) -> dict:
        """The dict sealed in *token*; :class:`SecretKeyError` if none of the keys sealed it."""
        from cryptography.fernet import InvalidToken

        try:
            return json.loads(self._fernet.decrypt(bytes(token)))
        except InvalidToken:
            raise SecretKeyError(
                "cannot decrypt stored secrets: they were sealed with another key or were altered "
                f"(the key comes from {self._setting})", path=self._key_path,
            ) from None

    def opens(self, token: bytes) -> bool:
        """Whether one of the keys opens *token*."""
        from cryptography.fernet import InvalidToken

        try:
            self._fernet.decrypt(bytes(token))
        except InvalidToken:
            return False
        return True

    def rotate(self, token: bytes) -> bytes:
        """*token* sealed again with the first key (whichever key sealed it)."""
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.rotate(bytes(token))
        except InvalidToken:
            raise SecretKeyError("a stored secret was sealed with none of the keys being rotated (or was "
                                 f"altered): check {self._setting}", path=self._key_path) from None


def write_key_file(path: Path, keys: Sequence[bytes], *, replace: bool) -> None:
    """Write *keys* (one a line) to *path*: see :func:`write_private_file`."""
    write_private_file(path, b"\n".join(keys) + b"\n", replace=replace, what="a secret key")


def write_private_file(path: Path, data: bytes, *, replace: bool, what: str = "a file") -> None:
    """Write *data* to *path*, mode 0600 from the first byte; atomically.

    Without *replace* an existing file is never overwritten (:class:`AlreadyExistsError`):
    losing a key means losing every secret sealed with it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    # O_EXCL + 0600 from the first byte: the key is never readable by others, not even briefly.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o600)  # in case a permissive umask ever mattered
        if replace:
            os.replace(temp, path)
            return
        try:
            # link() publishes atomically and, unlike rename, refuses to replace an existing file.
            os.link(temp, path)
        except FileExistsError:
            raise AlreadyExistsError(f"{what} already exists at {path}", path=str(path)) from None
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)


@dataclass(frozen=True)
class KeySource:
    """Where the secret key comes from: ``value`` (``OPENAML_SECRET_KEY``'s text) when set, else
    the key ``file``. The value is never shown (not in the repr either)."""

    file: Path
    value: str | None = field(default=None, repr=False)

    @property
    def setting(self) -> str:
        """The setting a user fixes when the key is wrong, in words."""
        if self.value:
            return KEY_ENV
        return f"the key file {self.file} ({KEY_FILE_ENV}, a server's --secret-key-file)"

    @property
    def hint(self) -> str:
        """How to give the right key."""
        if self.value:
            return f"set {KEY_ENV} to it"
        return (f"put it in {self.file}, point {KEY_FILE_ENV} (a server: --secret-key-file) at a file holding it, "
                f"or set {KEY_ENV}")

    def load(self) -> list[bytes] | None:
        """The keys, current first; None when there is no value and no file."""
        if self.value:
            return parse_keys(self.value, origin=KEY_ENV)
        try:
            text = self.file.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise SecretKeyError(f"the key file {self.file} is a folder", setting=str(self.file)) from None
        return parse_keys(text, origin=f"the key file {self.file}")

    def create(self) -> list[bytes]:
        """A new key in the file (the one a concurrent first use wrote, if it won)."""
        if self.value:
            return parse_keys(self.value, origin=KEY_ENV)
        try:
            write_key_file(self.file, [new_key()], replace=False)
        except AlreadyExistsError:
            pass
        keys = self.load()
        assert keys is not None  # just written, by us or the winner
        return keys

    def store(self, keys: Sequence[bytes]) -> None:
        """Make *keys* (current first) the file's, replacing what it held."""
        write_key_file(self.file, keys, replace=True)
