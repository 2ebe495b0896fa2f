"""The server's settings, built once by ``openaml server start`` (or a test) and passed down."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path

from openaml.errors import ValidationError
from openaml.rest.paths import DEFAULT_RESOURCE_GROUP, DEFAULT_SUBSCRIPTION
from openaml.services.settings import Settings

#: Request bodies (JSON) larger than this are refused: specs are small, files go to /blobs.
MAX_JSON_BYTES = 16 * 1024 * 1024
#: One blob upload (a file of an asset, a code snapshot, a job input) at most this many bytes.
MAX_BLOB_BYTES = 64 * 1024 * 1024 * 1024
#: Items in a page of a collection when the request does not say ($top).
PAGE_SIZE = 100

AUTH_NOT_AVAILABLE = ("authentication is not available yet (tokens and roles come in a later release), so "
                      "the server serves only this machine: bind it to a loopback address (127.0.0.1, ::1 or "
                      "localhost); --no-auth is accepted there")


@dataclass(frozen=True)
class ServerSettings:
    """What a server serves and how.

    ``workspace_settings``: where workspaces live (``OPENAML_HOME``) and how jobs run.
    ``database_url``: workspaces created through the server keep their metadata there.
    ``storage``: workspaces created through the server without storage of their own keep their
    bytes there (``azure://...`` or ``s3://...``).
    ``subscription``/``resource_group``: the ids the server's resource paths carry by default
    (any are accepted in requests and echoed in ids).
    ``page_size``: the items in a page of a collection when a request gives no ``$top``.
    """

    workspace_settings: Settings
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str | None = None
    storage: str | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    no_auth: bool = False
    subscription: str = DEFAULT_SUBSCRIPTION
    resource_group: str = DEFAULT_RESOURCE_GROUP
    max_json_bytes: int = MAX_JSON_BYTES
    max_blob_bytes: int = MAX_BLOB_BYTES
    page_size: int = PAGE_SIZE
    extra: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """Refuse what cannot be served safely: until tokens exist, anything but loopback;
        half a TLS pair."""
        if not is_loopback(self.host):
            raise ValidationError(f"cannot serve on {self.host}: {AUTH_NOT_AVAILABLE}", field="host")
        if (self.certfile is None) != (self.keyfile is None):
            raise ValidationError("TLS needs both --certfile and --keyfile", field="certfile")
        for name, path in (("certfile", self.certfile), ("keyfile", self.keyfile)):
            if path is not None and not Path(path).is_file():
                raise ValidationError(f"{path} is not a file", field=name)
        if not 0 <= self.port <= 65535:
            raise ValidationError(f"port {self.port} is not between 0 and 65535", field="port")
        if not 1 <= self.page_size <= 1000:
            raise ValidationError(f"page_size {self.page_size} is not between 1 and 1000", field="page_size")

    @property
    def scheme(self) -> str:
        return "https" if self.certfile else "http"


def is_loopback(host: str) -> bool:
    """Whether every address *host* names is a loopback address (``0.0.0.0`` and ``::`` are not)."""
    text = host.strip("[]")
    if not text or any(ord(c) < 33 or ord(c) == 127 for c in text):  # the resolver stops at a NUL
        return False
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(text, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("openaml")
    except PackageNotFoundError:  # a source tree that was not installed
        return "0+unknown"


VERSION = _version()
