"""One httpx client per :class:`~openaml.MLClient` talking to a server: requests with Azure's
``api-version`` and the client's bearer token (:mod:`openaml.client.credentials`), errors
rebuilt as the exception class the server raised."""

from __future__ import annotations

import os
import ssl
from typing import Any

import httpx

from openaml import __version__
from openaml.errors import StoreUnavailableError
from openaml.rest.errors import from_body
from openaml.rest.paths import API_VERSION, WorkspaceScope, check_base_url

TIMEOUT = httpx.Timeout(120.0, connect=10.0)


def check_server_url(url: str) -> str:
    """*url* if it is ``http(s)://host[:port][/prefix]`` with no credentials, query or fragment."""
    return check_base_url(url, field="server")


def _verify() -> ssl.SSLContext | bool:
    """The CA bundle named by ``REQUESTS_CA_BUNDLE`` or ``SSL_CERT_FILE`` (as azure-core's and
    requests' clients read them), else the system's."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if bundle:
        return ssl.create_default_context(cafile=bundle)
    return True


class HttpSession:
    """Requests to one server for one workspace scope."""

    def __init__(self, server: str, scope: WorkspaceScope, *, transport: httpx.BaseTransport | None = None,
                 auth: httpx.Auth | None = None) -> None:
        self.server = check_server_url(server)
        self.scope = scope
        self.client = httpx.Client(base_url=self.server, transport=transport, verify=_verify(), timeout=TIMEOUT,
                                   headers={"User-Agent": f"openaml/{__version__}"}, auth=auth)

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None, content: Any = None) -> httpx.Response:
        """Send one request; an error answer raises the exception it describes."""
        query = {"api-version": API_VERSION, **{k: v for k, v in (params or {}).items() if v is not None}}
        try:
            response = self.client.request(method, path, json=json, params=query, headers=headers, content=content)
        except httpx.LocalProtocolError as exc:  # its text may quote a header: the token
            raise StoreUnavailableError(f"cannot send the request to {self.server}: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise StoreUnavailableError(f"cannot reach the openaml server at {self.server}: "
                                        f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise self.error(response)
        return response

    def error(self, response: httpx.Response) -> Exception:
        try:
            body = response.json()
        except ValueError:
            body = None
        return from_body(body, response.status_code)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"HttpSession({self.server!r})"
