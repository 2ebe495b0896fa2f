"""Serving the app to tests without deploying it: in memory (no socket) or on a loopback port
in a thread, as Starlette's TestClient and uvicorn's own tests do. Nothing in openaml imports
this module; the project's tests (and yours) do:

    app = create_app(ServerSettings(workspace_settings=Settings.from_env()))
    client = MLClient(workspace_name="ws", server="http://openaml.test", transport=InMemoryTransport(app))

    with serve_in_thread(app) as url:
        client = MLClient(workspace_name="ws", server=url)
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any, Iterator

import anyio.from_thread
import httpx


class InMemoryTransport(httpx.BaseTransport):
    """A synchronous httpx transport that hands each request to an ASGI app in this process
    (httpx's ``ASGITransport`` run from a portal thread); bodies are read whole."""

    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"transfer-encoding"]

        async def call() -> httpx.Response:
            inner = httpx.Request(request.method, request.url, headers=headers, content=body)
            response = await self._asgi.handle_async_request(inner)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return self._portal.call(call)

    def close(self) -> None:
        self._portal_cm.__exit__(None, None, None)


@contextlib.contextmanager
def serve_in_thread(app: Any, *, certfile: Path | None = None, keyfile: Path | None = None,
                    host: str = "127.0.0.1") -> Iterator[str]:
    """Serve *app* with uvicorn on a free loopback port in a thread; yield its URL."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=0, log_level="warning", lifespan="off",
                            ssl_certfile=str(certfile) if certfile else None,
                            ssl_keyfile=str(keyfile) if keyfile else None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="openaml-test-server", daemon=True)
    thread.start()
    try:
        for _ in range(1000):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not server.started:
            raise RuntimeError("the test server did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"{'https' if certfile else 'http'}://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
