"""An endpoint's router: ``python -m openaml.backends.local.serving.router <workspace> <endpoint>``.

One process per endpoint, detached from the client that started it: it listens on one loopback
port (its ``scoring_uri``), checks ``Authorization: Bearer <key>``, splits live requests
between deployments by weight, copies a share to the mirror deployment (answers discarded),
honours ``azureml-model-deployment``, and forwards each request to a worker of the chosen
deployment over a pooled keep-alive connection. It reads what to serve from the workspace's
store, and again when told (``POST /.openaml/reload`` with the endpoint's control key), so a
new key works, and an old one stops working, before the client's call returns.

Status codes are Azure's: 401 (no or wrong key), 404 (no deployment takes traffic, or the named
one does not exist), 408 (``request_timeout_ms`` passed), 413 (body over the limit), 424 (the
model answered an error; ``ms-azureml-model-error-statuscode`` says which), 429 (more than
``2 * max_concurrent_requests_per_instance * instances`` requests pending, or
``max_queue_wait_ms`` passed in the queue), 503 (no ready worker).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import random
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from openaml.backends.local.serving.deployment import DeploymentRuntime, prepare, prune
from openaml.backends.local.serving.http11 import HttpError, Request, read_request, response_bytes
from openaml.services.endpoint_runtime import (CONTROL_PREFIX, DEPLOYMENT_HEADER, ProvisioningState, endpoint_dir,
                                               log_file)
from openaml.services.process_tracking import TOKEN_ENV
from openaml.services.settings import Settings
from openaml.services.workspaces import WorkspaceContext, WorkspaceService
from openaml.store.endpoints import EndpointStore

RUNTIME_FILE = "router.json"
LOCK_FILE = "router.lock"
MODULE = "openaml.backends.local.serving.router"
#: Largest request body the router accepts (``OPENAML_ENDPOINT_MAX_BODY_BYTES``).
DEFAULT_MAX_BODY = 100 * 1024 * 1024
_JSON = [("content-type", "application/json")]
#: The paths an endpoint forwards to its deployments (Azure's scoring_uri and openapi_uri).
SCORING_PATHS = frozenset({"/score", "/swagger.json"})
_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
                  "content-length", "authorization", "host"})


def _error(status: int, message: str, extra: list[tuple[str, str]] | None = None) -> tuple[int, list, bytes]:
    return status, [*_JSON, *(extra or [])], json.dumps({"message": message}).encode()


class Router:
    """What one endpoint serves, and the HTTP server in front of it."""

    def __init__(self, ctx: WorkspaceContext, settings: Settings, endpoint: str, token: str) -> None:
        self.ctx, self.settings, self.endpoint, self.token = ctx, settings, endpoint, token
        self.store = EndpointStore(ctx.metadata, ctx.name)
        self.keys: list[bytes] = []
        self.control_key = b""
        self.traffic: list[tuple[str, int]] = []
        self.mirror: tuple[str, int] | None = None
        self.deployments: dict[str, DeploymentRuntime] = {}
        self.pending: dict[str, DeploymentRuntime] = {}
        self.generation = -1
        self.max_body = int(os.environ.get("OPENAML_ENDPOINT_MAX_BODY_BYTES") or DEFAULT_MAX_BODY)
        self.stopped = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---- what to serve --------------------------------------------------------------------------
    async def reload(self) -> None:
        """Read the endpoint and its deployments again and serve them."""
        async with self._reload_lock:
            record = await asyncio.to_thread(self.store.get_endpoint, self.endpoint)
            if record is None:
                self.stopped.set()
                return
            records = await asyncio.to_thread(self.store.list_deployments, self.endpoint)
            keys = self.ctx.secrets.decrypt(record.secret) if record.secret else {}
            self.keys = [keys[k].encode() for k in ("primary_key", "secondary_key") if keys.get(k)]
            self.control_key = keys.get("control_key", "").encode()
            self.traffic = [(n, w) for n, w in (record.spec.get("traffic") or {}).items() if w > 0]
            mirror = [(n, w) for n, w in (record.spec.get("mirror_traffic") or {}).items() if w > 0]
            self.mirror = mirror[0] if mirror else None
            wanted = {r.name: r for r in records}
            for name in [n for n in self.deployments if n not in wanted]:
                await self.deployments.pop(name).stop()
            for name in [n for n in self.pending if n not in wanted]:
                await self.pending.pop(name).stop()
            for name, rec in wanted.items():
                current = self.pending.get(name) or self.deployments.get(name)
                if current is not None and current.fingerprint() == (rec.spec, rec.resolved):
                    if rec.state != current.state.value:  # the same deployment again: nothing to redo
                        await self._write_state(name, current.state, current.error)
                    continue
                # recorded before this call returns: a stale Succeeded never outlives a restart
                state = ProvisioningState.UPDATING if name in self.deployments else ProvisioningState.CREATING
                await self._write_state(name, state, None)
                self._start(rec)
            self.generation = record.generation

    def _start(self, record: Any) -> None:
        storage_log = log_file(self.settings, self.ctx.name, self.endpoint, record.name, "storage-initializer")
        runtime = DeploymentRuntime(record, self._write_state, self.settings.kill_grace_seconds, storage_log)
        old = self.pending.pop(record.name, None)
        if old is not None:
            self._spawn(old.stop())
        self.pending[record.name] = runtime

        async def make_launch():
            return await asyncio.to_thread(prepare, self.ctx, self.settings, self.endpoint, record, self.token)

        async def run() -> None:
            ok = await runtime.start(make_launch)
            if self.pending.get(record.name) is not runtime:
                await runtime.stop()  # replaced or deleted meanwhile
                return
            del self.pending[record.name]
            if ok or record.name not in self.deployments:
                previous = self.deployments.get(record.name)
                self.deployments[record.name] = runtime
                if previous is not None:
                    await previous.stop()
                if ok:
                    await asyncio.to_thread(prune, self.settings, self.ctx.name, self.endpoint, record)
        self._spawn(run())

    async def _write_state(self, name: str, state: ProvisioningState, error: str | None) -> None:
        await asyncio.to_thread(self.store.set_deployment_state, self.endpoint, name, state.value, error)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- HTTP -----------------------------------------------------------------------------------
    async def serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    request = await read_request(reader, self.max_body)
                except HttpError as exc:
                    status, headers, body = _error(exc.status, exc.message)
                    writer.write(response_bytes(status, headers, body, keep_alive=False))
                    await writer.drain()
                    return
                if request is None:
                    return
                status, headers, body = await self.dispatch(request)
                writer.write(response_bytes(status, headers, body, keep_alive=request.keep_alive))
                await writer.drain()
                if not request.keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    def _authorized(self, request: Request, keys: list[bytes]) -> bool:
        given = request.header("authorization") or ""
        if not given.lower().startswith("bearer "):
            return False
        token = given[7:].strip().encode()
        return any(hmac.compare_digest(token, key) for key in keys) if token else False

    async def dispatch(self, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        if request.path.startswith(CONTROL_PREFIX):
            return await self.control(request)
        if not self._authorized(request, self.keys):
            return _error(401, "Unauthorized: give the endpoint's key as 'Authorization: Bearer <key>'")
        if request.path not in SCORING_PATHS:
            return _error(404, "Not Found: an endpoint serves /score and /swagger.json")
        named = request.header(DEPLOYMENT_HEADER)
        if named:
            target = self._serving(named)
            if target is None:
                return _error(404, f"deployment {named!r} not found on endpoint {self.endpoint!r}")
        else:
            target = self._pick()
            if target is None:
                return _error(404, "No valid deployments to route to. Please check that the endpoint has at least "
                                   "one deployment with positive weight values or use a deployment specific header "
                                   "to route.")
            if self.mirror is not None and random.random() * 100 < self.mirror[1]:
                copy = self._serving(self.mirror[0])
                if copy is not None:
                    self._spawn(self.forward(copy, request))
        return await self.forward(target, request)

    def _serving(self, name: str) -> DeploymentRuntime | None:
        """What serves *name*: its running workers, else the ones starting (requests wait)."""
        return self.deployments.get(name) or self.pending.get(name)

    def _pick(self) -> DeploymentRuntime | None:
        if not self.traffic:
            return None
        point = random.random() * sum(w for _, w in self.traffic)
        for name, weight in self.traffic:
            point -= weight
            if point < 0:
                return self._serving(name)
        return self._serving(self.traffic[-1][0])

    async def forward(self, deployment: DeploymentRuntime, request: Request) -> tuple[int, list, bytes]:
        limits, balancer = deployment.limits, deployment.balancer
        started = time.monotonic()
        ready = sum(1 for i in deployment.instances if i.ready)
        if ready and balancer.pending() >= 2 * limits.concurrency * ready:
            return _error(429, "Too many pending requests")
        inst = await balancer.acquire(limits.queue_wait if ready else max(limits.queue_wait, limits.timeout))
        if inst is None:
            if not any(i.ready for i in deployment.instances):
                return _error(503, f"deployment {deployment.name!r} has no ready instance "
                                   f"(provisioning state {deployment.state.value})")
            return _error(429, "Too many pending requests")
        try:
            remaining = limits.timeout - (time.monotonic() - started)
            async with asyncio.timeout(max(0.001, remaining)):  # no task per request, as wait_for makes
                status, headers, body = await inst.request(self._upstream(request))
        except TimeoutError:
            return _error(408, f"request timed out after {int(limits.timeout * 1000)} ms (request_timeout_ms)",
                          [(DEPLOYMENT_HEADER, deployment.name)])
        except (OSError, asyncio.IncompleteReadError, ValueError):
            return _error(502, f"the worker of deployment {deployment.name!r} closed the connection",
                          [(DEPLOYMENT_HEADER, deployment.name)])
        finally:
            await balancer.release(inst)
        headers.append((DEPLOYMENT_HEADER, deployment.name))
        if status >= 400:
            headers += [("ms-azureml-model-error-statuscode", str(status)),
                        ("ms-azureml-model-error-reason", "model_error")]
            return 424, headers, body
        return status, headers, body

    @staticmethod
    def _upstream(request: Request) -> bytes:
        lines = [f"{request.method} {request.target} HTTP/1.1", "host: worker"]
        request_id = None
        for name, value in request.headers:
            if name not in _HOP:
                lines.append(f"{name}: {value}")
                if name == "x-request-id":
                    request_id = value
        if request_id is None:
            lines.append(f"x-request-id: {uuid.uuid4()}")
        lines.append(f"content-length: {len(request.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body

    async def control(self, request: Request) -> tuple[int, list, bytes]:
        if not self.control_key or not self._authorized(request, [self.control_key]):
            return _error(401, "Unauthorized")
        action = request.path[len(CONTROL_PREFIX):]
        if action == "reload" and request.method == "POST":
            await self.reload()
        elif action == "stop" and request.method == "POST":
            self.stopped.set()
        elif action != "status":
            return _error(404, "Not Found")
        status = {name: {"state": d.state.value, "error": d.error, "instances": len(d.instances),
                         "ready": sum(1 for i in d.instances if i.ready),
                         "pids": [i.proc.pid for i in d.instances if i.proc is not None],
                         "restarts": sum(i.restarts for i in d.instances)}
                  for name, d in {**self.deployments, **self.pending}.items()}
        return 200, list(_JSON), json.dumps({"generation": self.generation, "deployments": status}).encode()

    async def watch_store(self, every: float = 5.0) -> None:
        """Stop when the endpoint is no longer in the store (deleted by a process that could not
        reach this router, or its workspace deleted): a router never serves a forgotten endpoint."""
        while not self.stopped.is_set():
            await asyncio.sleep(every)
            if not (self.ctx.folder / "workspace.json").exists():  # the workspace was deleted
                print(f"the workspace of endpoint {self.endpoint} is gone; stopping", flush=True)
                self.stopped.set()
                return
            try:
                record = await asyncio.to_thread(self.store.get_endpoint, self.endpoint)
            except Exception:  # noqa: BLE001 - a busy store is tried again; a deleted workspace ends us
                if (self.ctx.folder / "workspace.json").exists():
                    continue
                record = None
            if record is None:
                print(f"endpoint {self.endpoint} is no longer in the store; stopping", flush=True)
                self.stopped.set()
            elif record.generation != self.generation:
                await self.reload()  # a change whose reload call did not reach us

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*(d.stop() for d in [*self.deployments.values(), *self.pending.values()]),
                             return_exceptions=True)


def _lock(folder: Path) -> Any:
    """Hold the endpoint's router lock for this process's life; None if another router has it."""
    import fcntl

    handle = open(folder / LOCK_FILE, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


async def serve(workspace: str, endpoint: str) -> int:
    settings = Settings.from_env()
    ctx = WorkspaceService(settings).open(workspace)
    folder = endpoint_dir(settings, workspace, endpoint)
    folder.mkdir(parents=True, exist_ok=True)
    lock = _lock(folder)
    if lock is None:
        print(f"another router serves endpoint {endpoint}", flush=True)
        return 0
    token = os.environ.get(TOKEN_ENV, "")
    router = Router(ctx, settings, endpoint, token)
    record = router.store.get_endpoint(endpoint)
    if record is None:
        return 0
    port = (record.runtime or {}).get("port") or 0
    try:
        server = await asyncio.start_server(router.serve_client, "127.0.0.1", port, limit=64 * 1024, backlog=1024)
    except OSError:
        server = await asyncio.start_server(router.serve_client, "127.0.0.1", 0, limit=64 * 1024, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    runtime = {"pid": os.getpid(), "port": port, "token": token, "host": "127.0.0.1"}
    await router.reload()
    await asyncio.to_thread(router.store.set_runtime, endpoint, runtime)
    tmp = folder / f".{RUNTIME_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(runtime))
    os.replace(tmp, folder / RUNTIME_FILE)
    print(f"endpoint {endpoint} listening on 127.0.0.1:{port}", flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, router.stopped.set)
    router._spawn(router.watch_store())
    async with server:
        await router.stopped.wait()
        server.close()
        await router.stop()
    try:
        (folder / RUNTIME_FILE).unlink()
    except FileNotFoundError:
        pass
    lock.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(f"usage: python -m {MODULE} <workspace> <endpoint>", file=sys.stderr)
        return 2
    return asyncio.run(serve(*args))


if __name__ == "__main__":
    sys.exit(main())
