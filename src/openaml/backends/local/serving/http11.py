"""The HTTP/1.1 the router speaks: requests read from clients, responses read from workers.

Small on purpose (the router's per-request cost is what the endpoint adds): request line and
headers parsed once, bodies by ``Content-Length`` or chunked, every size bounded. Anything
malformed is an :class:`HttpError` with the status to answer (400, 413, 431...).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from http import HTTPStatus

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 100


class HttpError(Exception):
    """A request the router refuses; *status* is what it answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Request:
    """One request: lower-case header names, the body read whole."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    keep_alive: bool = True
    _index: dict[str, str] = field(default_factory=dict, repr=False)

    def header(self, name: str, default: str | None = None) -> str | None:
        if not self._index:
            self._index = {k: v for k, v in self.headers}
        return self._index.get(name, default)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise HttpError(431, "a request line or header is too long") from None
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise HttpError(400, "the request ended in the middle of its headers") from None
        raise EOFError from None


async def read_request(reader: asyncio.StreamReader, max_body: int) -> Request | None:
    """The next request on a connection, or None when the client closed it between requests.
    The header block is read with one call (the reader's limit bounds it)."""
    try:
        block = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise HttpError(431, "request headers too large") from None
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise HttpError(400, "the request ended in the middle of its headers") from None
        return None
    lines = block.lstrip(b"\r\n").decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if len(lines) - 3 > MAX_HEADERS:
        raise HttpError(431, "too many request headers")
    headers: list[tuple[str, str]] = []
    for raw in lines[1:-2]:
        name, sep, value = raw.partition(":")
        if not sep or not name or name != name.strip() or " " in name or "\t" in name:
            raise HttpError(400, "malformed header")
        headers.append((name.lower(), value.strip()))
    request = Request(method, target, version, headers)
    connection = (request.header("connection") or "").lower()
    request.keep_alive = ("close" not in connection) if version == "HTTP/1.1" else ("keep-alive" in connection)
    request.body = await _read_body(reader, request, max_body)
    return request


async def _read_body(reader: asyncio.StreamReader, request: Request, max_body: int) -> bytes:
    encoding = (request.header("transfer-encoding") or "").lower()
    length_text = request.header("content-length")
    if encoding:
        if encoding != "chunked" or length_text is not None:
            raise HttpError(400, "unsupported transfer-encoding")
        return await _read_chunked(reader, max_body)
    if length_text is None:
        return b""
    if not length_text.isdigit():
        raise HttpError(400, "bad Content-Length")
    length = int(length_text)
    if length > max_body:
        raise HttpError(413, f"the request body is larger than {max_body} bytes")
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise HttpError(400, "the request body ended early") from None


async def _read_chunked(reader: asyncio.StreamReader, max_body: int) -> bytes:
    chunks, total = [], 0
    while True:
        try:
            size_line = (await _line(reader)).split(b";", 1)[0].strip()
            size = int(size_line, 16)
        except (ValueError, EOFError):
            raise HttpError(400, "malformed chunked body") from None
        if size < 0:
            raise HttpError(400, "malformed chunked body")
        total += size
        if total > max_body:
            raise HttpError(413, f"the request body is larger than {max_body} bytes")
        if size == 0:
            while (await _line(reader)) not in (b"\r\n", b"\n"):  # trailers, dropped
                pass
            return b"".join(chunks)
        try:
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        except asyncio.IncompleteReadError:
            raise HttpError(400, "the chunked body ended early") from None


def response_bytes(status: int, headers: list[tuple[str, str]], body: bytes, *, keep_alive: bool = True) -> bytes:
    """A whole response: status line, headers (Content-Length added), body."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append(f"content-length: {len(body)}")
    if not keep_alive:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]], bytes, bool]:
    """A worker's response: status, headers, body, and whether the connection stays usable."""
    block = await reader.readuntil(b"\r\n\r\n")
    lines = block.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: list[tuple[str, str]] = []
    length, reusable = None, True
    for raw in lines[1:-2]:
        name, _, value = raw.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.lower() == "close":
            reusable = False
        elif name != "transfer-encoding":
            headers.append((name, value))
    if length is None:
        body = await reader.read()
        reusable = False
    else:
        body = await reader.readexactly(length)
    return status, headers, body, reusable
