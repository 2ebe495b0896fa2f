"""Sixteen client processes against a real ``openaml server start`` for 30 s, on SQLite and on
PostgreSQL: registering model and data versions under names they all share, listing every page,
and submitting jobs that log metrics from inside through their tracking endpoint. No client sees
an error, no version is handed out twice or lost, and every metric point the jobs logged is
stored (counted in the workspace's database afterwards)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from openaml import MLClient
from openaml.entities import Workspace

from tests.helpers import start_pool, stop_pool, use_home, wait
from tests.server import _load_clients as load
from tests.server.live import LiveServer

pytestmark = pytest.mark.slow
CLIENTS = 16
SECONDS = 30


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


def _run_clients(url: str, workspace: str, tmp_path: Path) -> list[dict]:
    out = tmp_path / "load.json"
    script = Path(load.__file__)
    subprocess.run([sys.executable, str(script), url, workspace, str(CLIENTS), str(SECONDS), str(tmp_path / "work"),
                    str(out)], check=True, timeout=SECONDS + 120)
    return json.loads(out.read_text())


def test_sixteen_clients_for_thirty_seconds(database_url, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from openaml.backends.local.pool_client import pool_supported

    home = use_home(tmp_path, monkeypatch, host_python=True)
    pooled = pool_supported() is None
    if pooled:  # jobs' agents forked by the warm pool: the test measures the server, not imports
        monkeypatch.setenv("OPENAML_POOL", "auto")
        start_pool(home)
    try:
        # The PostgreSQL database is shared by every test (and kept between runs): a name of its own.
        name = "load" if database_url is None else f"load-{uuid.uuid4().hex[:8]}"
        if database_url is not None:  # the workspace is in the database's catalog: read it there
            monkeypatch.setenv("OPENAML_DATABASE_URL", database_url)
        with LiveServer(home, database_url=database_url) as server:
            MLClient(workspace_name=name, server=server.url).workspaces.begin_create(Workspace(name=name)).result()
            records = _run_clients(server.url, name, tmp_path)
            remote = MLClient(workspace_name=name, server=server.url)
            _check(records, remote, name)
    finally:
        if pooled:
            stop_pool(home)


def _check(records: list[dict], remote: MLClient, workspace: str) -> None:
    errors = [e for r in records for e in r["errors"]]
    assert not errors, f"{len(errors)} errors, the first: {errors[0]}"
    assert len(records) == CLIENTS and all(r["lists"] > 0 for r in records)

    # Versions: each handed out once, none lost, none made up.
    given = Counter((name, version) for r in records for name, version in r["models"])
    assert given and max(given.values()) == 1, [k for k, n in given.items() if n > 1]
    for name in ("shared-0", "shared-1"):
        mine = sorted(int(v) for n, v in given if n == name)
        listed = sorted(int(m.version) for m in remote.models.list(name))
        assert listed == mine == list(range(1, len(mine) + 1)), name
    data = sorted(int(v) for r in records for v in r["data"])
    assert data == list(range(1, len(data) + 1)) == sorted(int(d.version) for d in remote.data.list("shared-data"))

    # Jobs: all completed; every metric point stored.
    jobs = [j for r in records for j in r["jobs"]]
    assert len(jobs) == len(set(jobs)) >= CLIENTS
    for name in jobs:
        assert wait(remote, name, timeout=240).status == "Completed", name
    local = MLClient(workspace_name=workspace)  # the workspace's own database, read directly
    tracking = local._context().tracking
    for name in jobs:
        assert len(tracking.get_metric_history(name, "loss").items) == load.LOSS_STEPS, name
        assert len(tracking.get_metric_history(name, "accuracy").items) == load.BATCH, name
    local.close()
