"""One deployment inside its endpoint's router: its worker processes, their pooled
connections, probes, restarts and scaling.

Each instance is a ``worker.py`` process of the deployment's environment listening on a socket
the router created (passed as a file descriptor, so the port is known before the worker starts
and connections made while ``init()`` runs wait in the socket's backlog). Requests take a slot
of an instance (at most ``max_concurrent_requests_per_instance`` each); Azure's limit of
``2 * max_concurrent_requests_per_instance * instances`` requests in flight or waiting holds,
beyond it and after ``max_queue_wait_ms`` in the queue the answer is 429.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from openaml.backends.local.serving.http11 import read_response

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
SHIMS = Path(__file__).with_name("shims")
# While starting, probes run this often whatever ``period`` says: the deadline stays Azure's.
START_PROBE_INTERVAL = 0.05
RESTART_BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class Probe:
    """Probe settings in seconds, with Azure's defaults."""

    initial_delay: float = 10
    period: float = 10
    timeout: float = 2
    success_threshold: int = 1
    failure_threshold: int = 30

    @classmethod
    def of(cls, spec: dict[str, Any] | None) -> "Probe":
        spec = {k: v for k, v in (spec or {}).items() if v is not None}
        return cls(**spec)

    @property
    def start_deadline(self) -> float:
        """How long a starting worker has to answer before the deployment is Failed."""
        return self.initial_delay + self.period * self.failure_threshold


@dataclass(frozen=True)
class Limits:
    """Request settings (seconds) and scaling of a deployment."""

    timeout: float = 5.0
    concurrency: int = 1
    queue_wait: float = 0.5
    instances: int = 1
    min_instances: int = 1
    max_instances: int = 1
    polling_interval: float = 1.0
    target_utilization: int = 70
    autoscale: bool = False

    @classmethod
    def of(cls, spec: dict[str, Any]) -> "Limits":
        request = spec.get("request_settings") or {}
        scale = spec.get("scale_settings") or {}
        count = spec.get("instance_count") or 1
        values: dict[str, Any] = {
            "timeout": (request.get("request_timeout_ms") or 5000) / 1000,
            "concurrency": request.get("max_concurrent_requests_per_instance") or 1,
            "queue_wait": (request.get("max_queue_wait_ms") if request.get("max_queue_wait_ms") is not None
                           else 500) / 1000,
            "instances": count, "min_instances": count, "max_instances": count,
        }
        if scale.get("type") == "target_utilization":
            low = scale.get("min_instances") or 1
            high = max(low, scale.get("max_instances") or max(low, count))
            values.update(autoscale=True, min_instances=low, max_instances=high,
                          instances=min(max(count, low), high),
                          polling_interval=scale.get("polling_interval") or 1,
                          target_utilization=scale.get("target_utilization_percentage") or 70)
        return cls(**values)


@dataclass(frozen=True)
class Launch:
    """How a worker of the deployment starts: interpreter, variables, working folder, log folder."""

    python: str
    env: dict[str, str]
    cwd: str
    logs: Path


class Instance:
    """One worker process and the router's connections to it."""

    def __init__(self, index: int, launch: Launch) -> None:
        self.index, self.launch = index, launch
        self.port = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.inflight = 0
        self.ready = False
        self.stopping = False
        self.restarts = 0
        self.exited = asyncio.Event()

    async def start(self) -> None:
        """Start the worker on a fresh loopback socket (the router keeps no copy of it)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            sock.listen(512)
            self.port = sock.getsockname()[1]
            env = dict(self.launch.env, OPENAML_WORKER_FD=str(sock.fileno()))
            self.launch.logs.mkdir(parents=True, exist_ok=True)
            with open(self.launch.logs / f"inference-server-{self.index}.log", "ab") as log:
                self.proc = await asyncio.create_subprocess_exec(
                    self.launch.python, str(WORKER_SCRIPT), cwd=self.launch.cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
                    stdout=log, stderr=asyncio.subprocess.STDOUT, pass_fds=(sock.fileno(),), start_new_session=True)
        finally:
            sock.close()
        self.ready, self.exited = False, asyncio.Event()
        self.idle.clear()

    async def probe(self, timeout: float) -> bool:
        """``GET /`` answered 200 within *timeout* seconds."""
        try:
            status, _, _ = await asyncio.wait_for(self.request(b"GET / HTTP/1.1\r\nhost: worker\r\n\r\n"), timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            return False
        return status == 200

    async def request(self, data: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send one request on a pooled connection (a new one if none is idle)."""
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            writer.write(data)
            status, headers, body, reusable = await read_response(reader)
        except BaseException:
            writer.close()  # a timed-out or broken exchange: the connection is out of step
            raise
        if reusable and not self.stopping:
            self.idle.append((reader, writer))
        else:
            writer.close()
        return status, headers, body

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                try:
                    self.proc.send_signal(sig)
                except ProcessLookupError:
                    pass

    async def stop(self, grace: float) -> None:
        """SIGTERM, then SIGKILL after *grace* seconds; returns once the process is gone."""
        self.stopping, self.ready = True, False
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()
        if self.proc is None or self.proc.returncode is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), grace)
        except asyncio.TimeoutError:
            self.signal(signal.SIGKILL)
            await self.proc.wait()


def worker_env(base: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """The worker's variables: *base* with *extra* on top and openaml's shims last on the path."""
    env = dict(base)
    env.update(extra)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join([p for p in (path, str(SHIMS)) if p])
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Balancer:
    """Slots of a deployment's ready instances; waiting requests queue on a condition."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.instances: list[Instance] = []
        self.waiting = 0
        self._turn = 0
        self.changed = asyncio.Condition()
        self.busy_samples: list[float] = []

    def capacity(self) -> int:
        ready = sum(1 for i in self.instances if i.ready)
        return ready * self.limits.concurrency

    def pending(self) -> int:
        return self.waiting + sum(i.inflight for i in self.instances)

    def _free(self) -> Instance | None:
        """The least busy ready instance with a free slot; ties taken in turn (round robin)."""
        instances = self.instances
        count = len(instances)
        if count == 0:
            return None
        self._turn = (self._turn + 1) % count
        best = None
        for offset in range(count):
            inst = instances[(self._turn + offset) % count]
            if inst.ready and inst.inflight < self.limits.concurrency and (best is None or inst.inflight < best.inflight):
                best = inst
        return best

    async def acquire(self, wait: float) -> Instance | None:
        """A ready instance with a free slot, waiting at most *wait* seconds; None if none."""
        inst = self._free()
        if inst is None:
            self.waiting += 1
            try:
                async with self.changed:
                    await asyncio.wait_for(self.changed.wait_for(lambda: self._free() is not None), wait)
            except asyncio.TimeoutError:
                return None
            finally:
                self.waiting -= 1
            inst = self._free()
            if inst is None:
                return None
        inst.inflight += 1
        return inst

    async def release(self, inst: Instance) -> None:
        inst.inflight -= 1
        if self.waiting:
            await self.notify()

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def utilization(self) -> float:
        capacity = max(1, self.capacity())
        return min(2.0, self.pending() / capacity)


def desired_instances(current: int, utilization: float, limits: Limits) -> int:
    """Azure's target-utilization rule: enough instances for the load at the target, within
    ``min_instances`` and ``max_instances``, one step down at a time."""
    wanted = math.ceil(current * utilization * 100 / limits.target_utilization) if utilization > 0 else limits.min_instances
    if wanted < current:
        wanted = current - 1
    return max(limits.min_instances, min(limits.max_instances, wanted))


Clock = Callable[[], float]
monotonic: Clock = time.monotonic
PYTHON = sys.executable
