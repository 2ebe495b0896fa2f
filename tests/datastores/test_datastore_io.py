"""Reading and publishing through a datastore on each emulated service, in-process: the ETag
cache, the staged publish and its roll-back, hostile object names, and a wrong key's one line."""

from __future__ import annotations

import pytest

from openaml.errors import DatastoreAccessError, NotFoundError, ValidationError
from openaml.services import remote_data
from openaml.services.contents import Content
from openaml.services.datastore_io import RemoteStore, open_datastore

from tests.datastores.conftest import SERVICES, make_remote

FILES = {"a.csv": b"x,y\n1,2\n", "sub/b.txt": b"hello " * 1000, "sub/deep/c.bin": bytes(range(256)) * 40}


def _ctx(ml_client):
    return ml_client._context()


def test_a_folder_is_read_once_then_from_the_cache(ml_client, remote):
    remote.put_tree("in", FILES)
    ctx = _ctx(ml_client)
    first = open_datastore(ctx, remote.name).read(ctx, "in", field="path")
    manifest = ctx.artifacts.get_manifest(first.content.digest)
    assert (manifest.root, manifest.kind, sorted(manifest.files)) == ("in", "folder", sorted(FILES))
    assert "3 files" in first.summary and "3 files, " in first.summary.split("(")[1]
    second = open_datastore(ctx, remote.name).read(ctx, "in", field="path")
    assert second.content == first.content
    assert "(0 files, 0 B downloaded; 3 unchanged, from the cache)" in second.summary
    remote.put_tree("in", {"a.csv": b"x,y\n3,4\n"})  # a changed object is fetched again, alone
    third = open_datastore(ctx, remote.name).read(ctx, "in", field="path")
    assert third.content.digest != first.content.digest
    assert "(1 file, 8 B downloaded; 2 unchanged, from the cache)" in third.summary
    out = ctx.artifacts.materialize(third.content.digest, ml_client._context().folder / "check")
    assert (out / "a.csv").read_bytes() == b"x,y\n3,4\n"
    single = open_datastore(ctx, remote.name).read(ctx, "in/sub/b.txt", field="path").content
    assert (single.kind, single.root) == ("file", "b.txt")


def test_a_missing_path_is_not_found_naming_the_datastore(ml_client, remote):
    ctx = _ctx(ml_client)
    with pytest.raises(NotFoundError) as info:
        open_datastore(ctx, remote.name).read(ctx, "nothing/here", field="path")
    assert remote.name in str(info.value) and "nothing/here" in str(info.value)


def test_an_object_name_that_cannot_be_a_file_is_refused(ml_client, remote):
    if remote.service == "s3":
        remote.fs.pipe({f"{remote.root}/odd/a//b.txt": b"1"})  # S3 keys may hold empty parts
    else:
        remote.fs.pipe({f"{remote.root}/odd/a\x7fb.txt": b"1"})  # a blob name may hold a control character
    ctx = _ctx(ml_client)
    with pytest.raises(ValidationError) as info:
        open_datastore(ctx, remote.name).read(ctx, "odd", field="path")
    assert remote.name in str(info.value) and "cannot be a file on disk" in str(info.value)


def _content(ctx, tmp_path, files: dict[str, bytes]) -> Content:
    src = tmp_path / "result"
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    digest, manifest = ctx.artifacts.put_path(src)
    return Content(digest, manifest.root, manifest.kind)


def test_publish_places_every_file_and_leaves_no_staging(ml_client, remote, tmp_path):
    ctx = _ctx(ml_client)
    target = open_datastore(ctx, remote.name)
    summary = target.publish(ctx, "results/run1", _content(ctx, tmp_path, FILES), label="job.out", warn=print)
    assert "3 files" in summary and "uploaded" in summary
    assert remote.listing("results/run1") == {f"results/run1/{k}": v for k, v in FILES.items()}
    assert remote.listing(remote_data.STAGING_PREFIX) == {}


class _FailingCopies:
    """The datastore's file system, whose server-side copy places one file and then fails."""

    def __init__(self, fs):
        self._fs = fs

    def __getattr__(self, name):
        return getattr(self._fs, name)

    def copy(self, sources, targets, **kwargs):
        self._fs.copy(sources[:1], targets[:1])
        raise OSError("connection reset while copying")


def test_a_publish_failing_half_way_leaves_the_destination_as_it_was(ml_client, remote, tmp_path):
    remote.put_tree("results/run2", {"keep.txt": b"was here"})
    ctx = _ctx(ml_client)
    target = open_datastore(ctx, remote.name)
    assert isinstance(target, RemoteStore)
    target.storage.fs = _FailingCopies(target.storage.fs)
    with pytest.raises(DatastoreAccessError) as info:
        target.publish(ctx, "results/run2", _content(ctx, tmp_path, FILES), label="job.out", warn=print)
    assert remote.name in str(info.value) and "connection reset" in str(info.value)
    assert remote.listing("results/run2") == {"results/run2/keep.txt": b"was here"}
    assert remote.listing(remote_data.STAGING_PREFIX) == {}


@pytest.mark.parametrize("service", SERVICES)
def test_a_wrong_key_is_one_line_naming_the_datastore(ml_client, azurite, moto_s3, service):
    bad = make_remote(service, azurite, moto_s3, wrong_key=True)
    ml_client.datastores.create_or_update(bad.datastore)
    ctx = _ctx(ml_client)
    with pytest.raises(DatastoreAccessError) as info:
        open_datastore(ctx, bad.name).read(ctx, "anything", field="path")
    message = str(info.value)
    assert f"datastore '{bad.name}'" in message and "refused the datastore's credentials" in message
    assert "\n" not in message and bad.secret not in message


def test_a_direct_input_on_a_local_datastore_is_its_folder(ml_client):
    from openaml.services.job_io import materialize_input

    ctx = _ctx(ml_client)
    folder = ml_client.datastores.get("workspaceblobstore").path
    given = materialize_input(ctx, "d", {"kind": "datastore", "datastore": "workspaceblobstore", "path": "raw/x",
                                         "mode": "direct", "uri": "azureml://datastores/workspaceblobstore/paths/raw/x"},
                              ctx.folder / "scratch")
    assert (given.value, given.env) == (f"{folder}/raw/x", {})


def test_every_uri_form_of_a_path_reads_the_same_content(ml_client, remote):
    from openaml.services.datastore_io import read_uri

    remote.put_tree("forms", FILES)
    ctx = _ctx(ml_client)
    long_form = (f"azureml://subscriptions/0000/resourcegroups/rg/workspaces/data/datastores/{remote.name}"
                 "/paths/forms")
    digests = {read_uri(ctx, uri).digest for uri in (remote.uri("forms"), long_form, remote.native("forms"))}
    assert len(digests) == 1
    assert read_uri(ctx, "azureml:not-a-storage-uri") is None


def test_outputs_go_to_registered_datastores_only(ml_client, remote):
    from openaml.entities import Output
    from openaml.services.job_io import resolve_output

    ctx = _ctx(ml_client)
    native = resolve_output(ctx, "job1", "out", Output(path=remote.native("results/x")), ctx.default_datastore)
    assert (native["datastore"], native["path"]) == (remote.name, "results/x")
    stranger = "s3://someone-elses-bucket/x" if remote.service == "s3" else \
        "wasbs://other@someoneelse.blob.core.windows.net/x"
    with pytest.raises(ValidationError) as info:
        resolve_output(ctx, "job1", "out", Output(path=stranger), ctx.default_datastore)
    assert info.value.details["field"] == "outputs.out.path"
    with pytest.raises(ValidationError) as info:
        resolve_output(ctx, "job1", "out", Output(path=remote.uri("a/../../b")), ctx.default_datastore)
    assert "leaves its root" in str(info.value)


def test_a_public_blob_url_no_datastore_matches_is_read_anonymously(ml_client, azurite, moto_s3):
    from azure.storage.blob import ContainerClient

    from openaml.services.datastore_io import read_uri

    remote = make_remote("azure_blob", azurite, moto_s3)  # not registered: only its container is used
    public = f"{remote.root}-pub"
    conn = remote.datastore.credentials.account_key
    ContainerClient.from_connection_string(
        f"DefaultEndpointsProtocol=http;AccountName={azurite.access_key};AccountKey={conn};"
        f"BlobEndpoint={azurite.url}/{azurite.access_key};", public).create_container(public_access="container")
    remote.fs.pipe({f"{public}/open/a.csv": b"1,2\n"})
    ctx = _ctx(ml_client)
    content = read_uri(ctx, f"{azurite.url}/{azurite.access_key}/{public}/open")
    manifest = ctx.artifacts.get_manifest(content.digest)
    assert list(manifest.files) == ["a.csv"] and manifest.root == "open"
    with pytest.raises(DatastoreAccessError):  # a private container refuses anonymous reads
        read_uri(ctx, f"{azurite.url}/{azurite.access_key}/{remote.root}/x")
