"""The catalog interface, one contract for both implementations (a home's folders, a database's
table), and hostile names and rows."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from openaml.entities import Workspace
from openaml.errors import AlreadyExistsError, StoreUnavailableError, ValidationError, WorkspaceNotFoundError
from openaml.names import WORKSPACE
from openaml.services.workspaces import WorkspaceService
from openaml.store.catalog import DatabaseCatalog, NewResource, WorkspaceCatalog, WorkspaceRecord
from openaml.store.folder_catalog import FolderCatalog
from openaml.store.secrets import KeySource

from tests.catalog.conftest import Home, fresh_database


@pytest.fixture(params=["folder", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog(request: pytest.FixtureRequest, tmp_path: Path, shared_key: Path):
    source = KeySource(file=shared_key)
    if request.param == "folder":
        made: WorkspaceCatalog = FolderCatalog(tmp_path / "workspaces", source)
        yield made
        made.close()
        return
    with fresh_database(request.param, tmp_path, request) as url:
        made = DatabaseCatalog(url, source)
        yield made
        made.close()


def _record(catalog: WorkspaceCatalog, root: Path, name: str, **spec: object) -> WorkspaceRecord:
    return WorkspaceRecord(name=name, spec=dict(spec), default_datastore="workspaceblobstore",
                           created_at=datetime.now(timezone.utc), folder=str(root / "workspaces" / name),
                           catalog_url=getattr(catalog, "url", None))


def test_create_get_list_update_delete(catalog: WorkspaceCatalog, tmp_path: Path):
    first = _record(catalog, tmp_path, "alpha", description="a")
    catalog.create(first, [NewResource("datastores", "ds", {"type": "local", "path": "/x"})], ["artifacts"])
    catalog.create(_record(catalog, tmp_path, "beta"), [], [])
    assert (tmp_path / "workspaces" / "alpha" / "artifacts").is_dir()
    got = catalog.get("alpha")
    assert got is not None and got.spec == {"description": "a"} and got.default_datastore == "workspaceblobstore"
    assert abs((got.created_at - first.created_at).total_seconds()) < 1
    assert [r.name for r in catalog.list()] == ["alpha", "beta"]
    assert [r.name for r in catalog.metadata(got).list_resources("alpha", "datastores")] == ["ds"]
    catalog.update(got.changed(spec={"description": "b"}))
    assert catalog.get("alpha").spec == {"description": "b"}
    catalog.delete(got)
    assert catalog.get("alpha") is None and [r.name for r in catalog.list()] == ["beta"]
    with pytest.raises(WorkspaceNotFoundError):
        catalog.update(got)


def test_the_loser_of_a_create_writes_nothing(catalog: WorkspaceCatalog, tmp_path: Path):
    catalog.create(_record(catalog, tmp_path, "taken", description="first"),
                   [NewResource("datastores", "ds", {"path": "first"}, b"sealed-first")], [])
    with pytest.raises(AlreadyExistsError):
        catalog.create(_record(catalog, tmp_path, "taken", description="second"),
                       [NewResource("datastores", "ds", {"path": "second"}, b"sealed-second")], [])
    record = catalog.get("taken")
    assert record.spec == {"description": "first"}
    (row,) = catalog.metadata(record).list_resources("taken", "datastores")
    assert row.spec == {"path": "first"} and row.secret == b"sealed-first"


def test_the_key_check_is_claimed_once(catalog: WorkspaceCatalog):
    assert catalog.key_check() is None  # type: ignore[attr-defined]
    assert catalog.claim_key_check(b"one") == b"one"  # type: ignore[attr-defined]
    assert catalog.claim_key_check(b"two") == b"one"  # type: ignore[attr-defined]


# -- hostile names -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["..", ".", "a/b", "a\\b", "/etc", "x\x00y", "x\ny", "x" * 300, " lead", "-lead"])
def test_hostile_workspace_names_are_refused_and_write_nothing(db_url: str, home_a: Home, name: str):
    service = WorkspaceService(home_a.settings(db_url))
    try:
        with pytest.raises(ValidationError) as err:
            service.create(Workspace(name=name))
        assert err.value.details.get("field") == "name"
        assert service.list() == []
    finally:
        service.close()
    assert not (home_a.root / "workspaces").exists() or not any((home_a.root / "workspaces").iterdir())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=1, max_size=300))
def test_any_name_the_rule_refuses_never_reaches_the_catalog(tmp_path: Path, shared_key: Path, name: str):
    assume(not WORKSPACE.accepts(name))
    service = WorkspaceService(Home(tmp_path / "h", shared_key).settings(None))
    try:
        with pytest.raises(ValidationError):
            service.create(Workspace(name=name))
        assert service.list() == []
    finally:
        service.close()


def _insert_row(url: str, name: str, folder: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO workspace_catalog (name, spec, default_datastore, folder, created_at, "
                                 "updated_at) VALUES (:n, '{}', 'workspaceblobstore', :f, :t, :t)"),
                         {"n": name, "f": folder, "t": datetime.now(timezone.utc)})
    finally:
        engine.dispose()


def test_a_hostile_row_in_the_database_is_not_followed(db_url: str, home_a: Home, tmp_path: Path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    service = WorkspaceService(home_a.settings(db_url))
    try:
        service.catalog.close()  # the tables exist
        _insert_row(db_url, "../escape", str(victim))
        _insert_row(db_url, "elsewhere", str(victim))
        assert {w.name for w in service.list()} == {"../escape", "elsewhere"}  # listed, as stored
        with pytest.raises(ValidationError):
            service.open("../escape")  # never a folder outside the home
        service.delete("../escape")  # the row goes; nothing on disk is touched
        service.delete("elsewhere")  # its row goes; a folder that is not a workspace's stays
        assert service.list() == []
        assert (victim / "keep.txt").read_text() == "mine"
        assert not (tmp_path / "escape").exists() and not (home_a.root / "escape").exists()
    finally:
        service.close()


def test_a_workspace_whose_files_are_on_another_machine_says_so(db_url: str, home_a: Home, tmp_path: Path):
    service = WorkspaceService(home_a.settings(db_url))
    try:
        service.catalog.close()
        _insert_row(db_url, "far", "/nonexistent/other-machine/workspaces/far")
        with pytest.raises(StoreUnavailableError) as err:
            service.open("far")
        assert "--storage" in str(err.value) and "/nonexistent/other-machine" in str(err.value)
    finally:
        service.close()
