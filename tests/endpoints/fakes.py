"""An in-memory EndpointHost: what the service asks of a host, recorded, with nothing started."""

from __future__ import annotations

from openaml.services.endpoint_runtime import Answer, RouterRuntime


class FakeEndpointHost:
    """Routers that 'run' as soon as they are ensured; reloads and stops are counted."""

    def __init__(self) -> None:
        self.running: dict[tuple[str, str], RouterRuntime] = {}
        self.reloads = 0
        self.stopped: list[RouterRuntime] = []
        self.posts: list[tuple[str, bytes, dict[str, str]]] = []
        self.answer = Answer(200, b"[1]", {})

    def ensure(self, workspace: str, endpoint: str, runtime: RouterRuntime | None) -> RouterRuntime:
        key = (workspace, endpoint)
        if key not in self.running:
            self.running[key] = RouterRuntime(pid=10_000 + len(self.running), port=40_000 + len(self.running),
                                              token="0" * 32)
        return self.running[key]

    def is_alive(self, runtime: RouterRuntime | None) -> bool:
        return runtime is not None and runtime in self.running.values()

    def reload(self, runtime: RouterRuntime, control_key: str) -> None:
        assert control_key
        self.reloads += 1

    def stop(self, runtime: RouterRuntime, control_key: str) -> None:
        self.stopped.append(runtime)
        self.running = {k: v for k, v in self.running.items() if v != runtime}

    def post(self, runtime: RouterRuntime, path: str, body: bytes, headers: dict[str, str],
             timeout: float) -> Answer:
        self.posts.append((path, body, headers))
        return self.answer
