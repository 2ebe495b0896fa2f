"""The test services end with the test process that started them, even when it is SIGKILLed
(a CI timeout, a killed pytest): none may outlive its tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.emulators import ROOT, Unavailable, start_moto

SCRIPT = """
import sys, time
from pathlib import Path
from tests.emulators import start_moto
emulator = start_moto(Path(sys.argv[1]))
print(emulator.endpoint, flush=True)
time.sleep(600)
"""


def _listening(endpoint: str) -> bool:
    host, port = endpoint.split(":")
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, int(port))) == 0


def test_an_emulator_ends_when_its_test_process_is_killed(tmp_path: Path):
    try:
        start_moto(tmp_path).stop()  # moto usable here at all?
    except Unavailable as exc:
        pytest.skip(str(exc))
    owner = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    endpoint = owner.stdout.readline().strip()
    assert endpoint and _listening(endpoint), "the emulator did not start"
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 20
    while _listening(endpoint):
        assert time.monotonic() < deadline, f"moto on {endpoint} outlived the process that started it"
        time.sleep(0.2)
