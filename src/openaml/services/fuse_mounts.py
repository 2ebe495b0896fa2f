"""Read-only FUSE mounts of a job's remote inputs (``ro_mount``, ``mount``, ``eval_mount``).

Whether this host can mount is found once per job (:func:`probe_fuse`): the ``OPENAML_FUSE``
setting, the platform (Linux; macOS with macFUSE or FUSE-T), ``/dev/fuse`` and the right to
open it, ``fusermount`` (to unmount), libfuse, and the ``mfusepy`` package (``openaml[mount]``).
Where one of them is missing, or the mount itself fails, the caller downloads the input instead
and its log line says why.

Each mount is served by a process of its own (:mod:`openaml.services.fuse_server`), not by a
thread of the agent: libfuse installs signal handlers in the process that runs it, and reads
of a busy job would compete for the agent's interpreter with its heartbeat and MLflow endpoint.
The agent holds the server's standard input open; :meth:`InputMounts.close` closes it when the
job ends, however it ends, and the server unmounts and exits; if the agent dies, the pipe closes
all the same. A server that does not exit in time is killed and its mount point unmounted
lazily; :func:`unmount_under` is the last resort for mounts a killed server left behind (the
next run of the job, and the reaper of a dead job, call it before removing a scratch folder).
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import json
import os
import re
import selectors
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from openaml.services.remote_data import RemoteListing
from openaml.services.settings import Settings

__all__ = ["FuseSupport", "InputMounts", "MountSource", "probe_fuse", "mounted_under", "unmount_under"]

#: How long a mount may take to be ready (its server starts, opens the workspace, mounts).
MOUNT_SECONDS = 60.0
#: How long a server may take to unmount and exit once told to.
UNMOUNT_SECONDS = 15.0
MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class FuseSupport:
    """Whether this host can mount with FUSE: ``reason`` says why not (None: it can), and
    ``fusermount`` is the program that unmounts (None: ``umount``, as on macOS)."""

    reason: str | None
    fusermount: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None


def probe_fuse(setting: str, *, platform: str | None = None, device: Path = Path("/dev/fuse"),
               which: Callable[[str], str | None] = shutil.which,
               find_library: Callable[[str], str | None] = ctypes.util.find_library,
               has_module: Callable[[str], bool] | None = None,
               access: Callable[[Path, int], bool] = os.access) -> FuseSupport:
    """Whether FUSE mounts can work here, checking the cheap things in order (no mount is tried:
    that is the mount itself, whose failure is reported the same way)."""
    platform = platform or sys.platform
    has_module = has_module or (lambda name: importlib.util.find_spec(name) is not None)
    if setting == "off":
        return FuseSupport("FUSE mounts are turned off (OPENAML_FUSE=off)")
    fusermount: str | None = None
    if platform == "darwin":
        if not any(find_library(name) for name in ("fuse-t", "macfuse", "osxfuse", "fuse")):
            return FuseSupport("macOS without macFUSE or FUSE-T (install one to mount remote inputs)")
    elif platform.startswith("linux"):
        if not device.exists():
            return FuseSupport(f"no {device} (the fuse kernel module is not loaded, or a container was started "
                               "without --device /dev/fuse)")
        if not access(device, os.R_OK | os.W_OK):
            return FuseSupport(f"no permission to open {device}")
        fusermount = which("fusermount3") or which("fusermount")
        if fusermount is None:
            return FuseSupport("fusermount is not installed (Debian/Ubuntu: apt-get install fuse3)")
    else:
        return FuseSupport(f"no FUSE on {platform}")
    if not (os.environ.get("FUSE_LIBRARY_PATH") or find_library("fuse") or find_library("fuse3")):
        return FuseSupport("libfuse is not installed (Debian/Ubuntu: apt-get install fuse3)")
    if not has_module("mfusepy"):
        return FuseSupport("the mfusepy package is not installed (pip install 'openaml[mount]')")
    return FuseSupport(None, fusermount)


@dataclass(frozen=True)
class MountSource:
    """Where a mount reads: a registered datastore, or a storage URI no datastore matches."""

    datastore: str | None = None
    uri: str | None = None


@dataclass
class _Mount:
    mountpoint: Path
    process: subprocess.Popen


class InputMounts:
    """The read-only mounts of one job's inputs; :meth:`close` removes them all.

    *scratch* holds the servers' own logs (libfuse's messages, read back when a mount fails)."""

    def __init__(self, settings: Settings, workspace: str, scratch: Path, *,
                 probe: Callable[[str], FuseSupport] = probe_fuse) -> None:
        self.settings, self.workspace, self.scratch, self._probe = settings, workspace, scratch, probe
        self._support: FuseSupport | None = None
        self._mounts: list[_Mount] = []

    @property
    def support(self) -> FuseSupport:
        """This host's answer, found on first use (once per job)."""
        if self._support is None:
            self._support = self._probe(self.settings.fuse_mounts)
        return self._support

    def mount(self, listing: RemoteListing, source: MountSource, mountpoint: Path, *, label: str) -> str | None:
        """Mount *listing*'s file or folder read-only as ``mountpoint/<root>``; None once it is
        mounted, else the reason it could not be (the caller downloads instead)."""
        support = self.support
        if not support.available:
            return support.reason
        mountpoint.mkdir(parents=True, exist_ok=True)
        self.scratch.mkdir(parents=True, exist_ok=True)
        request = {"workspace": self.workspace, "datastore": source.datastore, "uri": source.uri,
                   "listing": listing.to_dict(), "mountpoint": str(mountpoint), "fusermount": support.fusermount,
                   "label": label}
        log_path = self.scratch / f"{label}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "openaml.services.fuse_server"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, env={**os.environ, **self.settings.agent_env()},
                start_new_session=True)  # a signal to the agent's group must not skip the unmount
        mount = _Mount(mountpoint, process)
        self._mounts.append(mount)
        answer = _handshake(process, json.dumps(request).encode() + b"\n", MOUNT_SECONDS)
        if answer.get("ready") and is_mounted(mountpoint):
            return None
        self._end(mount)
        self._mounts.remove(mount)
        return _why(answer, log_path)

    def close(self) -> list[str]:
        """Unmount every input (the last mounted first); the mount points that could not be
        unmounted even lazily (normally none)."""
        stuck = []
        while self._mounts:
            mount = self._mounts.pop()
            if not self._end(mount):
                stuck.append(str(mount.mountpoint))
        return stuck

    def _end(self, mount: _Mount) -> bool:
        """Tell the server to unmount and exit (its standard input closes); kill it if it does
        not, and unmount lazily what is left. True when nothing is mounted there any more."""
        process = mount.process
        for stream in (process.stdin, process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            process.wait(UNMOUNT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if is_mounted(mount.mountpoint):
            unmount(mount.mountpoint, self.support.fusermount)
        return not is_mounted(mount.mountpoint)


def _handshake(process: subprocess.Popen, request: bytes, timeout: float) -> dict[str, Any]:
    """Send the request; the server's first answer line, or ``{}`` if it exits or is silent
    for *timeout* seconds."""
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(request)
        process.stdin.flush()
    except OSError:  # the server died before reading: its log says why
        return {}
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                return {"error": f"the mount was not ready within {timeout:.0f} s"}
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
    try:
        answer = json.loads(buffer.split(b"\n", 1)[0] or b"{}")
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _why(answer: dict[str, Any], log_path: Path) -> str:
    """One line: the server's error, with libfuse's own message when it wrote one."""
    said = str(answer.get("error") or "the mount server ended without mounting")
    try:
        lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    fuse_lines = [line for line in lines if line.lower().startswith(("fuse:", "fusermount"))]
    detail = (fuse_lines or lines[-1:] or [""])[-1]
    return f"{said} ({detail[:200]})" if detail and detail not in said else said


# -- unmounting ---------------------------------------------------------------------------------
def unmount(mountpoint: Path | str, fusermount: str | None) -> bool:
    """Unmount *mountpoint*: normally, else lazily (detached at once, gone when nothing holds
    it). True when a command succeeded."""
    target = str(mountpoint)
    commands = [[fusermount, "-u", "-q", target], [fusermount, "-u", "-z", "-q", target]] if fusermount \
        else [["umount", target], ["umount", "-l", target]]
    for argv in commands:
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return True
    return False


_ESCAPE = re.compile(r"\\([0-7]{3})")


def _mounts_table() -> list[tuple[str, str]] | None:
    """(mount point, file system type) of every mount this process sees; None where the
    kernel does not say (not Linux)."""
    try:
        text = MOUNTINFO.read_text()
    except OSError:
        return None
    found = []
    for line in text.splitlines():
        head, _, tail = line.partition(" - ")
        fields = head.split()
        if len(fields) >= 5 and tail:
            found.append((_ESCAPE.sub(lambda m: chr(int(m[1], 8)), fields[4]), tail.split()[0]))
    return found


def is_mounted(path: Path | str) -> bool:
    """Whether something is mounted at *path* (a dead FUSE mount too, which ``os.path.ismount``
    cannot tell: stat fails on it)."""
    table = _mounts_table()
    if table is None:
        return os.path.ismount(path)
    target = os.path.abspath(path)
    return any(point == target for point, _ in table)


def mounted_under(folder: Path | str) -> list[str]:
    """The FUSE mount points at or under *folder*, deepest first."""
    table = _mounts_table() or []
    root = os.path.abspath(folder)
    points = [point for point, kind in table if kind.startswith("fuse")
              and (point == root or point.startswith(root.rstrip("/") + "/"))]
    return sorted(set(points), key=lambda p: (-p.count("/"), p))


def unmount_under(folder: Path | str) -> list[str]:
    """Unmount (lazily if need be) every FUSE mount at or under *folder*, such as a killed mount
    server left behind, so the folder can be removed; returns those that stay mounted."""
    fusermount = shutil.which("fusermount3") or shutil.which("fusermount")
    for point in mounted_under(folder):
        unmount(point, fusermount)
    return mounted_under(folder)
