"""The server's settings, built once by ``openaml server start`` (or a test) and passed down."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from openaml.errors import ValidationError
from openaml.rest.paths import DEFAULT_RESOURCE_GROUP, DEFAULT_SUBSCRIPTION, check_base_url
from openaml.services.settings import Settings

#: Request bodies (JSON) larger than this are refused: specs are small, files go to /blobs.
MAX_JSON_BYTES = 16 * 1024 * 1024
#: One blob upload (a file of an asset, a code snapshot, a job input) at most this many bytes.
MAX_BLOB_BYTES = 64 * 1024 * 1024 * 1024
#: Items in a page of a collection when the request does not say ($top).
PAGE_SIZE = 100

NO_AUTH_LOOPBACK_ONLY = ("--no-auth serves anyone who can connect, so it is accepted only on a loopback address "
                         "(127.0.0.1, ::1 or localhost); elsewhere the server serves with tokens (openaml server "
                         "token create)")
#: The file name of the server's own database under its home, when no --database-url is given.
SERVER_DB_FILE = "server.db"


def server_database_url(home: Path, database_url: str | None = None) -> sa.URL:
    """Where the server's own database is (its tokens; the one rule every caller uses):
    *database_url* when given (``--database-url``), else the SQLite file ``server.db`` under the
    server's *home* (``OPENAML_HOME``, or ``--storage FOLDER``), in WAL mode as every store is."""
    if database_url:
        return sa.make_url(database_url)
    # URL.create, not an f-string: a '?' or '#' in the path must not become URL syntax.
    return sa.URL.create("sqlite", database=str(Path(home).expanduser().absolute() / SERVER_DB_FILE))


@dataclass(frozen=True)
class ServerSettings:
    """What a server serves and how.

    ``workspace_settings``: where workspaces live (``OPENAML_HOME``, or the catalog of its
    ``database_url``: a server's ``--database-url``), the secret key, and how jobs run.
    ``storage``: workspaces created through the server without storage of their own keep their
    bytes there (``azure://...`` or ``s3://...``).
    ``no_auth``: serve without tokens (anyone who connects may do anything but read datastore
    secrets): only on a loopback address.
    ``subscription``/``resource_group``: the ids the server's resource paths carry by default
    (any are accepted in requests and echoed in ids).
    ``public_url``: the server's address as its clients reach it (behind a proxy), which the
    URLs it publishes (a workspace's ``mlflow_tracking_uri``) start with; None: each request's
    own scheme and host.
    ``page_size``: the items in a page of a collection when a request gives no ``$top``.
    """

    workspace_settings: Settings
    host: str = "127.0.0.1"
    port: int = 8080
    storage: str | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    no_auth: bool = False
    subscription: str = DEFAULT_SUBSCRIPTION
    resource_group: str = DEFAULT_RESOURCE_GROUP
    max_json_bytes: int = MAX_JSON_BYTES
    max_blob_bytes: int = MAX_BLOB_BYTES
    public_url: str | None = None
    page_size: int = PAGE_SIZE
    extra: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """Refuse what cannot be served safely: ``--no-auth`` anywhere but on loopback; half a
        TLS pair."""
        if self.no_auth and not is_loopback(self.host):
            raise ValidationError(f"cannot serve on {self.host} without authentication: {NO_AUTH_LOOPBACK_ONLY}",
                                  field="no_auth")
        if (self.certfile is None) != (self.keyfile is None):
            raise ValidationError("TLS needs both --certfile and --keyfile", field="certfile")
        for name, path in (("certfile", self.certfile), ("keyfile", self.keyfile)):
            if path is not None and not Path(path).is_file():
                raise ValidationError(f"{path} is not a file", field=name)
        if not 0 <= self.port <= 65535:
            raise ValidationError(f"port {self.port} is not between 0 and 65535", field="port")
        if self.public_url is not None:
            check_base_url(self.public_url, field="public_url")
        if not 1 <= self.page_size <= 1000:
            raise ValidationError(f"page_size {self.page_size} is not between 1 and 1000", field="page_size")

    @property
    def database_url(self) -> str | None:
        """The database whose catalog holds the served workspaces (None: ``OPENAML_HOME``'s folders)."""
        return self.workspace_settings.database_url

    def warnings(self) -> list[str]:
        """What is allowed but unwise: tokens sent in clear to an address others can reach."""
        if self.certfile is None and not is_loopback(self.host):
            return [f"serving on {self.host} without TLS: tokens and data cross the network in clear; give "
                    "--certfile and --keyfile, or put a TLS proxy in front"]
        return []

    @property
    def scheme(self) -> str:
        return "https" if self.certfile else "http"

    @property
    def database(self) -> sa.URL:
        """The server's own database (see :func:`server_database_url`)."""
        return server_database_url(self.workspace_settings.home, self.database_url)


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
