"""Authorization, generated from the app's route table: every route against every role (allowed,
or 403 AuthorizationFailed), without a token (401), with a revoked or hostile token (401, never
500), with a token of another workspace (404, as for a workspace that does not exist); the
workspace list; admin-only creation and deletion of workspaces; MLflow's routes by method and path.

The expectations below are written from the roles' descriptions (docs/server.md), not from
:mod:`openaml.services.roles`, so a wrong role definition fails here.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openaml.entities import Workspace
from openaml.rest.paths import WorkspaceScope
from openaml.server import ServerSettings, create_app
from openaml.server.actions import DOC_PATHS, MLFLOW_PREFIX, ROUTE_RULES, ActionTable, Scope, mlflow_action
from openaml.server.routes import ROUTERS
from openaml.server.testing import InMemoryTransport
from openaml.services.settings import Settings
from openaml.services.workspaces import WorkspaceService

from tests.helpers import issue_token

ROLES = ("owner", "contributor", "data-scientist", "reader", "admin")
BLOB = b"some bytes"
_FILL = {"subscriptionId": "sub", "resourceGroupName": "rg", "name": "x", "version": "1", "label": "latest",
         "digest": hashlib.sha256(BLOB).hexdigest(), "path:path": "user_logs/std_log.txt", "tokenId": "0" * 16}
# MLflow's mount is ruled by method and path below its prefix (test_mlflow_routes_map_to_reads_and_writes)
ROUTES = sorted({(m, r.path) for router in ROUTERS for r in router.routes for m in r.methods
                 if not r.path.startswith(MLFLOW_PREFIX)})


def _url(path: str, workspace: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: workspace if m[1] == "workspaceName" else _FILL[m[1]], path)


def expected_allowed(role: str, method: str, path: str) -> bool:
    """What the roles' descriptions say, route by route."""
    ws_tail = path.split("/workspaces/{workspaceName}", 1)[1] if "/workspaces/{workspaceName}" in path else None
    if path.startswith("/openaml/tokens"):
        return role == "admin"
    if ws_tail is None:  # /health, /ready, the workspace list, /openaml/whoami
        return True
    if role == "admin":
        return True
    tokens = ws_tail.startswith("/tokens")
    workspace_itself = ws_tail in ("", "/updateStorageCredentials")
    if method == "DELETE" and ws_tail == "":
        return False  # deleting a workspace is the administrator's only
    if role == "owner":
        return True
    if role == "contributor":
        return not (tokens and method != "GET")
    if role == "data-scientist":
        compute_write = ws_tail.startswith("/computes/") and method in ("PUT", "DELETE")
        return not (tokens or compute_write or ws_tail.endswith("/listSecrets")
                    or (workspace_itself and method != "GET"))
    assert role == "reader"
    return method in ("GET", "HEAD") or ws_tail == "/jobs/{name}/download"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """A server home with workspaces ``ws``, ``other`` and ``scratch`` (the admin's, which its
    requests may destroy), a token of each role in ``ws``, an Owner of ``other``, and a revoked token."""
    home = tmp_path_factory.mktemp("authz") / "home"
    settings = Settings.from_env(home=home)
    service = WorkspaceService(settings)
    for name in ("ws", "other", "scratch"):
        service.create(Workspace(name=name))
    service.close()
    tokens = {role: issue_token(home, role, None if role == "admin" else "ws") for role in ROLES}
    tokens["other-owner"] = issue_token(home, "owner", "other")
    tokens["revoked"] = issue_token(home, "owner", "ws")
    app = create_app(ServerSettings(workspace_settings=settings))
    state = app.state.openaml
    state.tokens.revoke(tokens["revoked"].split("_")[1])
    transport = InMemoryTransport(app)
    client = httpx.Client(base_url="http://openaml.test", transport=transport)
    yield client, tokens, app
    client.close()
    transport.close()
    state.close()


def _call(client: httpx.Client, method: str, url: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = b"{}" if method in ("PUT", "POST", "PATCH") else None
    if method == "PUT" and "/blobs/" in url:
        body = BLOB
    return client.request(method, url, headers=headers, content=body)


def test_every_route_has_a_rule_and_every_rule_a_route():
    assert set(ROUTE_RULES) == set(ROUTES)
    ActionTable(ROUTES)  # what create_app does: it would refuse a route without a rule
    with pytest.raises(RuntimeError, match="without an authorization rule.*GET /new"):
        ActionTable([*ROUTES, ("GET", "/new")])
    mlflow = ("/mlflow/v2.0/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/"
              "Microsoft.MachineLearningServices/workspaces/{workspaceName}/api/2.0/mlflow/runs/search")
    ActionTable([*ROUTES, ("POST", mlflow)])  # MLflow's routes: ruled by method and path


def test_action_names_are_azures_shape():
    shape = re.compile(r"(Microsoft\.Authorization/roleAssignments|workspaces(/[a-zA-Z]+)*)/(read|write|delete|action)")
    for rule in ROUTE_RULES.values():
        assert (rule.action is None) == (rule.scope is not Scope.WORKSPACE)
        assert rule.action is None or shape.fullmatch(rule.action), rule.action


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p.split('workspaces', 1)[-1] or p}" for m, p in ROUTES])
def test_each_role_against_each_route(world, method: str, path: str):
    client, tokens, _ = world
    for role in ROLES:
        url = _url(path, "scratch" if role == "admin" else "ws")
        answer = _call(client, method, url, tokens[role])
        if expected_allowed(role, method, path):
            assert answer.status_code not in (401, 403), (role, answer.status_code, answer.text)
            assert answer.status_code < 500, (role, answer.text)
        else:
            assert answer.status_code == 403, (role, answer.status_code, answer.text)
            if method == "HEAD":
                continue
            error = answer.json()["error"]
            assert error["code"] == "AuthorizationFailed" and tokens[role] not in answer.text
            assert "does not have authorization to perform action" in error["message"] or \
                "server administrator" in error["message"]


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p.split('workspaces', 1)[-1] or p}" for m, p in ROUTES])
def test_no_token_revoked_token_and_another_workspace(world, method: str, path: str):
    client, tokens, _ = world
    url = _url(path, "ws")
    public = ROUTE_RULES[(method, path)].scope is Scope.PUBLIC
    for token in (None, tokens["revoked"]):
        answer = _call(client, method, url, token)
        if public:
            assert answer.status_code == 200
            continue
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert (token or "oaml_") not in answer.text
        if method != "HEAD":  # a HEAD answer has no body
            assert answer.json()["error"]["code"] == "AuthenticationFailed"
    if "{workspaceName}" in path:
        seen = _call(client, method, url, tokens["other-owner"])
        missing = _call(client, method, _url(path, "ghost"), tokens["other-owner"])
        assert seen.status_code == missing.status_code == 404, seen.text
        if method == "HEAD":
            return
        assert seen.json()["error"]["code"] == missing.json()["error"]["code"] == "WorkspaceNotFound"
        assert seen.json()["error"]["message"].replace("'ws'", "'?'").replace(" ws", " ?") == \
            missing.json()["error"]["message"].replace("'ghost'", "'?'").replace(" ghost", " ?")


def test_the_docs_are_public(world):
    client, _, _ = world
    for path in DOC_PATHS[:1] + ("/docs", "/health", "/ready"):
        assert client.get(path).status_code == 200, path


def test_unknown_routes_are_404_for_a_token_and_401_without(world):
    client, tokens, _ = world
    assert client.get("/nowhere").status_code == 401
    answer = client.get("/nowhere", headers={"Authorization": f"Bearer {tokens['reader']}"})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "NotFound"


def test_the_workspace_list_shows_what_the_token_may_read(world):
    client, tokens, _ = world
    url = WorkspaceScope().workspaces
    def names(token: str) -> list[str]:
        return sorted(w["name"] for w in client.get(url, headers={"Authorization": f"Bearer {token}"}).json()["value"])
    assert {"other", "ws"} <= set(names(tokens["admin"]))  # and scratch, unless a test deleted it
    for role in ("owner", "contributor", "data-scientist", "reader"):
        assert names(tokens[role]) == ["ws"]
    assert names(tokens["other-owner"]) == ["other"]


def test_only_the_admin_creates_and_deletes_workspaces(world):
    client, tokens, _ = world
    owner, admin = ({"Authorization": f"Bearer {tokens[r]}"} for r in ("owner", "admin"))
    new = WorkspaceScope(workspace="fresh").base
    body = {"properties": {}}
    assert client.put(new, json=body, headers=owner).status_code == 404  # not even told it is missing
    assert client.put(new, json=body, headers=admin).status_code == 201
    assert client.delete(new, headers=owner).status_code == 404  # not its workspace
    mine = WorkspaceScope(workspace="ws").base
    answer = client.delete(mine, headers=owner)
    assert answer.status_code == 403 and "workspaces/delete" in answer.json()["error"]["message"]
    assert client.put(mine, json={"properties": {"description": "d"}}, headers=owner).status_code == 200
    assert client.delete(new, headers=admin).status_code == 200


def test_deleting_a_workspace_revokes_its_tokens(tmp_path: Path):
    home = tmp_path / "home"
    settings = Settings.from_env(home=home)
    WorkspaceService(settings).create(Workspace(name="team"))
    admin, owner = issue_token(home, "admin"), issue_token(home, "owner", "team")
    app = create_app(ServerSettings(workspace_settings=settings))
    with httpx.Client(base_url="http://t", transport=InMemoryTransport(app)) as client:
        scope = WorkspaceScope(workspace="team")
        assert client.get(scope.base, headers={"Authorization": f"Bearer {owner}"}).status_code == 200
        assert client.delete(scope.base, headers={"Authorization": f"Bearer {admin}"}).status_code == 200
        assert client.put(scope.base, json={"properties": {}},
                          headers={"Authorization": f"Bearer {admin}"}).status_code == 201  # a new "team"
        answer = client.get(scope.base, headers={"Authorization": f"Bearer {owner}"})
        assert answer.status_code == 401 and "revoked" in answer.json()["error"]["message"]
    app.state.openaml.close()


# ---- hostile tokens: 401, never 500, never echoed -------------------------------------------------
MLFLOW_RUNS_GET = MLFLOW_PREFIX + WorkspaceScope(workspace="ws").base + "/api/2.0/mlflow/runs/get"


def _asgi_status(app, headers: list[tuple[bytes, bytes]], path: str | None = None) -> tuple[int, bytes]:
    """Send one GET to *app* (the models of ``ws``, unless *path*) with raw header bytes, past
    any client's checks."""
    path = path or WorkspaceScope(workspace="ws").of("models")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("openaml.test", 80)}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.fixture(scope="module")
def bare_app(world):
    return world[2]  # the world's app, called directly


HOSTILE = [b"Bearer " + b"A" * 1_000_000, b"Bearer " + b"a" * 5000, b"Bearer oaml_\x00\x01\x02", b"Bearer \r\nX: y",
           "Bearer oaml_ü".encode(), b"Bearer \xff\xfe", b"Bearer", b"Basic dXNlcjpwdw==", b"", b"Bearer  ",
           b"bearer oaml_0123456789abcdef_" + b"A" * 43, b"Bearer oaml_0123456789abcdef_" + b"A" * 42 + b"\x7f",
           b"Bearer ../../etc/passwd", b"Bearer oaml_%00_x"]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_authorization_headers_are_401(bare_app, value: bytes):
    for path, code in ((None, b'"AuthenticationFailed"'), (MLFLOW_RUNS_GET, b'"UNAUTHENTICATED"')):
        status, body = _asgi_status(bare_app, [(b"authorization", value)], path)
        assert status == 401 and code in body, body[:200]
        presented = value[7:50].strip()
        assert len(presented) < 4 or presented not in body


def test_two_authorization_headers_are_401(bare_app, world):
    token = world[1]["owner"].encode()
    status, _ = _asgi_status(bare_app, [(b"authorization", b"Bearer " + token), (b"authorization", b"Bearer x")])
    assert status == 401
    assert _asgi_status(bare_app, [(b"authorization", b"Bearer " + token)])[0] == 200


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_any_bytes_as_a_token_are_401(bare_app, raw: bytes):
    status, body = _asgi_status(bare_app, [(b"authorization", b"Bearer " + raw)])
    assert status == 401
    assert b"Internal" not in body


# ---- MLflow's routes -------------------------------------------------------------------------
MLFLOW = [
    ("GET", "api/2.0/mlflow/runs/get", "workspaces/experiments/runs/read"),
    ("POST", "api/2.0/mlflow/runs/search", "workspaces/experiments/runs/read"),
    ("POST", "ajax-api/2.0/mlflow/runs/search", "workspaces/experiments/runs/read"),
    ("POST", "api/2.0/mlflow/runs/create", "workspaces/experiments/runs/write"),
    ("POST", "api/2.0/mlflow/runs/log-metric", "workspaces/experiments/runs/write"),
    ("POST", "api/2.0/mlflow/runs/log-batch", "workspaces/experiments/runs/write"),
    ("POST", "api/2.0/mlflow/runs/delete", "workspaces/experiments/runs/write"),
    ("GET", "api/2.0/mlflow/metrics/get-history", "workspaces/experiments/runs/read"),
    ("POST", "api/2.0/mlflow/metrics/get-history-bulk-interval", "workspaces/experiments/runs/write"),  # GET only in MLflow
    ("GET", "ajax-api/2.0/mlflow/metrics/get-history-bulk", "workspaces/experiments/runs/read"),
    ("POST", "api/2.0/mlflow/experiments/search", "workspaces/experiments/read"),
    ("GET", "api/2.0/mlflow/experiments/get-by-name", "workspaces/experiments/read"),
    ("POST", "api/2.0/mlflow/experiments/create", "workspaces/experiments/write"),
    ("POST", "api/2.0/mlflow/experiments/get", "workspaces/experiments/write"),  # not a read POST: stricter
    ("GET", "api/2.0/mlflow/registered-models/search", "workspaces/models/read"),
    ("POST", "api/2.0/mlflow/registered-models/search", "workspaces/models/write"),  # GET in MLflow
    ("GET", "api/2.0/mlflow/registered-models/get", "workspaces/models/read"),
    ("POST", "api/2.0/mlflow/registered-models/create", "workspaces/models/write"),
    ("GET", "api/2.0/mlflow/model-versions/search", "workspaces/models/read"),
    ("POST", "api/3.0/mlflow/runs/search", "workspaces/experiments/runs/read"),
    ("PATCH", "api/2.0/mlflow/model-versions/update", "workspaces/models/write"),
    ("DELETE", "api/2.0/mlflow/registered-models/delete", "workspaces/models/write"),
    ("POST", "api/2.0/mlflow/logged-models/search", "workspaces/experiments/runs/read"),
    ("POST", "api/2.0/mlflow/logged-models", "workspaces/experiments/runs/write"),
    ("GET", "api/2.0/mlflow-artifacts/artifacts/0/abc/artifacts/model.pkl", "workspaces/experiments/runs/read"),
    ("PUT", "api/2.0/mlflow-artifacts/artifacts/0/abc/artifacts/model.pkl", "workspaces/experiments/runs/write"),
    ("DELETE", "api/2.0/mlflow-artifacts/artifacts/0/abc/artifacts/model.pkl", "workspaces/experiments/runs/write"),
    ("POST", "api/2.0/mlflow/something-new", "workspaces/experiments/runs/write"),
    ("POST", "api/2.0/mlflow/runs/search/../create", "workspaces/experiments/runs/write"),
]


@pytest.mark.parametrize(("method", "rest", "action"), MLFLOW, ids=[f"{m} {r}" for m, r, _ in MLFLOW])
def test_mlflow_routes_map_to_reads_and_writes(method: str, rest: str, action: str):
    assert mlflow_action(method, rest) == action
    path = (f"/mlflow/v2.0/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/"
            f"workspaces/team/{rest}")
    resolved = ActionTable(ROUTES).resolve(method, path)
    assert resolved is not None and resolved.workspace == "team" and resolved.rule.action == action


def test_mlflow_requests_are_admitted_by_role(world):
    """The gate decides by method and path before the mount's handlers run, and answers its
    refusals in MLflow's error shape (what MLflow's clients print); an admitted request reaches
    the handlers (an empty log-metric is then MLflow's 400, not the gate's)."""
    client, tokens, _ = world
    base = ("/mlflow/v2.0/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/"
            "workspaces/ws/api/2.0/mlflow")
    reader = {"Authorization": f"Bearer {tokens['reader']}"}
    found = client.post(f"{base}/runs/search", json={"experiment_ids": ["0"]}, headers=reader)
    assert found.status_code == 200 and "error_code" not in found.json(), found.text
    refused = client.post(f"{base}/runs/log-metric", json={}, headers=reader)
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
    assert "workspaces/experiments/runs/write" in refused.json()["message"] and tokens["reader"] not in refused.text
    anonymous = client.post(f"{base}/runs/search", json={})
    assert anonymous.status_code == 401 and anonymous.json()["error_code"] == "UNAUTHENTICATED"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    other = {"Authorization": f"Bearer {tokens['other-owner']}"}
    hidden = client.post(f"{base}/runs/search", json={}, headers=other)
    assert hidden.status_code == 404 and hidden.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    for role in ("data-scientist", "contributor", "owner"):  # allowed: the handler's own validation answers
        answer = client.post(f"{base}/runs/log-metric", json={}, headers={"Authorization": f"Bearer {tokens[role]}"})
        assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE", (role, answer.text)
