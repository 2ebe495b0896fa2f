"""The local :class:`~openaml.services.endpoint_runtime.EndpointHost`: routers as detached
processes of this machine, one per endpoint, reached over loopback HTTP.

Every process of an endpoint (its router and its workers) carries the endpoint's process token
(``OPENAML_JOB_TOKEN``, as a job's processes do), so :meth:`LocalEndpointHost.stop` can find and
end them all even if the router died first; a router that died is replaced, and the workers it
left behind are stopped first.
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path

import psutil

from openaml.backends.local.spawn import agent_environment, spawn_detached
from openaml.errors import OpenAMLError
from openaml.services.endpoint_runtime import CONTROL_PREFIX, Answer, RouterRuntime, endpoint_dir
from openaml.services.process_tracking import TOKEN_ENV, TokenTracker, new_token, stop
from openaml.services.settings import Settings

MODULE = "openaml.backends.local.serving.router"
RUNTIME_FILE = "router.json"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


class EndpointUnavailableError(OpenAMLError):
    """An endpoint's router could not be started or reached."""


class LocalEndpointHost:
    """Starts, reaches and stops the routers of this machine's endpoints."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def is_alive(self, runtime: RouterRuntime | None) -> bool:
        if runtime is None:
            return False
        try:
            proc = psutil.Process(runtime.pid)
            return proc.status() != psutil.STATUS_ZOMBIE and MODULE in " ".join(proc.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False

    def ensure(self, workspace: str, endpoint: str, runtime: RouterRuntime | None) -> RouterRuntime:
        if self.is_alive(runtime):
            return runtime  # type: ignore[return-value]
        if runtime is not None and runtime.token:
            stop(TokenTracker(runtime.token), self.settings.kill_grace_seconds)  # what a dead router left
        folder = endpoint_dir(self.settings, workspace, endpoint)
        folder.mkdir(parents=True, exist_ok=True)
        token = new_token()
        env = agent_environment(self.settings)
        env[TOKEN_ENV] = token
        pid = spawn_detached(self.settings, [MODULE, workspace, endpoint], folder / "router.log", env=env)
        return self._wait_started(folder, pid, token)

    def _wait_started(self, folder: Path, pid: int, token: str) -> RouterRuntime:
        """The runtime of the router we started, or of the one that won the race to start (two
        clients starting a router at once: the second exits, holding no lock)."""
        deadline = time.monotonic() + START_TIMEOUT
        exited_at: float | None = None
        while time.monotonic() < deadline:
            try:
                data = json.loads((folder / RUNTIME_FILE).read_text())
            except (FileNotFoundError, ValueError):
                data = None
            found = RouterRuntime.from_dict(data)
            if found is not None and (found.token == token or (exited_at is not None and self.is_alive(found))):
                return found
            if exited_at is None and not self.is_alive(RouterRuntime(pid, 0, token)):
                exited_at = time.monotonic()
            if exited_at is not None and time.monotonic() - exited_at > 10:
                log = folder / "router.log"
                last = log.read_text(errors="replace").strip().splitlines()[-5:] if log.is_file() else []
                raise EndpointUnavailableError("the endpoint's router exited at start: " + " | ".join(last))
            time.sleep(0.02)
        raise EndpointUnavailableError(f"the endpoint's router did not start within {START_TIMEOUT:g} s "
                                       f"(see {folder / 'router.log'})")

    def _control(self, runtime: RouterRuntime, action: str, control_key: str, timeout: float = 120.0) -> int:
        answer = self.post(runtime, CONTROL_PREFIX + action, b"", {"Authorization": f"Bearer {control_key}"}, timeout)
        return answer.status

    def reload(self, runtime: RouterRuntime, control_key: str) -> None:
        status = self._control(runtime, "reload", control_key)
        if status != 200:
            raise EndpointUnavailableError(f"the endpoint's router refused to reload ({status})")

    def stop(self, runtime: RouterRuntime, control_key: str) -> None:
        if self.is_alive(runtime):
            try:
                self._control(runtime, "stop", control_key, timeout=10.0)
            except OSError:
                pass
            deadline = time.monotonic() + STOP_TIMEOUT
            while self.is_alive(runtime) and time.monotonic() < deadline:
                time.sleep(0.05)
        if runtime.token:
            stop(TokenTracker(runtime.token), self.settings.kill_grace_seconds)

    def post(self, runtime: RouterRuntime, path: str, body: bytes, headers: dict[str, str],
             timeout: float) -> Answer:
        conn = http.client.HTTPConnection(runtime.host, runtime.port, timeout=timeout)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            return Answer(response.status, response.read(), {k.lower(): v for k, v in response.getheaders()})
        finally:
            conn.close()
