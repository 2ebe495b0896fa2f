"""Azure Files has no local emulator (Azurite emulates blobs, queues and tables only), so its
mapping is tested here with fsspec's memory file system standing in for the share: the file
system openaml opens gets the spec the mapping made (host, account, key), and reads and the
staged publish go through the same code as on every other datastore."""

from __future__ import annotations

import uuid

import pytest
from fsspec.implementations.memory import MemoryFileSystem

from openaml.entities import AccountKeyConfiguration, AzureFileDatastore
from openaml.services import remote_data
from openaml.services.contents import Content
from openaml.services.datastore_io import open_datastore
from openaml.store.storage import FsSpec

KEY = "c2VjcmV0LWFjY291bnQta2V5LXZhbHVlLTEyMzQ1Njc4OTA="


@pytest.fixture
def share(ml_client):
    name = f"share-{uuid.uuid4().hex[:8]}"
    ml_client.datastores.create_or_update(AzureFileDatastore(
        name="files", account_name="acct", file_share_name=name, credentials=AccountKeyConfiguration(account_key=KEY)))
    memory = MemoryFileSystem(skip_instance_cache=True)
    opened: list[FsSpec] = []

    def factory(spec: FsSpec) -> MemoryFileSystem:
        opened.append(spec)
        return memory

    yield name, memory, factory, opened
    if memory.exists(f"/{name}"):  # the memory file system's files are shared by the process
        memory.rm(f"/{name}", recursive=True)


def test_the_share_is_opened_as_the_mapping_says(ml_client, share):
    name, memory, factory, opened = share
    ctx = ml_client._context()
    target = open_datastore(ctx, "files", factory=factory)
    assert (opened[0].protocol, opened[0].root) == ("azfile", f"/{name}")
    assert (opened[0].options["account_url"], opened[0].options["credential"]) == \
        ("https://acct.file.core.windows.net", {"account_name": "acct", "account_key": KEY})
    assert target.direct_uri("in/a.csv") == f"https://acct.file.core.windows.net/{name}/in/a.csv"
    assert "FileEndpoint=https://acct.file.core.windows.net;" in target.job_env()["AZURE_STORAGE_CONNECTION_STRING"]


def test_a_folder_on_the_share_is_read_and_an_output_published(ml_client, share, tmp_path):
    name, memory, factory, _ = share
    memory.pipe({f"/{name}/in/a.csv": b"x\n1\n", f"/{name}/in/sub/b.txt": b"b"})
    ctx = ml_client._context()
    read = open_datastore(ctx, "files", factory=factory).read(ctx, "in", field="path")
    manifest = ctx.artifacts.get_manifest(read.content.digest)
    assert sorted(manifest.files) == ["a.csv", "sub/b.txt"] and "2 files" in read.summary
    again = open_datastore(ctx, "files", factory=factory).read(ctx, "in", field="path")
    assert again.content == read.content  # no version tag on this stand-in: read again, same content
    (tmp_path / "out" / "deep").mkdir(parents=True)
    (tmp_path / "out" / "deep" / "r.txt").write_text("result")
    digest, stored = ctx.artifacts.put_path(tmp_path / "out")
    open_datastore(ctx, "files", factory=factory).publish(ctx, "results", Content(digest, stored.root, stored.kind),
                                                          label="job.out", warn=print)
    assert memory.cat_file(f"/{name}/results/deep/r.txt") == b"result"
    assert memory.find(f"/{name}/{remote_data.STAGING_PREFIX}") == []
