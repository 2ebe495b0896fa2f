"""Migrations applied to databases that already hold data: each back-fill is checked by opening
an older-revision database, with rows written as that revision's schema had them, as a store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from openaml.store import _db
from openaml.store.metadata import MetadataStore

WS = "ws-migrated"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[sa.URL]:
    """A database with no tables: a new SQLite file, or a new schema in the session's PostgreSQL
    database (the shared one is already at head) made the only one on the search path."""
    if request.param == "sqlite":
        yield sa.URL.create("sqlite", database=str(tmp_path / "metadata.db"))
        return
    base = sa.make_url(request.getfixturevalue("pg_url"))
    schema = f"mig_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"})
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _upgrade(engine: sa.Engine, revision: str) -> None:
    """``alembic upgrade <revision>`` the way :func:`openaml.store._db.upgrade_to_head` runs it."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_db.MIGRATIONS_DIR).replace("%", "%%"))
    with engine.connect() as conn:
        conn.execution_options(**{_db.WRITE: True})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def _insert_at_0002(conn: sa.Connection, workspace: str, name: str, versions: list[str]) -> None:
    """A model container and its versions with exactly the columns they had at revision 0002."""
    stamp = "'2024-12-06 12:00:00.000000'"
    key = {"w": workspace, "k": "models", "n": name}
    conn.execute(sa.text("INSERT INTO asset_containers (workspace, kind, name, archived, last_seq, "
                         f"created_at, updated_at) VALUES (:w, :k, :n, :a, :s, {stamp}, {stamp})"),
                 {**key, "a": False, "s": len(versions)})
    for seq, version in enumerate(versions, 1):
        conn.execute(sa.text("INSERT INTO asset_versions (workspace, kind, name, version, seq, spec, "
                             "content_digest, identity, archived, created_at, updated_at) VALUES "
                             f"(:w, :k, :n, :v, :s, '{{}}', NULL, :i, :a, {stamp}, {stamp})"),
                     {**key, "v": version, "s": seq, "i": f"id-{version}", "a": version == "2"})


def test_0003_backfills_the_largest_integer_version(empty_db_url: sa.URL) -> None:
    engine = _db.create_engine(empty_db_url)
    try:
        _upgrade(engine, "0002")
        assert _db.current_revision(engine) == "0002"
        with _db.transaction(engine, write=True) as conn:
            # "2" is archived: archived versions still count, as they do for new registrations.
            _insert_at_0002(conn, WS, "mixed", ["1", "7", "2", "abc"])
            _insert_at_0002(conn, WS, "words", ["abc", "v2", "1.5"])
            # The same name elsewhere must not leak into "mixed"'s maximum.
            _insert_at_0002(conn, "ws-other", "mixed", ["100"])
    finally:
        engine.dispose()

    store = MetadataStore(empty_db_url)  # upgrades to head, running 0003 over the rows above
    try:
        engine = _db.create_engine(empty_db_url)
        with _db.transaction(engine, write=False) as conn:
            maxima = dict(conn.execute(sa.text(
                "SELECT name, max_int_version FROM asset_containers WHERE workspace = :w"), {"w": WS}).all())
        engine.dispose()
        assert maxima == {"mixed": 7, "words": 0}

        created = store.create_asset_version(WS, "models", "mixed", None, {}, None, identity="new")
        assert created.version == "8"
        first = store.create_asset_version(WS, "models", "words", None, {}, None, identity="new")
        assert first.version == "1"
    finally:
        store.close()


def test_0003_ignores_integer_versions_too_large_to_count(empty_db_url: sa.URL) -> None:
    engine = _db.create_engine(empty_db_url)
    try:
        _upgrade(engine, "0002")
        with _db.transaction(engine, write=True) as conn:
            _insert_at_0002(conn, WS, "huge", ["5", "1" + "0" * 30, "9223372036854775807", "2147483648"])
    finally:
        engine.dispose()
    store = MetadataStore(empty_db_url)  # the upgrade must not overflow the column
    try:
        assert store.create_asset_version(WS, "models", "huge", None, {}, None, identity="new").version == "6"
    finally:
        store.close()


def test_0005_adds_lease_columns_to_existing_jobs(empty_db_url: sa.URL) -> None:
    from openaml.store.jobs import AgentIdentity, JobStore

    engine = _db.create_engine(empty_db_url)
    try:
        _upgrade(engine, "0004")
        with _db.transaction(engine, write=True) as conn:
            conn.execute(sa.text(
                "INSERT INTO jobs (workspace, name, type, status, experiment_name, spec, archived, created_at, "
                "updated_at, agent_pid, heartbeat_at, seq) VALUES (:w, 'old', 'command', 'Running', 'exp', "
                "'{}', :a, '2024-12-06 12:00:00', '2024-12-06 12:00:00', 42, '2024-12-06 12:00:00', 1)"),
                {"w": WS, "a": False})
    finally:
        engine.dispose()

    store = MetadataStore(empty_db_url)  # upgrades to head, running 0005 over the row above
    try:
        jobs = JobStore(store)
        old = jobs.get_job(WS, "old")
        assert (old.agent_pid, old.agent_boot_id, old.agent_started_at, old.lease_expires_at) == (42, None, None, None)
        assert old.agent is None and old.process_token is None and old.process_cgroup is None
        agent = AgentIdentity(7, "host/boot", 1234.25)
        jobs.heartbeat(WS, "old", agent, 15)
        assert jobs.get_job(WS, "old").agent == agent
    finally:
        store.close()


def test_0006_serves_existing_metric_history_from_the_new_index(empty_db_url: sa.URL) -> None:
    from openaml.store.tracking import TrackingStore

    engine = _db.create_engine(empty_db_url)
    try:
        _upgrade(engine, "0005")
        with _db.transaction(engine, write=True) as conn:
            conn.execute(sa.text(
                "INSERT INTO runs (workspace, run_id, experiment_id, status, artifact_uri, lifecycle_stage) "
                "VALUES (:w, 'r', '0', 'RUNNING', 'x', 'active')"), {"w": WS})
            for value, is_nan, ts, step in [(2.0, False, 20, 0), (0.0, True, 10, 1), (3.0, False, 10, 0)]:
                conn.execute(sa.text(
                    "INSERT INTO metrics (workspace, run_id, key, value, is_nan, timestamp, step) "
                    "VALUES (:w, 'r', 'loss', :v, :n, :t, :s)"), {"w": WS, "v": value, "n": is_nan, "t": ts, "s": step})
    finally:
        engine.dispose()

    store = MetadataStore(empty_db_url)  # upgrades to head, running 0006 over the rows above
    try:
        engine = _db.create_engine(empty_db_url)
        indexes = {ix["name"]: ix["column_names"] for ix in sa.inspect(engine).get_indexes("metrics")}
        engine.dispose()
        assert indexes["ix_metrics_history"][:6] == ["workspace", "run_id", "key", "timestamp", "step", "id"]
        assert "ix_metrics_run_key" not in indexes
        points = TrackingStore(store, WS).metric_history("r", "loss").points
        assert [(t, s) for _, t, s in points] == [(10, 0), (10, 1), (20, 0)]
        assert points[0][0] == 3.0 and points[1][0] != points[1][0] and points[2][0] == 2.0
    finally:
        store.close()


def test_0008_backfills_the_shape_of_existing_histories(empty_db_url: sa.URL) -> None:
    from openaml.store.tables import latest_metrics as LM
    from openaml.store.tracking import TrackingStore

    histories = {"once": [3, 1, 2, 0], "repeated": [0, 1, 1, 3], "gap": [0, 2, 3]}
    engine = _db.create_engine(empty_db_url)
    try:
        _upgrade(engine, "0007")
        with _db.transaction(engine, write=True) as conn:
            for run_id, steps in histories.items():
                conn.execute(sa.text(
                    "INSERT INTO runs (workspace, run_id, experiment_id, status, artifact_uri, lifecycle_stage) "
                    "VALUES (:w, :r, '0', 'RUNNING', 'x', 'active')"), {"w": WS, "r": run_id})
                for step in steps:
                    conn.execute(sa.text(
                        "INSERT INTO metrics (workspace, run_id, key, value, is_nan, timestamp, step) "
                        "VALUES (:w, :r, 'loss', :v, :n, 5, :s)"), {"w": WS, "r": run_id, "v": step, "n": False, "s": step})
                conn.execute(sa.text(
                    "INSERT INTO latest_metrics (workspace, run_id, key, value, is_nan, timestamp, step) "
                    "VALUES (:w, :r, 'loss', :v, :n, 5, :s)"), {"w": WS, "r": run_id, "v": max(steps), "n": False,
                                                                "s": max(steps)})
    finally:
        engine.dispose()

    store = MetadataStore(empty_db_url)  # upgrades to head, running 0008 over the rows above
    try:
        with store.engine.connect() as conn:
            shapes = {r: (n, lo, hi, bool(once)) for r, n, lo, hi, once in conn.execute(
                sa.select(LM.c.run_id, LM.c.n_values, LM.c.min_step, LM.c.max_step, LM.c.steps_once)
                .where(LM.c.workspace == WS))}
        assert shapes == {"once": (4, 0, 3, True), "repeated": (4, 0, 3, False), "gap": (3, 0, 3, False)}
        tracking = TrackingStore(store, WS)
        tracking.log_batch("once", metrics=[("loss", 4.0, 6, 4)])  # still each step once: kept so
        sampled = {h.run_id: [s for _, _, s in h.points] for h in tracking.histories.sampled(list(histories), "loss", 2)}
        assert sampled == {"once": [0, 4], "repeated": [0, 3], "gap": [0, 3]}
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(LM.c.n_values, LM.c.steps_once).where(
                LM.c.workspace == WS, LM.c.run_id == "once")).one() == (5, True)
    finally:
        store.close()
