"""Where a client's token for an openaml server comes from, and the file ``openaml login`` keeps.

A request to a server carries ``Authorization: Bearer <token>`` from the first of:

1. the credential given to ``MLClient`` (anything with azure-identity's ``get_token(*scopes)``,
   or ``get_token_info``: its ``.token``; an ``AzureKeyCredential``: its ``.key``);
2. the ``OPENAML_TOKEN`` variable;
3. the entry for that server in the credentials file, ``<OPENAML_HOME>/credentials``
   (``~/.openaml/credentials``): JSON by server URL, mode 0600, written whole (a temp file renamed
   over it) under a lock, and not read when others may read it.

No token is ever part of a repr, a log line or an error message.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Generator, Mapping
from urllib.parse import urlsplit

import httpx

from openaml.errors import ValidationError

#: The scope a credential's token is asked for: Azure Resource Manager's, as azure-ai-ml asks.
ARM_SCOPE = "https://management.azure.com/.default"
CREDENTIALS_FILE = "credentials"
TOKEN_VARIABLE = "OPENAML_TOKEN"
#: A credential's token is asked again this long before it expires.
REFRESH_MARGIN_SECONDS = 300
_TOKEN = re.compile(r"[\x21-\x7e]{1,2048}")  # printable ASCII, no space: a header value as it is


def check_token(token: Any, source: str) -> str:
    """*token* (stripped) if it can travel in a header; a :class:`ValidationError` naming *source*
    (never the token) otherwise."""
    text = token.strip() if isinstance(token, str) else None
    if not text or not _TOKEN.fullmatch(text):
        raise ValidationError(f"the token from {source} is not a token: printable ASCII without spaces, at most "
                              "2048 characters", field="token")
    return text


def server_key(url: str) -> str:
    """A server URL as the credentials file keys it: scheme and host in lower case, no trailing slash."""
    parts = urlsplit(url)
    netloc = (parts.hostname or "").lower() + (f":{parts.port}" if parts.port else "")
    if parts.hostname and ":" in parts.hostname:  # IPv6
        netloc = f"[{parts.hostname.lower()}]" + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"


class CredentialsFile:
    """The tokens ``openaml login`` saved, by server (``<home>/credentials``)."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / CREDENTIALS_FILE

    def _check_mode(self) -> None:
        if os.name == "nt":  # permission bits mean nothing there; the user's profile is private
            return
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise ValidationError(f"{self.path} may be read by other users (mode {mode:04o}): its tokens are not "
                                  f"used until it is private: chmod 600 {self.path}", field="credentials")

    def read(self) -> dict[str, dict[str, Any]]:
        """Every entry, by server key (empty when there is no file)."""
        if not self.path.is_file():
            return {}
        self._check_mode()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValidationError(f"{self.path} is not a credentials file ({type(exc).__name__}); remove it and "
                                  "log in again", field="credentials") from None
        servers = data.get("servers") if isinstance(data, dict) else None
        return {k: v for k, v in servers.items() if isinstance(v, dict)} if isinstance(servers, dict) else {}

    def token_for(self, server: str) -> str | None:
        """The token saved for *server*, or None."""
        entry = self.read().get(server_key(server))
        token = entry.get("token") if entry else None
        return check_token(token, str(self.path)) if token is not None else None

    def save(self, server: str, token: str, **about: Any) -> None:
        """Save *token* for *server* (with *about*: who it is, for ``openaml login``'s record)."""
        self._update(lambda servers: servers.__setitem__(server_key(server), {"token": token, **about}))

    def remove(self, server: str) -> bool:
        """Forget *server*'s token; whether there was one."""
        found: list[bool] = []
        self._update(lambda servers: found.append(servers.pop(server_key(server), None) is not None))
        return bool(found and found[0])

    def _update(self, change: Callable[[dict[str, Any]], Any]) -> None:
        from filelock import FileLock

        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with FileLock(str(self.path) + ".lock"):
            servers = self.read()
            change(servers)
            _write_private(self.path, {"servers": servers})


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Write *data* as JSON to *path* with mode 0600, whole or not at all."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".credentials-")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class CredentialTokens:
    """The token of a credential object, asked for when missing or about to expire."""

    def __init__(self, credential: Any) -> None:
        self._credential = credential
        self._token: str | None = None
        self._expires_on = 0.0

    def __call__(self) -> str:
        if self._token is None or self._expires_on - REFRESH_MARGIN_SECONDS < time.time():
            credential = self._credential
            if hasattr(credential, "get_token"):
                access = credential.get_token(ARM_SCOPE)
            elif hasattr(credential, "get_token_info"):
                access = credential.get_token_info(ARM_SCOPE)
            else:  # AzureKeyCredential: the key is the token, and does not expire
                self._token, self._expires_on = check_token(credential.key, "the credential's key"), float("inf")
                return self._token
            self._token = check_token(getattr(access, "token", None), "the credential's get_token")
            expires = getattr(access, "expires_on", None)
            self._expires_on = float(expires) if isinstance(expires, (int, float)) else float("inf")
        return self._token

    def __repr__(self) -> str:
        return f"CredentialTokens({type(self._credential).__name__})"


def token_source(credential: Any, server: str, environ: Mapping[str, str], home: Path) -> Callable[[], str | None]:
    """Where the token for *server* comes from, in order: *credential*, ``OPENAML_TOKEN``, the
    credentials file under *home*. The variable and the file are read now; a credential when a
    request needs its token."""
    if credential is not None:
        if not any(hasattr(credential, a) for a in ("get_token", "get_token_info", "key")):
            raise ValidationError(f"a {type(credential).__name__} cannot sign in to an openaml server: pass a "
                                  "credential with get_token, an AzureKeyCredential holding the token, or None "
                                  f"(then ${TOKEN_VARIABLE} or openaml login)", field="credential")
        return CredentialTokens(credential)
    variable = environ.get(TOKEN_VARIABLE)
    token = check_token(variable, f"${TOKEN_VARIABLE}") if variable else CredentialsFile(home).token_for(server)
    return lambda: token


class BearerAuth(httpx.Auth):
    """httpx authentication: ``Authorization: Bearer`` from a token source (nothing when it has none)."""

    def __init__(self, source: Callable[[], str | None]) -> None:
        self._source = source

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._source()
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(<token hidden>)"
