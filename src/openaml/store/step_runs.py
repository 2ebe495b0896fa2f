"""Step runs: what pipeline reuse looks up (by reuse key) and compares against (by step)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from openaml.store import _db
from openaml.store.tables import jobs as J
from openaml.store.tables import step_runs as S

if TYPE_CHECKING:
    from openaml.store.metadata import MetadataStore


@dataclass(frozen=True)
class StepRun:
    job_name: str
    reuse_key: str
    step_identity: str
    key_parts: dict[str, Any]
    output_digests: dict[str, str]
    reusable: bool
    created_at: datetime


class StepRunStore:
    """Rows of ``step_runs``, sharing the metadata store's engine."""

    def __init__(self, metadata: "MetadataStore") -> None:
        self._engine: sa.Engine = metadata._engine

    def record(self, workspace: str, job_name: str, *, reuse_key: str, step_identity: str,
               key_parts: dict[str, Any], output_digests: dict[str, str], reusable: bool) -> None:
        """Remember a completed step run (``reusable=False`` for forced or non-deterministic runs,
        which are compared against but never reused)."""
        with _db.transaction(self._engine, write=True) as conn:
            conn.execute(sa.insert(S).values(
                workspace=workspace, job_name=job_name, reuse_key=reuse_key, step_identity=step_identity,
                key_parts=key_parts, output_digests=output_digests, reusable=reusable,
                created_at=datetime.now(timezone.utc)))

    def find_reusable(self, workspace: str, reuse_key: str) -> StepRun | None:
        """The newest reusable run with this key whose job is still Completed and not archived."""
        query = (sa.select(S).join(J, sa.and_(J.c.workspace == S.c.workspace, J.c.name == S.c.job_name))
                 .where(S.c.workspace == workspace, S.c.reuse_key == reuse_key, S.c.reusable.is_(True),
                        J.c.status == "Completed", J.c.archived.is_(False))
                 .order_by(S.c.created_at.desc()).limit(1))
        with _db.transaction(self._engine, write=False) as conn:
            row = conn.execute(query).first()
        return _run(row) if row else None

    def latest_for_step(self, workspace: str, step_identity: str) -> StepRun | None:
        """The newest earlier run of the same step, to say what changed."""
        query = (sa.select(S).where(S.c.workspace == workspace, S.c.step_identity == step_identity)
                 .order_by(S.c.created_at.desc()).limit(1))
        with _db.transaction(self._engine, write=False) as conn:
            row = conn.execute(query).first()
        return _run(row) if row else None


def _run(row: Any) -> StepRun:
    return StepRun(row.job_name, row.reuse_key, row.step_identity, dict(row.key_parts),
                   dict(row.output_digests), bool(row.reusable), row.created_at)
