"""The MLflow REST tracking server: the standard library's ThreadingHTTPServer, HTTP/1.1 keep-alive.

Started by the job agent for each job (``MLFLOW_TRACKING_URI`` points at it), so it must start
in milliseconds and keep per-request work small: one dict lookup to route, one JSON parse, one
store transaction, one ``sendall`` for the response (headers and body together, with
TCP_NODELAY, so Nagle and delayed ACKs never add latency). What each request means is decided
by :func:`openaml.tracking.dispatch.dispatch`, which the openaml server's mount calls too; this
module only reads requests off the socket and writes the replies back.
"""

from __future__ import annotations

import selectors
import shutil
import socket
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from openaml.store.tracking import TrackingStore
from openaml.tracking.context import ArtifactRoot, Request, TrackingContext
from openaml.tracking.dispatch import dispatch
from openaml.tracking.registry import RegistryFactory

__all__ = ["TrackingServer", "serve_tracking_context", "start_tracking_server"]

_CHUNK = 1 << 20


def _body_reader(rfile: Any, headers: Any) -> Iterator[bytes]:
    """The request body in chunks: Content-Length or chunked transfer encoding."""
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        while True:
            size = int(rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            while size > 0:  # the client's chunk size never decides how much is read at once
                piece = rfile.read(min(size, _CHUNK))
                if not piece:
                    raise ConnectionError("client closed the connection mid-body")
                size -= len(piece)
                yield piece
            rfile.readline()
    remaining = int(headers.get("Content-Length") or 0)
    while remaining > 0:
        chunk = rfile.read(min(remaining, _CHUNK))
        if not chunk:
            raise ConnectionError("client closed the connection mid-body")
        remaining -= len(chunk)
        yield chunk


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"
    timeout = 300  # an idle keep-alive connection is dropped after this many seconds

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.add(self.request)

    def finish(self) -> None:
        self.server.connections.discard(self.request)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # stdlib's signature
        pass  # one line per request on stderr would cost more than the request

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        raw_path, _, query = self.path.partition("?")
        request = Request(method, unquote(raw_path), parse_qs(query), self.headers,
                          lambda: _body_reader(self.rfile, self.headers))
        reply = dispatch(self.server.context, request)
        self._finish_body(request)
        if reply.file is not None:
            self._send_file(reply.file, reply.content_type)
        else:
            self._send(reply.status, reply.body, reply.content_type)

    def _finish_body(self, request: Request) -> None:
        # An unread body would be parsed as the next request on this keep-alive connection.
        if not request.consumed:
            for _ in request.stream():
                pass

    def _head(self, status: int, content_type: str, length: int) -> bytes:
        phrase = HTTPStatus(status).phrase
        close = "Connection: close\r\n" if self.close_connection else ""
        return (f"HTTP/1.1 {status} {phrase}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {length}\r\n{close}\r\n").encode("latin-1")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.wfile.write(self._head(status, content_type, len(body)) + body)

    def _send_file(self, path: Path, content_type: str) -> None:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            self.wfile.write(self._head(200, content_type, size))
            shutil.copyfileobj(f, self.wfile, _CHUNK)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Linger-free restarts in tests; the port is ours (0 = any free port) on loopback by default.
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], context: TrackingContext) -> None:
        self.context = context
        self.connections: set[socket.socket] = set()
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()
        super().__init__(address, _Handler)

    def serve_until_stopped(self) -> None:
        """``serve_forever`` without its poll interval: :meth:`stop_serving` wakes the loop at
        once, where ``shutdown`` waits up to a poll interval (and the job's slot with it)."""
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping:
                if any(key.fileobj is self for key, _ in selector.select()) and not self._stopping:
                    self.handle_request()  # a connection is waiting: accept it, don't block

    def stop_serving(self) -> None:
        """Make :meth:`serve_until_stopped` return; it accepts no connection after this."""
        if not self._stopping:  # a second stop() finds the wake-up socket closed
            self._stopping = True
            self._wake_w.send(b"\0")

    def server_close(self) -> None:
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()


class TrackingServer:
    """A running tracking server; ``url`` is what ``MLFLOW_TRACKING_URI`` should hold.

    Use as a context manager, or call :meth:`stop`.
    """

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._thread = threading.Thread(target=server.serve_until_stopped, name="openaml-tracking",
                                        daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        """Stop serving, close open keep-alive connections and the listening socket."""
        self._server.stop_serving()
        self._thread.join(timeout=5)
        for conn in list(self._server.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()

    def __enter__(self) -> "TrackingServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"TrackingServer({self.url!r})"


def start_tracking_server(
    tracking_store: TrackingStore, *, artifact_root_for_run: ArtifactRoot,
    artifact_root_for_model: ArtifactRoot | None = None, model_registry: RegistryFactory | None = None,
    host: str = "127.0.0.1", port: int = 0,
) -> TrackingServer:
    """Serve MLflow's REST tracking API for *tracking_store*'s workspace on a background thread.

    ``artifact_root_for_run(run_id)`` is the folder behind ``mlflow-artifacts:/<exp>/<run_id>/
    artifacts`` (the job's folder); ``artifact_root_for_model(model_id)`` is the folder of a
    logged model created without a run (such models are refused when it is None).
    ``model_registry()`` builds the model registry behind ``registered-models`` and
    ``model-versions`` (called once, on the first such request); without it they answer 501.
    ``port=0`` picks a free port: read it from ``.port`` / ``.url``.
    """
    context = TrackingContext(tracking_store, artifact_root_for_run, artifact_root_for_model, model_registry)
    return serve_tracking_context(context, host=host, port=port)


def serve_tracking_context(context: TrackingContext, *, host: str = "127.0.0.1", port: int = 0) -> TrackingServer:
    """Serve MLflow's REST API over *context* (e.g. :func:`openaml.tracking.workspace.
    workspace_tracking_context`) on a background thread; ``port=0`` picks a free port."""
    return TrackingServer(_Server((host, port), context))
