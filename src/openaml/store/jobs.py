"""Job store: one row per job, its status and the agent supervising it.

Usage: ``JobStore(metadata_store)`` shares the metadata store's engine (no second pool).
Statuses are Azure's strings (``NotStarted`` ... ``Canceled``); which changes are allowed is not
decided here but by a ``check_transition(old, new)`` callable, by default
:func:`openaml.entities.job_status.check_transition`, called inside the transaction that holds
the job's row lock, so two racing writers cannot both move a job out of the same status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from openaml.constants import ListViewType
from openaml.errors import AlreadyExistsError, InvalidTransitionError, NotFoundError, ValidationError
from openaml.store import _db
from openaml.store._serial import lock_counter
from openaml.store.records import as_utc
from openaml.store.tables import jobs as J

if TYPE_CHECKING:
    from openaml.store.metadata import MetadataStore

__all__ = ["TERMINAL_STATUSES", "AgentIdentity", "JobRecord", "JobStore"]

#: Statuses a job never leaves; entering one sets ``ended_at``.
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Canceled"})
_RUNNING = "Running"
# Columns besides the status that transition() may set; "spec" is a shallow patch.
_TRANSITION_FIELDS = frozenset({"agent_pid", "heartbeat_at", "spec"})
# Fields update_fields() accepts; all but display_name live only in the spec.
_UPDATABLE_FIELDS = frozenset({"display_name", "description", "tags", "properties", "spec"})

CheckTransition = Callable[[str, str], None]


@dataclass(frozen=True)
class AgentIdentity:
    """The process supervising a job: its pid, the host it runs on (``boot_id``: host name, boot
    and pid namespace, so a pid is only compared on the machine and boot that issued it) and its
    start time (seconds since the epoch; None until the agent itself claims the job)."""

    pid: int
    boot_id: str
    started_at: float | None = None


@dataclass(frozen=True)
class JobRecord:
    """One job as stored. ``spec`` is the resolved job (a dict); ``error`` is set on failure."""

    workspace: str
    name: str
    type: str
    status: str
    parent_job_name: str | None
    experiment_name: str
    display_name: str | None
    spec: dict
    error: dict | None
    archived: bool
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    agent_pid: int | None
    heartbeat_at: datetime | None
    seq: int
    agent_boot_id: str | None = None
    agent_started_at: float | None = None
    lease_expires_at: datetime | None = None
    process_token: str | None = None
    process_cgroup: str | None = None

    @property
    def agent(self) -> AgentIdentity | None:
        """Who holds the job, or None when no agent ever claimed it."""
        if self.agent_pid is None or self.agent_boot_id is None:
            return None
        return AgentIdentity(self.agent_pid, self.agent_boot_id, self.agent_started_at)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _record(row: Any) -> JobRecord:
    return JobRecord(
        workspace=row.workspace, name=row.name, type=row.type, status=row.status,
        parent_job_name=row.parent_job_name, experiment_name=row.experiment_name,
        display_name=row.display_name, spec=dict(row.spec),
        error=dict(row.error) if row.error is not None else None, archived=bool(row.archived),
        created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
        started_at=_utc_or_none(row.started_at), ended_at=_utc_or_none(row.ended_at),
        agent_pid=row.agent_pid, heartbeat_at=_utc_or_none(row.heartbeat_at), seq=row.seq,
        agent_boot_id=row.agent_boot_id, agent_started_at=row.agent_started_at,
        lease_expires_at=_utc_or_none(row.lease_expires_at), process_token=row.process_token,
        process_cgroup=row.process_cgroup,
    )


def _key(workspace: str, name: str) -> list[Any]:
    return [J.c.workspace == workspace, J.c.name == name]


def _held_by(workspace: str, agent: AgentIdentity) -> list[Any]:
    """Unfinished jobs claimed by exactly this agent (pid, host and start time)."""
    return [J.c.workspace == workspace, J.c.agent_pid == agent.pid, J.c.agent_boot_id == agent.boot_id,
            J.c.agent_started_at == agent.started_at, J.c.status.not_in(TERMINAL_STATUSES)]


def _not_found(workspace: str, name: str) -> NotFoundError:
    return NotFoundError(f"Job {name} not found in workspace {workspace}.", kind="jobs", name=name)


def _check_field_names(given: Iterable[str], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ValidationError(f"{what} cannot set {unknown}; allowed: {sorted(allowed)}.")


def _default_check_transition(old: str, new: str) -> None:
    # Imported lazily so the store loads without the entities' job module.
    from openaml.entities.job_status import check_transition

    check_transition(old, new)


class JobStore:
    """Jobs of any number of workspaces, in the metadata store's database.

    Every method is one transaction; records are frozen :class:`JobRecord` snapshots.
    *check_transition* overrides the status rules (tests); by default the entities' table is used.
    """

    def __init__(self, metadata: "MetadataStore", *, check_transition: CheckTransition | None = None) -> None:
        self._engine: sa.Engine = metadata._engine  # one pool per database, shared on purpose
        self._check_transition = check_transition or _default_check_transition

    def _tx(self, *, write: bool = False):
        return _db.transaction(self._engine, write=write)

    def create_job(
        self, workspace: str, name: str, type: str, spec: dict, *, status: str = "NotStarted",
        parent_job_name: str | None = None, experiment_name: str, display_name: str | None = None,
    ) -> JobRecord:
        """Insert a new job; :class:`AlreadyExistsError` when *name* is taken in *workspace*."""
        now = _now()
        with self._tx(write=True) as conn:
            lock_counter(conn, f"jobs:{workspace}")
            if conn.execute(sa.select(J.c.name).where(*_key(workspace, name))).first() is not None:
                raise AlreadyExistsError(f"A job named {name} already exists; job names are unique "
                                         "in a workspace.", kind="jobs", name=name)
            seq = conn.execute(sa.select(sa.func.max(J.c.seq)).where(J.c.workspace == workspace)).scalar()
            conn.execute(sa.insert(J).values(
                workspace=workspace, name=name, type=type, status=status,
                parent_job_name=parent_job_name, experiment_name=experiment_name,
                display_name=display_name, spec=spec, error=None, archived=False,
                created_at=now, updated_at=now, seq=(seq or 0) + 1,
            ))
            return _record(conn.execute(sa.select(J).where(*_key(workspace, name))).one())

    def get_job(self, workspace: str, name: str) -> JobRecord | None:
        """The job, archived or not; None when it does not exist."""
        with self._tx() as conn:
            row = conn.execute(sa.select(J).where(*_key(workspace, name))).first()
        return _record(row) if row is not None else None

    def list_jobs(
        self, workspace: str, *, parent_job_name: str | None = None,
        view: ListViewType | str = ListViewType.ACTIVE_ONLY, max_results: int | None = None,
        top_level_only: bool = False, before_seq: int | None = None,
    ) -> list[JobRecord]:
        """Jobs newest first; with *parent_job_name*, only that job's children; with
        *top_level_only*, only jobs that have no parent; with *before_seq*, only the jobs
        submitted before that one (a page resumes there)."""
        view = ListViewType(view)
        where = [J.c.workspace == workspace]
        if before_seq is not None:
            where.append(J.c.seq < before_seq)
        if parent_job_name is not None:
            where.append(J.c.parent_job_name == parent_job_name)
        elif top_level_only:
            where.append(J.c.parent_job_name.is_(None))
        if view is not ListViewType.ALL:
            where.append(J.c.archived.is_(view is ListViewType.ARCHIVED_ONLY))
        query = sa.select(J).where(*where).order_by(J.c.seq.desc())
        if max_results is not None:
            query = query.limit(max_results)
        with self._tx() as conn:
            return [_record(r) for r in conn.execute(query)]

    def list_active(self, workspace: str) -> list[JobRecord]:
        """Jobs not in a terminal status (to find the ones whose agent died), newest first."""
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(J).where(J.c.workspace == workspace, J.c.status.not_in(TERMINAL_STATUSES))
                .order_by(J.c.seq.desc())
            )
            return [_record(r) for r in rows]

    def transition(
        self, workspace: str, name: str, new_status: str, *, expected: set[str] | None = None,
        error: dict | None = None, **fields: Any,
    ) -> JobRecord:
        """Move the job to *new_status* under its row lock and return the new record.

        Raises :class:`InvalidTransitionError` when ``check_transition`` refuses the change or
        the current status is not in *expected*. Entering ``Running`` sets ``started_at`` (once);
        entering a terminal status sets ``ended_at``. *fields* may hold ``agent_pid``,
        ``heartbeat_at`` and ``spec`` (a dict shallow-merged into the stored spec).
        """
        _check_field_names(fields, _TRANSITION_FIELDS, "transition")
        now = _now()
        with self._tx(write=True) as conn:
            row = conn.execute(sa.select(J).where(*_key(workspace, name)).with_for_update()).first()
            if row is None:
                raise _not_found(workspace, name)
            if expected is not None and row.status not in expected:
                raise InvalidTransitionError(
                    f"Job {name} is {row.status}, not one of {sorted(expected)}; it cannot move to "
                    f"{new_status}.", name=name, current=row.status, requested=new_status,
                )
            self._check_transition(row.status, new_status)
            values: dict[str, Any] = {"status": new_status, "updated_at": now}
            if new_status == _RUNNING and row.started_at is None:
                values["started_at"] = now
            if new_status in TERMINAL_STATUSES:
                values["ended_at"] = now
            if error is not None:
                values["error"] = error
            if "spec" in fields:
                values["spec"] = {**row.spec, **fields.pop("spec")}
            values.update(fields)
            conn.execute(sa.update(J).where(*_key(workspace, name)).values(**values))
            return _record(conn.execute(sa.select(J).where(*_key(workspace, name))).one())

    def heartbeat(self, workspace: str, name: str, agent: AgentIdentity, lease_seconds: float, *,
                  if_unclaimed: bool = False) -> bool:
        """Record that *agent* holds job *name* until ``now + lease_seconds``, and renew the lease
        of every other unfinished job of the workspace the same agent holds (the steps a
        pipeline's orchestrator runs in its own process). One transaction.

        With *if_unclaimed* (the launcher's note of the pid it just started) nothing changes when
        an agent already claimed the job. Returns whether job *name* was updated.
        """
        now = _now()
        lease = {"heartbeat_at": now, "lease_expires_at": now + timedelta(seconds=lease_seconds)}
        where = _key(workspace, name)
        if if_unclaimed:
            where.append(J.c.agent_pid.is_(None))
        with self._tx(write=True) as conn:
            done = conn.execute(sa.update(J).where(*where).values(
                agent_pid=agent.pid, agent_boot_id=agent.boot_id, agent_started_at=agent.started_at, **lease))
            if done.rowcount == 0:
                if conn.execute(sa.select(J.c.name).where(*_key(workspace, name))).first() is None:
                    raise _not_found(workspace, name)
                return False
            if agent.started_at is not None:
                conn.execute(sa.update(J).where(*_held_by(workspace, agent), J.c.name != name).values(**lease))
            return True

    def claim(self, workspace: str, name: str, agent: AgentIdentity, lease_seconds: float) -> bool:
        """Take job *name* for *agent* (its first lease) unless another agent already claimed it
        or it has ended; True if taken. A second agent started for one job (a launch retried
        after a lost answer, a request replayed) therefore never runs it too.

        Raises :class:`NotFoundError` when no such job is recorded."""
        now = _now()
        mine = sa.and_(J.c.agent_pid == agent.pid, J.c.agent_boot_id == agent.boot_id,
                       J.c.agent_started_at == agent.started_at)
        with self._tx(write=True) as conn:
            done = conn.execute(sa.update(J).where(
                *_key(workspace, name), J.c.status.not_in(TERMINAL_STATUSES),
                sa.or_(J.c.agent_started_at.is_(None), mine),
            ).values(agent_pid=agent.pid, agent_boot_id=agent.boot_id, agent_started_at=agent.started_at,
                     heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds)))
            if done.rowcount == 0 and conn.execute(sa.select(J.c.name).where(*_key(workspace, name))).first() is None:
                raise _not_found(workspace, name)
            return done.rowcount == 1

    def renew_leases(self, workspace: str, agent: AgentIdentity, lease_seconds: float) -> int:
        """Renew the lease of every unfinished job of *workspace* that *agent* holds; return how
        many there are (0: the agent holds nothing any more, e.g. its job was failed by a reaper)."""
        if agent.started_at is None:  # only an agent that claimed its jobs itself renews them
            return 0
        now = _now()
        with self._tx(write=True) as conn:
            done = conn.execute(sa.update(J).where(*_held_by(workspace, agent)).values(
                heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds)))
            return done.rowcount

    def record_processes(self, workspace: str, name: str, *, token: str, cgroup: str | None) -> None:
        """Note how the job's processes are found, before the first one starts: the token in
        their environment and, where the host has one, their cgroup."""
        with self._tx(write=True) as conn:
            done = conn.execute(sa.update(J).where(*_key(workspace, name))
                                .values(process_token=token, process_cgroup=cgroup))
            if done.rowcount == 0:
                raise _not_found(workspace, name)

    def update_fields(self, workspace: str, name: str, **fields: Any) -> JobRecord:
        """Change what may change on any job: display_name, description, tags, properties.

        Every field is shallow-merged into the spec (``spec=`` merges a dict of its own);
        ``display_name`` also updates its column.
        """
        _check_field_names(fields, _UPDATABLE_FIELDS, "update_fields")
        patch = dict(fields.pop("spec", None) or {})
        patch.update(fields)
        with self._tx(write=True) as conn:
            row = conn.execute(sa.select(J).where(*_key(workspace, name)).with_for_update()).first()
            if row is None:
                raise _not_found(workspace, name)
            values: dict[str, Any] = {"spec": {**row.spec, **patch}, "updated_at": _now()}
            if "display_name" in fields:
                values["display_name"] = fields["display_name"]
            conn.execute(sa.update(J).where(*_key(workspace, name)).values(**values))
            return _record(conn.execute(sa.select(J).where(*_key(workspace, name))).one())

    def set_archived(self, workspace: str, name: str, archived: bool) -> None:
        """Archive or restore a job."""
        with self._tx(write=True) as conn:
            done = conn.execute(sa.update(J).where(*_key(workspace, name))
                                .values(archived=archived, updated_at=_now()))
            if done.rowcount == 0:
                raise _not_found(workspace, name)
