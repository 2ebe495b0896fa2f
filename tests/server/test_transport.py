"""Choosing the transport: server=, OPENAML_SERVER, config.json's openaml_server, the CLI's
--server; what is not a credential is refused; a cut upload leaves no asset and the retry
sends only what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from openaml import MLClient
from openaml.cli.main import cli
from openaml.entities import AccountKeyConfiguration, AzureBlobDatastore, Model, SasTokenConfiguration
from openaml.errors import ForbiddenError, NotFoundError, StoreUnavailableError, ValidationError
from openaml.rest.envelope import camel, snake
from openaml.rest.paths import WorkspaceScope
from openaml.rest.resources import datastore_from_body, datastore_resource, secrets_body, with_secrets
from openaml.server import ServerSettings, create_app
from openaml.server.testing import InMemoryTransport, serve_in_thread
from openaml.services.settings import Settings

from tests.helpers import StaticToken, issue_token


@pytest.mark.parametrize("credential", ["http://host:8080", "team", b"x", Path("/tmp"), 42, object()])
def test_what_is_not_a_credential_is_refused(credential):
    with pytest.raises(ValidationError) as err:
        MLClient(credential, workspace_name="ws")
    assert err.value.details["field"] == "credential"
    if credential == "http://host:8080":
        assert "server='http://host:8080'" in str(err.value)


@pytest.mark.parametrize("url", ["ftp://h", "host:8080", "http://user:pw@h", "http://h/?token=x", "http://h#f"])
def test_server_urls_are_checked(url: str):
    with pytest.raises(ValidationError) as err:
        MLClient(workspace_name="ws", server=url)
    assert err.value.details["field"] == "server"


def test_openaml_server_and_config_json_choose_the_server(app, home: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    assert MLClient(workspace_name="ws").server is None
    with serve_in_thread(app) as url:
        monkeypatch.setenv("OPENAML_SERVER", url)
        client = MLClient(workspace_name="ws")
        assert client.server == url and client.datastores.get_default().name == "workspaceblobstore"
        monkeypatch.delenv("OPENAML_SERVER")
        project = tmp_path / "project"
        (project / ".azureml").mkdir(parents=True)
        (project / ".azureml" / "config.json").write_text(json.dumps({"workspace_name": "ws",
                                                                      "openaml_server": url}))
        monkeypatch.chdir(project)
        assert MLClient().server == url and MLClient.from_config().server == url
        assert MLClient(workspace_name="ws").server == url  # the config says where workspaces are
        (tmp_path / "w.txt").write_text("w")
        assert MLClient().models.create_or_update(Model(name="cfg", path=str(tmp_path / "w.txt"))).version == "1"

        result = CliRunner().invoke(cli, ["model", "list", "-w", "ws", "--server", url, "-o", "json"])
        assert result.exit_code == 0, result.output
        assert [m["name"] for m in json.loads(result.output)] == ["cfg"]
        result = CliRunner().invoke(cli, ["model", "show", "-n", "ghost", "-v", "1", "-w", "ws", "--server", url])
        assert result.exit_code == 1 and "model 'ghost:1' not found" in result.output


def test_a_broken_config_json_does_not_matter_when_the_workspace_is_named(home: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "config.json").write_text("{not json")
    monkeypatch.chdir(tmp_path)
    assert MLClient(workspace_name="ws").server is None
    with pytest.raises(ValidationError):
        MLClient()  # the config is what names the workspace here: its error is the answer


def test_datastore_secrets_never_travel_in_get_or_list(app, http, ws, home: Path):
    client = MLClient(workspace_name="ws", server="http://openaml.test", transport=InMemoryTransport(app))
    key = "S3cr3t-account-key=="
    client.datastores.create_or_update(AzureBlobDatastore(name="blob", account_name="acct", container_name="c",
                                                          credentials=AccountKeyConfiguration(account_key=key)))
    for url in (ws.of("datastores"), ws.of("datastores", "blob")):
        assert key not in http.get(url).text
    assert client.datastores.get("blob").credentials is None or \
        getattr(client.datastores.get("blob").credentials, "account_key", None) is None
    # listSecrets: an Owner (the client's token) reads them; a Reader may not
    assert client.datastores.get("blob", include_secrets=True).credentials.account_key == key
    reader = MLClient(StaticToken(issue_token(home, "reader", "ws")), workspace_name="ws",
                      server="http://openaml.test", transport=InMemoryTransport(app))
    with pytest.raises(ForbiddenError, match="Reader.*does not have authorization.*listSecrets/action"):
        reader.datastores.get("blob", include_secrets=True)
    answer = http.post(ws.of("datastores", "blob", "listSecrets"))
    assert answer.status_code == 200 and answer.json()["key"] == key
    assert http.post(ws.of("datastores", "ghost", "listSecrets")).status_code == 404


def test_no_auth_serves_everything_but_datastore_secrets(home: Path, ws, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OPENAML_TOKEN", raising=False)
    app = create_app(ServerSettings(workspace_settings=Settings.from_env(), no_auth=True))
    try:
        client = MLClient(workspace_name="ws", server="http://openaml.test", transport=InMemoryTransport(app))
        key = "S3cr3t-account-key=="
        client.datastores.create_or_update(AzureBlobDatastore(name="blob", account_name="acct", container_name="c",
                                                              credentials=AccountKeyConfiguration(account_key=key)))
        assert [w.name for w in client.workspaces.list()] == ["ws"]
        with pytest.raises(ForbiddenError, match="--no-auth.*does not hand out datastore secrets") as err:
            client.datastores.get("blob", include_secrets=True)
        assert key not in str(err.value)
        assert not (home / "server.db").exists()  # no tokens, no database of them
    finally:
        app.state.openaml.close()


def test_list_secrets_wire_shape_round_trips():
    """What ``listSecrets`` carries, and how the client puts it back."""
    key, sas = "S3cr3t-account-key==", "sv=2024&sig=abc"
    for creds in (AccountKeyConfiguration(account_key=key), SasTokenConfiguration(sas_token=sas)):
        full = AzureBlobDatastore(name="blob", account_name="acct", container_name="c", credentials=creds)
        body = secrets_body(full)
        stripped = datastore_from_body(datastore_resource(full, WorkspaceScope(workspace="ws"), is_default=False), "blob")
        assert key not in repr(stripped) and sas not in repr(stripped)
        assert with_secrets(stripped, body).credentials == creds


class _CutAfter(httpx.BaseTransport):
    """Passes requests on, but drops the connection of blob uploads after *allowed* of them."""

    def __init__(self, inner: httpx.BaseTransport, allowed: int) -> None:
        self.inner, self.allowed, self.blobs = inner, allowed, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and "/blobs/" in request.url.path:
            self.blobs += 1
            if self.blobs > self.allowed:
                raise httpx.WriteError("connection reset by peer")
        return self.inner.handle_request(request)


def test_a_cut_upload_leaves_no_asset_and_the_retry_sends_only_what_is_missing(app, http, ws, tmp_path: Path):
    folder = tmp_path / "model"
    for i in range(6):
        (folder / f"part{i}").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"part{i}").write_bytes(bytes([i]) * 1000)
    memory = InMemoryTransport(app)
    cut = _CutAfter(memory, allowed=3)
    client = MLClient(workspace_name="ws", server="http://openaml.test", transport=cut)
    with pytest.raises(StoreUnavailableError):
        client.models.create_or_update(Model(name="big", path=str(folder)))
    with pytest.raises(NotFoundError):
        client.models.get("big", "1")
    assert http.get(ws.of("models")).json()["value"] == []
    cut.allowed, cut.blobs = 10_000, 0
    model = client.models.create_or_update(Model(name="big", path=str(folder)))
    assert model.version == "1"
    assert cut.blobs == 6 + 1 - 3  # the files still missing, and the manifest
    client.models.download("big", download_path=tmp_path / "back")
    assert sorted(p.name for p in (tmp_path / "back" / "big" / "model").iterdir()) == [f"part{i}" for i in range(6)]


def test_entity_field_names_survive_camel_case():
    from openaml import entities
    for name in entities.__all__:
        cls = getattr(entities, name)
        for field in getattr(cls, "model_fields", {}):
            assert snake(camel(field)) == field, f"{name}.{field}"
