"""Storage emulators for the datastore tests, started on free loopback ports and stopped by their
process ids: Azurite (the Azure Storage emulator, from npm; ``scripts/test.sh`` installs it
into ``.tools/``) for Azure Blob and ADLS Gen2, and moto's S3 server (``moto[s3]``, ``flask``,
``flask-cors`` from the ``dev`` extra). When one cannot be started, :class:`Unavailable` carries
the reason the tests are skipped with. Azure Files has no emulator.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Azurite's well-known development account (public, documented by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
START_SECONDS = 60.0


class Unavailable(Exception):
    """An emulator cannot run here; the message says why (tests skip with it)."""


@dataclass
class Emulator:
    """A running emulator: its process, loopback endpoint (``127.0.0.1:port``) and log file."""

    name: str
    process: subprocess.Popen
    endpoint: str
    log: Path
    access_key: str = ""
    secret_key: str = ""

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period: this process only, by its id (the tether,
        which stops the emulator within 10 s)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def tethered(command: list[str]) -> list[str]:
    """*command* run under tests/_tether.py: it ends when this process ends, even by SIGKILL."""
    return [sys.executable, str(Path(__file__).with_name("_tether.py")), str(os.getpid()), *command]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(name: str, process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise Unavailable(f"{name} exited at start (code {process.returncode}): {' | '.join(tail)}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    process.terminate()  # the tether stops the emulator, then itself
    try:
        process.wait(timeout=25)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    raise Unavailable(f"{name} did not listen on 127.0.0.1:{port} within {START_SECONDS:.0f} s")


def azurite_command() -> str:
    """Azurite's blob service: ``OPENAML_TEST_AZURITE``, the copy in ``.tools/``, or one on PATH."""
    for candidate in (os.environ.get("OPENAML_TEST_AZURITE"), str(ROOT / ".tools/node_modules/.bin/azurite-blob"),
                      shutil.which("azurite-blob")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise Unavailable("Azurite is not installed (scripts/test.sh installs it with npm into .tools/; "
                      "or set OPENAML_TEST_AZURITE to an azurite-blob executable)")


def start_azurite(folder: Path, *, in_memory: bool = True) -> Emulator:
    """Azurite's blob endpoint, telemetry off (it would call out of this machine). In memory
    (at most 512 MB of blob data) unless *in_memory* is False: then its data lives in *folder*,
    which holds as much as the disk does (the benchmarks' 1 GiB folders)."""
    command = azurite_command()
    port = free_port()
    log = folder / "azurite.log"
    storage = ["--inMemoryPersistence", "--extentMemoryLimit", "512"] if in_memory else \
        ["--location", str(folder / "data")]
    with open(log, "wb") as out:
        process = subprocess.Popen(tethered(
            [command, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--skipApiVersionCheck", "--loose",
             "--silent", "--disableTelemetry", *storage]),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    _wait_listening("Azurite", process, port, log)
    return Emulator("azurite", process, f"127.0.0.1:{port}", log, AZURITE_ACCOUNT, AZURITE_KEY)


# moto checks signatures only after this many unauthenticated requests: the three below create
# a user, its access key and a policy, so every later request needs that key (a wrong one fails).
_MOTO_SETUP_ACTIONS = 3


def start_moto(folder: Path) -> Emulator:
    """moto's server (S3 and IAM) with signatures checked, and an access key allowed all of S3."""
    try:
        import boto3  # noqa: F401 - moto's dependency, used below
        import flask  # noqa: F401 - what moto's server runs on
        import moto.server  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"moto's server cannot run: {exc} (pip install 'moto[s3]' flask flask-cors)") from None
    port = free_port()
    log = folder / "moto.log"
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(_MOTO_SETUP_ACTIONS), AWS_DEFAULT_REGION="us-east-1")
    with open(log, "wb") as out:
        process = subprocess.Popen(tethered([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]),
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                   start_new_session=True)
    _wait_listening("moto", process, port, log)
    emulator = Emulator("moto", process, f"127.0.0.1:{port}", log)
    try:
        emulator.access_key, emulator.secret_key = _moto_user(emulator.url)
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable moto here"
        emulator.stop()
        raise Unavailable(f"moto started but its IAM set-up failed: {type(exc).__name__}: {exc}") from None
    return emulator


def _moto_user(url: str) -> tuple[str, str]:
    import boto3

    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="setup",
                       aws_secret_access_key="setup")
    iam.create_user(UserName="openaml-tests")
    key = iam.create_access_key(UserName="openaml-tests")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="openaml-tests", PolicyName="s3", PolicyDocument=json.dumps(policy))
    return key["AccessKeyId"], key["SecretAccessKey"]


def new_container(emulator: Emulator, prefix: str = "ws") -> tuple[str, Any]:
    """A fresh Azure container (on Azurite) or S3 bucket (on moto), and a file system of the
    test's own rooted at the account, to look at what openaml wrote there."""
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    if emulator.name == "moto":
        import s3fs

        fs = s3fs.S3FileSystem(key=emulator.access_key, secret=emulator.secret_key, endpoint_url=emulator.url,
                               skip_instance_cache=True, use_listings_cache=False)
    else:
        from adlfs import AzureBlobFileSystem

        fs = AzureBlobFileSystem(connection_string=azurite_connection_string(emulator), skip_instance_cache=True,
                                 use_listings_cache=False)
    fs.mkdir(name)
    return name, fs


def azurite_connection_string(emulator: Emulator) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={emulator.access_key};AccountKey={emulator.secret_key};"
            f"BlobEndpoint={emulator.url}/{emulator.access_key};")
