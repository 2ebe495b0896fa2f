"""One secret key from the configuration for every workspace of a catalog: a wrong or missing key is
one clear error naming the setting to fix (never the key), and ``rotate-key`` reseals everything,
safely run again after a crash."""

from __future__ import annotations

import dataclasses
import json
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from openaml.cli.main import cli
from openaml.entities import Workspace
from openaml.entities.secrets import split_secrets
from openaml.errors import SecretKeyError
from openaml.services.datastores import DatastoreService
from openaml.services.key_rotation import rotate_key
from openaml.services.settings import Settings
from openaml.services.workspaces import WorkspaceService
from openaml.store.catalog import WorkspaceRecord
from openaml.store.secrets import KeySource, SecretBox, new_key, write_key_file

from tests.catalog.conftest import Home
from tests.catalog.test_shared_database import ACCOUNT_KEY, _blob, _rows


def _key_file(path: Path) -> tuple[Path, bytes]:
    key = new_key()
    write_key_file(path, [key], replace=False)
    return path, key


def _with_blob(settings: Settings, name: str = "team") -> None:
    service = WorkspaceService(settings)
    try:
        service.create(Workspace(name=name))
        DatastoreService(service.open(name)).create_or_update(_blob())
    finally:
        service.close()


def _secret(settings: Settings, name: str = "team") -> str:
    service = WorkspaceService(settings)
    try:
        return DatastoreService(service.open(name)).get("blob", include_secrets=True).credentials.account_key
    finally:
        service.close()


def test_a_wrong_key_is_one_error_naming_the_setting(db_url: str, home_a: Home, tmp_path: Path):
    _with_blob(home_a.settings(db_url))
    wrong_file, wrong = _key_file(tmp_path / "wrong.key")
    b = Home(tmp_path / "home-b", wrong_file)
    before = _rows(db_url, "team")
    service = WorkspaceService(b.settings(db_url))
    try:
        ctx = service.open("team")  # opening needs no key: the workspace keeps no secret of its own
        with pytest.raises(SecretKeyError) as err:
            DatastoreService(ctx).get("blob", include_secrets=True)
        with pytest.raises(SecretKeyError):  # nothing is sealed with the wrong key either
            DatastoreService(ctx).create_or_update(_blob("other"))
    finally:
        service.close()
    message = err.value.message
    assert str(wrong_file) in message and "OPENAML_SECRET_KEY_FILE" in message and "OPENAML_SECRET_KEY" in message
    for key in (wrong, home_a.key_file.read_bytes().strip()):
        assert key.decode() not in message and key.decode() not in repr(err.value)
    assert _rows(db_url, "team") == before


def test_the_cli_says_it_in_one_line(db_url: str, home_a: Home, tmp_path: Path):
    _with_blob(home_a.settings(db_url))
    wrong_file, wrong = _key_file(tmp_path / "wrong.key")
    env = Home(tmp_path / "home-b", wrong_file).env(db_url)
    result = CliRunner().invoke(cli, ["datastore", "update", "-n", "blob", "--set", "description=x", "-w", "team"],
                                env=env)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("Error: ")
    assert "Traceback" not in result.output and wrong.decode() not in result.output
    assert str(wrong_file) in result.output


def test_a_server_with_the_wrong_key_does_not_start(db_url: str, home_a: Home, tmp_path: Path):
    _with_blob(home_a.settings(db_url))
    wrong_file, wrong = _key_file(tmp_path / "wrong.key")
    result = CliRunner().invoke(cli, ["server", "start", "--port", "0", "--database-url", db_url,
                                      "--secret-key-file", str(wrong_file)], env={"OPENAML_SECRET_KEY_FILE": ""})
    assert result.exit_code == 1, result.output
    assert "--secret-key-file" in result.output and str(wrong_file) in result.output
    assert wrong.decode() not in result.output and "Traceback" not in result.output


def test_a_home_without_a_key_never_makes_one_for_a_database_that_has_one(db_url: str, home_a: Home,
                                                                          tmp_path: Path):
    _with_blob(home_a.settings(db_url))
    missing = tmp_path / "home-b" / "secret.key"
    with pytest.raises(SecretKeyError) as err:
        _secret(Home(tmp_path / "home-b", missing).settings(db_url))
    assert "does not exist" in err.value.message and str(missing) in err.value.message
    assert not missing.exists()


def test_the_key_file_is_made_on_first_use_0600_under_the_home(db_url: str, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("OPENAML_SECRET_KEY_FILE")
    settings = dataclasses.replace(Settings.from_env(home=tmp_path / "home"), database_url=db_url)
    assert settings.key_source.file == tmp_path / "home" / "secret.key"
    _with_blob(settings)
    key_file = tmp_path / "home" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert _secret(settings) == ACCOUNT_KEY


def test_the_key_from_the_environment(db_url: str, home_a: Home, monkeypatch):
    _with_blob(home_a.settings(db_url))
    key = home_a.key_file.read_text().strip()
    from_env = dataclasses.replace(home_a.settings(db_url), secret_key_file=home_a.root / "none.key",
                                   secret_key=new_key().decode())
    with pytest.raises(SecretKeyError):
        _secret(from_env)
    # Several keys: the first seals, every one opens (a retired key after the current one).
    assert _secret(dataclasses.replace(from_env, secret_key=f"{key}, {new_key().decode()}")) == ACCOUNT_KEY
    assert not (home_a.root / "none.key").exists()
    monkeypatch.setenv("OPENAML_SECRET_KEY", "not-a-key-but-nearly-secret")
    with pytest.raises(SecretKeyError) as err:
        _secret(dataclasses.replace(Settings.from_env(home=home_a.root), database_url=db_url))
    assert "OPENAML_SECRET_KEY" in err.value.message and "nearly-secret" not in err.value.message
    assert "nearly-secret" not in repr(Settings.from_env(home=home_a.root))


def test_settings_carry_the_catalog_and_key_to_agents_without_showing_them(tmp_path: Path):
    env = {"OPENAML_DATABASE_URL": "postgresql+psycopg://u:pw-secret@h/db", "OPENAML_SECRET_KEY": "k-secret",
           "OPENAML_SECRET_KEY_FILE": str(tmp_path / "k")}
    settings = Settings.from_env(env, home=tmp_path)
    assert "pw-secret" not in repr(settings) and "k-secret" not in repr(settings)
    assert Settings.from_env(settings.agent_env(), home=tmp_path) == settings
    assert settings.key_source.setting == "OPENAML_SECRET_KEY"


# -- rotate-key --------------------------------------------------------------------------------------
def _storage_workspace(settings: Settings, name: str) -> None:
    """A workspace whose record holds sealed storage credentials (put in the catalog directly: no
    object storage is reached)."""
    service = WorkspaceService(settings)
    try:
        record = WorkspaceRecord(name=name, spec={}, default_datastore="workspaceblobstore",
                                 created_at=datetime.now(timezone.utc), folder=str(settings.workspace_dir(name)),
                                 storage={"uri": "azure://acct/c"}, catalog_url=settings.database_url)
        sealed = service.catalog.secrets(record).encrypt({"credentials": {"account_key": ACCOUNT_KEY}})
        service.catalog.create(record.changed(storage_secret=sealed), [], [])
    finally:
        service.close()


def _sealed_values(settings: Settings) -> list[bytes]:
    """Every sealed value the catalog holds."""
    service = WorkspaceService(settings)
    try:
        values = [r.storage_secret for r in service.catalog.list() if r.storage_secret]
        for ws in service.list():
            values += [s for _, s in _rows_of(service, ws.name) if s]
        return values
    finally:
        service.close()


def _rows_of(service: WorkspaceService, name: str) -> list[tuple[str, bytes | None]]:
    store = service.catalog.metadata(service.catalog.get(name))
    return [(r.name, r.secret) for kind in ("datastores", "computes") for r in store.list_resources(name, kind)]


@pytest.fixture
def two_workspaces(db_url: str, home_a: Home) -> Settings:
    settings = home_a.settings(db_url)
    _with_blob(settings, "one")
    _with_blob(settings, "two")
    _storage_workspace(settings, "three")
    return settings


def test_rotate_key_reseals_everything_and_keeps_the_old_key_second(two_workspaces: Settings, tmp_path: Path):
    old = two_workspaces.key_source.load()
    new_file, new = _key_file(tmp_path / "new.key")
    done = rotate_key(two_workspaces, [new])
    assert done.resealed == 3 and done.key_file == two_workspaces.key_source.file
    assert two_workspaces.key_source.load() == [new, *old]
    values = _sealed_values(two_workspaces)
    assert len(values) == 3
    assert all(SecretBox(new).opens(v) and not SecretBox(old[0]).opens(v) for v in values)
    only_new = dataclasses.replace(two_workspaces, secret_key=new.decode())
    assert _secret(only_new, "one") == _secret(only_new, "two") == ACCOUNT_KEY
    with pytest.raises(SecretKeyError):  # the old key alone is no longer the database's
        _secret(dataclasses.replace(two_workspaces, secret_key=old[0].decode()), "one")
    rotate_key(two_workspaces, [new_key()])
    assert len(two_workspaces.key_source.load()) == 2  # the next rotation drops the oldest


def test_a_rotation_that_crashes_half_way_changes_nothing_and_runs_again(two_workspaces: Settings, monkeypatch):
    old = two_workspaces.key_source.load()
    new = new_key()
    real, calls = SecretBox.rotate, []

    def failing(self: SecretBox, token: bytes) -> bytes:
        calls.append(token)
        if len(calls) == 2:
            raise RuntimeError("crash")
        return real(self, token)

    monkeypatch.setattr(SecretBox, "rotate", failing)
    with pytest.raises(RuntimeError):
        rotate_key(two_workspaces, [new])
    monkeypatch.setattr(SecretBox, "rotate", real)
    assert two_workspaces.key_source.load() == [*old, new]  # the old key seals still, both open
    assert all(SecretBox(old[0]).opens(v) for v in _sealed_values(two_workspaces))  # one transaction
    assert _secret(two_workspaces, "one") == ACCOUNT_KEY
    assert rotate_key(two_workspaces, [new]).resealed == 3
    assert all(SecretBox(new).opens(v) for v in _sealed_values(two_workspaces))


def test_a_rotation_stopped_before_the_key_file_is_finished_by_running_it_again(two_workspaces: Settings,
                                                                                monkeypatch):
    old = two_workspaces.key_source.load()
    new = new_key()
    real, stores = KeySource.store, []

    def store_once(self: KeySource, keys: list[bytes]) -> None:
        stores.append(keys)
        if len(stores) == 2:  # the last step: after the database committed the new key
            raise OSError("disk full")
        real(self, keys)

    monkeypatch.setattr(KeySource, "store", store_once)
    with pytest.raises(OSError):
        rotate_key(two_workspaces, [new])
    monkeypatch.setattr(KeySource, "store", real)
    assert two_workspaces.key_source.load() == [*old, new]  # the old key seals still, both open
    assert all(SecretBox(new).opens(v) for v in _sealed_values(two_workspaces))
    assert _secret(two_workspaces, "one") == ACCOUNT_KEY
    with pytest.raises(SecretKeyError) as err:  # the old key alone is not the database's now
        _secret(dataclasses.replace(two_workspaces, secret_key=old[0].decode()), "one")
    assert "rotate-key" in err.value.message
    rotate_key(two_workspaces, [new])
    assert two_workspaces.key_source.load() == [new, *old]
    assert _secret(two_workspaces, "one") == ACCOUNT_KEY


def test_a_running_reader_follows_a_rotation(two_workspaces: Settings):
    reader = WorkspaceService(two_workspaces)
    try:
        datastores = DatastoreService(reader.open("one"))
        assert datastores.get("blob", include_secrets=True).credentials.account_key == ACCOUNT_KEY
        rotate_key(two_workspaces, [new_key()])  # from another process, say
        assert datastores.get("blob", include_secrets=True).credentials.account_key == ACCOUNT_KEY
    finally:
        reader.close()


def test_rotate_key_from_the_cli(two_workspaces: Settings, tmp_path: Path):
    new_file, new = _key_file(tmp_path / "new.key")
    env = {"OPENAML_HOME": str(two_workspaces.home), "OPENAML_DATABASE_URL": two_workspaces.database_url,
           "OPENAML_SECRET_KEY_FILE": str(two_workspaces.key_source.file)}
    result = CliRunner().invoke(cli, ["server", "rotate-key", "--new-key-file", str(new_file)], env=env)
    assert result.exit_code == 0, result.output
    assert "3 secret(s)" in result.output and new.decode() not in result.output
    assert two_workspaces.key_source.load()[0] == new
    from_env = CliRunner().invoke(cli, ["server", "rotate-key"], env={**env, "OPENAML_SECRET_KEY": new.decode()})
    assert from_env.exit_code == 2 and "OPENAML_NEW_SECRET_KEY" in from_env.output  # a random key would be lost
    by_env = CliRunner().invoke(cli, ["server", "rotate-key"],
                                env={**env, "OPENAML_SECRET_KEY": new.decode(),
                                     "OPENAML_NEW_SECRET_KEY": new_key().decode()})
    assert by_env.exit_code == 0 and "set it to the new key" in by_env.output


# -- a home of folders, and its workspaces from before keys were per home -------------------------
def _legacy_workspace(home: Path, name: str) -> bytes:
    """A workspace as openaml made them before: its own secret.key, a datastore sealed with it."""
    service = WorkspaceService(Settings.from_env(home=home))
    try:
        service.create(Workspace(name=name))
    finally:
        service.close()
    folder = home / "workspaces" / name
    legacy = SecretBox.create(folder / "secret.key")
    public, secrets = split_secrets(_blob("workspaceblobstore"))
    engine = sa.create_engine(f"sqlite:///{folder / 'metadata.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE resources SET secret = :s, spec = :p WHERE name = 'workspaceblobstore'"),
                     {"s": legacy.encrypt(secrets),
                      "p": json.dumps(public.model_dump(mode="json", exclude_none=True, exclude={"id"}))})
    engine.dispose()
    return legacy.keys[0]


def _legacy_secret(home: Path, name: str) -> str:
    service = WorkspaceService(Settings.from_env(home=home))
    try:
        found = DatastoreService(service.open(name)).get("workspaceblobstore", include_secrets=True)
        return found.credentials.account_key
    finally:
        service.close()


def test_old_per_workspace_keys_stay_readable_and_a_rotation_retires_them(tmp_path: Path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("OPENAML_HOME", str(home))
    monkeypatch.setenv("OPENAML_SECRET_KEY_FILE", str(home / "secret.key"))  # rotated: not the session's
    legacy = [_legacy_workspace(home, n) for n in ("old-one", "old-two")]
    assert _legacy_secret(home, "old-one") == _legacy_secret(home, "old-two") == ACCOUNT_KEY
    settings = Settings.from_env(home=home)
    real, calls = SecretBox.rotate, []

    def failing(self: SecretBox, token: bytes) -> bytes:
        calls.append(token)
        if len(calls) == 2:  # the second workspace: the first is already resealed
            raise RuntimeError("crash")
        return real(self, token)

    new = new_key()
    monkeypatch.setattr(SecretBox, "rotate", failing)
    with pytest.raises(RuntimeError):
        rotate_key(settings, [new])
    monkeypatch.setattr(SecretBox, "rotate", real)
    assert _legacy_secret(home, "old-one") == _legacy_secret(home, "old-two") == ACCOUNT_KEY  # mixed: both read
    rotate_key(settings, [new])
    for name in ("old-one", "old-two"):
        (home / "workspaces" / name / "secret.key").unlink()  # no longer needed
    monkeypatch.setenv("OPENAML_SECRET_KEY", new.decode())
    assert _legacy_secret(home, "old-one") == _legacy_secret(home, "old-two") == ACCOUNT_KEY
    assert all(not SecretBox(k).opens(v) for k in legacy for v in _sealed_values(Settings.from_env(home=home)))


@pytest.mark.slow
def test_a_job_never_sees_the_secret_key(tmp_path: Path, monkeypatch):
    from openaml import MLClient, command

    from tests.helpers import use_home, wait
    from tests.jobs.conftest import HOST_ENV, std_log

    home = use_home(tmp_path, monkeypatch, host_python=True)
    key = new_key().decode()
    monkeypatch.setenv("OPENAML_SECRET_KEY", key)
    client = MLClient(workspace_name="jobs")
    try:
        client.workspaces.begin_create(Workspace(name="jobs")).result()
        job = client.jobs.create_or_update(command(command="env", environment=HOST_ENV))
        assert wait(client, job.name).status == "Completed"
    finally:
        client.close()
    log = std_log(home, job.name)
    assert "AZUREML_RUN_ID" in log and "OPENAML_SECRET_KEY_FILE" in log
    assert key not in log and "OPENAML_SECRET_KEY=" not in log
