"""Guarantee 2, end to end: every path built from user input stays under its root.

Each hostile case broke main before this guarantee: a job named ``/some/folder`` deleted that
folder, ``../`` in a datastore path read and wrote outside the datastore, a model download
wrote outside ``--download-path`` and replaced what was there, and a workspace named ``../x``
was opened (and deleted) outside ``$OPENAML_HOME/workspaces``. Names validation refuses bad
names at creation; these tests reach the path joins with such names anyway (defence in depth).
"""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from openaml import MLClient
from openaml.cli.main import cli
from openaml.entities import Model, Workspace
from openaml.errors import AlreadyExistsError, ValidationError
from openaml.services.locations import uri_path
from openaml.services.settings import Settings
from openaml.services.workspaces import WorkspaceService
from openaml.store.metadata import MetadataStore
from openaml.store.tracking import TrackingStore
from openaml.tracking import start_tracking_server

from tests.helpers import new_workspace_client, use_home, wait, write

WS = "conf"


def _tree(root: Path, skip: Path | None = None) -> dict[str, bytes | None]:
    """Every path under *root* (outside *skip*; the metadata database aside) with its content:
    what must not change."""
    found: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if skip is not None and Path(dirpath) == skip:
            dirnames[:] = []
            continue
        for name in filenames:
            if not name.startswith("metadata.db"):  # its pages change on every read
                found[str(Path(dirpath, name))] = Path(dirpath, name).read_bytes()
        for name in dirnames:
            found[str(Path(dirpath, name))] = None
    return found


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_home(tmp_path, monkeypatch, host_python=True)


@pytest.fixture
def ml_client(home: Path):
    client = new_workspace_client(WS)
    yield client
    client.close()


@pytest.fixture
def run_cli(ml_client):
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(cli, [*args, "-w", WS], catch_exceptions=False)
        assert result.exit_code == code, result.output + result.stderr
        return result

    return invoke


def _job_file(tmp_path: Path, extra: str = "", command: str = "echo hi") -> Path:
    return write(tmp_path / "job.yml", f"""
        command: {command}
        environment:
          image: python:3.11-slim
        {extra}
        """)


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# -- workspaces -------------------------------------------------------------------------------
@pytest.mark.parametrize("hostile", ["../x", "../../outside", "/abs", ".", "..", "a/b", "x\x00y", ""])
def test_a_hostile_workspace_name_touches_nothing_outside_the_workspaces_folder(tmp_path: Path, hostile: str):
    home = tmp_path / "home"
    service = WorkspaceService(Settings(home=home))
    service.create(Workspace(name="real"))
    # A decoy workspace.json wherever the name would lead, so a join that escaped would find it.
    decoys = [home / "x", tmp_path / "outside", home, home / "workspaces"]
    if hostile == "/abs":
        hostile = str(tmp_path / "abs")
        decoys.append(tmp_path / "abs")
    for folder in decoys:
        write(folder / "workspace.json", json.dumps({"name": "decoy"}))
    before = _tree(tmp_path, skip=home / "workspaces" / "real")
    for operation in (service.get, service.open, service.delete, service.exists):
        with pytest.raises(ValidationError) as info:
            operation(hostile)
        assert info.value.details["field"] == "workspace"
    assert _tree(tmp_path, skip=home / "workspaces" / "real") == before
    assert [w.name for w in service.list()] == ["real"]
    service.close()


# -- job names: scratch folders, job folders, agent logs ----------------------------------------
@pytest.mark.parametrize("hostile", ["ABS", "../x", "../../../../escaped", ".", "..", "a/b"])
def test_a_hostile_job_name_is_refused_before_anything_is_written(run_cli, home: Path, tmp_path: Path,
                                                                 hostile: str):
    canary = write(tmp_path / "canary" / "keep.txt", "precious")
    if hostile == "ABS":  # `job create -n /some/folder` removed that folder before and after the run
        hostile = str(canary.parent)
    # `-n .` or `-n ..` would make the job's scratch folder the parent of every other job's.
    write(home / "runs" / WS / "other-job" / "scratch.txt", "another job's scratch")
    write(home / "runs" / "canary.txt", "runs")
    job = _job_file(tmp_path)
    before = _tree(tmp_path)
    result = run_cli("job", "create", "-f", str(job), "-n", hostile, code=1)
    error = result.stderr.strip()
    assert len(error.splitlines()) == 1 and "job.yml" in error and "'name'" in error, error
    assert _tree(tmp_path) == before
    assert canary.read_text() == "precious"
    assert json.loads(run_cli("job", "list", "--all-results").stdout) == []


@pytest.mark.parametrize("hostile", ["../x", "/abs", ".", "..", "a/b", "a\nb", ""])
def test_scratch_folders_and_agent_logs_are_folders_of_their_own(tmp_path: Path, hostile: str):
    settings_ = Settings(home=tmp_path)
    with pytest.raises(ValidationError):
        settings_.job_scratch_dir("ws", hostile)
    with pytest.raises(ValidationError):
        settings_.job_scratch_dir(hostile, "job")
    with pytest.raises(ValidationError):
        settings_.agent_log_file(hostile, "job")
    if hostile not in (".", "..", ""):  # "..log" is a file name like any other
        with pytest.raises(ValidationError):
            settings_.agent_log_file("ws", hostile)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab./\\%\x00\n", max_size=8))
def test_any_job_name_gets_its_own_scratch_folder_or_is_refused(tmp_path_factory, name: str):
    home = tmp_path_factory.getbasetemp() / "hyp-home"
    runs = Settings(home=home)
    try:
        folder = runs.job_scratch_dir("ws", name)
    except ValidationError:
        return
    assert folder.parent == Path(os.path.realpath(home)) / "runs" / "ws" and folder.name == name


# -- datastore paths in job inputs and outputs --------------------------------------------------
HOSTILE_DATASTORE_PATHS = [
    "../../../etc/hostname",
    "a/../../../../etc/hostname",
    "%2e%2e/%2E%2E/%2e%2e/etc/hostname",  # percent-decoded once, then checked
    "/etc/hostname",
    "%2Fetc%2Fhostname",
    "a%00b",
]


@pytest.mark.parametrize("hostile", HOSTILE_DATASTORE_PATHS)
def test_datastore_paths_outside_their_datastore_are_refused_at_submission(run_cli, tmp_path: Path, hostile: str):
    """As an input it read outside the datastore, as an output it wrote outside it."""
    job = _job_file(tmp_path, f"""
        inputs:
          data:
            type: uri_file
            path: azureml://datastores/workspaceblobstore/paths/{hostile}
        """, command="cat ${{inputs.data}}")
    error = run_cli("job", "create", "-f", str(job), code=1).stderr.strip()
    assert len(error.splitlines()) == 1, error
    assert f"job.yml:{_line_of(job, 'path:')}" in error and "inputs.data.path" in error, error
    job = _job_file(tmp_path, f"""
        outputs:
          out:
            type: uri_folder
            path: azureml://datastores/workspaceblobstore/paths/{hostile}/
        """)
    error = run_cli("job", "create", "-f", str(job), code=1).stderr.strip()
    assert len(error.splitlines()) == 1, error
    assert f"job.yml:{_line_of(job, 'path:')}" in error and "outputs.out.path" in error, error
    assert json.loads(run_cli("job", "list").stdout) == []


def test_a_symlinked_parent_inside_a_datastore_is_refused(run_cli, ml_client, home: Path, tmp_path: Path):
    write(tmp_path / "outside" / "secret.txt", "not yours")
    datastore = home / "workspaces" / WS / "datastores" / "workspaceblobstore"
    (datastore / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    job = _job_file(tmp_path, """
        inputs:
          data:
            type: uri_file
            path: azureml://datastores/workspaceblobstore/paths/link/secret.txt
        """)
    error = run_cli("job", "create", "-f", str(job), code=1).stderr
    assert "inputs.data.path" in error and "symbolic link" in error
    job = _job_file(tmp_path, """
        outputs:
          out:
            path: azureml://datastores/workspaceblobstore/paths/link/out/
        """)
    error = run_cli("job", "create", "-f", str(job), code=1).stderr
    assert "outputs.out.path" in error and "symbolic link" in error
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["secret.txt"]


def test_the_errors_carry_the_field_for_sdk_callers(ml_client):
    from openaml import Input, command

    job = command(command="cat ${{inputs.data}}", environment=_host_env(),
                  inputs={"data": Input(type="uri_file",
                                        path="azureml://datastores/workspaceblobstore/paths/../x")})
    with pytest.raises(ValidationError) as info:
        ml_client.jobs.create_or_update(job)
    assert info.value.details["field"] == "inputs.data.path"


@pytest.mark.slow
def test_percent_encoded_datastore_paths_are_decoded_once(ml_client, home: Path):
    from openaml import Input, Output, command

    datastore = home / "workspaces" / WS / "datastores" / "workspaceblobstore"
    write(datastore / "my data" / "f.txt", "spaced")
    write(datastore / "%2e%2e" / "f.txt", "literal")  # %252e%252e decodes once, to this name
    job = command(command='cat "${{inputs.a}}" "${{inputs.b}}" > "${{outputs.out}}/both.txt"',
                  environment=_host_env(),
                  inputs={"a": Input(type="uri_file", path="azureml://datastores/workspaceblobstore/paths/my%20data/f.txt"),
                          "b": Input(type="uri_file", path="azureml://datastores/workspaceblobstore/paths/%252e%252e/f.txt")},
                  outputs={"out": Output(type="uri_folder",
                                         path="azureml://datastores/workspaceblobstore/paths/out%20put/")})
    done = wait(ml_client, ml_client.jobs.create_or_update(job).name)
    assert done.status == "Completed", done.error
    assert (datastore / "out put" / "both.txt").read_text() == "spacedliteral"


def _host_env():
    from openaml.entities import Environment
    return Environment(image="python:3.11-slim")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", ".", "/", "%", "2", "e", "E", "f", "F", "5", "c", "0", "\\", "ü"]),
               max_size=16))
def test_no_datastore_path_leaves_the_datastore(tmp_path_factory, raw: str):
    from openaml.paths import safe_join

    root = tmp_path_factory.getbasetemp() / "hyp-datastore"
    root.mkdir(exist_ok=True)
    try:
        joined = safe_join(root, uri_path(raw))
    except ValidationError:
        return
    real = Path(os.path.realpath(root))
    assert joined == real or real in joined.parents


# -- runs:/ and job-output URIs ---------------------------------------------------------------
@pytest.mark.parametrize("uri", ["runs:/somejob/../../../../etc", "runs:/somejob//etc/passwd"])
def test_a_model_path_uri_cannot_leave_its_root(ml_client, uri: str):
    with pytest.raises(ValidationError) as info:
        ml_client.models.create_or_update(Model(name="m", path=uri))
    assert info.value.details["field"] == "path"


def test_a_registered_datastore_reference_outside_its_datastore_is_refused_when_used(ml_client):
    """A datastore path that leaves its datastore is refused when registered (naming the field);
    one stored by an older release (which kept such paths as references) is refused when a job
    uses it, at submission."""
    from openaml import Input, command
    from openaml.entities import Data

    hostile = "azureml://datastores/workspaceblobstore/paths/%2e%2e/%2e%2e/x"
    with pytest.raises(ValidationError) as info:
        ml_client.data.create_or_update(Data(name="sly", type="uri_file", path=hostile))
    assert info.value.details["field"] == "path"
    ctx = ml_client._context()
    ctx.metadata.create_asset_version(ctx.name, "data", "sly", "1", {"type": "uri_file", "path": hostile}, None,
                                      identity="hostile-sly")
    job = command(command="cat ${{inputs.data}}", environment=_host_env(),
                  inputs={"data": Input(type="uri_file", path="azureml:sly:1")})
    with pytest.raises(ValidationError) as info:
        ml_client.jobs.create_or_update(job)
    assert info.value.details["field"] == "inputs.data.path"


# -- downloads --------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_client(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workspace_name: str):
    """A client on a workspace whose metadata is in SQLite or in PostgreSQL."""
    use_home(tmp_path, monkeypatch, host_python=True)
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    client = MLClient(workspace_name=workspace_name[:30])
    client.workspaces.begin_create(Workspace(name=client.workspace_name), database_url=url).result()
    yield client
    client.close()


def _store_under_name(client: MLClient, name: str, source: str) -> None:
    """Register *source*'s content under *name* directly in the store, as an old release (or
    another writer) could have: the registry's own checks are bypassed."""
    ctx = client._context()
    record = ctx.metadata.get_asset_version(ctx.name, "models", source, "1")
    ctx.metadata.create_asset_version(ctx.name, "models", name, "1", record.spec, record.content_digest,
                                      identity=f"hostile-{name}")


@pytest.mark.parametrize("hostile", ["../../escaped", "/abs-escaped", "..", "a/../../escaped"])
def test_a_hostile_stored_model_name_downloads_nowhere_outside_the_download_path(
        store_client, tmp_path: Path, hostile: str):
    write(tmp_path / "weights" / "w.bin", "weights")
    store_client.models.create_or_update(Model(name="good", path=str(tmp_path / "weights")))
    _store_under_name(store_client, hostile, "good")
    target = tmp_path / "dl" / "inner"
    target.mkdir(parents=True)
    before = _tree(tmp_path, skip=tmp_path / "home")
    with pytest.raises(ValidationError):
        store_client.models.download(hostile, "1", download_path=target)
    assert _tree(tmp_path, skip=tmp_path / "home") == before


def test_a_stored_name_with_a_slash_downloads_inside_the_download_path(store_client, tmp_path: Path):
    write(tmp_path / "weights" / "w.bin", "weights")
    store_client.models.create_or_update(Model(name="good", path=str(tmp_path / "weights")))
    _store_under_name(store_client, "team/model", "good")
    store_client.models.download("team/model", "1", download_path=tmp_path / "dl")
    assert (tmp_path / "dl" / "team" / "model" / "weights" / "w.bin").read_text() == "weights"


def test_a_model_download_refuses_to_replace_unless_asked(run_cli, ml_client, tmp_path: Path):
    write(tmp_path / "weights" / "w.bin", "v1")
    ml_client.models.create_or_update(Model(name="m", path=str(tmp_path / "weights")))
    existing = write(tmp_path / "dl" / "m" / "weights" / "mine.txt", "my own file")
    error = run_cli("model", "download", "-n", "m", "-v", "1", "-p", str(tmp_path / "dl"), code=1).stderr
    assert len(error.strip().splitlines()) == 1 and str(existing.parent.resolve()) in error
    assert "--overwrite" in error
    assert existing.read_text() == "my own file" and not (existing.parent / "w.bin").exists()
    run_cli("model", "download", "-n", "m", "-v", "1", "-p", str(tmp_path / "dl"), "--overwrite")
    assert (existing.parent / "w.bin").read_text() == "v1" and not existing.exists()
    assert not [p for p in (tmp_path / "dl" / "m").iterdir() if p.name.startswith(".")]


def test_a_link_where_the_download_goes_is_not_followed_out(ml_client, tmp_path: Path):
    write(tmp_path / "weights" / "w.bin", "v1")
    ml_client.models.create_or_update(Model(name="m", path=str(tmp_path / "weights")))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "m").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(ValidationError, match="symbolic link"):
        ml_client.models.download("m", "1", download_path=tmp_path / "dl", overwrite=True)
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.slow
def test_a_job_download_refuses_to_replace_unless_asked(run_cli, ml_client, tmp_path: Path):
    job = _job_file(tmp_path, """
        outputs:
          out:
            type: uri_folder
        """, command="echo fresh > ${{outputs.out}}/result.txt")
    name = json.loads(run_cli("job", "create", "-f", str(job)).stdout)["name"]
    assert wait(ml_client, name).status == "Completed"
    dl = tmp_path / "dl"
    mine = write(dl / "named-outputs" / "out" / "result.txt", "my edit")
    with pytest.raises(AlreadyExistsError) as info:
        ml_client.jobs.download(name, download_path=dl, all=True)
    assert info.value.details["path"] == str(mine.parent.resolve())
    assert mine.read_text() == "my edit" and not (dl / "artifacts").exists()  # nothing was written
    error = run_cli("job", "download", "-n", name, "-p", str(dl), "--all", code=1).stderr
    assert "already exists" in error and "--overwrite" in error
    run_cli("job", "download", "-n", name, "-p", str(dl), "--all", "--overwrite")
    assert mine.read_text().strip() == "fresh"
    assert (dl / "artifacts" / "user_logs" / "std_log.txt").is_file()
    assert sorted(p.name for p in dl.iterdir()) == ["artifacts", "named-outputs"]  # no staging left


# -- MLflow artifact paths through the tracking endpoint ----------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def tracking_server(request, tmp_path: Path, workspace_name: str):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'm.db'}"
    metadata = MetadataStore(url)
    store = TrackingStore(metadata, workspace_name)
    store.create_run(store.get_or_create_experiment("exp"), run_id="run1", run_name="run1")
    root = lambda run_id: tmp_path / "artifacts" / f"dcid.{run_id}"
    root("run1").mkdir(parents=True)
    with start_tracking_server(store, artifact_root_for_run=root) as server:
        yield server, root("run1")
    metadata.close()


def _request(server, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.putrequest(method, path, skip_accept_encoding=True)  # sent as written: no client cleans '..'
    conn.putheader("Content-Length", str(len(body or b"")))
    conn.endheaders(body)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data) if data else {}


@pytest.mark.parametrize("method,path", [
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/0/run1/artifacts/../../x"),
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/0/run1/artifacts/%2e%2e/%2e%2e/x"),
    ("GET", "/api/2.0/mlflow-artifacts/artifacts/0/run1/artifacts/../../x"),
    ("DELETE", "/api/2.0/mlflow-artifacts/artifacts/0/run1/artifacts/..%2F..%2Fx"),
    ("GET", "/api/2.0/mlflow/artifacts/list?run_id=run1&path=../../x"),
    ("GET", "/api/2.0/mlflow/artifacts/list?run_id=run1&path=%2Fetc"),
    ("GET", "/api/2.0/mlflow-artifacts/artifacts?path=0/run1/artifacts/../../x"),
    ("GET", "/api/2.0/mlflow-artifacts/artifacts/0/run1/artifacts/link/secret.txt"),
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/0/run1/artifacts/link/new.txt"),
    ("GET", "/api/2.0/mlflow/artifacts/list?run_id=run1&path=link"),
])
def test_mlflow_artifact_paths_outside_the_run_are_invalid_parameter_values(
        tracking_server, tmp_path: Path, method: str, path: str):
    server, run_root = tracking_server
    write(tmp_path / "x", "outside the run")
    write(tmp_path / "outside" / "secret.txt", "outside the run")
    (run_root / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    status, body = _request(server, method, path, b"overwritten" if method == "PUT" else None)
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), body
    assert (tmp_path / "x").read_text() == "outside the run"
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["secret.txt"]


def test_deleting_a_runs_artifacts_keeps_the_jobs_logs(tracking_server):
    server, run_root = tracking_server
    write(run_root / "user_logs" / "std_log.txt", "the job's log")
    write(run_root / "system_logs" / "agent.txt", "the agent's log")
    write(run_root / "model" / "MLmodel", "flavors: {}")
    status, body = _request(server, "DELETE", "/api/2.0/mlflow-artifacts/artifacts/0/run1/artifacts/user_logs")
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), body
    status, _ = _request(server, "DELETE", "/api/2.0/mlflow-artifacts/artifacts/0/run1/artifacts")
    assert status == 200
    assert sorted(p.name for p in run_root.iterdir()) == ["system_logs", "user_logs"]
    assert (run_root / "user_logs" / "std_log.txt").read_text() == "the job's log"
