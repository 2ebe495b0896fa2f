"""MLflow's REST API mounted per workspace in the server's app: the URI a workspace publishes,
the same route table and answers as a job's endpoint, errors in MLflow's shape, hostile paths,
streamed artifacts, handlers off the event loop, and tokens and roles over the mount (the app's
token check, answered in MLflow's error shape). Requests carry the Owner token of ``ws`` (the
``http`` fixture), or the administrator's where a test needs what only it may do."""

from __future__ import annotations

import json
import os
import threading
import tracemalloc
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner

from openaml import MLClient
from openaml.cli.main import cli
from openaml.entities import Workspace
from openaml.errors import ValidationError
from openaml.rest.paths import PROVIDER, WorkspaceScope
from openaml.server import ServerSettings, create_app
from openaml.server.routes.mlflow import MLFLOW_ROOT
from openaml.server.testing import InMemoryTransport, serve_in_thread
from openaml.services.settings import Settings
from openaml.tracking import routes
from openaml.tracking.context import TextResponse

from tests.helpers import issue_token

API = "/api/2.0/mlflow"
MLMODEL = b"flavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


def mount(scope: WorkspaceScope) -> str:
    return MLFLOW_ROOT + scope.base


@pytest.fixture
def mlflow_api(http, ws):
    """Requests relative to the workspace's mount, in memory."""
    base = mount(ws)

    class Api:
        def get(self, path: str, **params):
            return http.get(base + path, params=params)

        def post(self, path: str, body=None):
            return http.post(base + path, json=body if body is not None else {})

        def put(self, path: str, content: bytes):
            return http.put(base + path, content=content)

        def delete(self, path: str):
            return http.delete(base + path)

    return Api()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(app, admin_token: str):
    """A raw client of the app, in memory, with the server administrator's token."""
    transport = InMemoryTransport(app)
    with httpx.Client(base_url="http://openaml.test", transport=transport, headers=bearer(admin_token)) as client:
        yield client
    transport.close()


def _run(api) -> tuple[str, str]:
    experiment = api.post(f"{API}/experiments/create", {"name": "mount"}).json()["experiment_id"]
    run = api.post(f"{API}/runs/create", {"experiment_id": experiment, "start_time": 1}).json()["run"]["info"]
    return experiment, run["run_id"]


# -- the URI a workspace publishes -----------------------------------------------------------------
def test_the_workspace_publishes_its_mount_as_mlflow_tracking_uri(http, admin, ws):
    got = http.get(ws.base).json()["properties"]["mlFlowTrackingUri"]
    assert got == f"http://openaml.test{MLFLOW_ROOT}{ws.base}"
    listed = http.get(ws.workspaces).json()["value"]
    assert [w["properties"]["mlFlowTrackingUri"] for w in listed] == [got]
    other = WorkspaceScope("sub-2", "rg-2", "ws")  # the ids of the request are the URI's
    assert http.get(other.base).json()["properties"]["mlFlowTrackingUri"].endswith(MLFLOW_ROOT + other.base)
    created = admin.put(WorkspaceScope(workspace="fresh").base, json={"properties": {}})
    assert created.status_code == 201
    assert created.json()["properties"]["mlFlowTrackingUri"] == (
        f"http://openaml.test{MLFLOW_ROOT}{WorkspaceScope(workspace='fresh').base}")


def test_the_uri_follows_the_host_the_client_asked_for_and_public_url_wins(app, home: Path, owner_token: str):
    transport = InMemoryTransport(app)
    with httpx.Client(base_url="http://127.0.0.1:8123", transport=transport, headers=bearer(owner_token)) as client:
        ws = WorkspaceScope(workspace="ws")
        assert client.get(ws.base).json()["properties"]["mlFlowTrackingUri"].startswith("http://127.0.0.1:8123/mlflow/")
        for bad in ("evil.example/path", "a b", "x\x7fy", "[::1", "h:99999999"):  # not a host: the socket's
            uri = client.get(ws.base, headers={"Host": bad}).json()["properties"]["mlFlowTrackingUri"]
            assert uri.startswith("http://127.0.0.1:") and bad not in uri, (bad, uri)
    transport.close()
    proxied = create_app(ServerSettings(workspace_settings=Settings.from_env(), public_url="https://ml.example.com/"))
    transport = InMemoryTransport(proxied)
    with httpx.Client(base_url="http://127.0.0.1:8123", transport=transport, headers=bearer(owner_token)) as client:
        uri = client.get(WorkspaceScope(workspace="ws").base).json()["properties"]["mlFlowTrackingUri"]
    assert uri == f"https://ml.example.com{MLFLOW_ROOT}{WorkspaceScope(workspace='ws').base}"
    transport.close()
    proxied.state.openaml.close()


@pytest.mark.parametrize("url", ["ftp://h", "ml.example.com", "https://u:p@h", "https://h/?x=1", "https://h#f",
                                 "https://h/a b", "https://h/\x00"])
def test_public_url_is_checked(url: str):
    settings = ServerSettings(workspace_settings=Settings.from_env(home="/tmp/unused"), public_url=url)
    with pytest.raises(ValidationError) as err:
        settings.check()
    assert err.value.details["field"] == "public_url"


def test_the_sdk_and_the_cli_see_the_uri(app, home: Path, owner_token: str):
    with serve_in_thread(app) as url:
        client = MLClient(workspace_name="ws", server=url)
        got = client.workspaces.get("ws").mlflow_tracking_uri
        assert got == f"{url}{MLFLOW_ROOT}{WorkspaceScope(workspace='ws').base}"
        client.close()
        shown = CliRunner().invoke(cli, ["workspace", "show", "-n", "ws", "--server", url, "-o", "json"])
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["mlflow_tracking_uri"] == got
        assert httpx.get(got + "/health", headers=bearer(owner_token)).text == "OK"  # the URI is served


def test_the_local_mode_publishes_no_uri(home: Path):
    assert MLClient(workspace_name="ws").workspaces.get("ws").mlflow_tracking_uri is None


# -- the same API, the same answers ----------------------------------------------------------------
def test_tracking_through_the_mount(mlflow_api, home: Path):
    experiment, run_id = _run(mlflow_api)
    batch = {"run_id": run_id, "metrics": [{"key": "loss", "value": 1.0 / (s + 1), "timestamp": 5, "step": s}
                                           for s in range(4)], "params": [{"key": "lr", "value": "0.1"}]}
    assert mlflow_api.post(f"{API}/runs/log-batch", batch).json() == {}
    history = mlflow_api.get(f"{API}/metrics/get-history", run_id=run_id, metric_key="loss").json()["metrics"]
    assert [m["value"] for m in history] == [1.0, 0.5, 1 / 3, 0.25]
    found = mlflow_api.post(f"{API}/runs/search", {"experiment_ids": [experiment],
                                                  "filter": "params.lr = '0.1'"}).json()["runs"]
    assert [r["info"]["run_id"] for r in found] == [run_id]
    for prefix in ("/ajax-api/2.0/mlflow", "/api/3.0/mlflow"):
        assert mlflow_api.get(f"{prefix}/runs/get", run_id=run_id).json()["run"]["info"]["run_id"] == run_id
    assert mlflow_api.get("/version").text == "3.0.0" and mlflow_api.get("/health").text == "OK"


def test_the_mount_and_a_jobs_endpoint_share_one_route_table(mlflow_api, monkeypatch: pytest.MonkeyPatch):
    seen: list[str] = []

    def probe(ctx, req):
        seen.append(req.path)
        return TextResponse("probed")

    monkeypatch.setitem(routes.OTHER, ("GET", "/probe"), probe)
    assert mlflow_api.get("/probe").text == "probed" and seen == ["/probe"]


def test_errors_are_mlflows(mlflow_api, http, admin, ws):
    def error(answer, status: int, code: str) -> None:
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["error_code"] == code

    error(mlflow_api.get(f"{API}/runs/get", run_id="nope"), 404, "RESOURCE_DOES_NOT_EXIST")
    error(mlflow_api.get(f"{API}/runs/get"), 400, "INVALID_PARAMETER_VALUE")
    error(mlflow_api.post(f"{API}/runs/get"), 405, "BAD_REQUEST")
    error(mlflow_api.get(f"{API}/traces/x"), 501, "NOT_IMPLEMENTED")
    error(mlflow_api.get("/elsewhere"), 404, "ENDPOINT_NOT_FOUND")
    error(http.request("OPTIONS", mount(ws) + f"{API}/runs/get"), 405, "BAD_REQUEST")
    error(http.get(f"{MLFLOW_ROOT}/subscriptions/s"), 404, "ENDPOINT_NOT_FOUND")
    ghost = MLFLOW_ROOT + WorkspaceScope(workspace="ghost").base + f"{API}/experiments/get"
    for client in (http, admin):  # refused by the token check (not its workspace); answered by the handler
        missing = client.get(ghost, params={"experiment_id": "0"})
        error(missing, 404, "RESOURCE_DOES_NOT_EXIST")
        assert "ghost" in missing.json()["message"]
    error(admin.get(f"{MLFLOW_ROOT}/subscriptions/s"), 404, "ENDPOINT_NOT_FOUND")
    assert http.get(ws.of("models", "m")).json()["error"]["code"] == "NotFound"  # Azure's routes keep Azure's shape


def test_an_unexpected_failure_names_only_its_class(mlflow_api, monkeypatch: pytest.MonkeyPatch, caplog):
    def broken(ctx, req):
        raise RuntimeError("postgresql://user:s3cret@db")

    monkeypatch.setitem(routes.OTHER, ("GET", "/broken"), broken)
    answer = mlflow_api.get("/broken")
    assert answer.status_code == 500 and answer.json()["error_code"] == "INTERNAL_ERROR"
    assert "RuntimeError" in answer.text and "s3cret" not in answer.text
    assert "s3cret" in caplog.text  # the server's log keeps it


def test_a_workspace_deleted_and_created_again_is_served_afresh(http, mlflow_api, admin, ws, app):
    _, run_id = _run(mlflow_api)
    base = mount(ws)
    assert admin.get(base + f"{API}/runs/get", params={"run_id": run_id}).status_code == 200
    assert admin.delete(ws.base).status_code == 200  # the administrator's; it revokes the Owner's token
    answer = admin.get(base + f"{API}/runs/get", params={"run_id": run_id})
    assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert mlflow_api.get(f"{API}/runs/get", run_id=run_id).json()["error_code"] == "UNAUTHENTICATED"
    assert admin.put(ws.base, json={"properties": {}}).status_code == 201
    answer = admin.get(base + f"{ARTIFACTS}/1/{run_id}/artifacts/a.txt")  # its run cache did not survive
    assert answer.status_code == 404 and answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_the_registry_is_the_workspaces_models(mlflow_api, app, home: Path):
    _, run_id = _run(mlflow_api)
    assert mlflow_api.put(f"{ARTIFACTS}/1/{run_id}/artifacts/model/MLmodel", MLMODEL).status_code == 200
    created = mlflow_api.post(f"{API}/registered-models/create", {"name": "clf"})
    assert created.status_code == 200, created.text
    answer = mlflow_api.post(f"{API}/model-versions/create", {
        "name": "clf", "source": f"runs:/{run_id}/model", "run_id": run_id})
    assert answer.status_code == 200, answer.text
    version = answer.json()["model_version"]
    assert version["version"] == "1"
    client = MLClient(workspace_name="ws", server="http://openaml.test", transport=InMemoryTransport(app))
    assert client.models.get("clf", "1").name == "clf"
    uri = mlflow_api.get(f"{API}/model-versions/get-download-uri", name="clf", version="1").json()["artifact_uri"]
    path = uri.removeprefix("mlflow-artifacts:")
    assert mlflow_api.get(f"{ARTIFACTS}{path}/MLmodel").content == MLMODEL


# -- hostile input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("segment", ["..", "../ws", "a%2Fb", "ws%2F..%2F..", "x\x01", "x\x00y", "-lead",
                                     "%2e%2e", "ws\n", "w" * 300])
def test_hostile_workspace_segments(http, admin, home: Path, segment: str):
    """Refused by the token check for the workspace's Owner (not its workspace), and past it, for
    the administrator, by the mount's own checks."""
    before = set(home.rglob("*"))
    quoted = quote(segment, safe="%")
    url = f"{MLFLOW_ROOT}/subscriptions/s/resourceGroups/rg/providers/{PROVIDER}/workspaces/{quoted}{API}/runs/search"
    for client in (http, admin):
        answer = client.post(url, json={"experiment_ids": ["0"]})
        assert answer.status_code in (400, 404), answer.text
        assert answer.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST",
                                               "ENDPOINT_NOT_FOUND")
        assert "runs" not in answer.json()
    assert {p for p in set(home.rglob("*")) - before if not p.name.startswith("metadata.db")} == set()


def raw_request(app, method: str, raw_path: str, token: str, body: bytes = b"") -> tuple[int, bytes]:
    """One request handed to the ASGI app as a server receives it, with *token*: the path
    percent-decoded once, dot segments left as they are (an HTTP client library would remove them)."""
    import anyio
    from urllib.parse import unquote

    path, _, query = raw_path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": unquote(path), "raw_path": path.encode(), "query_string": query.encode(),
             "root_path": "", "headers": [(b"host", b"openaml.test"), (b"content-length", str(len(body)).encode()),
                                          (b"authorization", f"Bearer {token}".encode())],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    anyio.run(app, scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_raw_dot_segments_in_the_path_stay_inside(app, home: Path, owner_token: str, admin_token: str):
    scope = WorkspaceScope(workspace="ws")
    for path in (f"{MLFLOW_ROOT}{scope.workspaces}/ws/../ws{API}/experiments/search?max_results=5",
                 f"{MLFLOW_ROOT}{scope.workspaces}/..{API}/experiments/search?max_results=5",
                 f"{MLFLOW_ROOT}{scope.workspaces}/ws%2F..%2F..{API}/experiments/search?max_results=5",
                 f"{MLFLOW_ROOT}{scope.base}{ARTIFACTS}/../../../../etc/passwd",
                 f"{MLFLOW_ROOT}{scope.base}{ARTIFACTS}/0/x/artifacts/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
                 f"{MLFLOW_ROOT}{scope.base}{API}/../../../../../etc/passwd"):
        for token in (owner_token, admin_token):  # the admin's passes the token check for any workspace
            status, body = raw_request(app, "GET", path, token)
            answer = json.loads(body)
            assert status in (400, 404, 501), (path, body)
            assert answer["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "ENDPOINT_NOT_FOUND",
                                            "NOT_IMPLEMENTED"), (path, body)
            assert b"root:" not in body and "experiments" not in answer


@pytest.mark.parametrize("path", ["../../../../etc/passwd", "1/{run}/artifacts/../../../x", "1/{run}/artifacts/%2e%2e/x",
                                  "1/{run}/artifacts/a\x00b", "1/{run}/artifacts/a\x85b",
                                  "1/{run}/artifacts/x/../../../../y", "1/{run}/artifacts/a\\..\\..\\x",
                                  "1/{run}/artifacts//etc/passwd/../../../x"])
def test_artifact_paths_cannot_leave_the_run(mlflow_api, app, home: Path, owner_token: str, path: str):
    _, run_id = _run(mlflow_api)
    target = quote(path.format(run=run_id), safe="/%.")
    base = MLFLOW_ROOT + WorkspaceScope(workspace="ws").base + ARTIFACTS
    before = set(home.rglob("*"))
    for method, body in (("PUT", b"escaped"), ("GET", b""), ("DELETE", b"")):
        status, answer = raw_request(app, method, f"{base}/{target}", owner_token, body)
        assert status in (400, 404), (method, answer)
        assert json.loads(answer)["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
    assert not [p for p in set(home.rglob("*")) - before if p.is_file() and p.read_bytes() == b"escaped"]


def test_a_symbolic_link_in_a_run_leads_nowhere(mlflow_api, home: Path, tmp_path: Path):
    _, run_id = _run(mlflow_api)
    assert mlflow_api.put(f"{ARTIFACTS}/1/{run_id}/artifacts/a.txt", b"a").status_code == 200
    run_folder = next(home.rglob(f"dcid.{run_id}"))
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    os.symlink(secret, run_folder / "leak.txt")
    answer = mlflow_api.get(f"{ARTIFACTS}/1/{run_id}/artifacts/leak.txt")
    assert answer.status_code == 400 and "do not serve" not in answer.text


# -- tokens and roles over the mount -------------------------------------------------------------------
@pytest.fixture
def world(app, http, home: Path, ws):
    """A run of ``ws`` with a metric and an artifact (logged by the Owner), a Reader of ``ws``,
    and an Owner of another workspace, ``other``; raw clients of the app without a token."""
    from openaml.services.workspaces import WorkspaceService
    service = WorkspaceService(Settings.from_env())
    service.create(Workspace(name="other"))
    service.close()
    base = mount(ws)
    experiment = http.post(base + f"{API}/experiments/create", json={"name": "roles"}).json()["experiment_id"]
    run_id = http.post(base + f"{API}/runs/create", json={"experiment_id": experiment}).json()["run"]["info"]["run_id"]
    assert http.post(base + f"{API}/runs/log-metric",
                     json={"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}).json() == {}
    assert http.put(base + f"{ARTIFACTS}/{experiment}/{run_id}/artifacts/a.txt", content=b"a").status_code == 200
    transport = InMemoryTransport(app)
    with httpx.Client(base_url="http://openaml.test", transport=transport) as bare:
        yield {"base": base, "experiment": experiment, "run": run_id, "bare": bare,
               "reader": issue_token(home, "reader", "ws"), "other-owner": issue_token(home, "owner", "other")}
    transport.close()


def mlflow_error(answer: httpx.Response, status: int, code: str) -> str:
    """The message of MLflow's error JSON, once its status and code are checked."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == {"error_code", "message"} and body["error_code"] == code, body
    return body["message"]


def test_without_a_valid_token_the_mount_answers_401_in_mlflows_shape(world):
    """401 UNAUTHENTICATED with Bearer's challenge: what MLflow clients print, naming the way
    they send a token; a presented token is never repeated."""
    bare, base, run_id = world["bare"], world["base"], world["run"]
    for method, path in (("GET", f"{API}/runs/get?run_id={run_id}"), ("POST", f"{API}/runs/search"),
                         ("GET", f"{ARTIFACTS}/{world['experiment']}/{run_id}/artifacts/a.txt"),
                         ("PUT", f"{ARTIFACTS}/{world['experiment']}/{run_id}/artifacts/b.txt"),
                         ("GET", "/health"), ("GET", "/nowhere")):
        answer = bare.request(method, base + path, content=b"{}" if method != "GET" else None)
        assert "MLFLOW_TRACKING_TOKEN" in mlflow_error(answer, 401, "UNAUTHENTICATED")
        assert answer.headers["www-authenticate"] == 'Bearer realm="openaml"'
    for token in ("oaml_0123456789abcdef_" + "A" * 43, "not-a-token", world["reader"][:-2] + "xx"):
        answer = bare.get(base + f"{API}/runs/get", params={"run_id": run_id}, headers=bearer(token))
        mlflow_error(answer, 401, "UNAUTHENTICATED")
        assert answer.headers["www-authenticate"] == 'Bearer realm="openaml", error="invalid_token"'
        assert token not in answer.text and "oaml_0123" not in answer.text


def test_a_reader_searches_and_reads_but_does_not_write(world):
    bare, base, run_id, experiment = world["bare"], world["base"], world["run"], world["experiment"]
    reader = bearer(world["reader"])
    found = bare.post(base + f"{API}/runs/search", json={"experiment_ids": [experiment]}, headers=reader)
    assert [r["info"]["run_id"] for r in found.json()["runs"]] == [run_id]
    history = bare.get(base + f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"},
                       headers=reader)
    assert [m["value"] for m in history.json()["metrics"]] == [0.5]
    assert bare.post(base + f"{API}/experiments/search", json={"max_results": 10}, headers=reader).status_code == 200
    assert bare.get(base + f"{API}/runs/get", params={"run_id": run_id}, headers=reader).status_code == 200
    assert bare.get(base + f"{ARTIFACTS}/{experiment}/{run_id}/artifacts/a.txt", headers=reader).content == b"a"
    writes = [("POST", f"{API}/runs/log-metric", {"run_id": run_id, "key": "loss", "value": 9.0, "timestamp": 2}),
              ("POST", f"{API}/runs/log-batch", {"run_id": run_id, "metrics": []}),
              ("POST", f"{API}/runs/create", {"experiment_id": experiment}),
              ("POST", f"{API}/experiments/create", {"name": "mine"}),
              ("POST", f"{API}/registered-models/create", {"name": "clf"}),
              ("PUT", f"{ARTIFACTS}/{experiment}/{run_id}/artifacts/b.txt", None),
              ("DELETE", f"{ARTIFACTS}/{experiment}/{run_id}/artifacts/a.txt", None)]
    for method, path, body in writes:
        answer = bare.request(method, base + path, json=body, headers=reader) if body is not None else \
            bare.request(method, base + path, content=b"written", headers=reader)
        message = mlflow_error(answer, 403, "PERMISSION_DENIED")
        assert "Reader" in message and "does not have authorization to perform action" in message, message
        assert f"over scope '{WorkspaceScope(workspace='ws').base}'" in message, message
        assert world["reader"] not in answer.text
    history = bare.get(base + f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"},
                       headers=reader)
    assert [m["value"] for m in history.json()["metrics"]] == [0.5]  # nothing was written
    assert bare.get(base + f"{ARTIFACTS}/{experiment}/{run_id}/artifacts/b.txt", headers=reader).status_code == 404


def test_a_token_of_another_workspace_is_answered_as_for_a_missing_one(world):
    bare, base, run_id = world["bare"], world["base"], world["run"]
    other = bearer(world["other-owner"])
    seen = bare.get(base + f"{API}/runs/get", params={"run_id": run_id}, headers=other)
    ghost = MLFLOW_ROOT + WorkspaceScope(workspace="ghost").base + f"{API}/runs/get"
    missing = bare.get(ghost, params={"run_id": run_id}, headers=other)
    assert mlflow_error(seen, 404, "RESOURCE_DOES_NOT_EXIST").replace("'ws'", "'?'").replace(" ws", " ?") == \
        mlflow_error(missing, 404, "RESOURCE_DOES_NOT_EXIST").replace("'ghost'", "'?'").replace(" ghost", " ?")
    for method, path in (("POST", f"{API}/runs/search"), ("POST", f"{API}/runs/log-metric")):
        mlflow_error(bare.request(method, base + path, json={}, headers=other), 404, "RESOURCE_DOES_NOT_EXIST")
    own = MLFLOW_ROOT + WorkspaceScope(workspace="other").base  # its own workspace: served
    assert bare.get(own + f"{API}/experiments/get-by-name", params={"experiment_name": "Default"},
                    headers=other).json()["experiment"]["experiment_id"] == "0"


def test_with_no_auth_the_mount_needs_no_token(home: Path):
    """``--no-auth`` (loopback only): MLflow clients need no ``MLFLOW_TRACKING_TOKEN``."""
    app = create_app(ServerSettings(workspace_settings=Settings.from_env(), no_auth=True))
    transport = InMemoryTransport(app)
    base = MLFLOW_ROOT + WorkspaceScope(workspace="ws").base
    with httpx.Client(base_url="http://openaml.test", transport=transport) as client:
        created = client.post(base + f"{API}/experiments/create", json={"name": "open"})
        assert created.status_code == 200 and "experiment_id" in created.json(), created.text
        missing = client.get(base.replace("/ws", "/ghost") + f"{API}/runs/get", params={"run_id": "x"})
        assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    transport.close()
    app.state.openaml.close()


# -- off the event loop, streamed ----------------------------------------------------------------------
def test_a_blocking_handler_does_not_hold_up_other_requests(app, owner_token: str, monkeypatch: pytest.MonkeyPatch):
    release, entered = threading.Event(), threading.Event()

    def slow(ctx, req):
        entered.set()
        assert release.wait(30)
        return TextResponse("slow")

    monkeypatch.setitem(routes.OTHER, ("GET", "/slow"), slow)
    base = MLFLOW_ROOT + WorkspaceScope(workspace="ws").base
    with serve_in_thread(app) as url:
        answers: list[str] = []
        auth = bearer(owner_token)
        blocked = threading.Thread(
            target=lambda: answers.append(httpx.get(url + base + "/slow", headers=auth, timeout=30).text))
        blocked.start()
        assert entered.wait(30)
        assert httpx.get(url + base + "/health", headers=auth, timeout=10).text == "OK"  # served while /slow blocks
        assert httpx.get(url + "/health", timeout=10).status_code == 200
        release.set()
        blocked.join(30)
    assert answers == ["slow"]


@pytest.mark.slow
def test_artifacts_stream_both_ways_in_bounded_memory(app, home: Path, owner_token: str, tmp_path: Path):
    """96 MiB up (chunked, and with a declared length) and down, with Python's allocations
    under 24 MiB at their peak: nothing holds a whole file."""
    size, chunk = 96 * 2**20, 2**20
    source = tmp_path / "declared.bin"
    with open(source, "wb") as out:
        for i in range(size // chunk):
            out.write(bytes([i % 251]) * chunk)
    base = MLFLOW_ROOT + WorkspaceScope(workspace="ws").base
    with serve_in_thread(app) as url, httpx.Client(base_url=url + base, timeout=120,
                                                   headers=bearer(owner_token)) as client:
        experiment = client.post(f"{API}/experiments/create", json={"name": "big"}).json()["experiment_id"]
        run_id = client.post(f"{API}/runs/create", json={"experiment_id": experiment}).json()["run"]["info"]["run_id"]
        path = f"{ARTIFACTS}/{experiment}/{run_id}/artifacts/big.bin"

        def chunked():
            for i in range(size // chunk):
                yield bytes([i % 251]) * chunk

        peaks: dict[str, int] = {}
        tracemalloc.start()
        try:
            for how in ("chunked", "declared"):
                tracemalloc.reset_peak()
                with open(source, "rb") as declared:
                    answer = client.put(path, content=chunked() if how == "chunked" else declared)
                assert answer.status_code == 200 and answer.request.headers.get("content-length") == (
                    None if how == "chunked" else str(size))
                peaks[how] = tracemalloc.get_traced_memory()[1]
            tracemalloc.reset_peak()
            received = 0
            with client.stream("GET", path) as answer:
                assert answer.headers["content-length"] == str(size)
                for i, piece in enumerate(answer.iter_bytes(chunk)):
                    assert piece == bytes([i % 251]) * len(piece)
                    received += len(piece)
            peaks["download"] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert received == size
    assert max(peaks.values()) < 24 * 2**20, {k: f"{v / 2**20:.1f} MiB" for k, v in peaks.items()}
    assert next(home.rglob("big.bin")).stat().st_size == size


def test_a_workspace_created_in_process_is_served(home: Path):
    """A workspace created beside the server (the local CLI on the same home) is served too."""
    from openaml.services.workspaces import WorkspaceService
    service = WorkspaceService(Settings.from_env())
    service.create(Workspace(name="later"))
    service.close()
    app = create_app(ServerSettings(workspace_settings=Settings.from_env()))
    transport = InMemoryTransport(app)
    token = issue_token(home, "owner", "later")
    with httpx.Client(base_url="http://openaml.test", transport=transport, headers=bearer(token)) as client:
        base = MLFLOW_ROOT + WorkspaceScope(workspace="later").base
        answer = client.get(base + f"{API}/experiments/get-by-name", params={"experiment_name": "Default"})
        assert answer.json()["experiment"]["experiment_id"] == "0"
    transport.close()
    app.state.openaml.close()


def test_server_start_takes_and_checks_public_url():
    result = CliRunner().invoke(cli, ["server", "start", "--public-url", "ml.example.com"])
    assert result.exit_code == 1 and "public_url must be an http:// or https:// URL" in result.output
    assert "--public-url" in CliRunner().invoke(cli, ["server", "start", "--help"]).output
