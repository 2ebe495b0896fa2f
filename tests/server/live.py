"""A real ``openaml server start`` (uvicorn, in a process of its own) on a loopback port, for the
load, crash and benchmark runs: started tethered to the test process (tests/_tether.py), so it
never outlives it, and ready once ``/ready`` answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

OPENAML = str(Path(sys.executable).with_name("openaml"))
TETHER = str(Path(__file__).resolve().parents[1] / "_tether.py")


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """``openaml server start`` serving ``home`` on ``port`` (``database_url``: where workspaces
    created through it keep their metadata)."""

    home: Path
    port: int = field(default_factory=free_port)
    database_url: str | None = None
    log: Path | None = None
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> "LiveServer":
        """Start the server and return once it is ready (its log is ``<home>/../server-<port>.log``)."""
        command = [OPENAML, "server", "start", "--port", str(self.port), "--log-level", "warning", "--no-auth"]
        if self.database_url:
            command += ["--database-url", self.database_url]
        env = {**os.environ, "OPENAML_HOME": str(self.home)}
        self.log = self.home.parent / f"server-{self.port}.log"
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen([sys.executable, TETHER, str(os.getpid()), *command], env=env,
                                            stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/ready", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server did not start: {self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def server_pid(self) -> int:
        """The server's own process (the tether's child)."""
        import psutil

        assert self.process is not None
        deadline = time.monotonic() + 10
        while not (children := psutil.Process(self.process.pid).children()):
            assert time.monotonic() < deadline, "the tether started no server"
            time.sleep(0.05)
        return children[0].pid

    def kill(self) -> None:
        """SIGKILL the server process, as a crash or the OOM killer would; the tether follows it."""
        os.kill(self.server_pid(), signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Stop it (SIGTERM to the tether, which stops the server first)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
