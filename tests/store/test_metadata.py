"""Contract tests for MetadataStore, run against every backend (see conftest.db_url)."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from openaml.constants import ListViewType
from openaml.errors import ArchivedError, NotFoundError, StoreUnavailableError, VersionConflictError
from openaml.store.metadata import MetadataStore

ALL, ACTIVE, ARCHIVED = ListViewType.ALL, ListViewType.ACTIVE_ONLY, ListViewType.ARCHIVED_ONLY


def register(store, ws, name="m", version=None, identity=None, kind="models", spec=None):
    return store.create_asset_version(
        ws, kind, name, version, spec or {"path": "p"}, "d" * 64, identity=identity or f"id-{version}"
    )


def versions(records) -> list[str]:
    return [r.version for r in records]


def test_auto_increment_starts_at_1_and_counts_up(store, workspace_name):
    assert [register(store, workspace_name, identity=str(i)).version for i in range(3)] == ["1", "2", "3"]


def test_auto_increment_skips_non_integer_versions(store, workspace_name):
    register(store, workspace_name, version="9")
    register(store, workspace_name, version="v10")
    register(store, workspace_name, version="10.5")
    assert register(store, workspace_name, identity="new").version == "10"


def test_explicit_version_is_stored_with_its_spec(store, workspace_name):
    rec = store.create_asset_version(workspace_name, "data", "d", "2024.1", {"type": "uri_file"}, None,
                                     identity="x")
    assert (rec.kind, rec.name, rec.version, rec.created, rec.archived) == ("data", "d", "2024.1", True, False)
    got = store.get_asset_version(workspace_name, "data", "d", "2024.1")
    assert dataclasses.replace(got, created=True) == rec
    assert got.spec == {"type": "uri_file"} and got.content_digest is None
    assert got.created_at.tzinfo is not None


def test_identical_reregister_returns_existing_not_created(store, workspace_name):
    first = register(store, workspace_name, version="1", identity="same", spec={"a": 1})
    again = register(store, workspace_name, version="1", identity="same", spec={"a": 2})
    assert again.created is False
    assert again.spec == {"a": 1} and again.created_at == first.created_at
    assert versions(store.list_versions(workspace_name, "models", "m", ALL)) == ["1"]


def test_different_content_same_version_conflicts(store, workspace_name):
    register(store, workspace_name, version="1", identity="one")
    with pytest.raises(VersionConflictError) as info:
        register(store, workspace_name, version="1", identity="two")
    assert "omit" in info.value.message and info.value.details["version"] == "1"
    assert store.get_asset_version(workspace_name, "models", "m", "1").spec == {"path": "p"}


def test_latest_is_most_recently_created_not_highest(store, workspace_name):
    register(store, workspace_name, version="5")
    register(store, workspace_name, version="2")
    assert store.get_latest_version(workspace_name, "models", "m").version == "2"
    assert store.get_container(workspace_name, "models", "m").latest_version == "2"
    assert versions(store.list_versions(workspace_name, "models", "m", ALL)) == ["2", "5"]
    assert register(store, workspace_name, identity="n").version == "6"


def test_archive_and_restore_version(store, workspace_name):
    for v in ("1", "2"):
        register(store, workspace_name, version=v)
    store.set_archived(workspace_name, "models", "m", "2", True)
    assert versions(store.list_versions(workspace_name, "models", "m", ACTIVE)) == ["1"]
    assert versions(store.list_versions(workspace_name, "models", "m", ARCHIVED)) == ["2"]
    assert store.get_latest_version(workspace_name, "models", "m").version == "1"
    assert store.get_container(workspace_name, "models", "m").latest_version == "1"
    assert store.get_asset_version(workspace_name, "models", "m", "2").archived is True
    store.set_archived(workspace_name, "models", "m", "2", False)
    assert versions(store.list_versions(workspace_name, "models", "m", ACTIVE)) == ["2", "1"]
    assert store.get_latest_version(workspace_name, "models", "m").version == "2"


def test_latest_is_none_when_every_version_is_archived(store, workspace_name):
    register(store, workspace_name, version="1")
    store.set_archived(workspace_name, "models", "m", "1", True)
    assert store.get_latest_version(workspace_name, "models", "m") is None
    assert store.get_container(workspace_name, "models", "m").latest_version is None


def test_archive_container_hides_it_and_blocks_version_restore(store, workspace_name):
    register(store, workspace_name, name="a", version="1")
    register(store, workspace_name, name="b", version="1")
    store.set_archived(workspace_name, "models", "a", "1", True)
    store.set_archived(workspace_name, "models", "a", None, True)
    assert [c.name for c in store.list_containers(workspace_name, "models", ACTIVE)] == ["b"]
    assert [c.name for c in store.list_containers(workspace_name, "models", ARCHIVED)] == ["a"]
    assert [c.name for c in store.list_containers(workspace_name, "models", ALL)] == ["a", "b"]
    with pytest.raises(ArchivedError):
        store.set_archived(workspace_name, "models", "a", "1", False)
    store.set_archived(workspace_name, "models", "a", None, False)
    store.set_archived(workspace_name, "models", "a", "1", False)
    assert store.get_container(workspace_name, "models", "a").archived is False
    assert store.get_latest_version(workspace_name, "models", "a").version == "1"


def test_set_archived_missing_raises_not_found(store, workspace_name):
    with pytest.raises(NotFoundError):
        store.set_archived(workspace_name, "models", "nope", None, True)
    register(store, workspace_name, version="1")
    with pytest.raises(NotFoundError):
        store.set_archived(workspace_name, "models", "m", "7", True)


def test_list_views_accept_the_enum_values_as_strings(store, workspace_name):
    register(store, workspace_name, version="1")
    assert versions(store.list_versions(workspace_name, "models", "m", "ActiveOnly")) == ["1"]


def test_missing_things_are_none_or_empty(store, workspace_name):
    assert store.get_asset_version(workspace_name, "models", "m", "1") is None
    assert store.get_latest_version(workspace_name, "models", "m") is None
    assert store.get_container(workspace_name, "models", "m") is None
    assert store.list_containers(workspace_name, "models", ALL) == []
    assert store.list_versions(workspace_name, "models", "m", ALL) == []


def test_update_asset_spec_shallow_merges(store, workspace_name):
    register(store, workspace_name, version="1", spec={"description": "old", "tags": {"a": "1"}, "path": "p"})
    rec = store.update_asset_spec(workspace_name, "models", "m", "1", {"description": "new", "tags": {"b": "2"}})
    assert rec.spec == {"description": "new", "tags": {"b": "2"}, "path": "p"}
    assert rec.updated_at >= rec.created_at
    assert store.get_asset_version(workspace_name, "models", "m", "1").spec == rec.spec
    with pytest.raises(NotFoundError):
        store.update_asset_spec(workspace_name, "models", "m", "2", {"description": "x"})


def test_kinds_are_separate_namespaces(store, workspace_name):
    register(store, workspace_name, kind="models", name="x", version="1")
    assert register(store, workspace_name, kind="data", name="x", identity="other").version == "1"


def test_unknown_kind_is_rejected(store, workspace_name):
    with pytest.raises(ValueError):
        register(store, workspace_name, kind="jobs")


def test_resources_put_get_list_delete(store, workspace_name):
    first = store.put_resource(workspace_name, "datastores", "b", {"type": "azure_blob"}, b"\x00cipher")
    store.put_resource(workspace_name, "datastores", "a", {"type": "local"})
    assert first.secret == b"\x00cipher"
    replaced = store.put_resource(workspace_name, "datastores", "b", {"type": "azure_blob", "v": 2})
    assert replaced.spec == {"type": "azure_blob", "v": 2} and replaced.secret is None
    assert replaced.created_at == first.created_at and replaced.updated_at >= first.updated_at
    assert store.get_resource(workspace_name, "datastores", "b") == replaced
    assert [r.name for r in store.list_resources(workspace_name, "datastores")] == ["a", "b"]
    assert store.list_resources(workspace_name, "computes") == []
    assert store.delete_resource(workspace_name, "datastores", "b") is True
    assert store.delete_resource(workspace_name, "datastores", "b") is False
    assert store.get_resource(workspace_name, "datastores", "b") is None


def test_workspaces_are_isolated(store, workspace_name):
    other = workspace_name + "-other"
    register(store, workspace_name, version="1")
    assert register(store, other, identity="x").version == "1"
    store.put_resource(workspace_name, "computes", "c", {"size": 1})
    assert store.get_resource(other, "computes", "c") is None
    assert store.list_containers(other, "models", ALL)[0].latest_version == "1"
    store.delete_workspace_rows(workspace_name)
    assert store.list_containers(workspace_name, "models", ALL) == []
    assert store.list_resources(workspace_name, "computes") == []
    assert store.get_asset_version(other, "models", "m", "1") is not None


def test_migrations_create_the_tables_and_reopening_is_one_query(db_url, monkeypatch):
    MetadataStore(db_url).close()
    engine = sa.create_engine(db_url)
    assert {"asset_containers", "asset_versions", "resources", "alembic_version"} <= set(
        sa.inspect(engine).get_table_names()
    )
    engine.dispose()

    import alembic.command

    def no_upgrade(*args, **kwargs):
        raise AssertionError("reopening a database at head must not run Alembic")

    monkeypatch.setattr(alembic.command, "upgrade", no_upgrade)
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement.strip())

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        MetadataStore(db_url).close()
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    # Besides the dialect's own first-connect probes (server version, BEGIN), one query only.
    assert [s for s in statements if "alembic_version" in s] == ["SELECT version_num FROM alembic_version"]
    assert not [s for s in statements if s.split()[0].upper() in {"CREATE", "ALTER", "INSERT", "UPDATE"}]


def test_head_revision_constant_matches_the_migration_scripts():
    from alembic.script import ScriptDirectory

    from openaml.store._db import MIGRATIONS_DIR
    from openaml.store.tables import HEAD_REVISION

    assert ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head() == HEAD_REVISION


def test_migrated_schema_matches_table_definitions(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from openaml.store.tables import metadata

    MetadataStore(db_url).close()
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    engine.dispose()
    assert diff == []


def test_unreachable_server_raises_store_unavailable_without_password():
    url = "postgresql+psycopg://someone:hunter2@127.0.0.1:1/db?connect_timeout=2"
    with pytest.raises(StoreUnavailableError) as info:
        MetadataStore(url)
    assert "hunter2" not in str(info.value) and "127.0.0.1:1" in str(info.value)
    assert "hunter2" not in repr(info.value.details)


def test_for_sqlite_file_creates_parents_and_survives_odd_names(tmp_path, workspace_name):
    path = tmp_path / "a dir?x#y" / "metadata.db"
    store = MetadataStore.for_sqlite_file(path)
    register(store, workspace_name, version="1")
    store.close()
    assert path.is_file()
    reopened = MetadataStore.for_sqlite_file(path)
    assert reopened.get_asset_version(workspace_name, "models", "m", "1") is not None
    reopened.close()


def test_unopenable_sqlite_file_raises_store_unavailable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailableError):
        MetadataStore(f"sqlite:///{blocker / 'metadata.db'}")


def test_huge_integer_versions_are_labels_for_auto_versioning(store, workspace_name):
    # Versions main stored before integers were bounded: written directly, they must not count.
    for huge in (str(10**30), str(2**63 - 1), str(2**31)):
        register(store, workspace_name, version=huge)
    register(store, workspace_name, version="4")
    assert register(store, workspace_name, identity="next").version == "5"


def test_a_container_maximum_written_before_the_bound_is_counted_again(store, workspace_name):
    from openaml.store.tables import asset_containers as C

    register(store, workspace_name, version="3")
    register(store, workspace_name, version=str(2**62))
    with store._engine.begin() as conn:  # what main's bump left behind
        conn.execute(sa.update(C).where(C.c.workspace == workspace_name).values(max_int_version=2**62))
    assert register(store, workspace_name, identity="next").version == "4"


def test_auto_versioning_stops_cleanly_at_the_largest_integer(store, workspace_name):
    from openaml.errors import ValidationError
    from openaml.names import INT_VERSION_MAX

    register(store, workspace_name, version=str(INT_VERSION_MAX))
    with pytest.raises(ValidationError) as info:
        register(store, workspace_name, identity="next")
    assert info.value.details["field"] == "version"
    assert versions(store.list_versions(workspace_name, "models", "m", ALL)) == [str(INT_VERSION_MAX)]
