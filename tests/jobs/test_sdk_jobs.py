"""SDK shapes that need a running job: the cancel poller tells the truth, usage counts the job."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from openaml import command

from .conftest import HOST_ENV, new_workspace_client


@pytest.mark.slow
def test_cancel_poller_is_in_progress_until_the_job_is_canceled(home: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAML_KILL_GRACE_SECONDS", "1.5")  # the job ignores SIGTERM: Canceled takes that long
    client = new_workspace_client("cancels")
    try:
        started = tmp_path / "started"
        job = client.jobs.create_or_update(job=command(
            command=f"trap '' TERM; touch {started}; sleep 60", environment=HOST_ENV,
            instance_count=2), experiment_name="pollers")
        deadline = time.monotonic() + 60
        while not started.exists():
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)

        usage = {u.name.value: u for u in client.compute.list_usage()}
        assert usage["totalCores"].current_value == 2  # instance_count=2: two processes
        assert usage["serverless"].current_value == 1

        poller = client.jobs.begin_cancel(name=job.name)
        assert poller.status() == "InProgress" and not poller.done()
        finished = threading.Event()
        poller.add_done_callback(lambda method: finished.set())
        poller.wait(timeout=0.2)
        assert not poller.done() and client.jobs.get(job.name).status in ("CancelRequested", "Running")
        assert poller.result(timeout=60) is None and poller.done()
        assert poller.status() == "Succeeded" and client.jobs.get(job.name).status == "Canceled"
        assert finished.wait(5)
        assert [u.name.value for u in client.compute.list_usage()] == ["totalCores"]
    finally:
        client.close()


def test_cancel_poller_of_a_finished_job_is_done_at_once(ml_client):
    job = ml_client.jobs.create_or_update(command(command="echo hi", environment=HOST_ENV))
    ml_client._job_service().wait(job.name, timeout=60)
    poller = ml_client.jobs.begin_cancel(job.name)
    assert poller.done() and poller.status() == "Succeeded"
    assert ml_client.jobs.get(job.name).status == "Completed"
