"""Guarantee 5: outputs are immutable and content-addressed, inputs read-only, publishing atomic.

Each test starts from what broke on main: a consumer wrote ``TAMPERED`` into its producer's
output, reuse keys hashed mutable folders, job outputs never entered the content-addressed
store, and publishing left ``.tmp-*`` folders behind.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from openaml import Input, Output, command
from openaml.entities import LocalDatastore, Model, Workspace
from openaml.services.contents import PUBLISHED

from tests.helpers import use_home, wait
from tests.jobs.conftest import HOST_ENV

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgres"])
def ml_client(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A workspace whose jobs run on the host Python, with its metadata in SQLite or PostgreSQL."""
    from openaml import MLClient

    use_home(tmp_path, monkeypatch, host_python=True)
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    name = f"imm-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    client = MLClient(workspace_name=name)
    client.workspaces.begin_create(Workspace(name=name), database_url=url).result()
    yield client
    client.close()


def _blobs(client) -> set[Path]:
    root = Path(client._context().artifacts.root_url) / "blobs"
    return {p for p in root.rglob("*") if p.is_file()}


def _producer(client, text: str = "original"):
    job = command(command=f"mkdir -p ${{{{outputs.out}}}}/sub && echo {text} > ${{{{outputs.out}}}}/data.txt"
                          f" && echo {text} > ${{{{outputs.out}}}}/sub/more.txt",
                  outputs={"out": Output(type="uri_folder")}, environment=HOST_ENV)
    done = wait(client, client.jobs.create_or_update(job).name)
    assert done.status == "Completed", done.error
    return done


def test_a_consumer_cannot_change_its_producers_output(ml_client, tmp_path: Path):
    producer = _producer(ml_client)
    consumer = command(
        command="echo TAMPERED > ${{inputs.data}}/data.txt; touch ${{inputs.data}}/new.txt; "
                "rm -f ${{inputs.data}}/sub/more.txt; true",
        inputs={"data": Input(type="uri_folder", path=f"azureml://jobs/{producer.name}/outputs/out")},
        environment=HOST_ENV)
    done = wait(ml_client, ml_client.jobs.create_or_update(consumer).name)
    assert done.status == "Completed", done.error
    ml_client.jobs.download(producer.name, download_path=tmp_path / "dl", output_name="out")
    out = tmp_path / "dl" / "named-outputs" / "out"
    assert (out / "data.txt").read_text() == "original\n"
    assert (out / "sub" / "more.txt").read_text() == "original\n"
    assert not (out / "new.txt").exists()
    # A third job reading the same output still sees the original bytes.
    reader = command(command="cat ${{inputs.data}}/data.txt",
                     inputs={"data": Input(type="uri_folder", path=f"azureml://jobs/{producer.name}/outputs/out")},
                     environment=HOST_ENV)
    again = wait(ml_client, ml_client.jobs.create_or_update(reader).name)
    assert again.status == "Completed", again.error


def test_an_input_is_read_only_to_the_command(ml_client, tmp_path: Path):
    producer = _producer(ml_client)
    probe = tmp_path / "probe.txt"
    consumer = command(
        command=f"stat -c '%a' ${{{{inputs.data}}}}/data.txt ${{{{inputs.data}}}} > {probe}; "
                f"(echo x >> ${{{{inputs.data}}}}/data.txt) 2>/dev/null && echo wrote >> {probe} || echo refused >> {probe}",
        inputs={"data": Input(type="uri_folder", path=f"azureml://jobs/{producer.name}/outputs/out")},
        environment=HOST_ENV)
    assert wait(ml_client, ml_client.jobs.create_or_update(consumer).name).status == "Completed"
    file_mode, dir_mode, outcome = probe.read_text().split()
    assert file_mode == "444" and dir_mode == "555"
    # Permission bits bind everyone but root; root writes into its own copy (checked above).
    assert outcome == ("wrote" if os.geteuid() == 0 else "refused")


def test_download_mode_gives_a_writable_copy(ml_client, tmp_path: Path):
    producer = _producer(ml_client)
    consumer = command(
        command="echo changed > ${{inputs.data}}/data.txt && cat ${{inputs.data}}/data.txt",
        inputs={"data": Input(type="uri_folder", path=f"azureml://jobs/{producer.name}/outputs/out",
                              mode="download")},
        environment=HOST_ENV)
    assert wait(ml_client, ml_client.jobs.create_or_update(consumer).name).status == "Completed"
    ml_client.jobs.download(producer.name, download_path=tmp_path / "dl", output_name="out")
    assert (tmp_path / "dl" / "named-outputs" / "out" / "data.txt").read_text() == "original\n"


def test_outputs_are_manifests_in_the_store_and_identical_content_is_stored_once(ml_client):
    first = _producer(ml_client)
    record = ml_client._job_service().record(first.name)
    published = record.spec[PUBLISHED]["out"]
    store = ml_client._context().artifacts
    manifest = store.get_manifest(published["digest"])
    assert sorted(manifest.files) == ["data.txt", "sub/more.txt"]
    assert all(store.has(e.digest) for e in manifest.files.values())
    before = _blobs(ml_client)
    second = _producer(ml_client)
    assert ml_client._job_service().record(second.name).spec[PUBLISHED]["out"]["digest"] == published["digest"]
    assert _blobs(ml_client) == before  # same bytes, same manifest: nothing new stored
    # Nothing is left on the datastore or in scratch: the store holds the output.
    ctx = ml_client._context()
    scratch = Path(os.environ["OPENAML_HOME"]) / "runs" / ctx.name
    assert not scratch.exists() or list(scratch.iterdir()) == []


def test_registering_an_output_names_the_same_manifest(ml_client):
    job = command(command="echo weights > ${{outputs.model}}/w.bin",
                  outputs={"model": Output(type="custom_model", name="from-job")}, environment=HOST_ENV)
    done = wait(ml_client, ml_client.jobs.create_or_update(job).name)
    assert done.status == "Completed", done.error
    record = ml_client._job_service().record(done.name)
    model = ml_client.models.get("from-job", version="1")
    assert model.path == f"azureml://jobs/{done.name}/outputs/model"
    stored = ml_client._context().metadata.get_asset_version(ml_client._context().name, "models", "from-job", "1")
    assert stored.content_digest == record.spec[PUBLISHED]["model"]["digest"]
    before = _blobs(ml_client)
    again = ml_client.models.create_or_update(Model(name="again", path=f"azureml://jobs/{done.name}/outputs/model"))
    assert _blobs(ml_client) == before  # no copy of the files, not even a new manifest
    assert again.version == "1"


def test_a_local_datastore_folder_is_read_only_to_the_command(ml_client, tmp_path: Path):
    folder = tmp_path / "shared-data"
    folder.mkdir()
    (folder / "table.csv").write_text("a,b\n1,2\n")
    ml_client.datastores.create_or_update(LocalDatastore(name="shared", path=str(folder)))
    job = command(command="echo TAMPERED > ${{inputs.d}}/table.csv; rm -f ${{inputs.d}}/table.csv; true",
                  inputs={"d": Input(type="uri_folder", path="azureml://datastores/shared/paths/")},
                  environment=HOST_ENV)
    assert wait(ml_client, ml_client.jobs.create_or_update(job).name).status == "Completed"
    assert (folder / "table.csv").read_text() == "a,b\n1,2\n"


def test_an_explicit_datastore_output_path_receives_the_files(ml_client, tmp_path: Path):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    ml_client.datastores.create_or_update(LocalDatastore(name="results", path=str(folder)))
    job = command(command="echo 42 > ${{outputs.out}}/answer.txt",
                  outputs={"out": Output(type="uri_folder", path="azureml://datastores/results/paths/run1/")},
                  environment=HOST_ENV)
    done = wait(ml_client, ml_client.jobs.create_or_update(job).name)
    assert done.status == "Completed", done.error
    assert (folder / "run1" / "answer.txt").read_text() == "42\n"
    assert (folder / "keep.txt").read_text() == "mine"
    assert PUBLISHED in ml_client._job_service().record(done.name).spec
    assert not [p for p in folder.rglob("*") if ".openaml-" in p.name]


def test_a_failed_job_publishes_nothing_and_leaves_no_temp_files(ml_client, tmp_path: Path):
    before = _blobs(ml_client)
    job = command(command="echo partial > ${{outputs.out}}/half.txt; exit 1",
                  outputs={"out": Output(type="uri_folder")}, environment=HOST_ENV)
    done = wait(ml_client, ml_client.jobs.create_or_update(job).name)
    assert done.status == "Failed"
    record = ml_client._job_service().record(done.name)
    assert PUBLISHED not in record.spec
    assert _blobs(ml_client) == before
    home = Path(os.environ["OPENAML_HOME"])
    leftovers = [p for p in home.rglob("*") if p.name.startswith((".tmp-", ".openaml-"))]
    assert leftovers == []
    assert not (home / "runs" / ml_client._context().name / done.name).exists()


def test_reuse_keys_are_made_of_manifest_digests(ml_client, tmp_path: Path):
    from openaml import dsl, load_component
    from tests.helpers import write

    write(tmp_path / "make.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
        name: make_numbers
        type: command
        outputs:
          out: {type: uri_folder}
        command: echo 7 > ${{outputs.out}}/n.txt
        environment: {image: python:3.11-slim}
        """)
    make = load_component(str(tmp_path / "make.yml"))

    @dsl.pipeline()
    def pipe():
        make()

    done = wait(ml_client, ml_client.jobs.create_or_update(pipe()).name)
    assert done.status == "Completed", done.error
    step = ml_client._job_service().record(next(iter(ml_client.jobs.list(parent_job_name=done.name))).name)
    ctx = ml_client._context()
    hit = ctx.step_runs.find_reusable(ctx.name, step.spec["job"]["properties"]["openaml.reuse_key"])
    assert hit is not None and hit.output_digests == {"out": step.spec[PUBLISHED]["out"]["digest"]}


def test_old_temp_uploads_are_swept(ml_client):
    store = ml_client._context().artifacts
    tmp = Path(store.root_url) / "tmp"
    old, fresh = tmp / "upload-old", tmp / "upload-fresh"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    assert store.sweep_temp() == 1
    assert not old.exists() and fresh.exists()
