"""Two homes (or a server and a local CLI) on one database see the same workspaces: created in
one, used in the other, secrets readable in both with the shared key; a second create changes
nothing, and of concurrent creates exactly one wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from openaml.cli.main import cli
from openaml.entities import AccountKeyConfiguration, AmlCompute, AzureBlobDatastore, Model, Workspace
from openaml.errors import AlreadyExistsError, ValidationError, WorkspaceNotFoundError
from openaml.services.workspaces import WorkspaceService

from tests.catalog.conftest import Home
from tests.helpers import StaticToken, issue_token, write

ACCOUNT_KEY = "QUNDT1VOVC1LRVktbm90LWZvci15b3VyLWV5ZXM="  # base64 of a made-up key
PASSWORD = "Pa55-w0rd-N0t-F0r-Y0ur-Eyes"


def _blob(name: str = "blob") -> AzureBlobDatastore:
    return AzureBlobDatastore(name=name, account_name="acct", container_name="c",
                              credentials=AccountKeyConfiguration(account_key=ACCOUNT_KEY))


def _rows(url: str, workspace: str) -> dict[str, tuple[str, bytes | None]]:
    """The workspace's resource rows as the database holds them: spec text and sealed bytes."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT kind, name, spec, secret FROM resources WHERE workspace = :w"),
                                {"w": workspace}).all()
    finally:
        engine.dispose()
    return {f"{r.kind}/{r.name}": (r.spec if isinstance(r.spec, str) else json.dumps(r.spec, sort_keys=True),
                                   bytes(r.secret) if r.secret is not None else None) for r in rows}


def test_created_in_one_home_used_in_the_other(db_url: str, home_a: Home, home_b: Home, client_of, tmp_path: Path):
    a = client_of(home_a, db_url, "team")
    a.workspaces.begin_create(Workspace(name="team", description="shared")).result()
    a.datastores.create_or_update(_blob())
    a.compute.begin_create_or_update(AmlCompute(name="cpu", ssh_settings={"admin_username": "u", "admin_password": PASSWORD})).result()
    a.models.create_or_update(Model(name="m", path=str(write(tmp_path / "m.txt", "from a\n"))))

    b = client_of(home_b, db_url, "team")
    assert [w.name for w in b.workspaces.list()] == ["team"]
    assert b.workspaces.get("team").description == "shared"
    assert b.datastores.get("blob", include_secrets=True).credentials.account_key == ACCOUNT_KEY
    assert b.datastores.get_default().name == "workspaceblobstore"
    # B registers, A reads; the files of A's model download in B (the same machine's folder).
    b.models.create_or_update(Model(name="m", path=str(write(tmp_path / "m2.txt", "from b\n"))))
    assert [m.version for m in a.models.list(name="m")] == ["2", "1"]
    b.models.download("m", "1", download_path=tmp_path / "dl")
    assert (tmp_path / "dl" / "m" / "m.txt").read_text() == "from a\n"
    # B's folder of the workspace is a cache, made on demand, with no configuration in it.
    assert not (home_b.root / "workspaces" / "team" / "workspace.json").exists()
    assert not (home_a.root / "workspaces" / "team" / "workspace.json").exists()


def test_a_second_create_changes_nothing(db_url: str, home_a: Home, home_b: Home, client_of):
    a = client_of(home_a, db_url, "team")
    a.workspaces.begin_create(Workspace(name="team", description="first")).result()
    a.datastores.create_or_update(_blob())
    before = _rows(db_url, "team")
    b = client_of(home_b, db_url, "team")
    with pytest.raises(AlreadyExistsError):
        b.workspaces.begin_create(Workspace(name="team", description="second")).result()
    service = WorkspaceService(home_b.settings(db_url))
    try:
        again = service.create(Workspace(name="team", description="third"), exist_ok=True)
    finally:
        service.close()
    assert again.description == "first"
    assert _rows(db_url, "team") == before  # default datastores and their sealed credentials untouched
    path = Path(b.datastores.get("workspaceblobstore").path)
    assert path.is_relative_to(home_a.root)  # still the creator's folder, not B's
    assert a.datastores.get("blob", include_secrets=True).credentials.account_key == ACCOUNT_KEY


_CREATE = """
import os, sys, time
from openaml.entities import Workspace
from openaml.errors import AlreadyExistsError
from openaml.services.settings import Settings
from openaml.services.workspaces import WorkspaceService
service = WorkspaceService(Settings.from_env())
service.catalog  # connected and migrated before the start line
while time.time() < float(sys.argv[1]):
    pass
try:
    service.create(Workspace(name="race", description=os.environ["OPENAML_HOME"]))
    print("won")
except AlreadyExistsError:
    print("lost")
"""


def test_concurrent_creates_from_two_processes_one_wins(db_url: str, home_a: Home, home_b: Home):
    WorkspaceService(home_a.settings(db_url)).catalog.close()  # the schema exists before the race
    start = time.time() + 3
    procs = [subprocess.Popen([sys.executable, "-c", _CREATE, str(start)], env={**os.environ, **h.env(db_url)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for h in (home_a, home_b, home_a, home_b)]
    results = [p.communicate(timeout=120) for p in procs]
    outcomes = [out.strip() for out, _ in results]
    assert sorted(outcomes) == ["lost", "lost", "lost", "won"], [err[-2000:] for _, err in results]
    service = WorkspaceService(home_b.settings(db_url))
    try:
        winner = service.get("race").description
        datastores = _rows(db_url, "race")
        # Every default datastore was written once, by the winner, in its own folder.
        assert all(json.loads(spec).get("path", winner).startswith(winner) for spec, _ in datastores.values())
    finally:
        service.close()


def test_server_and_local_cli_on_one_database(db_url: str, home_a: Home, home_b: Home, tmp_path: Path, monkeypatch):
    from openaml import MLClient
    from openaml.server import ServerSettings, create_app
    from openaml.server.testing import InMemoryTransport

    app = create_app(ServerSettings(workspace_settings=home_a.settings(db_url)))
    assert app.state.openaml.settings.database_url == db_url
    memory = InMemoryTransport(app)
    admin = StaticToken(issue_token(home_a.root, "admin", database_url=db_url))  # the tokens: in the database too
    remote = MLClient(admin, workspace_name="team", server="http://openaml.test", transport=memory)
    try:
        remote.workspaces.begin_create(Workspace(name="team")).result()
        remote.datastores.create_or_update(_blob())
        env = home_b.env(db_url)
        listed = CliRunner().invoke(cli, ["workspace", "list", "-o", "json"], env=env)
        assert listed.exit_code == 0, listed.output
        assert [w["name"] for w in json.loads(listed.stdout)] == ["team"]
        model = write(tmp_path / "w.txt", "cli\n")
        made = CliRunner().invoke(cli, ["model", "create", "-n", "m", "-p", str(model), "-w", "team"], env=env)
        assert made.exit_code == 0, made.output
        assert [m.name for m in remote.models.list()] == ["m"]
        shown = CliRunner().invoke(cli, ["datastore", "show", "-n", "blob", "-w", "team"], env=env)
        assert shown.exit_code == 0 and ACCOUNT_KEY not in shown.output
        deleted = CliRunner().invoke(cli, ["workspace", "delete", "-n", "team", "-y"], env=env)
        assert deleted.exit_code == 0, deleted.output
        with pytest.raises(WorkspaceNotFoundError):
            remote.workspaces.get("team")
        assert _rows(db_url, "team") == {}
    finally:
        remote.close()
        memory.close()
        app.state.openaml.close()


def test_delete_in_one_home_is_seen_by_the_other(db_url: str, home_a: Home, home_b: Home, client_of):
    a = client_of(home_a, db_url, "gone")
    a.workspaces.begin_create(Workspace(name="gone")).result()
    b = client_of(home_b, db_url, "gone")
    assert b.workspaces.get("gone").name == "gone"
    b.workspaces.begin_delete("gone").result()
    assert [w.name for w in a.workspaces.list()] == []
    assert not (home_a.root / "workspaces" / "gone").exists()  # its files went with it (same machine)
    a.workspaces.begin_create(Workspace(name="gone")).result()  # the name is free again, with no old rows
    assert sorted(_rows(db_url, "gone")) == sorted(f"datastores/{d}" for d in
                                                   ("workspaceblobstore", "workspaceartifactstore",
                                                    "workspacefilestore", "workspaceworkingdirectory"))


def test_a_home_without_database_url_links_a_workspace_created_in_one(db_url: str, home_a: Home, home_b: Home,
                                                                       client_of):
    a = client_of(home_a, None, "linked")  # a home of folders
    a.workspaces.begin_create(Workspace(name="linked"), database_url=db_url).result()
    a.datastores.create_or_update(_blob())
    link = json.loads((home_a.root / "workspaces" / "linked" / "workspace.json").read_text())
    assert set(link) == {"name", "catalog_url"}
    b = client_of(home_b, db_url, "linked")  # a home on the database sees it
    assert b.datastores.get("blob", include_secrets=True).credentials.account_key == ACCOUNT_KEY
    with pytest.raises(AlreadyExistsError):  # and a second home of folders cannot take the name there
        WorkspaceService(Home(home_b.root.with_name("home-c"), home_b.key_file).settings(None)).create(
            Workspace(name="linked"), database_url=db_url)


def test_another_database_than_the_homes_is_refused(db_url: str, home_a: Home, tmp_path: Path):
    service = WorkspaceService(home_a.settings(db_url))
    try:
        with pytest.raises(ValidationError) as err:
            service.create(Workspace(name="other"), database_url=f"sqlite:///{tmp_path / 'other.db'}")
        assert err.value.details["field"] == "database_url"
    finally:
        service.close()


def test_a_folder_workspace_of_the_home_keeps_its_name(db_url: str, home_a: Home):
    folders = WorkspaceService(home_a.settings(None))
    folders.create(Workspace(name="mine"))
    folders.close()
    shared = WorkspaceService(home_a.settings(db_url))
    try:
        with pytest.raises(AlreadyExistsError) as err:
            shared.create(Workspace(name="mine"))
        assert "OPENAML_DATABASE_URL" in err.value.message
        assert shared.list() == []
    finally:
        shared.close()


def test_without_a_database_url_the_folder_layout_is_unchanged(home_a: Home):
    service = WorkspaceService(home_a.settings(None))
    try:
        service.create(Workspace(name="plain", description="d"))
        folder = home_a.root / "workspaces" / "plain"
        config = json.loads((folder / "workspace.json").read_text())
        assert config["name"] == "plain" and config["spec"]["description"] == "d"
        assert (folder / "metadata.db").is_file() and (folder / "artifacts").is_dir()
        assert not (folder / "secret.key").exists()  # the key is the home's now
    finally:
        service.close()


def test_two_servers_on_one_database_put_one_workspace(db_url: str, home_a: Home, home_b: Home, monkeypatch):
    import httpx

    from openaml.rest.paths import WorkspaceScope
    from openaml.server import ServerSettings, create_app
    from openaml.server.testing import InMemoryTransport

    apps = [create_app(ServerSettings(workspace_settings=h.settings(db_url))) for h in (home_a, home_b)]
    transports = [InMemoryTransport(app) for app in apps]
    admin = {"Authorization": f"Bearer {issue_token(home_a.root, 'admin', database_url=db_url)}"}
    a, b = (httpx.Client(base_url="http://openaml.test", transport=t, headers=admin) for t in transports)
    url = WorkspaceScope(workspace="team").base
    try:
        assert a.put(url, json={"properties": {"description": "one"}}).status_code == 201
        assert b.put(url, json={"properties": {"description": "one"}}, headers={"If-None-Match": "*"}).status_code == 409
        # B's look found nothing (A created it just after): the create loses, and the PUT updates.
        monkeypatch.setattr(apps[1].state.openaml.workspaces, "exists", lambda name: False)
        answer = b.put(url, json={"properties": {"description": "two"}})
        assert answer.status_code == 200, answer.text
        assert a.get(url).json()["properties"]["description"] == "two"
        raced = b.put(url, json={"properties": {}}, headers={"If-None-Match": "*"})
        assert raced.status_code == 409 and raced.json()["error"]["code"] == "AlreadyExists"
    finally:
        for client, transport, app in zip((a, b), transports, apps):
            client.close()
            transport.close()
            app.state.openaml.close()
