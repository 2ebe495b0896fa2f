"""Upload progress bars, downloads over earlier downloads, uploads named to a datastore, and a
workspace whose metadata lives in PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from openaml import MLClient
from openaml.client import progress as progress_module
from openaml.entities import Data, Model, Workspace
from openaml.errors import AlreadyExistsError, NotFoundError

from .conftest import write


def test_large_upload_draws_a_progress_bar(ml_client, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "MIN_BYTES_FOR_BAR", 1024)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x01" * (3 * 1024 * 1024))
    ml_client.models.create_or_update(Model(name="big", path=str(big)))
    err = capsys.readouterr().err
    assert "Uploading big" in err and "3.1" in err  # rich prints the size done, e.g. 3.1/3.1 MB


def test_small_upload_draws_nothing(ml_client, tmp_path: Path, capsys):
    ml_client.models.create_or_update(Model(name="small", path=str(write(tmp_path / "s.txt", "x"))))
    assert "Uploading" not in capsys.readouterr().err


def test_download_twice_replaces_the_first_only_when_asked(ml_client, tmp_path: Path):
    f = write(tmp_path / "w" / "a.txt", "one")
    ml_client.models.create_or_update(Model(name="m", path=str(f.parent)))
    ml_client.models.download("m", "1", download_path=tmp_path / "out")
    (tmp_path / "out" / "m" / "w" / "a.txt").write_text("edited locally")
    with pytest.raises(AlreadyExistsError, match="already exists"):
        ml_client.models.download("m", "1", download_path=tmp_path / "out")
    assert (tmp_path / "out" / "m" / "w" / "a.txt").read_text() == "edited locally"
    ml_client.models.download("m", "1", download_path=tmp_path / "out", overwrite=True)
    assert (tmp_path / "out" / "m" / "w" / "a.txt").read_text() == "one"


def test_upload_names_the_datastore_asked_for(ml_client, tmp_path: Path):
    f = write(tmp_path / "d.csv", "a\n1\n")
    d = ml_client.data.create_or_update(Data(name="d", type="uri_file", path=str(f), datastore="workspacefilestore"))
    assert d.path.startswith("azureml://datastores/workspacefilestore/paths/LocalUpload/")
    with pytest.raises(NotFoundError) as err:
        ml_client.data.create_or_update(Data(name="d2", type="uri_file", path=str(f), datastore="nope"))
    assert "nope" in str(err.value)


@pytest.mark.postgres
def test_workspace_with_metadata_in_postgres(pg_url: str, tmp_path: Path, monkeypatch, workspace_name: str):
    monkeypatch.setenv("OPENAML_HOME", str(tmp_path / "home"))
    name = workspace_name[:30]
    client = MLClient(workspace_name=name)
    client.workspaces.begin_create(Workspace(name=name), database_url=pg_url).result()
    assert not (tmp_path / "home" / "workspaces" / name / "metadata.db").exists()
    f = write(tmp_path / "m.txt", "weights")
    assert client.models.create_or_update(Model(name="pgm", path=str(f))).version == "1"
    assert client.models.create_or_update(Model(name="pgm", path=str(tmp_path))).version == "2"
    other = MLClient(workspace_name=name)  # a second client sees the same rows
    assert [m.version for m in other.models.list("pgm")] == ["2", "1"]
    assert sorted(d.name for d in other.datastores.list())[0] == "workspaceartifactstore"
    client.workspaces.begin_delete(name).result()
    other.close()
    client.close()
