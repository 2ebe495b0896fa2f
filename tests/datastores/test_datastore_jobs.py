"""Jobs on remote datastores, end to end against the emulators (Azurite for Azure Blob and ADLS
Gen2, moto for S3): a data asset registered from a remote folder, a job reading it in every input
mode and writing an output there, the output downloaded and registered, a job failing half-way
publishing nothing, and credentials kept out of every log and every ``show``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from openaml import Input, Output, command, dsl
from openaml.cli.main import cli
from openaml.entities import Data, Environment
from openaml.services import remote_data
from openaml.services.fuse_mounts import probe_fuse

from tests.datastores.conftest import SERVICES, make_remote
from tests.helpers import wait, write

pytestmark = pytest.mark.slow

HOST_ENV = Environment(image="python:3.11-slim")  # the test's own interpreter (tests/helpers.use_home)
FILES = {"a.csv": b"x,y\n1,2\n", "sub/b.txt": b"hello"}
TABLE = {"MLTable": b"paths:\n  - file: ./t.csv\ntransformations:\n  - read_delimited: {delimiter: ','}\n",
         "t.csv": b"a,b\n1,2\n"}

READER = '''
import json, os, sys
from pathlib import Path

def listing(path):
    root = Path(path)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

def direct(uri):
    """What a job does with a direct input: the storage's own SDK, credentials from the environment."""
    if uri.startswith("s3://"):
        import boto3
        bucket, _, prefix = uri[len("s3://"):].partition("/")
        found = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix + "/")["Contents"]
        return sorted(o["Key"][len(prefix) + 1:] for o in found)
    from azure.storage.blob import ContainerClient
    account = os.environ["AZURE_STORAGE_ACCOUNT"]
    container, _, prefix = uri.split("/" + account + "/", 1)[1].partition("/")
    client = ContainerClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"], container)
    return sorted(b.name[len(prefix) + 1:] for b in client.list_blobs(name_starts_with=prefix + "/"))

dl, ro, tbl, uri, out = sys.argv[1:6]
seen = {"download": listing(dl), "ro_mount": listing(ro), "eval_download": listing(tbl), "direct": direct(uri),
        "ro_writable": bool(os.stat(Path(ro) / "a.csv").st_mode & 0o222),  # mode bits: root ignores them
        "dl_writable": bool(os.stat(Path(dl) / "a.csv").st_mode & 0o222)}
Path(out, "seen.json").write_text(json.dumps(seen, sort_keys=True))
Path(out, "part").mkdir()
Path(out, "part", "rows.csv").write_text(Path(dl, "a.csv").read_text())
'''


def _job_folder(home: Path, name: str) -> Path:
    return home / "workspaces" / "data" / "datastores" / "workspaceartifactstore" / "ExperimentRun" / f"dcid.{name}"


def _logs(home: Path, name: str) -> str:
    folder = _job_folder(home, name)
    return "".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*.txt")))


def test_a_job_reads_every_mode_and_writes_its_output_to_the_datastore(ml_client, remote, home, tmp_path):
    remote.put_tree("in", FILES)
    remote.put_tree("tbl", TABLE)
    raw = ml_client.data.create_or_update(Data(name="raw", type="uri_folder", path=remote.uri("in")))
    assert raw.path == remote.uri("in")  # recorded as it is: nothing copied
    code = write(tmp_path / "src" / "read.py", READER).parent
    job = ml_client.jobs.create_or_update(command(
        code=str(code), environment=HOST_ENV,
        command="python read.py ${{inputs.dl}} ${{inputs.ro}} ${{inputs.tbl}} ${{inputs.uri}} ${{outputs.out}}",
        inputs={"dl": Input(type="uri_folder", path="azureml:raw:1", mode="download"),
                "ro": Input(type="uri_folder", path=remote.native("in"), mode="ro_mount"),
                "tbl": Input(type="mltable", path=remote.uri("tbl"), mode="eval_download"),
                "uri": Input(type="uri_folder", path=remote.uri("in"), mode="direct")},
        outputs={"out": Output(type="uri_folder", path=remote.uri("results/run"), name="result-data")}))
    done = wait(ml_client, job.name)
    logs = _logs(home, job.name)
    assert done.status == "Completed", (done.error, logs)
    written = remote.listing("results/run")
    seen = json.loads(written.pop("results/run/seen.json"))
    assert written == {"results/run/part/rows.csv": FILES["a.csv"]}
    assert seen == {"download": ["a.csv", "sub/b.txt"], "ro_mount": ["a.csv", "sub/b.txt"],
                    "eval_download": ["MLTable", "t.csv"], "direct": ["a.csv", "sub/b.txt"],
                    "ro_writable": False, "dl_writable": True}
    assert remote.listing(remote_data.STAGING_PREFIX) == {}
    assert "openaml: input dl (download, downloaded): " in logs and "2 files" in logs
    fuse = probe_fuse("auto")  # mounted where this host can, else downloaded saying why
    assert ("input ro (ro_mount, mounted read-only with FUSE): " if fuse.available
            else f"input ro (ro_mount, read-only, downloaded: no FUSE mount: {fuse.reason})") in logs
    assert "openaml: output out: " in logs and "uploaded" in logs
    ml_client.jobs.download(job.name, output_name="out", download_path=tmp_path / "dl")
    assert (tmp_path / "dl" / "named-outputs" / "out" / "part" / "rows.csv").read_bytes() == FILES["a.csv"]
    for name in ("result-data", "raw"):  # a remote asset ("raw") is read from its datastore
        result = CliRunner().invoke(cli, ["data", "download", "-n", name, "-p", str(tmp_path / "assets"), "-w", "data"])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "assets" / "result-data" / "out" / "part" / "rows.csv").read_bytes() == FILES["a.csv"]
    assert (tmp_path / "assets" / "raw" / "in" / "sub" / "b.txt").read_bytes() == FILES["sub/b.txt"]
    _assert_no_secret(ml_client, home, remote.secret, job.name, remote.name)


def _assert_no_secret(ml_client, home: Path, secret: str, job_name: str, datastore: str) -> None:
    assert secret not in _logs(home, job_name)
    shown = [repr(ml_client.jobs.get(job_name)), repr(ml_client.datastores.get(datastore))]
    for args in (["datastore", "show", "-n", datastore], ["datastore", "list"], ["job", "show", "-n", job_name]):
        result = CliRunner().invoke(cli, [*args, "-w", "data", "-o", "json"])
        assert result.exit_code == 0, result.output
        shown.append(result.output)
    assert all(secret not in text for text in shown)


def test_a_job_failing_half_way_publishes_nothing(ml_client, remote, home):
    job = ml_client.jobs.create_or_update(command(
        environment=HOST_ENV, command="echo half > ${{outputs.out}}/written.txt; exit 4",
        outputs={"out": Output(type="uri_folder", path=remote.uri("results/failed"))}))
    done = wait(ml_client, job.name)
    assert done.status == "Failed" and done.error["exit_code"] == 4
    assert remote.listing("results") == {} and remote.listing(remote_data.STAGING_PREFIX) == {}


@pytest.mark.parametrize("service", SERVICES)
def test_a_wrong_key_fails_the_job_with_one_line_naming_the_datastore(ml_client, azurite, moto_s3, home, service):
    bad = make_remote(service, azurite, moto_s3, wrong_key=True)
    ml_client.datastores.create_or_update(bad.datastore)
    job = ml_client.jobs.create_or_update(command(
        environment=HOST_ENV, command="ls ${{inputs.data}}",
        inputs={"data": Input(type="uri_folder", path=bad.uri("in"), mode="download")}))
    done = wait(ml_client, job.name)
    assert done.status == "Failed"
    message = done.error["message"]
    assert f"datastore '{bad.name}'" in message and "refused the datastore's credentials" in message
    assert "\n" not in message
    _assert_no_secret(ml_client, home, bad.secret, job.name, bad.name)


def test_a_pipeline_whose_default_datastore_is_remote_keeps_its_step_outputs_there(ml_client, azurite, moto_s3):
    remote = make_remote("azure_blob", azurite, moto_s3)  # one service: steps publish as jobs do
    ml_client.datastores.create_or_update(remote.datastore)
    make = command(command="echo 7 > ${{outputs.out}}/n.txt", environment=HOST_ENV,
                   outputs={"out": Output(type="uri_folder")})
    use = command(command="test $(cat ${{inputs.x}}/n.txt) = 7", environment=HOST_ENV,
                  inputs={"x": Input(type="uri_folder")})

    @dsl.pipeline(default_datastore=remote.name)
    def pipe():
        made = make()
        use(x=made.outputs.out)

    run = ml_client.jobs.create_or_update(pipe())
    assert wait(ml_client, run.name).status == "Completed"
    steps = {j.properties.get("openaml.pipeline_step"): j.name for j in ml_client.jobs.list(parent_job_name=run.name)}
    assert remote.listing(f"azureml/{steps['made']}") == {f"azureml/{steps['made']}/out/n.txt": b"7\n"}
