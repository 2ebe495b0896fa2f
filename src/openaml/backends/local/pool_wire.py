"""What travels between a launcher and the home's warm job pool, and where they meet.

One request and one reply per connection over a Unix socket under the home (never a TCP port),
each a 4-byte big-endian length and a JSON object of at most :data:`MAX_MESSAGE` bytes. A
launch request names a job by workspace and name and carries what a detached agent would have
inherited from the launching process (environment, working folder, umask, limits, niceness,
CPU affinity, signal state), so the forked agent is set up exactly as a cold one. This module is
the pool's trust boundary: :func:`parse_request` refuses anything malformed, oversized or
hostile with one line naming the field, before the pool acts on it.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from openaml.errors import ValidationError
from openaml.names import JOB, WORKSPACE

#: Largest request or reply, in bytes (an environment is a few KiB; this leaves room, no more).
MAX_MESSAGE = 1 << 20
#: Most environment variables a request may carry.
MAX_ENV_VARS = 4096
#: The pool's folder under the home (mode 0700) and what it holds.
POOL_DIR = "pool"
SOCKET_NAME = "pool.sock"
LOCK_NAME = "pool.lock"
# A Unix socket path must fit sun_path (108 bytes on Linux, with its NUL).
_SUN_PATH_MAX = 107
_HEADER = struct.Struct(">I")
#: The resource limits a launch carries, by name in :mod:`resource` (those this host has are used).
RLIMITS = ("RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
           "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC",
           "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK")


# Read by the interpreter when it starts (encodings, sys.path, the user's site-packages, cwd):
# a forked agent can only match a cold one if the launcher's values are the pool's.
_INTERPRETER_VARIABLES = ("HOME", "LANG", "LC_ALL", "LC_CTYPE")


def interpreter_variables(env: dict[str, str]) -> dict[str, str]:
    """The variables of ``env`` that shape a Python interpreter at start-up."""
    return {k: v for k, v in env.items() if k.startswith("PYTHON") or k in _INTERPRETER_VARIABLES}


class PoolError(Exception):
    """The pool could not be reached or did not answer as it should: the caller starts the
    agent cold instead. Never carries the request's content (it holds the environment)."""


class RequestKind(str, Enum):
    LAUNCH = "launch"
    STATUS = "status"
    STOP = "stop"


@dataclass(frozen=True)
class ProcessState:
    """What a detached agent inherits from the process that starts it, besides its code."""

    env: dict[str, str]
    cwd: str
    umask: int
    nice: int
    rlimits: dict[str, tuple[int, int]]
    affinity: tuple[int, ...] | None
    ignored_signals: tuple[int, ...]
    blocked_signals: tuple[int, ...]
    executable: str
    package: str          # the folder openaml is imported from


@dataclass(frozen=True)
class LaunchRequest:
    """Start the agent of job ``job`` of ``workspace`` with the launching process's ``state``."""

    workspace: str
    job: str
    state: ProcessState


@dataclass(frozen=True)
class Request:
    kind: RequestKind
    launch: LaunchRequest | None = None


@dataclass(frozen=True)
class PoolStatus:
    """A running pool: its pid, home, how many agents it started, and since when (epoch s)."""

    pid: int
    home: str
    forked: int
    started_at: float
    idle_seconds: float


@dataclass(frozen=True)
class Reply:
    """``pid`` of the started agent, or ``error`` (one line, never the request's content)."""

    ok: bool
    pid: int | None = None
    error: str | None = None
    status: PoolStatus | None = None


# -- where -------------------------------------------------------------------------------------

def pool_dir(home: Path) -> Path:
    return home / POOL_DIR


def socket_path(home: Path) -> Path:
    return pool_dir(home) / SOCKET_NAME


def lock_path(home: Path) -> Path:
    return home / LOCK_NAME


def make_private_dir(folder: Path) -> None:
    """Create ``folder`` (mode 0700) or close an existing one of ours to everyone else."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(folder)
    if info.st_uid != os.getuid() or not os.path.isdir(folder) or os.path.islink(folder):
        raise PoolError(f"{folder} is not a folder of this user")
    if info.st_mode & 0o777 != 0o700:
        os.chmod(folder, 0o700)


def open_lock(home: Path) -> int:
    """The home's pool lock file, opened (not locked); whoever holds ``flock`` on it is the pool."""
    home.mkdir(parents=True, exist_ok=True)
    return os.open(lock_path(home), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def try_lock(fd: int) -> bool:
    """Take the pool lock without waiting; False if another process holds it."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def lock_is_free(home: Path) -> bool:
    """Whether no pool runs (or is starting) for ``home``: one probe of its lock."""
    fd = open_lock(home)
    try:
        return try_lock(fd)  # released when fd closes: the probe holds it only for the moment
    finally:
        os.close(fd)


class SocketAddress:
    """A socket path usable with ``bind``/``connect`` even past sun_path's 107 bytes: a long one
    is reached through ``/proc/self/fd/<folder fd>/<name>`` (Linux; thread-safe, unlike a
    ``chdir``). Use as a context manager; the folder's descriptor is closed on exit."""

    def __init__(self, path: Path) -> None:
        self.path, self._fd = path, -1

    def __enter__(self) -> str:
        if len(os.fsencode(str(self.path))) <= _SUN_PATH_MAX:
            return str(self.path)
        self._fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        return f"/proc/self/fd/{self._fd}/{self.path.name}"

    def __exit__(self, *exc: object) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def peer_uid(sock: socket.socket) -> int:
    """The user id of the process at the other end of a Unix socket (Linux ``SO_PEERCRED``)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def peer_gid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[2]


# -- framing -------------------------------------------------------------------------------------

def send_message(sock: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message, separators=(",", ":")).encode()
    if len(data) > MAX_MESSAGE:
        raise PoolError(f"message of {len(data)} bytes is over the pool's limit of {MAX_MESSAGE}")
    sock.sendall(_HEADER.pack(len(data)) + data)


def receive_message(sock: socket.socket) -> Any:
    """One framed JSON value; :class:`PoolError` when the frame is short, oversized or not JSON."""
    (size,) = _HEADER.unpack(_read_exactly(sock, _HEADER.size))
    if size > MAX_MESSAGE:
        raise PoolError(f"message of {size} bytes is over the pool's limit of {MAX_MESSAGE}")
    try:
        return json.loads(_read_exactly(sock, size))
    except (ValueError, UnicodeDecodeError) as exc:
        raise PoolError(f"message is not JSON: {type(exc).__name__}") from None


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 16))
        if not chunk:
            raise PoolError("connection closed before the whole message arrived")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# -- requests --------------------------------------------------------------------------------------

def request_message(request: Request) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": request.kind.value}
    if request.launch is not None:
        out["launch"] = asdict(request.launch)
    return out


def parse_request(message: Any) -> Request:
    """A checked :class:`Request`; :class:`ValidationError` naming the field otherwise."""
    if not isinstance(message, dict):
        raise ValidationError("a pool request is a JSON object", field="request")
    try:
        kind = RequestKind(message.get("kind"))
    except ValueError:
        raise ValidationError(f"unknown request kind {str(message.get('kind'))[:40]!r}", field="kind") from None
    if kind is not RequestKind.LAUNCH:
        return Request(kind)
    launch = _mapping(message.get("launch"), "launch")
    workspace = WORKSPACE.check(launch.get("workspace"), field="launch.workspace")
    job = JOB.check(launch.get("job"), field="launch.job")
    return Request(kind, LaunchRequest(workspace, job, _state(_mapping(launch.get("state"), "launch.state"))))


def _state(raw: dict[str, Any]) -> ProcessState:
    env = _mapping(raw.get("env"), "state.env")
    if len(env) > MAX_ENV_VARS:
        raise ValidationError(f"more than {MAX_ENV_VARS} environment variables", field="state.env")
    for key, value in env.items():
        if not key or "=" in key or "\0" in key or not isinstance(value, str) or "\0" in value:
            raise ValidationError("environment names are non-empty text without '=' or NUL, values text "
                                  "without NUL", field="state.env")
    return ProcessState(
        env=dict(env), cwd=_absolute(raw.get("cwd"), "state.cwd"),
        umask=_int(raw.get("umask"), "state.umask", 0, 0o777),
        nice=_int(raw.get("nice"), "state.nice", -20, 19),
        rlimits=_rlimits(_mapping(raw.get("rlimits"), "state.rlimits")),
        affinity=None if raw.get("affinity") is None else _ints(raw.get("affinity"), "state.affinity", 0, 65535),
        ignored_signals=_ints(raw.get("ignored_signals"), "state.ignored_signals", 1, 127),
        blocked_signals=_ints(raw.get("blocked_signals"), "state.blocked_signals", 1, 127),
        executable=_absolute(raw.get("executable"), "state.executable"),
        package=_absolute(raw.get("package"), "state.package"))


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object", field=where)
    return value


def _int(value: Any, where: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ValidationError(f"must be an integer from {low} to {high}", field=where)
    return value


def _ints(value: Any, where: str, low: int, high: int) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > 4096:
        raise ValidationError("must be a list of at most 4096 integers", field=where)
    return tuple(_int(v, where, low, high) for v in value)


def _absolute(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or "\0" in value or len(value) > 4096:
        raise ValidationError("must be an absolute path (at most 4096 characters, no NUL)", field=where)
    return value


def _rlimits(raw: dict[str, Any]) -> dict[str, tuple[int, int]]:
    out = {}
    for name, pair in raw.items():
        if name not in RLIMITS:
            raise ValidationError(f"unknown resource limit {name[:40]!r}", field="state.rlimits")
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValidationError("each limit is [soft, hard]", field=f"state.rlimits.{name}")
        soft, hard = (_int(v, f"state.rlimits.{name}", -1, 2**63 - 1) for v in pair)
        out[name] = (soft, hard)
    return out


# -- replies ---------------------------------------------------------------------------------------

def reply_message(reply: Reply) -> dict[str, Any]:
    return asdict(reply)


def parse_reply(message: Any) -> Reply:
    """A :class:`Reply`; :class:`PoolError` when the pool answered something else."""
    try:
        status = message.get("status")
        pid = message.get("pid")
        if pid is not None and (type(pid) is not int or pid <= 0):
            raise TypeError("pid")
        return Reply(ok=message["ok"] is True, pid=pid, error=message.get("error"),
                     status=PoolStatus(**status) if status else None)
    except (AttributeError, KeyError, TypeError) as exc:
        raise PoolError(f"the pool's reply is malformed ({type(exc).__name__})") from None
