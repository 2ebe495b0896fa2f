"""Where an SDK client's token comes from, in order: the credential given to MLClient, then
OPENAML_TOKEN, then the credentials file (openaml login); what is not a credential is refused;
no token ever appears in a repr, a log line or an error message."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken, AzureKeyCredential, AzureSasCredential

from openaml import MLClient
from openaml.client.credentials import CredentialsFile, CredentialTokens, server_key
from openaml.client.http.tokens import HttpTokens
from openaml.errors import AuthenticationError, ValidationError
from openaml.server.testing import InMemoryTransport

from tests.helpers import StaticToken, issue_token

SERVER = "http://openaml.test"


def _client(app, credential=None) -> MLClient:
    return MLClient(credential, workspace_name="ws", server=SERVER, transport=InMemoryTransport(app))


def _who(client: MLClient) -> str:
    return HttpTokens(client._backend.session).whoami()["name"]


@pytest.fixture
def three(app, home: Path, monkeypatch: pytest.MonkeyPatch):
    """Three tokens of ws, one per source: a credential, the variable, the credentials file."""
    from openaml.services.tokens import TokenService
    from openaml.server.settings import server_database_url
    from openaml.store.tokens import TokenStore

    service = TokenService(TokenStore(server_database_url(home)), lambda name: True)
    made = {name: service.create("reader", "ws", name=name).token for name in ("credential", "variable", "file")}
    service.close()
    CredentialsFile(home).save(SERVER, made["file"])
    monkeypatch.setenv("OPENAML_TOKEN", made["variable"])
    return made


def test_the_sources_in_order(app, three: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    assert _who(_client(app, StaticToken(three["credential"]))) == "credential"
    assert _who(_client(app)) == "variable"
    monkeypatch.delenv("OPENAML_TOKEN")
    assert _who(_client(app)) == "file"
    assert _who(_client(app, AzureKeyCredential(three["credential"]))) == "credential"  # a key is a token too


def test_the_credentials_file_is_per_server(app, home: Path, three: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OPENAML_TOKEN")
    assert server_key("HTTP://OpenAML.test:80/") == "http://openaml.test:80"
    with pytest.raises(AuthenticationError, match="no 'Authorization: Bearer"):
        MLClient(workspace_name="ws", server="http://elsewhere.test", transport=InMemoryTransport(app)).models.list()
    assert CredentialsFile(home).remove(SERVER) and not CredentialsFile(home).remove(SERVER)
    with pytest.raises(AuthenticationError):
        _client(app).models.list()


def test_a_group_readable_credentials_file_is_refused(app, home: Path, three: dict[str, str],
                                                      monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OPENAML_TOKEN")
    (home / "credentials").chmod(0o640)
    with pytest.raises(ValidationError, match="may be read by other users.*chmod 600") as err:
        _client(app)
    assert three["file"] not in str(err.value)
    (home / "credentials").write_text("{not json")
    (home / "credentials").chmod(0o600)
    with pytest.raises(ValidationError, match="not a credentials file"):
        _client(app)


def test_a_credential_is_asked_again_before_its_token_expires():
    calls: list[str] = []

    class Expiring:
        def get_token(self, *scopes: str, **kwargs) -> AccessToken:
            calls.append(scopes[0])
            return AccessToken(f"token-{len(calls)}", int(time.time()) + (60 if len(calls) == 1 else 3600))

    source = CredentialTokens(Expiring())
    assert source() == "token-1"  # expires within the margin: asked again next time
    assert source() == "token-2" and source() == "token-2"
    assert calls == ["https://management.azure.com/.default"] * 2
    assert "token" not in repr(source).replace("CredentialTokens", "")


def test_what_cannot_sign_in_is_refused(app):
    with pytest.raises(ValidationError, match="AzureSasCredential cannot sign in") as err:
        _client(app, AzureSasCredential("sv=1&sig=secret"))
    assert "secret" not in str(err.value) and err.value.details["field"] == "credential"
    with pytest.raises(ValidationError, match="credential"):
        _client(app, "oaml_0123456789abcdef_" + "A" * 43)  # a token string is not a credential


@pytest.mark.parametrize("bad", ["oaml_x\ny", "oaml_ü", "two words", "A" * 3000])
def test_a_token_that_cannot_be_a_header_is_refused_without_being_shown(app, bad: str,
                                                                        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAML_TOKEN", bad)
    with pytest.raises(ValidationError, match=r"the token from \$OPENAML_TOKEN is not a token") as err:
        _client(app)
    assert bad[:20] not in str(err.value)
    with pytest.raises(ValidationError, match="the credential's get_token") as err:
        _client(app, StaticToken(bad)).models.list()
    assert bad[:20] not in str(err.value)


def test_no_token_in_reprs_logs_or_errors(app, home: Path, owner_token: str, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    client = _client(app)
    client.models.list()
    assert owner_token not in repr(client) and owner_token not in repr(client._backend.session)
    assert owner_token not in repr(client._backend.session.client.auth)
    revoked = issue_token(home, "reader", "ws")
    app.state.openaml.tokens.revoke(revoked.split("_")[1])
    with pytest.raises(AuthenticationError) as err:
        _client(app, StaticToken(revoked)).models.list()
    assert revoked not in str(err.value) and revoked not in json.dumps(err.value.details)
    for token in (owner_token, revoked):
        assert token not in caplog.text and token.rsplit("_", 1)[1] not in caplog.text
