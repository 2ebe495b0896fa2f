"""MLTables on every datastore type, against the emulators (Azurite for Azure Blob and ADLS Gen2,
moto for S3) and on a local datastore: ``openaml.data.load_table`` by datastore URI, storage URI
and data asset; paths naming other folders of a datastore; hostile URIs; a wrong key; and a
job whose ``mltable`` input (``eval_mount``, ``eval_download``) its script loads."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from openaml import Input, Output, command
from openaml.data import load_table
from openaml.entities import Data, Environment, LocalDatastore
from openaml.errors import DatastoreAccessError, NotFoundError, ValidationError

from tests.datastores.conftest import make_remote
from tests.helpers import wait, write

HOST_ENV = Environment(image="python:3.11-slim")  # the test's own interpreter (tests/helpers.use_home)


def _parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


TABLE = {
    "MLTable": b"paths:\n  - pattern: ./parts/*.csv\ntransformations:\n  - read_delimited: {include_path_column: true}\n"
               b"  - drop_columns: skip\n",
    "parts/a.csv": b"id,name,skip\n1,ann,x\n2,bob,y\n",
    "parts/b.csv": b"id,name,skip\n3,cy,z\n",
    "parts/notes.txt": b"not a table",
}
EXPECTED = [(1, "ann"), (2, "bob"), (3, "cy")]


def _rows(df) -> list[tuple]:
    return [tuple(r) for r in df[["id", "name"]].itertuples(index=False)]


def test_load_table_by_datastore_uri_storage_uri_and_data_asset(ml_client, remote):
    remote.put_tree("tbl", TABLE)
    by_datastore = load_table(remote.uri("tbl"), ml_client=ml_client).to_pandas_dataframe()
    assert _rows(by_datastore) == EXPECTED and "skip" not in by_datastore.columns
    assert by_datastore["Path"].tolist() == [remote.uri("tbl/parts/a.csv")] * 2 + [remote.uri("tbl/parts/b.csv")]
    native = load_table(remote.native("tbl") + "/", ml_client=ml_client).take(2).to_pandas_dataframe()
    assert _rows(native) == EXPECTED[:2]
    ml_client.data.create_or_update(Data(name="people", type="mltable", path=remote.uri("tbl")))
    asset = load_table("azureml:people:1", ml_client=ml_client)
    assert _rows(asset.keep_columns(["id", "name"]).to_pandas_dataframe()) == EXPECTED


def test_paths_may_name_other_folders_of_a_datastore_by_uri(ml_client, remote):
    remote.put_tree("shared", {"p/x.parquet": _parquet(pa.table({"id": [7, 8], "v": [0.5, 1.5]})),
                               "p/y.parquet": _parquet(pa.table({"id": [9], "v": [2.5]}))})
    mltable = (f"paths:\n  - pattern: {remote.uri('shared/p')}/*.parquet\n  - file: {remote.native('shared/p/x.parquet')}\n"
               "transformations:\n  - read_parquet\n  - convert_column_types:\n      - columns: v\n"
               "        column_type: int\n")
    remote.put_tree("t2", {"MLTable": mltable.encode()})
    df = load_table(remote.uri("t2"), ml_client=ml_client).to_pandas_dataframe()
    assert df.to_dict("list") == {"id": [7, 8, 9, 7, 8], "v": [0, 1, 2, 0, 1]}


@pytest.mark.parametrize(("path", "error"), [
    ("azureml://datastores/{ds}/paths/../escape.csv", ValidationError),
    ("azureml://datastores/{ds}/paths/%2e%2e/escape.csv", ValidationError),
    ("../escape.csv", ValidationError),
    ("/etc/passwd", ValidationError),
    ("file:///etc/passwd", ValidationError),
    ("azureml://datastores/no-such-store/paths/x.csv", NotFoundError),
    ("ftp://example.com/x.csv", ValidationError),
])
def test_an_mltable_on_a_datastore_reads_nothing_outside_what_its_datastores_hold(ml_client, remote, path, error):
    remote.put_tree("h", {"MLTable": f"paths:\n  - folder: ok\n  - file: {path.format(ds=remote.name)}\n".encode(),
                          "ok/x.csv": b"a\n1\n"})
    with pytest.raises(error) as info:
        load_table(remote.uri("h"), ml_client=ml_client).to_pandas_dataframe()
    err = info.value
    assert (err.details["field"], err.details["line"], err.details["file"]) == ("paths.1.file", 3, remote.uri("h/MLTable"))
    assert err.message.startswith(f"{remote.uri('h/MLTable')}:3, field 'paths.1.file': ")


def test_a_local_datastore(ml_client, tmp_path):
    folder = tmp_path / "lake"
    for name, data in TABLE.items():
        write(folder / "tbl" / name, data.decode())
    ml_client.datastores.create_or_update(LocalDatastore(name="lake", path=str(folder)))
    df = load_table("azureml://datastores/lake/paths/tbl", ml_client=ml_client).to_pandas_dataframe()
    assert _rows(df) == EXPECTED


def test_a_registered_mltable_asset_from_a_local_folder(ml_client, tmp_path):
    for name, data in TABLE.items():
        write(tmp_path / "t" / name, data.decode())
    ml_client.data.create_or_update(Data(name="local-people", type="mltable", path=str(tmp_path / "t")))
    for name in (tmp_path / "t").rglob("*.csv"):
        name.unlink()  # the asset is its uploaded copy, not the folder
    for uri in ("azureml:local-people:1", "azureml:local-people@latest"):
        assert _rows(load_table(uri, ml_client=ml_client).to_pandas_dataframe()) == EXPECTED
    with pytest.raises(NotFoundError, match="data 'missing:1' not found"):
        load_table("azureml:missing:1", ml_client=ml_client)


def test_a_wrong_key_is_one_line_naming_the_datastore(ml_client, azurite, moto_s3):
    for service in ("azure_blob", "s3"):
        made = make_remote(service, azurite, moto_s3, wrong_key=True)
        ml_client.datastores.create_or_update(made.datastore)
        with pytest.raises(DatastoreAccessError) as info:
            load_table(made.uri("tbl"), ml_client=ml_client)
        assert f"datastore '{made.name}'" in info.value.message and made.secret not in info.value.message
        assert "\n" not in info.value.message


READER = '''
import sys
from pathlib import Path
from openaml.data import load_table

for path, out in zip(sys.argv[1:-1], ["mount", "download", "local", "by_uri"]):
    df = load_table(path).to_pandas_dataframe()
    Path(sys.argv[-1], out + ".csv").write_text(df.to_csv(index=False))
Path(sys.argv[-1], "MLTable").write_text("paths: [{pattern: './*.csv'}]\\ntransformations:\\n  - read_delimited:\\n"
                                         "      header: all_files_different_headers\\n")
'''


@pytest.mark.slow
def test_a_job_loads_its_mltable_inputs(ml_client, remote, tmp_path):
    remote.put_tree("tbl", TABLE)
    local = tmp_path / "local-table"
    for name, data in TABLE.items():
        write(local / name, data.decode())
    # an MLTable whose data is elsewhere on the datastore: the job reads it through its workspace
    by_uri = write(tmp_path / "by-uri" / "MLTable", TABLE["MLTable"].decode().replace(
        "./parts/*.csv", remote.uri("tbl/parts") + "/*.csv")).parent
    code = write(tmp_path / "src" / "read.py", READER).parent
    job = ml_client.jobs.create_or_update(command(
        code=str(code), environment=HOST_ENV,
        command="python read.py ${{inputs.m}} ${{inputs.d}} ${{inputs.l}} ${{inputs.u}} ${{outputs.out}}",
        inputs={"m": Input(type="mltable", path=remote.uri("tbl"), mode="eval_mount"),
                "d": Input(type="mltable", path=remote.native("tbl"), mode="eval_download"),
                "l": Input(type="mltable", path=str(local), mode="eval_mount"),
                "u": Input(type="mltable", path=str(by_uri), mode="eval_download")},
        outputs={"out": Output(type="uri_folder")}))
    done = wait(ml_client, job.name)
    assert done.status == "Completed", done.error
    ml_client.jobs.download(job.name, output_name="out", download_path=tmp_path / "dl")
    out = tmp_path / "dl" / "named-outputs" / "out"
    for name in ("mount", "download", "local", "by_uri"):
        lines = (out / f"{name}.csv").read_text().splitlines()
        assert lines[0] == "Path,id,name" and [ln.split(",")[1:] for ln in lines[1:]] == \
            [["1", "ann"], ["2", "bob"], ["3", "cy"]], name
        assert all(Path(ln.split(",")[0]).name in ("a.csv", "b.csv") for ln in lines[1:])
    # the output is an MLTable too: loaded by the job's output URI
    written = load_table(f"azureml://jobs/{job.name}/outputs/out", ml_client=ml_client).to_pandas_dataframe()
    assert len(written) == 12 and sorted(set(written["name"])) == ["ann", "bob", "cy"]



def test_an_azure_files_share_through_its_mapping(ml_client, monkeypatch):
    """Azure Files has no emulator: fsspec's memory file system stands in for the share the
    mapping opens (as in test_azure_files.py), so the table is read through the same code."""
    from fsspec.implementations.memory import MemoryFileSystem

    from openaml.entities import AccountKeyConfiguration, AzureFileDatastore

    share = f"share-{uuid.uuid4().hex[:8]}"
    ml_client.datastores.create_or_update(AzureFileDatastore(
        name="files", account_name="acct", file_share_name=share,
        credentials=AccountKeyConfiguration(account_key="c2VjcmV0LWtleS0xMjM0NTY3ODkw")))
    memory = MemoryFileSystem(skip_instance_cache=True)
    memory.pipe({f"/{share}/tbl/{name}": data for name, data in TABLE.items()})
    opened = []
    monkeypatch.setattr("openaml.store.storage._open_fs", lambda spec: opened.append(spec) or memory)
    try:
        df = load_table("azureml://datastores/files/paths/tbl", ml_client=ml_client).to_pandas_dataframe()
    finally:
        memory.rm(f"/{share}", recursive=True)
    assert _rows(df) == EXPECTED and opened[0].protocol == "azfile" and opened[0].root == f"/{share}"
