"""``python tests/_tether.py PARENT_PID COMMAND...``: run a test service (an emulator) and end it
when the test process that started it is gone, however it went (SIGKILL, a CI timeout), so no
service outlives its tests. Portable: it watches its parent's pid instead of Linux's
PR_SET_PDEATHSIG. SIGTERM or SIGINT stop the service the same way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def main() -> None:
    parent, command = int(sys.argv[1]), sys.argv[2:]
    child = subprocess.Popen(command)  # same stdio, environment and working folder

    def stop(*_: object) -> None:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while child.poll() is None:
        if os.getppid() != parent:
            stop()
        time.sleep(0.2)
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
