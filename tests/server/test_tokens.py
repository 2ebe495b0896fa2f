"""Tokens: issued once, stored hashed, checked strictly, revoked; the roles' rules; where the
server's database is; the token routes; ``openaml server token create|list|revoke`` locally and
over ``--server``."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openaml.cli.main import cli
from openaml.entities.tokens import Role
from openaml.errors import AuthenticationError, NotFoundError, ValidationError, WorkspaceNotFoundError
from openaml.rest.paths import WorkspaceScope
from openaml.server.settings import server_database_url
from openaml.server.testing import serve_in_thread
from openaml.services import roles
from openaml.services.tokens import LAST_USED_RESOLUTION, TokenService
from openaml.store.tokens import TokenStore

from tests.helpers import issue_token


@pytest.fixture
def service(tmp_path: Path):
    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    store = TokenStore(server_database_url(tmp_path))
    svc = TokenService(store, lambda name: name in ("ws", "other"), clock=lambda: now[0], cache_seconds=0)
    svc.now = now  # the test moves the clock
    yield svc
    svc.close()


def test_a_token_is_shown_once_and_stored_hashed(service: TokenService, tmp_path: Path):
    issued = service.create("owner", "ws", name="alice", description="laptop")
    assert issued.token.startswith(f"oaml_{issued.info.id}_") and len(issued.token) == 5 + 16 + 1 + 43
    assert issued.token not in repr(issued) and issued.token not in repr(issued.info)
    assert service.authenticate(issued.token) == service.get(issued.info.id)
    rows = sqlite3.connect(tmp_path / "server.db").execute("SELECT * FROM api_tokens").fetchall()
    flat = json.dumps(rows, default=str)
    assert issued.token.rsplit("_", 1)[1] not in flat
    assert hashlib.sha256(issued.token.encode()).hexdigest() in flat
    assert service.create("reader", "ws").token != service.create("reader", "ws").token


def test_roles_and_workspaces_are_checked(service: TokenService):
    with pytest.raises(ValidationError, match="give --workspace") as err:
        service.create("owner")
    assert err.value.details["field"] == "workspace"
    with pytest.raises(ValidationError, match="give no workspace"):
        service.create("admin", "ws")
    with pytest.raises(ValidationError, match="role must be one of") as err:
        service.create("superuser", "ws")
    assert err.value.details["field"] == "role"
    with pytest.raises(WorkspaceNotFoundError):
        service.create("reader", "ghost")
    with pytest.raises(ValidationError):
        service.create("reader", "../ws")
    for bad in ("a\nb", "x" * 256, "\x1b[31mred"):
        with pytest.raises(ValidationError) as err:
            service.create("reader", "ws", name=bad)
        assert err.value.details["field"] == "name"
    assert service.create("admin").info.workspace is None


def test_revoked_unknown_and_malformed_tokens_are_refused(service: TokenService):
    issued = service.create("owner", "ws")
    forged = issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")
    with pytest.raises(AuthenticationError, match="not one this server issued") as err:
        service.authenticate(forged)
    assert forged not in str(err.value)
    with pytest.raises(AuthenticationError, match="not an openaml token"):
        service.authenticate("oaml_" + "x" * 10_000)
    revoked = service.revoke(issued.info.id)
    assert revoked.revoked
    with pytest.raises(AuthenticationError, match=f"token {issued.info.id} was revoked"):
        service.authenticate(issued.token)
    with pytest.raises(NotFoundError):
        service.revoke("0" * 16)
    with pytest.raises(NotFoundError):
        service.revoke(issued.info.id, workspace="other")  # not that workspace's


@pytest.fixture(scope="module")
def one_store(tmp_path_factory: pytest.TempPathFactory):
    store = TokenStore(server_database_url(tmp_path_factory.mktemp("tokens")))
    svc = TokenService(store, lambda name: True)
    svc.create("admin")
    yield svc
    svc.close()


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_no_text_is_a_token_by_chance(one_store: TokenService, text: str):
    with pytest.raises(AuthenticationError):
        one_store.authenticate(text)


def test_last_used_is_written_once_a_minute(service: TokenService):
    issued = service.create("reader", "ws")
    start = service.now[0]
    service.authenticate(issued.token)
    assert service.get(issued.info.id).last_used_at == start
    service.now[0] = start + timedelta(seconds=30)
    service.authenticate(issued.token)
    assert service.get(issued.info.id).last_used_at == start
    service.now[0] = start + LAST_USED_RESOLUTION
    service.authenticate(issued.token)
    assert service.get(issued.info.id).last_used_at == start + LAST_USED_RESOLUTION


def test_a_valid_token_is_believed_briefly_and_a_revocation_here_ends_that(tmp_path: Path):
    store = TokenStore(server_database_url(tmp_path))
    cached = TokenService(store, lambda name: True, cache_seconds=60)
    issued = cached.create("reader", "ws")
    cached.authenticate(issued.token)
    other_process = TokenService(TokenStore(server_database_url(tmp_path)), lambda name: True)
    other_process.revoke(issued.info.id)
    assert cached.authenticate(issued.token).id == issued.info.id  # believed for cache_seconds
    cached.revoke(issued.info.id)  # a revocation through the same service: at once
    with pytest.raises(AuthenticationError):
        cached.authenticate(issued.token)
    other_process.close()
    cached.close()


def test_server_database_url():
    assert server_database_url(Path("/srv/home")).database == "/srv/home/server.db"
    assert server_database_url(Path("/srv/ho?me#x")).database == "/srv/ho?me#x/server.db"
    url = server_database_url(Path("/srv/home"), "postgresql+psycopg://u:pw@db/openaml")
    assert url.drivername == "postgresql+psycopg" and url.database == "openaml"


ROLE_TABLE = [  # (action, roles that may), from the roles' descriptions
    ("workspaces/read", {Role.OWNER, Role.CONTRIBUTOR, Role.DATA_SCIENTIST, Role.READER, Role.ADMIN}),
    ("workspaces/write", {Role.OWNER, Role.CONTRIBUTOR, Role.ADMIN}),
    ("workspaces/delete", {Role.ADMIN}),
    ("workspaces/models/write", {Role.OWNER, Role.CONTRIBUTOR, Role.DATA_SCIENTIST, Role.ADMIN}),
    ("workspaces/computes/write", {Role.OWNER, Role.CONTRIBUTOR, Role.ADMIN}),
    ("workspaces/computes/delete", {Role.OWNER, Role.CONTRIBUTOR, Role.ADMIN}),
    ("workspaces/computes/read", {Role.OWNER, Role.CONTRIBUTOR, Role.DATA_SCIENTIST, Role.READER, Role.ADMIN}),
    ("workspaces/jobs/cancel/action", {Role.OWNER, Role.CONTRIBUTOR, Role.DATA_SCIENTIST, Role.ADMIN}),
    ("workspaces/datastores/listSecrets/action", {Role.OWNER, Role.CONTRIBUTOR, Role.ADMIN}),
    (roles.TOKENS_READ, {Role.OWNER, Role.CONTRIBUTOR, Role.READER, Role.ADMIN}),
    (roles.TOKENS_WRITE, {Role.OWNER, Role.ADMIN}),
    (roles.TOKENS_DELETE, {Role.OWNER, Role.ADMIN}),
    ("WORKSPACES/MODELS/READ", {Role.OWNER, Role.CONTRIBUTOR, Role.DATA_SCIENTIST, Role.READER, Role.ADMIN}),
]


@pytest.mark.parametrize(("action", "allowed"), ROLE_TABLE, ids=[a for a, _ in ROLE_TABLE])
def test_the_roles(action: str, allowed: set[Role]):
    assert {r for r in Role if roles.allows(r, action)} == allowed


def test_azures_wildcards():
    assert roles.matches("workspaces/*/write", "workspaces/write")  # why Azure's DS lists it in NotActions
    assert roles.matches("workspaces/computes/*/write", "workspaces/computes/write")
    assert roles.matches("*/read", "Microsoft.Authorization/roleAssignments/read")
    assert not roles.matches("workspaces/*/read", "workspaces/models/write")
    assert not roles.matches("workspaces/models/read", "workspaces/models/read/x")
    assert not roles.matches("Microsoft.Authorization/*/Write", "workspaces/models/write")


# ---- the token routes --------------------------------------------------------------------------
def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_whoami_and_the_workspace_token_routes(app, http, home: Path, owner_token: str, ws):
    me = http.get("/openaml/whoami").json()
    assert me["authenticated"] and me["role"] == "owner" and me["workspace"] == "ws" and "token" not in me
    made = http.post(ws.of("tokens"), json={"role": "reader", "name": "ci"})
    assert made.status_code == 201 and made.json()["token"].startswith("oaml_")
    reader = made.json()["token"]
    listed = http.get(ws.of("tokens")).json()["value"]
    assert {t["name"] for t in listed} >= {"ci"} and reader not in json.dumps(listed)
    assert all("token" not in t and "secret" not in json.dumps(t) for t in listed)
    assert http.post(ws.of("tokens"), json={"role": "admin"}).status_code == 400  # not through a workspace
    assert http.post(ws.of("tokens"), json={"role": "reader", "workspace": "other"}).status_code == 400
    assert http.post(ws.of("tokens"), json={"role": "reader", "extra": 1}).status_code == 400
    assert http.get(ws.of("tokens"), headers=_auth(reader)).status_code == 200  # Azure's Reader reads assignments
    assert http.post(ws.of("tokens"), json={"role": "owner"}, headers=_auth(reader)).status_code == 403
    assert http.get("/openaml/tokens").status_code == 403  # the administrator's
    revoked = http.delete(ws.of("tokens", made.json()["id"]))
    assert revoked.status_code == 200 and revoked.json()["revokedAt"]
    assert http.get("/openaml/whoami", headers=_auth(reader)).status_code == 401


def test_the_admin_token_routes(app, http, home: Path):
    admin = issue_token(home, "admin")
    made = http.post("/openaml/tokens", json={"role": "admin", "name": "second"}, headers=_auth(admin))
    assert made.status_code == 201 and made.json()["workspace"] is None
    everyone = http.get("/openaml/tokens", headers=_auth(admin)).json()["value"]
    assert {t["role"] for t in everyone} == {"owner", "admin"}
    assert http.delete(f"/openaml/tokens/{made.json()['id']}", headers=_auth(admin)).status_code == 200
    assert http.delete("/openaml/tokens/nothex", headers=_auth(admin)).status_code == 404


# ---- the CLI ---------------------------------------------------------------------------------------
def _run(*args: str, **kwargs) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), **kwargs)
    return result.exit_code, result.stdout, result.stderr


def test_cli_tokens_on_the_servers_database(home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OPENAML_SERVER", raising=False)
    code, out, err = _run("server", "token", "create", "--workspace", "ws", "--role", "data-scientist", "-n", "bob")
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    assert token.startswith("oaml_") and out.strip() == token  # alone on its (last) line
    assert "shown once" in err and token not in err
    code, out, _ = _run("server", "token", "list", "-o", "json")
    listed = json.loads(out)
    assert [t["name"] for t in listed] == ["bob"] and listed[0]["role"] == "data-scientist"
    assert token not in out and hashlib.sha256(token.encode()).hexdigest() not in out
    code, out, _ = _run("server", "token", "list")
    assert "bob" in out and token not in out
    code, _, err = _run("server", "token", "revoke", listed[0]["id"])
    assert code == 0 and "Revoked" in err
    assert json.loads(_run("server", "token", "list", "-o", "json")[1])[0]["revoked_at"]
    code, out, err = _run("server", "token", "create", "--role", "owner")
    assert code == 1 and "give --workspace" in err and "oaml_" not in out
    code, _, err = _run("server", "token", "create", "--role", "reader", "-w", "ghost")
    assert code == 1 and "not found" in err


def test_a_fresh_home_gets_its_server_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The server's first start (and the first admin token) on a home that does not exist yet:
    SQLite makes the file, the store its folder."""
    home = tmp_path / "not" / "yet"
    monkeypatch.setenv("OPENAML_HOME", str(home))
    monkeypatch.delenv("OPENAML_SERVER", raising=False)
    code, out, err = _run("server", "token", "create", "--role", "admin")
    assert code == 0 and out.strip().startswith("oaml_"), err
    assert (home / "server.db").is_file()
    TokenStore("sqlite:///:memory:").close()  # in memory: no folder to make


def test_cli_tokens_with_a_database_url(home: Path, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    code, out, _ = _run("server", "token", "create", "--role", "admin", "--database-url", url)
    assert code == 0 and (tmp_path / "elsewhere.db").exists() and not (home / "server.db").exists()
    assert len(json.loads(_run("server", "token", "list", "-o", "json", "--database-url", url)[1])) == 1


def test_cli_tokens_over_the_server(app, home: Path, monkeypatch: pytest.MonkeyPatch):
    with serve_in_thread(app) as url:  # OPENAML_TOKEN: the Owner of ws (conftest)
        code, out, err = _run("server", "token", "create", "-w", "ws", "--role", "reader", "--server", url)
        assert code == 0, err
        reader = out.strip().splitlines()[-1]
        with httpx.Client(base_url=url) as client:
            me = client.get("/openaml/whoami", headers=_auth(reader)).json()
        assert me["role"] == "reader" and me["workspace"] == "ws"
        code, out, _ = _run("server", "token", "list", "-w", "ws", "--server", url, "-o", "json")
        assert code == 0 and {t["role"] for t in json.loads(out)} == {"owner", "reader"} and reader not in out
        code, _, err = _run("server", "token", "create", "--role", "admin", "--server", url)
        assert code == 1 and "server administrator" in err
        code, _, err = _run("server", "token", "list", "--server", url)
        assert code == 1 and "server administrator" in err
        code, _, err = _run("server", "token", "revoke", me["id"], "-w", "ws", "--server", url)
        assert code == 0, err
        monkeypatch.setenv("OPENAML_TOKEN", issue_token(home, "admin"))
        code, out, err = _run("server", "token", "create", "--role", "admin", "--server", url)
        assert code == 0 and out.strip().splitlines()[-1].startswith("oaml_"), err
        code, _, err = _run("server", "token", "create", "--role", "admin", "--server", url, "--database-url", "x")
        assert code == 2 and "not both" in err


def test_cli_login_saves_a_private_file(app, home: Path, owner_token: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OPENAML_TOKEN")
    credentials = home / "credentials"
    with serve_in_thread(app) as url:
        code, _, err = _run("login", "--server", url, "--token-stdin", input="oaml_0123456789abcdef_" + "A" * 43 + "\n")
        assert code == 1 and "not one this server issued" in err and not credentials.exists()
        code, _, err = _run("login", "--server", url + "/", "--token-stdin", input=owner_token + "\n")
        assert code == 0, err
        assert owner_token not in err and "Owner of workspace 'ws'" in err
        assert (credentials.stat().st_mode & 0o777) == 0o600
        saved = json.loads(credentials.read_text())["servers"]
        assert list(saved) == [url.lower()] and saved[url.lower()]["token"] == owner_token
        assert [p.name for p in home.iterdir() if p.name.startswith(".credentials-")] == []  # no temp file left
        code, out, err = _run("model", "list", "-w", "ws", "--server", url, "-o", "json")  # the saved token
        assert code == 0 and json.loads(out) == [], err
        code, _, err = _run("login", "--server", url, input=f"{owner_token}\n")  # the hidden prompt
        assert code == 0 and owner_token not in err, err
        credentials.chmod(0o644)
        code, _, err = _run("model", "list", "-w", "ws", "--server", url)
        assert code == 1 and "may be read by other users" in err and "chmod 600" in err
        credentials.chmod(0o600)
        code, _, err = _run("logout", "--server", url)
        assert code == 0 and "Forgot" in err
        code, _, err = _run("model", "list", "-w", "ws", "--server", url)
        assert code == 1 and "Authorization: Bearer" in err


def test_cli_login_refuses_a_server_without_auth(home: Path, monkeypatch: pytest.MonkeyPatch):
    from openaml.server import ServerSettings, create_app
    from openaml.services.settings import Settings

    app = create_app(ServerSettings(workspace_settings=Settings.from_env(), no_auth=True))
    with serve_in_thread(app) as url:
        code, _, err = _run("login", "--server", url, "--token-stdin", input="oaml_x\n")
        assert code == 1 and "--no-auth" in err
    app.state.openaml.close()
    code, _, err = _run("login", "--server", "ftp://x", "--token-stdin", input="t\n")
    assert code == 1 and "http:// or https://" in err


def test_workspace_tokens_never_reach_another_scope(app, http, home: Path):
    other = WorkspaceScope(workspace="ws2")
    admin = issue_token(home, "admin")
    assert http.put(other.base, json={"properties": {}}, headers=_auth(admin)).status_code == 201
    assert http.get(other.of("tokens")).status_code == 404  # the Owner of ws
    assert http.post(other.of("tokens"), json={"role": "owner"}).status_code == 404
