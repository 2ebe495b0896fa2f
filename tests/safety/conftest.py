"""Fixtures of the safety tests: the end-to-end job fixtures, and for the process and lease guarantees: real jobs on this machine, with the process
tracker chosen per test (the cgroup path skipped, with its reason, where the host has none)."""

from __future__ import annotations

import pytest

from openaml.entities import Environment

from tests.jobs.conftest import home, ml_client  # noqa: F401 - fixtures

from .procs import cgroup_unavailable

HOST_ENV = Environment(image="python:3.11-slim")  # runs on the host Python: no environment build


@pytest.fixture(params=["cgroup", "token"])
def tracking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each process test runs with a cgroup (where the host has one) and with the token scan."""
    if request.param == "cgroup":
        reason = cgroup_unavailable()
        if reason:
            pytest.skip(f"cgroup tracking unavailable here: {reason}")
        monkeypatch.setenv("OPENAML_PROCESS_TRACKING", "auto")
    else:
        monkeypatch.setenv("OPENAML_PROCESS_TRACKING", "token")
    return request.param


@pytest.fixture
def fast_kill(monkeypatch: pytest.MonkeyPatch) -> float:
    """A short grace between SIGTERM and SIGKILL, so SIGTERM-ignoring trees cost 1 s, not 5."""
    monkeypatch.setenv("OPENAML_KILL_GRACE_SECONDS", "1")
    return 1.0
