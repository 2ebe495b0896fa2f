"""A workspace on object storage (Azurite, moto): created only when the storage answers and
takes the credentials, shown without secrets, bytes on the storage and nothing in the folder
but the metadata; hostile storage URIs refused at the edge."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from openaml import MLClient
from openaml.cli.main import cli
from openaml.entities import (AccountKeyConfiguration, Model, NoneCredentialConfiguration, S3AccessKeyConfiguration,
                              SasTokenConfiguration, Workspace, WorkspaceStorage)
from openaml.entities.workspace_storage import parse_storage_uri
from openaml.errors import DatastoreAccessError, IntegrityError, NotFoundError, ValidationError

from tests.emulators import free_port
from tests.helpers import on_object_storage, write

pytestmark = pytest.mark.slow


def _secret(storage: WorkspaceStorage) -> str:
    creds = storage.credentials
    return creds.account_key if isinstance(creds, AccountKeyConfiguration) else creds.secret_access_key


def _cli(*args: str, ok: bool = True):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert (result.exit_code == 0) == ok, result.output + result.stderr
    return result


def _storage_flags(storage: WorkspaceStorage, creds_file: Path) -> list[str]:
    flags = ["--storage", storage.uri, "--storage-endpoint", storage.endpoint, "--storage-credentials", str(creds_file)]
    if storage.service == "azure":
        return [*flags, "--storage-protocol", "http"]
    return [*flags, "--storage-region", "us-east-1"]


def _creds_file(tmp_path: Path, storage: WorkspaceStorage) -> Path:
    data = storage.credentials.model_dump(exclude_none=True)
    return write(tmp_path / "creds.yml", "".join(f"{k}: {json.dumps(v)}\n" for k, v in data.items()))


@on_object_storage
def test_cli_create_puts_the_bytes_on_the_storage_and_shows_it_without_secrets(home: Path, tmp_path: Path,
                                                                               workspace_storage):
    storage = workspace_storage.storage
    created = _cli("workspace", "create", "-n", "remote", *_storage_flags(storage, _creds_file(tmp_path, storage)))
    shown = _cli("workspace", "show", "-n", "remote")
    for result in (created, shown):
        data = json.loads(result.stdout)
        assert data["storage"]["uri"] == storage.uri and data["storage"]["endpoint"] == storage.endpoint
        assert _secret(storage) not in result.output + result.stderr
    folder = home / "workspaces" / "remote"
    assert _secret(storage) not in (folder / "workspace.json").read_text()  # sealed with the workspace key
    blobstore = json.loads(_cli("datastore", "show", "-n", "workspaceblobstore", "-w", "remote").stdout)
    assert blobstore["type"] == ("azure_blob" if storage.service == "azure" else "s3")
    assert storage.container in (blobstore.get("container_name"), blobstore.get("bucket"))
    assert _secret(storage) not in json.dumps(blobstore)

    model = write(tmp_path / "m" / "weights.txt", "w = 1\n")
    _cli("model", "create", "-n", "clf", "-p", str(model.parent), "-w", "remote")
    # the bytes are on the storage, under its prefix; the folder holds no artifact store
    assert len(workspace_storage.blobs(home, "remote")) == 2  # the file and the manifest
    assert not (folder / "artifacts").exists() and not (folder / "datastores" / "workspaceblobstore").exists()
    _cli("model", "download", "-n", "clf", "-v", "1", "--download-path", str(tmp_path / "dl"), "-w", "remote")
    assert (tmp_path / "dl" / "clf" / "m" / "weights.txt").read_text() == "w = 1\n"
    # deleting the workspace leaves the storage's bytes (they are the user's, as Azure leaves its account)
    _cli("workspace", "delete", "-n", "remote", "--yes")
    assert not folder.exists() and len(workspace_storage.blobs(home, "remote")) == 2


@on_object_storage
def test_sdk_takes_credentials_from_the_standard_variables(home: Path, workspace_storage, monkeypatch):
    storage = workspace_storage.storage
    creds = storage.credentials
    if isinstance(creds, AccountKeyConfiguration):
        monkeypatch.setenv("AZURE_STORAGE_KEY", creds.account_key)
    else:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds.access_key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds.secret_access_key)
    bare = WorkspaceStorage(**storage.model_dump(exclude={"credentials"}))
    client = MLClient(workspace_name="env")
    ws = client.workspaces.begin_create(Workspace(name="env", storage=bare)).result()
    assert ws.storage.credentials is not None and _secret(storage) not in ws.model_dump_json()
    for name in ("AZURE_STORAGE_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)  # from now on only the sealed copy serves
    client.close()
    client = MLClient(workspace_name="env")
    model = write(home.parent / "m.txt", "x")
    assert client.models.create_or_update(Model(name="m", path=str(model))).version == "1"
    client.close()


@on_object_storage
@pytest.mark.parametrize("problem", ["wrong key", "no such container", "unreachable"])
def test_a_storage_that_cannot_hold_the_workspace_is_one_error_and_nothing_is_created(
        home: Path, workspace_storage, problem: str):
    storage = workspace_storage.storage
    update: dict = {}
    if problem == "wrong key":
        update["credentials"] = (AccountKeyConfiguration(account_key="A" * 86 + "==") if storage.service == "azure"
                                 else S3AccessKeyConfiguration(access_key_id=storage.credentials.access_key_id,
                                                               secret_access_key="not-the-secret-0123456789"))
    elif problem == "no such container":
        update["uri"] = storage.uri.replace(storage.container, "missing-container-x")
    else:
        port = free_port()
        update["endpoint"] = f"127.0.0.1:{port}" if storage.service == "azure" else f"http://127.0.0.1:{port}"
    bad = WorkspaceStorage(**{**storage.model_dump(), **update})
    started = time.monotonic()
    with pytest.raises((DatastoreAccessError, NotFoundError)) as err:
        MLClient(workspace_name="wb").workspaces.begin_create(Workspace(name="wb", storage=bad)).result()
    assert time.monotonic() - started < 15
    message = err.value.message
    assert message.startswith("workspace 'wb' storage (") and "\n" not in message
    assert {"wrong key": "refused", "no such container": "does not exist", "unreachable": "cannot reach"}[problem] \
        in message
    assert _secret(bad) not in message and _secret(storage) not in message
    assert not MLClient(workspace_name="wb")._backend.workspaces.exists("wb")
    assert not (home / "workspaces").exists() or list((home / "workspaces").iterdir()) == []
    # and no test blob is left on the storage
    assert workspace_storage.fs.find(storage.container) == []


@on_object_storage
def test_rotated_credentials_are_checked_before_they_replace_the_old_ones(home: Path, tmp_path: Path,
                                                                          workspace_storage):
    storage = workspace_storage.storage
    _cli("workspace", "create", "-n", "rot", *_storage_flags(storage, _creds_file(tmp_path, storage)))
    wrong = write(tmp_path / "wrong.yml", "account_key: " + "A" * 86 + "==\n" if storage.service == "azure" else
                  f"access_key_id: {storage.credentials.access_key_id}\nsecret_access_key: wrong-secret-0123\n")
    refused = _cli("workspace", "update", "-n", "rot", "--storage-credentials", str(wrong), ok=False)
    assert "refused" in refused.stderr and "wrong-secret" not in refused.output + refused.stderr
    # the old credentials still serve, and the right ones are taken
    _cli("model", "create", "-n", "m", "-p", str(write(tmp_path / "m.txt", "m")), "-w", "rot")
    _cli("workspace", "update", "-n", "rot", "--storage-credentials", str(_creds_file(tmp_path, storage)))
    _cli("model", "create", "-n", "m2", "-p", str(tmp_path / "m.txt"), "-w", "rot")
    mismatched = write(tmp_path / "mismatch.yml", "sas_token: sv=2020&sig=abc\n" if storage.service == "s3"
                       else "access_key_id: a\nsecret_access_key: b\n")
    result = _cli("workspace", "update", "-n", "rot", "--storage-credentials", str(mismatched), ok=False)
    assert str(mismatched) in result.stderr and "sig=abc" not in result.stderr


BAD_URIS = [
    "azure://acct/container/../escape", "azure://acct/../container", "s3://bucket/a/./b", "s3://bucket/a//b",
    "azure://acct/container?sig=secret", "s3://bucket/prefix#frag", "s3://key:secret@bucket/prefix",
    "azure://acct/container/pre%2e%2e", "s3://bucket/pre\x00fix", "s3://bucket/pre\nfix", "s3://bucket/a\\b",
    "gs://bucket/prefix", "file:///tmp/x", "/tmp/folder", "https://acct.blob.core.windows.net/container",
    "azure://acct", "azure://", "s3://", "s3://bucket/" + "a" * 1100, "azure://acct/Bad_Container",
    "s3://bucket/with space",
]


@pytest.mark.parametrize("uri", BAD_URIS)
def test_hostile_storage_uris_are_refused_naming_the_field(uri: str):
    with pytest.raises(ValidationError) as err:
        Workspace(name="w", storage=uri)
    assert err.value.details.get("field", "").startswith("storage")
    assert "secret" not in err.value.message or "credentials never go in it" in err.value.message


def test_the_cli_refuses_a_hostile_uri_with_one_line_and_creates_nothing(home: Path):
    result = _cli("workspace", "create", "-n", "wb", "--storage", "s3://bucket/../x", ok=False)
    assert result.stderr.startswith("Error:") and result.stderr.count("\n") == 1 and "storage" in result.stderr
    assert not (home / "workspaces" / "wb").exists()
    result = _cli("workspace", "create", "-n", "wb", "--storage-region", "eu-west-1", ok=False)
    assert "--storage" in result.output + result.stderr


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("azs3:/.?#@%\\ \x00\n-_Ab1")), max_size=40))
def test_an_accepted_uri_is_canonical_and_holds_nothing_that_could_carry_a_secret_or_escape(text: str):
    try:
        service, account, container, prefix = parse_storage_uri(text)
    except ValueError:
        return
    canonical = WorkspaceStorage(uri=text).uri
    assert parse_storage_uri(canonical) == (service, account, container, prefix)
    assert not any(c in canonical for c in "?#@%\\ \x00\n")
    assert ".." not in canonical.split("/") and "//" not in canonical.split("://", 1)[1]


def test_credentials_from_the_environment_follow_the_standard_variables():
    azure = WorkspaceStorage(uri="azure://acct/cont")
    assert isinstance(azure.with_environment_credentials({}).credentials, NoneCredentialConfiguration)
    keyed = azure.with_environment_credentials({"AZURE_STORAGE_ACCOUNT_KEY": "k" * 8})
    assert keyed.credentials == AccountKeyConfiguration(account_key="k" * 8)
    sas = azure.with_environment_credentials({"AZURE_STORAGE_SAS_TOKEN": "sv=1&sig=x"})
    assert isinstance(sas.credentials, SasTokenConfiguration)
    other = azure.with_environment_credentials({"AZURE_STORAGE_ACCOUNT": "other", "AZURE_STORAGE_KEY": "k" * 8})
    assert isinstance(other.credentials, NoneCredentialConfiguration)  # another account's key is not taken
    s3 = WorkspaceStorage(uri="s3://bucket/p").with_environment_credentials(
        {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "tok"})
    assert s3.credentials == S3AccessKeyConfiguration(access_key_id="id", secret_access_key="secret",
                                                      session_token="tok")
    given_ = WorkspaceStorage(uri="s3://bucket", credentials=NoneCredentialConfiguration())
    assert given_.with_environment_credentials({"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "s"}) == given_
    with pytest.raises(ValidationError):
        WorkspaceStorage(uri="s3://bucket", credentials=AccountKeyConfiguration(account_key="k"))
    with pytest.raises(ValidationError):
        WorkspaceStorage(uri="azure://acct/cont", region="eu-west-1")
    with pytest.raises(ValidationError):
        WorkspaceStorage(uri="azure://acct/cont", endpoint="evil.example/path?x=1")


@on_object_storage
def test_two_workspaces_on_one_storage_share_blobs_and_rewrite_none(home: Path, tmp_path: Path, workspace_storage):
    """The second workspace knows none of the blobs: each small one is written only if absent
    (one conditional request), so the bytes the first stored are not written again."""
    model = write(tmp_path / "m" / "weights.txt", "shared bytes\n")
    clients = []
    for name in ("first", "second"):
        client = MLClient(workspace_name=name)
        client.workspaces.begin_create(Workspace(name=name, storage=workspace_storage.storage)).result()
        clients.append(client)
    clients[0].models.create_or_update(Model(name="m", path=str(model.parent)))
    stored = workspace_storage.blobs(home, "first")
    assert len(stored) == 2
    clients[1].models.create_or_update(Model(name="m", path=str(model.parent)))
    assert workspace_storage.blobs(home, "second") == stored  # same blobs, same ETags: nothing rewritten
    clients[1].models.download("m", "1", download_path=tmp_path / "dl")
    assert (tmp_path / "dl" / "m" / "m" / "weights.txt").read_text() == "shared bytes\n"
    for client in clients:
        client.close()


@on_object_storage
def test_a_blob_changed_or_removed_on_the_storage_is_an_integrity_error(home: Path, tmp_path: Path,
                                                                       workspace_storage):
    client = MLClient(workspace_name="integrity")
    client.workspaces.begin_create(Workspace(name="integrity", storage=workspace_storage.storage)).result()
    write(tmp_path / "m" / "a.txt", "first\n")
    write(tmp_path / "m" / "b.txt", "second\n")
    client.models.create_or_update(Model(name="m", path=str(tmp_path / "m")))
    storage = workspace_storage.storage
    base = f"{storage.container}/{storage.prefix}/blobs/sha256"
    digest = hashlib.sha256(b"first\n").hexdigest()
    workspace_storage.fs.pipe_file(f"{base}/{digest[:2]}/{digest}", b"tampered\n")
    with pytest.raises(IntegrityError, match="corrupt"):
        client.models.download("m", "1", download_path=tmp_path / "dl1")
    workspace_storage.fs.rm_file(f"{base}/{digest[:2]}/{digest}")
    with pytest.raises(IntegrityError, match="missing"):
        client.models.download("m", "1", download_path=tmp_path / "dl2")
    assert not (tmp_path / "dl1" / "m" / "m").exists() and not (tmp_path / "dl2" / "m" / "m").exists()
    client.close()


@pytest.mark.parametrize("workspace_storage", ["azurite"], indirect=True)
def test_a_sas_token_serves_and_a_read_only_one_is_refused_at_create(home: Path, tmp_path: Path, workspace_storage):
    from datetime import datetime, timedelta, timezone

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    storage = workspace_storage.storage
    account = parse_storage_uri(storage.uri)[1]

    def sas(**permissions: bool) -> str:
        return generate_container_sas(account, storage.container, account_key=_secret(storage),
                                      permission=ContainerSasPermissions(**permissions),
                                      expiry=datetime.now(timezone.utc) + timedelta(hours=1))

    read_only = WorkspaceStorage(**storage.model_dump(exclude={"credentials"}),
                                 credentials=SasTokenConfiguration(sas_token=sas(read=True, list=True)))
    with pytest.raises(DatastoreAccessError) as err:
        MLClient(workspace_name="sas").workspaces.begin_create(Workspace(name="sas", storage=read_only)).result()
    assert "test blob" in err.value.message and "sig=" not in err.value.message.replace("sig=***", "")
    assert not (home / "workspaces" / "sas").exists()
    full = WorkspaceStorage(**storage.model_dump(exclude={"credentials"}), credentials=SasTokenConfiguration(
        sas_token=sas(read=True, write=True, create=True, delete=True, list=True)))
    client = MLClient(workspace_name="sas")
    client.workspaces.begin_create(Workspace(name="sas", storage=full)).result()
    model = client.models.create_or_update(Model(name="m", path=str(write(tmp_path / "m.txt", "sas\n"))))
    client.models.download("m", model.version, download_path=tmp_path / "dl")
    assert (tmp_path / "dl" / "m" / "m.txt").read_text() == "sas\n"
    client.close()


@on_object_storage
def test_a_storage_gone_after_create_fails_at_once_naming_it(home: Path, tmp_path: Path, workspace_storage):
    """The plugins retry an unreachable endpoint for a minute or more (adlfs ~80 s): the first
    request of a process is preceded by one connection with a deadline."""
    client = MLClient(workspace_name="gone")
    client.workspaces.begin_create(Workspace(name="gone", storage=workspace_storage.storage)).result()
    client.close()
    config_file = home / "workspaces" / "gone" / "workspace.json"
    config = json.loads(config_file.read_text())
    port = free_port()  # nothing listens there: the storage "went away"
    config["storage"]["endpoint"] = f"127.0.0.1:{port}" if config["storage"]["uri"].startswith("azure") \
        else f"http://127.0.0.1:{port}"
    config_file.write_text(json.dumps(config))
    model = write(tmp_path / "m" / "weights.txt", "bytes\n")
    client = MLClient(workspace_name="gone")
    started = time.monotonic()
    with pytest.raises(DatastoreAccessError) as err:
        client.models.create_or_update(Model(name="m", path=str(model.parent)))
    assert time.monotonic() - started < 10
    assert err.value.message.startswith("workspace 'gone' storage (") and "\n" not in err.value.message
    assert f"cannot reach 127.0.0.1:{port}" in err.value.message
    assert _secret(workspace_storage.storage) not in err.value.message
    client.close()
