"""The server's own surface: OpenAPI, health and readiness, the loopback rule, TLS."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from openaml import MLClient
from openaml.cli.main import cli
from openaml.entities import Model
from openaml.errors import StoreUnavailableError, ValidationError
from openaml.server import ServerSettings
from openaml.server.settings import is_loopback
from openaml.server.testing import serve_in_thread
from openaml.services.settings import Settings


def test_openapi_lists_azures_resource_paths(http):
    spec = http.get("/openapi.json").json()
    paths = set(spec["paths"])
    prefix = ("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/"
              "Microsoft.MachineLearningServices/workspaces/{workspaceName}")
    for tail in ("/models/{name}/versions/{version}", "/data/{name}/versions", "/environments",
                 "/components/{name}/versions/{version}", "/codes/{name}/versions/{version}",
                 "/datastores/{name}/listSecrets", "/computes/{name}", "/jobs/{name}/cancel", "/jobs/{name}/logs"):
        assert prefix + tail in paths, tail
    assert "/health" in paths and "/ready" in paths


def test_health_and_readiness(http):
    assert http.get("/health").json()["status"] == "ok"
    assert http.get("/ready").status_code == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost"])
def test_loopback_addresses_may_serve_without_auth(host: str):
    settings = ServerSettings(workspace_settings=Settings.from_env(home="/tmp/unused"), host=host, no_auth=True)
    settings.check()
    assert settings.warnings() == []


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.invalid", "127.0.0.1\x00x"])
def test_no_auth_is_refused_anywhere_else(host: str):
    settings = ServerSettings(workspace_settings=Settings.from_env(home="/tmp/unused"), host=host, no_auth=True)
    assert not is_loopback(host)
    with pytest.raises(ValidationError) as err:
        settings.check()
    assert "without authentication" in str(err.value) and err.value.details["field"] == "no_auth"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10"])
def test_other_addresses_serve_with_auth_and_warn_without_tls(host: str, tmp_path: Path):
    settings = ServerSettings(workspace_settings=Settings.from_env(home="/tmp/unused"), host=host)
    settings.check()
    assert len(settings.warnings()) == 1 and "without TLS" in settings.warnings()[0]
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("c")
    key.write_text("k")
    with_tls = ServerSettings(workspace_settings=Settings.from_env(home="/tmp/unused"), host=host,
                              certfile=cert, keyfile=key)
    with_tls.check()
    assert with_tls.warnings() == []


def test_the_cli_refuses_no_auth_on_a_public_address_and_half_a_tls_pair(tmp_path: Path):
    result = CliRunner().invoke(cli, ["server", "start", "--host", "0.0.0.0", "--no-auth"])
    assert result.exit_code == 1 and "without authentication" in result.output
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    result = CliRunner().invoke(cli, ["server", "start", "--certfile", str(cert)])
    assert result.exit_code == 1 and "both --certfile and --keyfile" in result.output


@pytest.mark.slow
def test_tls_with_a_certificate_the_client_trusts(app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile, cafile = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(cafile))
    (tmp_path / "w").write_text("weights")
    with serve_in_thread(app, certfile=certfile, keyfile=keyfile) as url:
        assert url.startswith("https://")
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        with pytest.raises(StoreUnavailableError):  # a CA it does not know: refused
            MLClient(workspace_name="ws", server=url).models.list()
        monkeypatch.setenv("SSL_CERT_FILE", str(cafile))
        client = MLClient(workspace_name="ws", server=url)
        assert client.models.create_or_update(Model(name="tls", path=str(tmp_path / "w"))).version == "1"
        client.close()
        monkeypatch.delenv("SSL_CERT_FILE")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cafile))
        assert [m.name for m in MLClient(workspace_name="ws", server=url).models.list()] == ["tls"]


def test_the_start_message_says_how_callers_get_in(home: Path, monkeypatch: pytest.MonkeyPatch):
    import uvicorn

    served: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(kwargs))
    monkeypatch.delenv("OPENAML_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["server", "start", "--port", "0"])
    assert result.exit_code == 0 and served, result.output
    assert "none exists yet" in result.stderr and "openaml server token create --role admin" in result.stderr
    assert (home / "server.db").exists()
    CliRunner().invoke(cli, ["server", "token", "create", "--role", "admin"])
    result = CliRunner().invoke(cli, ["server", "start", "--port", "0", "--host", "0.0.0.0"])
    assert result.exit_code == 0 and "tokens required" in result.stderr and "without TLS" in result.stderr
    result = CliRunner().invoke(cli, ["server", "start", "--port", "0", "--no-auth"])
    assert result.exit_code == 0 and "no authentication (--no-auth)" in result.stderr


@pytest.mark.slow
def test_oversized_and_raw_headers_over_a_socket_are_refused_not_500(app):
    import socket

    with serve_in_thread(app) as url:
        host, port = url.rsplit("/", 1)[1].split(":")
        for value in (b"Bearer " + b"A" * 200_000, b"Bearer oaml_\x01\x02", "Bearer \u00e9t\u00e9".encode("latin-1")):
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(b"GET /openaml/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: " + value + b"\r\n\r\n")
                status_line = sock.recv(200).split(b"\r\n", 1)[0]
            status = int(status_line.split()[1])
            assert 400 <= status < 500, status_line
