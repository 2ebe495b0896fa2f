"""Registry semantics through the SDK, as Azure's: versions, latest, references, archive,
identical re-registration, conflicts, updates, downloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from openaml.constants import ListViewType
from openaml.entities import CommandComponent, Data, Environment, Input, Model, Output
from openaml.errors import (ArchivedError, BadReferenceError, ImmutableFieldError, MissingFileError,
                            NotFoundError, ValidationError, VersionConflictError)
from openaml.services.references import parse_asset_reference

from tests.helpers import TRANSPORTS, on_every_storage

from .conftest import write

# The same suite in this process, against the server app in memory, and over a loopback socket
# (with an Owner's token), and against the app in memory without authentication (--no-auth).
pytestmark = pytest.mark.parametrize("transport", [*TRANSPORTS, "in-memory-no-auth"], indirect=True)


def _local_context(ml_client):
    """The client's workspace opened in this process, whatever transport the client uses."""
    from openaml import MLClient
    return MLClient(workspace_name=ml_client.workspace_name)._context()


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    write(tmp_path / "m" / "weights.json", '{"w": [1, 2, 3]}')
    write(tmp_path / "m" / "sub" / "vocab.txt", "a\nb\n")
    return tmp_path / "m"


@on_every_storage
def test_versions_auto_increment_and_latest_is_most_recent(ml_client, model_dir: Path, tmp_path: Path):
    first = ml_client.models.create_or_update(Model(name="clf", path=str(model_dir)))
    assert first.version == "1"
    write(model_dir / "weights.json", '{"w": [9]}')
    second = ml_client.models.create_or_update(Model(name="clf", path=str(model_dir)))
    assert second.version == "2"
    explicit = ml_client.models.create_or_update(Model(name="clf", version="10", path=str(model_dir / "sub")))
    assert explicit.version == "10"
    older = ml_client.models.create_or_update(Model(name="clf", version="5", path=str(model_dir / "sub" / "vocab.txt")))
    # latest is the most recently created version, not the highest number
    assert ml_client.models.get("clf", label="latest").version == "5"
    other = write(tmp_path / "other" / "weights.json", '{"w": [11]}').parent
    assert ml_client.models.create_or_update(Model(name="clf", path=str(other))).version == "11"
    assert [m.version for m in ml_client.models.list("clf")] == ["11", "5", "10", "2", "1"]
    assert older.path.startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    assert older.path.endswith("/vocab.txt")
    assert first.id.endswith("/models/clf/versions/1")


@on_every_storage
def test_identical_content_is_a_noop_and_stores_no_new_bytes(ml_client, model_dir: Path, home: Path,
                                                            workspace_storage):
    a = ml_client.models.create_or_update(Model(name="dup", version="1", path=str(model_dir)))
    blobs = workspace_storage.blobs(home, "ws")  # blob -> a stamp that changes when it is written
    assert len(blobs) == 3  # two files and the manifest
    b = ml_client.models.create_or_update(Model(name="dup", version="1", path=str(model_dir)))
    assert (a.version, a.path) == (b.version, b.path)
    assert workspace_storage.blobs(home, "ws") == blobs
    # the same bytes under another name reuse the same blobs as well
    ml_client.models.create_or_update(Model(name="dup2", path=str(model_dir)))
    assert workspace_storage.blobs(home, "ws") == blobs


def test_different_content_under_existing_version_conflicts(ml_client, model_dir: Path):
    ml_client.models.create_or_update(Model(name="c", version="1", path=str(model_dir)))
    write(model_dir / "weights.json", "changed")
    with pytest.raises(VersionConflictError) as err:
        ml_client.models.create_or_update(Model(name="c", version="1", path=str(model_dir)))
    assert "version" in str(err.value).lower()
    assert ml_client.models.get("c", "1").version == "1"


def test_reput_updates_description_and_tags_only(ml_client, model_dir: Path):
    m = ml_client.models.create_or_update(Model(name="u", path=str(model_dir), description="old"))
    m.description, m.tags, m.stage = "new", {"team": "ml"}, "Production"
    again = ml_client.models.create_or_update(m)
    assert (again.version, again.description, again.tags, again.stage) == ("1", "new", {"team": "ml"}, "Production")
    assert [x.name for x in ml_client.models.list(stage="Production")] == ["u"]
    assert list(ml_client.models.list(stage="Archive")) == []


def test_update_refuses_immutable_fields(ml_client, model_dir: Path):
    from openaml.services.registry import RegistryService
    m = ml_client.models.create_or_update(Model(name="imm", path=str(model_dir)))
    registry = RegistryService(_local_context(ml_client))
    changed = m.model_copy(update={"type": "triton_model"})
    with pytest.raises(ImmutableFieldError) as err:
        registry.update(changed)
    assert "'type'" in str(err.value)
    ok = registry.update(m.model_copy(update={"description": "d"}))
    assert ok.description == "d"


def test_archive_and_restore(ml_client, model_dir: Path):
    for _ in range(2):
        write(model_dir / "n.txt", str(_))
        ml_client.models.create_or_update(Model(name="arc", path=str(model_dir)))
    ml_client.models.archive("arc", version="2")
    assert ml_client.models.get("arc", label="latest").version == "1"
    assert [m.version for m in ml_client.models.list("arc")] == ["1"]
    assert [m.version for m in ml_client.models.list("arc", list_view_type=ListViewType.ARCHIVED_ONLY)] == ["2"]
    assert ml_client.models.get("arc", "2").version == "2"  # archived versions stay referable
    ml_client.models.archive("arc")
    assert [m.name for m in ml_client.models.list()] == []
    with pytest.raises(ArchivedError):
        ml_client.models.get("arc", label="latest")
    with pytest.raises(ArchivedError):
        ml_client.models.restore("arc", version="2")  # container archived first
    ml_client.models.restore("arc")
    ml_client.models.restore("arc", version="2")
    assert ml_client.models.get("arc", label="latest").version == "2"
    assert [m.name for m in ml_client.models.list()] == ["arc"]


def test_not_found_and_references(ml_client, model_dir: Path):
    with pytest.raises(NotFoundError) as err:
        ml_client.models.get("ghost", "1")
    assert "openaml model list" in str(err.value)
    assert parse_asset_reference("azureml:m:3") == ("m", "3", None)
    assert parse_asset_reference("azureml:m@latest") == ("m", None, "latest")
    assert parse_asset_reference("azureml:m") == ("m", None, None)
    arm = ("azureml:/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/"
           "workspaces/w/models/m/versions/2")
    assert parse_asset_reference(arm) == ("m", "2", None)
    for bad in ("azureml:", "azureml:m:", "azureml:m@", "azureml://datastores/x/paths/y"):
        with pytest.raises(BadReferenceError):
            parse_asset_reference(bad)
    from openaml.services.registry import RegistryService
    ml_client.models.create_or_update(Model(name="ref", path=str(model_dir)))
    registry = RegistryService(_local_context(ml_client))
    assert registry.resolve("models", "azureml:ref@latest").version == "1"
    assert registry.resolve("models", "azureml:ref:1").version == "1"
    assert registry.resolve("models", "azureml:ref").version == "1"


def test_download_writes_name_then_root(ml_client, model_dir: Path, tmp_path: Path):
    ml_client.models.create_or_update(Model(name="dl", path=str(model_dir)))
    ml_client.models.download("dl", "1", download_path=tmp_path / "out")
    root = tmp_path / "out" / "dl" / "m"
    assert (root / "weights.json").read_text() == '{"w": [1, 2, 3]}'
    assert (root / "sub" / "vocab.txt").read_text() == "a\nb\n"


def test_missing_local_path(ml_client, tmp_path: Path):
    with pytest.raises(MissingFileError) as err:
        ml_client.models.create_or_update(Model(name="x", path=str(tmp_path / "nope")))
    assert "path" in str(err.value) and "nope" in str(err.value)


def test_mlflow_model_flavors_come_from_mlmodel(ml_client, tmp_path: Path):
    write(tmp_path / "mlf" / "MLmodel", """
        artifact_path: model
        flavors:
          python_function:
            loader_module: mlflow.sklearn
            python_version: 3.11.7
          sklearn:
            sklearn_version: 1.5.0
            serialization_format: cloudpickle
        """)
    write(tmp_path / "mlf" / "model.pkl", "bytes")
    m = ml_client.models.create_or_update(Model(name="mlf", type="mlflow_model", path=str(tmp_path / "mlf")))
    assert set(m.flavors) == {"python_function", "sklearn"}
    write(tmp_path / "nomlmodel" / "model.pkl", "bytes")
    with pytest.raises(ValidationError) as err:
        ml_client.models.create_or_update(Model(name="bad", type="mlflow_model", path=str(tmp_path / "nomlmodel")))
    assert "MLmodel" in str(err.value)


def test_data_types_are_checked_against_the_path(ml_client, tmp_path: Path):
    f = write(tmp_path / "d" / "x.csv", "a,b\n1,2\n")
    d = ml_client.data.create_or_update(Data(name="file", type="uri_file", path=str(f)))
    assert d.path.endswith("/x.csv") and d.version == "1"
    with pytest.raises(ValidationError) as err:
        ml_client.data.create_or_update(Data(name="f2", type="uri_file", path=str(tmp_path / "d")))
    assert "uri_folder" in str(err.value)
    with pytest.raises(ValidationError) as err:
        ml_client.data.create_or_update(Data(name="t", type="mltable", path=str(tmp_path / "d")))
    assert "MLTable" in str(err.value)
    write(tmp_path / "d" / "MLTable", "paths:\n  - file: ./x.csv\ntransformations:\n  - read_delimited:\n      delimiter: ','\n")
    t = ml_client.data.create_or_update(Data(name="t", type="mltable", path=str(tmp_path / "d")))
    assert t.type == "mltable"
    uri = ml_client.data.create_or_update(Data(name="remote", path="azureml://datastores/workspaceblobstore/paths/raw/"))
    assert uri.path == "azureml://datastores/workspaceblobstore/paths/raw/"


def test_environment_conda_file_is_read_and_identical_definitions_add_no_version(ml_client, tmp_path: Path):
    conda = write(tmp_path / "conda.yml", "name: e\ndependencies:\n  - python=3.11\n  - pip:\n    - numpy\n")
    e1 = ml_client.environments.create_or_update(Environment(name="env", image="python:3.11", conda_file=str(conda)))
    assert e1.version == "1" and e1.conda_file["dependencies"][0] == "python=3.11"
    e2 = ml_client.environments.create_or_update(Environment(name="env", image="python:3.11", conda_file=str(conda)))
    assert e2.version == "1"
    e3 = ml_client.environments.create_or_update(Environment(name="env", image="python:3.12", conda_file=str(conda)))
    assert e3.version == "2"
    with pytest.raises(ValidationError):
        ml_client.environments.create_or_update(Environment(name="noimage"))


@on_every_storage
def test_environment_build_context_is_uploaded(ml_client, tmp_path: Path):
    write(tmp_path / "ctx" / "Dockerfile", "FROM python:3.11-slim\nRUN pip install numpy\n")
    env = ml_client.environments.create_or_update(
        Environment(name="built", build={"path": str(tmp_path / "ctx")}))
    assert env.build.path.startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    write(tmp_path / "noctx" / "x.txt", "")
    with pytest.raises(MissingFileError):
        ml_client.environments.create_or_update(Environment(name="b2", build={"path": str(tmp_path / "noctx")}))


@on_every_storage
def test_component_code_snapshot_honours_amlignore_and_pins_environment(ml_client, tmp_path: Path):
    ml_client.environments.create_or_update(Environment(name="env", image="python:3.11"))
    write(tmp_path / "src" / "train.py", "print('hi')\n")
    write(tmp_path / "src" / "big.bin", "x" * 100)
    write(tmp_path / "src" / ".amlignore", "*.bin\n")
    comp = CommandComponent(
        name="train", command="python train.py --lr ${{inputs.lr}} --out ${{outputs.out}}",
        code=str(tmp_path / "src"), environment="azureml:env@latest",
        inputs={"lr": Input(type="number", default=0.1)}, outputs={"out": Output(type="uri_folder")})
    reg = ml_client.components.create_or_update(comp)
    assert reg.version == "1" and reg.environment == "azureml:env:1"
    ml_client.components.download("train", download_path=tmp_path / "dl")
    files = sorted(p.name for p in (tmp_path / "dl" / "train").rglob("*") if p.is_file())
    assert files == [".amlignore", "train.py"]
    with pytest.raises(NotFoundError):
        ml_client.components.create_or_update(comp.model_copy(update={"environment": "azureml:nope:1", "name": "t2"}))
