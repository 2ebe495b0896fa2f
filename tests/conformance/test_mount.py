"""The openaml server's per-workspace MLflow mount answers as ``mlflow server`` does: every
scenario of the conformance suite (raw requests, route by route, and whole sessions of the
newest and the oldest supported stock clients) runs against the mount with the workspace's
``mlflow_tracking_uri`` as the server's URL, and is compared with the reference as the job's
endpoint is (:mod:`tests.conformance.test_classic_api`, ``test_registry_api``, ``test_clients``).
The server checks tokens, as it does by default: requests carry an Owner token of the workspace,
the stock clients through ``MLFLOW_TRACKING_TOKEN``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conformance import test_classic_api, test_registry_api
from tests.conformance.harness import Side, assert_conforms
from tests.conformance.test_clients import _clients, _run


@dataclass(frozen=True)
class Mount:
    """A workspace's tracking URI on an openaml server, and an Owner token of the workspace."""

    url: str
    token: str = field(repr=False)


@pytest.fixture(scope="session")
def mount(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mount]:
    """A workspace's tracking URI on an openaml server (uvicorn, loopback, in a thread, tokens on)."""
    import httpx

    from openaml.entities import Workspace
    from openaml.rest.paths import WorkspaceScope
    from openaml.server import ServerSettings, create_app
    from openaml.server.testing import serve_in_thread
    from openaml.services.settings import Settings
    from openaml.services.workspaces import WorkspaceService

    from tests.helpers import issue_token

    home = tmp_path_factory.mktemp("openaml-server-home")
    settings = Settings.from_env(home=str(home))
    service = WorkspaceService(settings)
    service.create(Workspace(name="conformance"))
    service.close()
    token = issue_token(settings.home, "owner", "conformance")
    app = create_app(ServerSettings(workspace_settings=settings))
    with serve_in_thread(app) as url:
        workspace = httpx.get(url + WorkspaceScope(workspace="conformance").base, timeout=30,
                              headers={"Authorization": f"Bearer {token}"}).json()
        yield Mount(workspace["properties"]["mlFlowTrackingUri"], token)
    app.state.openaml.close()


@pytest.fixture
def mount_sides(reference_url: str, mount: Mount) -> tuple[Side, Side]:
    return Side("mlflow", reference_url), Side("openaml", mount.url, token=mount.token)


SCENARIOS = [*test_classic_api.SCENARIOS, *test_registry_api.SCENARIOS]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_the_mount_answers_as_mlflow_does(scenario, mount_sides) -> None:
    assert_conforms(scenario, mount_sides)


@pytest.mark.slow
@pytest.mark.parametrize("which, python", _clients(), ids=[c[0] for c in _clients()])
def test_a_client_session_on_the_mount_matches_mlflow(which: str, python: str | None, reference_url: str,
                                                      mount: Mount, tmp_path: Path) -> None:
    if python is None:
        pytest.skip("the oldest supported MLflow client is not installed: scripts/test.sh puts "
                    "mlflow-skinny 2.10 in .venv-mlflow-client-2 (or set OPENAML_MLFLOW_OLD_CLIENT)")
    expected = _run(python, reference_url, tmp_path / "mlflow")
    got = _run(python, mount.url, tmp_path / "openaml", token=mount.token)
    different = {k: (expected.get(k), got.get(k)) for k in sorted(set(expected) | set(got)) if expected.get(k) != got.get(k)}
    assert not different, f"{which} client ({expected.get('client')}): " + "\n".join(
        f"  {k}: mlflow server {v[0]!r}\n  {' ' * len(k)}  openaml      {v[1]!r}" for k, v in different.items())
