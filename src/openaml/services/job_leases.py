"""Agent leases: noticing, without any client call, that a job's agent is gone.

An agent holds its job (and the steps a pipeline's orchestrator runs in its process) with a
lease it renews in the store every couple of seconds (``Settings.job_lease_seconds``, default
15 s, is how long one lasts). The record names the agent by pid, host boot and process start
time, so a pid reused by another process (after the agent died, or after a reboot) never passes
for it. Whoever looks next fails an abandoned job: the job service on ``get``/``list``/``stream``,
the watchdog each local home runs, and every live agent for its own workspace.

:func:`judge` decides, for one unfinished job:

- *dead*: on this host, the agent's pid is gone, a zombie, or a process that started at another
  time (at once, lease or not); on another host or an earlier boot of this one, the lease expired.
- *hung*: on this host, the very agent process still runs but has not renewed its lease for
  :data:`HUNG_AFTER_LEASES` leases (a store it cannot reach, a wedged interpreter). Until then a
  late agent is given the benefit of the doubt.
- *alive*: otherwise.

:class:`Reaper` ends a dead or hung agent's job: first its processes (through the job's own
tracker: its cgroup, its token; never its name, and only on the host that ran them), then a hung
agent itself, and only then the status (``Failed``, or ``Canceled`` if a cancel was asked).
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import socket
import time
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Callable

from openaml.entities.job_status import JobStatus, is_terminal
from openaml.errors import InvalidTransitionError, ValidationError
from openaml.paths import safe_join
from openaml.services import contents
from openaml.services.containers import remove_labelled
from openaml.services.process_tracking import is_token, stop, tracker_for
from openaml.services.workspaces import WorkspaceContext
from openaml.services.fuse_mounts import unmount_under
from openaml.store.folders import remove_tree
from openaml.store.jobs import AgentIdentity, JobRecord

log = logging.getLogger(__name__)

#: A live agent that has not renewed its lease for this many leases is treated as hung.
HUNG_AFTER_LEASES = 4
#: How a local agent is started (``python -m <this> WORKSPACE JOB``): only such a process is
#: ever killed as a hung agent.
AGENT_MODULE = "openaml.backends.local.agent"
# psutil derives start times from the boot time, which the kernel reports to the second.
_START_TOLERANCE = 1.0


class Verdict(str, Enum):
    ALIVE = "alive"
    DEAD = "dead"
    HUNG = "hung"


@functools.lru_cache(maxsize=1)
def host_id() -> str:
    """This host and boot: host name, kernel boot id (or boot time) and pid namespace. Two
    containers sharing a kernel have different pid namespaces, so their pids never mix."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        import psutil

        boot = f"boot-{int(psutil.boot_time())}"
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return "/".join(part for part in (socket.gethostname(), boot, namespace) if part)[:255]


def this_agent() -> AgentIdentity:
    """This process as an agent: pid, host and start time."""
    return _identity(os.getpid())


@functools.lru_cache(maxsize=4)
def _identity(pid: int) -> AgentIdentity:
    return AgentIdentity(pid=pid, boot_id=host_id(), started_at=process_started_at(pid))


def process_started_at(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch); None if none runs (or a zombie)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except psutil.Error:
        return None


def agent_running(agent: AgentIdentity) -> bool:
    """Whether the agent's very process (same pid, same start time) still runs on this host."""
    started = process_started_at(agent.pid)
    if started is None:
        return False
    return agent.started_at is None or abs(started - agent.started_at) <= _START_TOLERANCE


def judge(record: JobRecord, *, now: datetime, host: str, unleased_grace: float | None = None,
          running: Callable[[AgentIdentity], bool] = agent_running) -> Verdict:
    """Whether the agent of an unfinished job is alive, dead or hung (see the module's text).

    A job no agent ever leased (created, never launched) is judged only with ``unleased_grace``:
    its lease is then taken to end that many seconds after its last heartbeat or creation."""
    lease_end = record.lease_expires_at
    if lease_end is None:
        if unleased_grace is None:
            return Verdict.ALIVE
        lease_end = (record.heartbeat_at or record.created_at) + timedelta(seconds=unleased_grace)
    agent = record.agent
    if agent is None or agent.boot_id != host:
        return Verdict.DEAD if now > lease_end else Verdict.ALIVE
    if agent == this_agent() or (agent.pid == os.getpid() and agent.started_at is None):
        return Verdict.ALIVE  # the judge itself: alive by definition
    if not running(agent):
        return Verdict.DEAD
    if now <= lease_end:
        return Verdict.ALIVE
    length = (lease_end - record.heartbeat_at) if record.heartbeat_at else timedelta(0)
    length = max(length, timedelta(seconds=1))
    return Verdict.HUNG if now > lease_end + (HUNG_AFTER_LEASES - 1) * length else Verdict.ALIVE


class Reaper:
    """Ends the jobs of one workspace whose agent is dead or hung."""

    def __init__(self, ctx: WorkspaceContext, *, unleased_grace: float | None = None,
                 clock: Callable[[], datetime] | None = None, runs_dir: Path | None = None) -> None:
        self.ctx, self.unleased_grace, self.runs_dir = ctx, unleased_grace, runs_dir
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def reap(self, record: JobRecord) -> JobRecord:
        """``record`` unchanged if it is finished or its agent alive; else the ended job."""
        if is_terminal(JobStatus(record.status)):
            return record
        verdict = judge(record, now=self.clock(), host=host_id(), unleased_grace=self.unleased_grace)
        if verdict is Verdict.ALIVE:
            return record
        return self._end(record, verdict)

    def sweep(self) -> int:
        """Reap every unfinished job of the workspace; return how many are still running."""
        return sum(not is_terminal(JobStatus(self.reap(r).status))
                   for r in self.ctx.jobs.list_active(self.ctx.name))

    def stop_processes(self, record: JobRecord) -> bool:
        """Kill what the job's processes left on this host (SIGKILL: their supervisor is gone);
        True once none is left. Processes on another host are that host's to stop."""
        if record.agent is not None and record.agent.boot_id != host_id():
            return True
        engine = ((record.spec.get("job") or {}).get("properties") or {}).get("openaml.container_engine")
        if engine and is_token(record.process_token):  # containers are the engine's children, not ours
            remove_labelled(str(engine), record.process_token)
        tracker = tracker_for(record.process_token, record.process_cgroup)
        if tracker is None:
            return True
        try:
            return stop(tracker, 0.0)
        finally:
            tracker.close()

    def _end(self, record: JobRecord, verdict: Verdict) -> JobRecord:
        if self.stop_processes(record):
            self._remove_scratch(record)
        agent = record.agent
        if verdict is Verdict.HUNG and agent is not None and agent.started_at is not None:
            _kill_agent(agent, self.ctx.name)
        if record.status == JobStatus.CANCEL_REQUESTED.value:
            status, error = JobStatus.CANCELED, None
        else:
            status, error = JobStatus.FAILED, self._error(record, verdict)
        try:
            ended = self.ctx.jobs.transition(self.ctx.name, record.name, status.value, error=error)
        except InvalidTransitionError:  # the agent (or another reaper) ended it meanwhile
            return self.ctx.jobs.get_job(self.ctx.name, record.name)
        try:
            self.ctx.tracking.update_run_info(record.name, status="KILLED" if status == JobStatus.CANCELED else "FAILED",
                                              end_time=int(time.time() * 1000))
        except Exception:  # noqa: BLE001 - the job's status is what matters; its MLflow run may be missing
            pass
        if self._store_folder(record):
            return self.ctx.jobs.get_job(self.ctx.name, record.name)
        return ended

    def _store_folder(self, record: JobRecord) -> bool:
        """The dead job's logs (and the rest of its folder) into the workspace's storage, as its
        agent would have stored them at the end: on a workspace on object storage, another machine
        reading the workspace finds them. Best effort: the job is ended either way."""
        if record.agent is not None and record.agent.boot_id != host_id():
            return False  # its folder is on the host it ran on
        try:
            return contents.store_job_artifacts(self.ctx, record.name) is not None
        except Exception as exc:  # noqa: BLE001 - storage down: the folder stays on this machine
            log.warning("the logs of dead job %s stay on this machine: %s", record.name, type(exc).__name__)
            return False

    def _remove_scratch(self, record: JobRecord) -> None:
        """A dead job's scratch folder (inputs, unpublished outputs) on this host: nothing of it
        is kept, and nothing would remove it otherwise."""
        if self.runs_dir is None or (record.agent is not None and record.agent.boot_id != host_id()):
            return
        try:
            scratch = safe_join(self.runs_dir, self.ctx.name, record.name, field="name", names=True)
            unmount_under(scratch)  # inputs a killed agent's mount servers left mounted
            remove_tree(scratch)
        except (ValidationError, OSError):  # a stored name that is no folder name has no scratch
            pass

    def _error(self, record: JobRecord, verdict: Verdict) -> dict[str, str]:
        pid = record.agent_pid
        if verdict is Verdict.HUNG:
            return {"code": "AgentHung", "message": (
                f"the job's agent (pid {pid}) still ran but had not renewed its lease for "
                f"{HUNG_AFTER_LEASES} leases; it and the job's processes were stopped; its logs are kept")}
        where = "" if record.agent is not None and record.agent.boot_id == host_id() else \
            " (its lease expired; the agent ran on another host or before a restart)"
        return {"code": "AgentDied", "message": (
            f"the job's agent (pid {pid}) stopped without finishing the job{where}; its logs are kept")}


def command_words(cmdline: list[str]) -> list[str]:
    """A process's command line as words: an agent forked by the warm job pool shows its
    command line as one string (set with setproctitle) followed by empty arguments."""
    return [word for arg in cmdline for word in arg.split(" ") if word]


def _kill_agent(agent: AgentIdentity, workspace: str) -> None:
    """SIGKILL a hung agent, if its pid still is that very process and an agent of this
    workspace (a record in a shared database must not be able to name any other process)."""
    import psutil

    if not agent_running(agent):
        return
    try:
        args = command_words(psutil.Process(agent.pid).cmdline())
    except psutil.Error:
        return
    if AGENT_MODULE not in args or workspace not in args:
        return
    try:
        os.kill(agent.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
