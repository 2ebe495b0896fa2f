"""A cgroup v2 per job, where the host lets us make one (Linux): the strongest tracker.

The job's cgroup is ``<cgroup2 mount>/<this process's cgroup>/openaml-job-<token>``, found from
``/proc/self/mountinfo`` and ``/proc/self/cgroup`` (``0::/path``) and probed by creating it: on
a typical systemd host a user's own cgroup is not writable, and the job falls back to the token
tracker. Each process of the job is started by a tiny ``sh`` that writes its own pid into the
cgroup and then ``exec``s the command, so it is inside before its first instruction (Python's
``preexec_fn`` is unsafe in a threaded agent). Stopping writes ``1`` to ``cgroup.kill``; kernels
without it (before 5.14) get the cgroup frozen and each member killed. The token scan runs too:
a root process can move itself out of a cgroup, not out of its environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from openaml.services.process_tracking import TokenTracker, Usage, send

#: Every job cgroup's name starts with this; the rest is the job's token.
PREFIX = "openaml-job-"
# How long close() waits for the last exiting threads to leave the cgroup before removing it.
CLOSE_WAIT_SECONDS = 2.0
# An empty job cgroup this old is a leftover (an agent killed between creating it and using
# it): the next job created beside it removes it.
STALE_SECONDS = 600.0
# $0 is the cgroup.procs file, "$@" the command. A failed join leaves the process outside the
# cgroup but still carrying the token, and says so in the job's log.
_JOIN = ('{ echo $$ > "$0"; } 2>/dev/null || echo "openaml: could not join cgroup ${0%/cgroup.procs}; '
         'tracked by process token only" >&2; exec "$@"')


def cgroup2_mount(mountinfo: str | None = None) -> Path | None:
    """Where the cgroup v2 hierarchy is mounted (``/sys/fs/cgroup`` or, on hybrid hosts,
    ``/sys/fs/cgroup/unified``); None when it is not."""
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
        except OSError:
            return None
    for line in mountinfo.splitlines():
        before, _, after = line.partition(" - ")
        fields = before.split()
        if after.split()[:1] == ["cgroup2"] and len(fields) >= 5:
            return Path(_unescape(fields[4]))
    return None


def own_cgroup(cgroup_file: str | None = None) -> str | None:
    """This process's cgroup v2 path (``/`` for the root); None when there is no v2 entry."""
    if cgroup_file is None:
        try:
            cgroup_file = Path("/proc/self/cgroup").read_text()
        except OSError:
            return None
    for line in cgroup_file.splitlines():
        if line.startswith("0::"):
            return line[3:].removesuffix(" (deleted)") or "/"
    return None


def open_cgroup(token: str) -> tuple["CgroupTracker | None", str]:
    """A new job cgroup for ``token``, or None and the reason there is none here."""
    mount, own = cgroup2_mount(), own_cgroup()
    if mount is None:
        return None, "no cgroup2 file system mounted here"
    if own is None:
        return None, "this process is in no cgroup2 group"
    parent = outside_jobs(mount / own.lstrip("/"))
    path = parent / f"{PREFIX}{token}"
    _remove_stale(parent)
    try:
        path.mkdir()
    except OSError as exc:
        return None, f"no writable cgroup here: cannot create one under {parent}: {exc.strerror}"
    if not all(os.access(p / "cgroup.procs", os.W_OK) for p in (parent, path)):
        _rmdir(path)
        return None, f"no writable cgroup here: cannot move processes into {path}"
    return CgroupTracker(path, token), ""


def outside_jobs(path: Path) -> Path:
    """``path`` cut before its first job cgroup: job cgroups are never nested in one another."""
    parts = path.parts
    for i, part in enumerate(parts):
        if part.startswith(PREFIX):
            return Path(*parts[:i])
    return path


def leave_job_cgroup() -> None:
    """Move this process out of a job's cgroup, if it is in one: an agent started by a job (a
    job that submits jobs) supervises a job of its own, which must outlive the first."""
    own = own_cgroup()
    if own is None or PREFIX not in own:
        return
    mount = cgroup2_mount()
    if mount is None:
        return
    try:
        (outside_jobs(mount / own.lstrip("/")) / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        pass  # then it ends with the job that started it, as its children would


class CgroupTracker:
    """The processes of one job's cgroup (and of its descendants), plus its token's."""

    kind = "cgroup"

    def __init__(self, path: Path, token: str, *, use_kill_file: bool = True) -> None:
        self.path, self.token, self.cgroup = path, token, str(path)
        self._tokens = TokenTracker(token)
        mount = cgroup2_mount()
        # The job's cgroup as /proc/<pid>/cgroup names it, to confirm a member before a signal.
        self._name = "/" + str(path.relative_to(mount)) if mount and path.is_relative_to(mount) else None
        # cgroup.kill arrived in Linux 5.14; before it, freeze and kill each member.
        self.use_kill_file = use_kill_file and (path / "cgroup.kill").exists()

    @classmethod
    def attach(cls, path: str, token: str) -> "CgroupTracker | None":
        """The cgroup of a job started elsewhere, if ``path`` really is one: an absolute path
        under the cgroup2 mount, with no symlink, named after this token, still present."""
        candidate, mount = Path(path), cgroup2_mount()
        if mount is None or not candidate.is_absolute() or candidate.name != f"{PREFIX}{token}":
            return None
        try:
            resolved = candidate.resolve(strict=True)
        except OSError:
            return None
        if resolved != candidate or not resolved.is_relative_to(mount) or not (resolved / "cgroup.procs").is_file():
            return None
        return cls(resolved, token)

    def describe(self) -> str:
        return f"openaml: processes tracked by cgroup {self.path} (and by process token)"

    def command(self, argv: list[str]) -> list[str]:
        return ["/bin/sh", "-c", _JOIN, str(self.path / "cgroup.procs"), *argv]

    def pids(self) -> set[int]:
        return self._members() | self._tokens.pids()

    def terminate(self) -> None:
        # Frozen, no process runs between two of the signals: all of them see SIGTERM at once,
        # as a process group would.
        with self._frozen():
            send(self._members(), signal.SIGTERM, self._is_member)
            self._tokens.terminate()

    def kill(self) -> None:
        if self.use_kill_file:
            _write(self.path / "cgroup.kill", "1")
        else:
            self._freeze_and_kill()
        self._tokens.kill()

    def close(self) -> Usage:
        # A process can leave cgroup.procs while its other threads still exit; the cgroup is
        # empty (and removable) only once cgroup.events says it is no longer populated.
        deadline = time.monotonic() + CLOSE_WAIT_SECONDS
        while self._populated() and time.monotonic() < deadline:
            time.sleep(0.005)
        usage = self.usage()
        for folder, _, _ in sorted(os.walk(self.path), key=lambda entry: -len(entry[0])):
            _rmdir(Path(folder))  # sub-cgroups the job made, then its own
        return usage

    def usage(self) -> Usage:
        """CPU time of every process the job ran, and peak memory where the controller is on."""
        cpu = peak = None
        try:
            for line in (self.path / "cpu.stat").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    cpu = int(value) / 1e6
        except (OSError, ValueError):
            pass
        try:
            peak = int((self.path / "memory.peak").read_text())
        except (OSError, ValueError):
            pass
        return Usage(cpu_seconds=cpu, memory_peak_bytes=peak)

    # -- internals ------------------------------------------------------------------------------
    def _populated(self) -> bool:
        try:
            return "populated 1" in (self.path / "cgroup.events").read_text()
        except OSError:
            return False

    def _members(self) -> set[int]:
        found: set[int] = set()
        for folder, _, _ in os.walk(self.path):
            try:
                found.update(int(p) for p in Path(folder, "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                continue
        return found

    def _is_member(self, pid: int) -> bool:
        try:
            text = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            return False
        mine = own_cgroup(text)
        if mine is None or self._name is None:
            return False
        return mine == self._name or mine.startswith(self._name + "/")

    def _freeze_and_kill(self) -> None:
        with self._frozen():  # no new fork while we kill
            send(self._members(), signal.SIGKILL, self._is_member)  # frozen tasks still die of it

    @contextlib.contextmanager
    def _frozen(self) -> Iterator[None]:
        """The cgroup frozen (where the kernel has cgroup.freeze, Linux 5.2+): every member is
        marked when the write returns, and none runs user code again until the thaw."""
        freeze = self.path / "cgroup.freeze"
        frozen = freeze.exists() and _write(freeze, "1")
        try:
            yield
        finally:
            if frozen:
                _write(freeze, "0")


def _remove_stale(parent: Path) -> None:
    """Remove empty job cgroups left under ``parent`` long ago (rmdir refuses populated ones)."""
    try:
        entries = [e for e in os.scandir(parent) if e.name.startswith(PREFIX) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for entry in entries:
        try:
            old = time.time() - entry.stat(follow_symlinks=False).st_mtime > STALE_SECONDS
            if old and "populated 0" in Path(entry.path, "cgroup.events").read_text():
                _rmdir(Path(entry.path))
        except OSError:
            continue


def _write(path: Path, text: str) -> bool:
    try:
        path.write_text(text)
        return True
    except OSError:
        return False


def _rmdir(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass  # still populated (stop() gave up) or already gone


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code in ("\\040", "\\011", "\\012", "\\134"):
        field = field.replace(code, chr(int(code[1:], 8)))
    return field
