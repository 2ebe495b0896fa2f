"""Workspaces through the SDK: create, find, list, delete, default datastores, config.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openaml import MLClient
from openaml.constants import DEFAULT_DATASTORES
from openaml.entities import Workspace
from openaml.errors import AlreadyExistsError, NotFoundError, ValidationError, WorkspaceNotFoundError


def test_create_makes_folder_with_sqlite_wal_and_default_datastores(home: Path):
    client = MLClient(workspace_name="team-a")
    ws = client.workspaces.begin_create(Workspace(name="team-a", description="first")).result()
    assert ws.name == "team-a" and ws.description == "first"
    folder = home / "workspaces" / "team-a"
    assert (folder / "metadata.db").is_file()
    import sqlite3
    mode = sqlite3.connect(folder / "metadata.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    names = sorted(d.name for d in client.datastores.list())
    assert names == sorted(DEFAULT_DATASTORES)
    assert client.datastores.get_default().name == "workspaceblobstore"
    assert Path(client.datastores.get("workspaceblobstore").path).is_dir()


def test_create_twice_is_an_error_and_bad_name_is_rejected(home: Path):
    client = MLClient(workspace_name="w1")
    client.workspaces.begin_create(Workspace(name="w1")).result()
    with pytest.raises(AlreadyExistsError):
        client.workspaces.begin_create(Workspace(name="w1")).result()
    with pytest.raises(ValidationError) as err:
        client.workspaces.begin_create(Workspace(name="bad name!")).result()
    assert "name" in str(err.value)


def test_get_list_delete(home: Path):
    client = MLClient(workspace_name="a1")
    for n in ("a1", "b2"):
        client.workspaces.begin_create(Workspace(name=n)).result()
    assert [w.name for w in client.workspaces.list()] == ["a1", "b2"]
    assert client.workspaces.get().name == "a1"
    assert "workspaces/b2" in client.workspaces.get("b2").id
    client.workspaces.begin_delete("b2").result()
    assert [w.name for w in client.workspaces.list()] == ["a1"]
    assert not (home / "workspaces" / "b2").exists()
    with pytest.raises(WorkspaceNotFoundError):
        client.workspaces.get("b2")


def test_unknown_workspace_fails_on_first_use_with_a_hint(home: Path):
    client = MLClient(workspace_name="nope")
    with pytest.raises(WorkspaceNotFoundError) as err:
        list(client.models.list())
    assert "openaml workspace create -n nope" in str(err.value)


def test_default_workspace_is_created_on_first_use(home: Path):
    client = MLClient()
    assert client.workspace_name == "default"
    assert list(client.models.list()) == []
    assert (home / "workspaces" / "default" / "workspace.json").is_file()


def test_from_config_walks_up_from_the_current_folder(home: Path, tmp_path: Path, monkeypatch):
    MLClient(workspace_name="proj").workspaces.begin_create(Workspace(name="proj")).result()
    project = tmp_path / "project"
    (project / ".azureml").mkdir(parents=True)
    (project / ".azureml" / "config.json").write_text(json.dumps(
        {"subscription_id": "sub", "resource_group": "rg", "workspace_name": "proj"}))
    deep = project / "src" / "pkg"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    client = MLClient.from_config(credential=_Credential())
    assert client.workspace_name == "proj" and client.subscription_id == "sub"
    assert MLClient().workspace_name == "proj"  # no name given: config.json wins over default


def test_from_config_without_a_file_says_what_to_do(home: Path, tmp_path: Path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NotFoundError) as err:
        MLClient.from_config(path=empty)
    assert "config.json" in str(err.value)


def test_config_without_workspace_name_names_the_file(home: Path, tmp_path: Path):
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"subscription_id": "s"}))
    with pytest.raises(ValidationError) as err:
        MLClient.from_config(path=folder)
    assert "config.json" in str(err.value) and "workspace_name" in str(err.value)


def test_openaml_home_moves_with_the_variable(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("OPENAML_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.chdir(tmp_path)
    MLClient(workspace_name="x1").workspaces.begin_create(Workspace(name="x1")).result()
    assert (tmp_path / "elsewhere" / "workspaces" / "x1" / "workspace.json").is_file()


class _Credential:
    """Stands for an azure-identity credential: anything with get_token is one."""

    def get_token(self, *scopes: str, **kwargs: object) -> None:
        return None
