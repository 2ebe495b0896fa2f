"""Guarantee 1: names and versions follow Azure's rules, checked where things are created.

Every kind is tried with the hostile names that main used to store, through the SDK and through
the CLI, on SQLite and PostgreSQL; nothing is stored afterwards. Names stored before the rules
(written here straight through the store) stay readable, archivable and deletable.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from openaml import MLClient, command
from openaml.cli.main import cli
from openaml.entities import (AmlCompute, AzureBlobDatastore, CommandComponent, ComputeInstance, Data,
                              Environment, KubernetesCompute, Model, Workspace)
from openaml.entities.pipeline import PipelineJob
from openaml import names
from openaml.errors import ValidationError
from openaml.services.jobs import default_experiment_name
from openaml.sweep import Choice

from tests.helpers import use_home

HOSTILE = ["../../x", "a/b", "/abs", "..", ".", "a\x00b", "a\nb", "ok\n", "\x1b[31mred", "a\\b",
           " lead", "caf\u00e9", "a\u202eb", "a" * 256]
HOSTILE_VERSIONS = ["latest", "LATEST", "Latest", "../x", "/abs", "a/b", "a\\b", "1\n", "\x1b[0m", "",
                    " ", ".", "..", str(10**30), str(2**31), "v" * 256]
ENV_URI = "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def client(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           workspace_name: str):
    """A client on a fresh workspace whose metadata lives in SQLite or PostgreSQL."""
    use_home(tmp_path, monkeypatch, host_python=False)
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    ml_client = MLClient(workspace_name=workspace_name)
    ml_client.workspaces.begin_create(Workspace(name=workspace_name), database_url=url).result()
    (tmp_path / "file.txt").write_text("content")
    yield ml_client
    ml_client.close()


@pytest.fixture
def run(client: MLClient) -> Callable[..., Any]:
    """``run("model", "create", ...)``: the CLI on the client's workspace, in-process."""
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(cli, [*args, "-w", client.workspace_name], catch_exceptions=False)
        assert (result.exit_code == 0) is ok, result.output + result.stderr
        return result

    return invoke


def _yaml(path: Path, text: str) -> str:
    path.write_text(textwrap.dedent(text).lstrip())
    return str(path)


def _refused(exc: ValidationError, field: str = "name") -> None:
    """One clear line naming the field and the rule; control characters shown escaped."""
    assert exc.details["field"] == field
    assert "\n" not in exc.message and not _CONTROL.search(exc.message)
    assert exc.message.startswith(f"field '{field}': ") and " is invalid: " in exc.message


def _cli_refused(result: Any, field: str = "name") -> None:
    err = result.stderr  # a job file's errors also name the file: "Error: job.yml: field ..."
    assert err.count("\n") == 1 and err.startswith("Error: ") and f"field '{field}': " in err, err
    assert " is invalid: " in err and not _CONTROL.search(err[:-1])


# -- the rules, as functions ----------------------------------------------------------------------
RULES = {  # kind -> (rule, the regex of the issue, in full, and extra length bounds)
    "asset": (names.ASSET, r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,254}$", (1, 255)),
    "component": (names.COMPONENT, r"^[a-z][a-z0-9_]*$", (1, 255)),
    "job": (names.JOB, r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$", (1, 255)),
    "cluster": (names.COMPUTE_CLUSTER, r"^[a-zA-Z][a-zA-Z0-9-]*$", (2, 16)),
    "instance": (names.COMPUTE_INSTANCE, r"^[a-zA-Z][a-zA-Z0-9-]*$", (3, 24)),
    "endpoint": (names.ENDPOINT, r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$", (3, 32)),
    "deployment": (names.DEPLOYMENT, r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$", (3, 32)),
    "workspace": (names.WORKSPACE, r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$", (2, 33)),
}
_ALPHABET = st.sampled_from("aZ09._-/\\ \x00\n\x1b\u00e9\u202e:@")
_CANDIDATES = st.one_of(st.text(_ALPHABET, max_size=40), st.text(max_size=20),
                        st.text("ab-_.", min_size=240, max_size=260))


def _regex_says(pattern: str, bounds: tuple[int, int], value: str) -> bool:
    # \Z, not $: Python's $ also matches before a trailing newline, which the rules refuse.
    return re.match(pattern.removesuffix("$") + r"\Z", value) is not None and bounds[0] <= len(value) <= bounds[1]


def _safe_segment(value: str) -> bool:
    return ("/" not in value and "\\" not in value and value not in (".", "..") and 0 < len(value) <= 255
            and not any(not ch.isprintable() for ch in value))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(RULES)), _CANDIDATES)
def test_each_rule_accepts_exactly_what_its_regex_says(kind: str, value: str) -> None:
    rule, pattern, bounds = RULES[kind]
    accepted = rule.accepts(value)
    assert accepted == _regex_says(pattern, bounds, value)
    if accepted:
        assert _safe_segment(value)
    else:
        with pytest.raises(ValidationError) as info:
            rule.check(value)
        _refused(info.value)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(_ALPHABET, max_size=12), st.text(max_size=12), st.integers(0, 10**40).map(str)))
def test_every_accepted_version_is_a_safe_segment(value: str) -> None:
    if names.version_problem(value) is None:
        assert _safe_segment(value) and value.lower() != "latest"
        assert not (value.isascii() and value.isdigit()) or int(value) <= names.INT_VERSION_MAX
    else:
        with pytest.raises(ValidationError) as info:
            names.check_version(value)
        _refused(info.value, "version")


def test_a_long_name_is_shown_cut_and_a_control_character_escaped() -> None:
    with pytest.raises(ValidationError) as info:
        names.check_name("model", "x" * 10_000)
    assert len(info.value.message) < 400 and "(10000 characters)" in info.value.message
    with pytest.raises(ValidationError) as info:
        names.check_name("model", "\x1b[2Jboom")
    assert "'\\x1b[2Jboom'" in info.value.message


# -- every kind refuses hostile names, through the SDK and the CLI --------------------------------
def _sdk_create(client: MLClient, kind: str, name: str) -> None:
    file = str(Path.cwd() / "file.txt")
    make = {
        "model": lambda: client.models.create_or_update(Model(name=name, path=file)),
        "data": lambda: client.data.create_or_update(Data(name=name, path=file, type="uri_file")),
        "environment": lambda: client.environments.create_or_update(Environment(name=name, image="python:3.11")),
        "component": lambda: client.components.create_or_update(
            CommandComponent(name=name, command="echo hi", environment=ENV_URI)),
        "datastore": lambda: client.datastores.create_or_update(
            AzureBlobDatastore(name=name, account_name="acct", container_name="c")),
        "cluster": lambda: client.compute.begin_create_or_update(AmlCompute(name=name)).result(),
        "instance": lambda: client.compute.begin_create_or_update(ComputeInstance(name=name)).result(),
        "kubernetes": lambda: client.compute.begin_create_or_update(KubernetesCompute(name=name)).result(),
        "workspace": lambda: client.workspaces.begin_create(Workspace(name=name)).result(),
        "job": lambda: client.jobs.create_or_update(command(name=name, command="echo hi", environment=ENV_URI)),
    }
    make[kind]()


def _stored_names(client: MLClient) -> dict[str, set[str]]:
    from openaml.constants import ListViewType
    everything = ListViewType.ALL
    return {
        "model": {m.name for m in client.models.list(list_view_type=everything)},
        "data": {d.name for d in client.data.list(list_view_type=everything)},
        "environment": {e.name for e in client.environments.list(list_view_type=everything)},
        "component": {c.name for c in client.components.list(list_view_type=everything)},
        "datastore": {d.name for d in client.datastores.list()},
        "compute": {c.name for c in client.compute.list()},
        "workspace": {w.name for w in client.workspaces.list()},
        "job": {j.name for j in client.jobs.list(list_view_type=everything)},
    }


KINDS = ["model", "data", "environment", "component", "datastore", "cluster", "instance", "kubernetes",
         "workspace", "job"]


def test_every_kind_refuses_every_hostile_name_through_the_sdk(client: MLClient, tmp_path: Path) -> None:
    before = _stored_names(client)
    home_entries = sorted(p.name for p in (tmp_path / "home" / "workspaces").iterdir())
    for kind in KINDS:
        for bad in HOSTILE + (["Upper", "1st", "with-dash"] if kind == "component" else []):
            with pytest.raises(ValidationError) as info:
                _sdk_create(client, kind, bad)
            _refused(info.value)
    assert _stored_names(client) == before
    assert sorted(p.name for p in (tmp_path / "home" / "workspaces").iterdir()) == home_entries
    assert not (tmp_path / "abs").exists() and not (tmp_path / "x").exists()


def test_every_kind_refuses_hostile_names_through_the_cli(client: MLClient, run, tmp_path: Path) -> None:
    before = _stored_names(client)
    comp = _yaml(tmp_path / "comp.yml", f"""
        name: fine_name
        type: command
        command: echo hi
        environment: {ENV_URI}
        """)
    store = _yaml(tmp_path / "ds.yml", """
        name: fine
        type: azure_blob
        account_name: acct
        container_name: c
        """)
    job = _yaml(tmp_path / "job.yml", f"""
        command: echo hi
        environment: {ENV_URI}
        """)
    file = str(tmp_path / "file.txt")
    creates = {
        "model": ["model", "create", "--path", file],
        "data": ["data", "create", "--path", file, "--type", "uri_file"],
        "environment": ["environment", "create", "--image", "python:3.11"],
        "component": ["component", "create", "-f", comp],
        "datastore": ["datastore", "create", "-f", store],
        "cluster": ["compute", "create", "--type", "amlcompute"],
        "instance": ["compute", "create", "--type", "computeinstance"],
        "job": ["job", "create", "-f", job],
    }
    for args in creates.values():
        for bad in HOSTILE:
            _cli_refused(run(*args, "-n", bad, ok=False))
        # --set name=... reaches the same check as -n.
        _cli_refused(run(*args, "--set", "name=../../x", ok=False) if "-f" in args
                     else run(*args, "-n", "fine", "--set", "name=a/b", ok=False))
    for bad in HOSTILE:
        result = CliRunner().invoke(cli, ["workspace", "create", "-n", bad], catch_exceptions=False)
        assert result.exit_code != 0
        _cli_refused(result)
    assert _stored_names(client) == before


def test_a_yaml_name_reaches_the_same_check(client: MLClient, run, tmp_path: Path) -> None:
    spec = _yaml(tmp_path / "model.yml", """
        name: "../../escape\\0"
        path: ./file.txt
        """)
    result = run("model", "create", "-f", spec, ok=False)
    _cli_refused(result)
    assert "'../../escape\\x00'" in result.stderr
    assert _stored_names(client)["model"] == set()


def test_compute_name_lengths_follow_the_type(client: MLClient) -> None:
    ok = {"cluster": ["ab", "a" * 16, "cpu-01"], "instance": ["abc", "a" * 24, "dev-box-1"],
          "kubernetes": ["k8", "a" * 16]}
    bad = {"cluster": ["a", "a" * 17, "1cpu", "cpu_01"], "instance": ["ab", "a" * 25, "-dev"],
           "kubernetes": ["k", "a" * 17]}
    for kind, good_names in ok.items():
        for name in good_names:
            _sdk_create(client, kind, name)
    for kind, bad_names in bad.items():
        for name in bad_names:
            with pytest.raises(ValidationError) as info:
                _sdk_create(client, kind, name)
            _refused(info.value)
    assert _stored_names(client)["compute"] == {n for names_ in ok.values() for n in names_}


def test_experiment_names_and_output_names_are_checked_at_submission(client: MLClient) -> None:
    for bad in ("a\x00b", "tab\there", "x" * 256):
        with pytest.raises(ValidationError) as info:
            client.jobs.create_or_update(command(command="echo hi", environment=ENV_URI, experiment_name=bad))
        _refused(info.value, "experiment_name")
    assert names.EXPERIMENT.accepts(default_experiment_name())  # no experiment given: always passes
    registering = command(command="echo hi", environment=ENV_URI,
                          outputs={"model": {"type": "custom_model", "name": "../m", "version": "1"}})
    with pytest.raises(ValidationError) as info:
        client.jobs.create_or_update(registering)
    _refused(info.value, "outputs.model.name")
    versioned = command(command="echo hi", environment=ENV_URI,
                        outputs={"model": {"type": "custom_model", "name": "m", "version": "latest"}})
    with pytest.raises(ValidationError) as info:
        client.jobs.create_or_update(versioned)
    _refused(info.value, "outputs.model.version")
    assert _stored_names(client)["job"] == set()


def test_the_default_experiment_drops_what_the_rule_refuses(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "my proj\x1b\x7fect\tname"
    folder.mkdir()
    monkeypatch.chdir(folder)
    assert default_experiment_name() == "myprojectname"


def test_child_job_names_are_checked_when_the_parent_is_submitted(client: MLClient) -> None:
    step = {"type": "command", "command": "echo hi", "environment": ENV_URI}
    pipeline = PipelineJob(name="p" * 250, jobs={"train": step})  # its step would be p...p-train: 256
    with pytest.raises(ValidationError) as info:
        client.jobs.create_or_update(pipeline)
    _refused(info.value, "jobs.train")
    assert "'train'" in info.value.message
    spaced = PipelineJob(name="p", jobs={"bad step": step})
    with pytest.raises(ValidationError) as info:
        client.jobs.create_or_update(spaced)
    _refused(info.value, "jobs.bad step")
    trial = command(command="echo ${{inputs.lr}}", environment=ENV_URI, inputs={"lr": 0.1})
    sweep = trial(lr=Choice([0.1, 0.2])).sweep(primary_metric="m", goal="maximize", max_total_trials=10)
    sweep.name = "s" * 254  # its trials would be s...s_0 .. s...s_9: 256 characters
    with pytest.raises(ValidationError) as info:
        client.jobs.create_or_update(sweep)
    _refused(info.value)
    assert _stored_names(client)["job"] == set()
    assert names.JOB.accepts(names.step_job_name("p" * 200, "train"))
    assert names.JOB.accepts(names.trial_job_name("s" * 200, 99))


# -- versions -------------------------------------------------------------------------------------
def test_hostile_versions_are_refused_through_the_sdk_and_the_cli(client: MLClient, run, tmp_path: Path) -> None:
    file = str(tmp_path / "file.txt")
    for bad in HOSTILE_VERSIONS:
        with pytest.raises(ValidationError) as info:
            client.models.create_or_update(Model(name="m", path=file, version=bad))
        _refused(info.value, "version")
        with pytest.raises(ValidationError) as info:
            client.data.create_or_update(Data(name="d", path=file, type="uri_file", version=bad))
        _refused(info.value, "version")
        if bad:  # the CLI reads an empty -v as "no version"
            _cli_refused(run("model", "create", "-n", "m", "--path", file, "-v", bad, ok=False), "version")
    _cli_refused(run("data", "create", "-n", "d", "--path", file, "--type", "uri_file",
                     "--set", "version=../x", ok=False), "version")
    assert _stored_names(client)["model"] == set() and _stored_names(client)["data"] == set()
    for good in ("1", "1.0.0", "v2", "2024-01-01", "rc_1", str(names.INT_VERSION_MAX)):
        assert client.models.create_or_update(Model(name="m", path=file, version=good)).version == good


def test_a_huge_stored_version_does_not_break_auto_versioning(client: MLClient, tmp_path: Path) -> None:
    file = str(tmp_path / "file.txt")
    first = client.models.create_or_update(Model(name="m", path=file))
    ctx = client._context()
    record = ctx.metadata.get_asset_version(ctx.name, "models", "m", first.version)
    for huge in (str(10**30), str(2**63 - 1), str(2**31)):  # what main accepted, written directly
        ctx.metadata.create_asset_version(ctx.name, "models", "m", huge, record.spec, record.content_digest,
                                          identity=f"legacy-{huge}")
    assert client.models.create_or_update(Model(name="m", path=file, description="next")).version == "2"
    assert client.models.get("m", version=str(10**30)).version == str(10**30)  # still readable


def test_the_largest_integer_version_ends_auto_versioning_cleanly(client: MLClient, tmp_path: Path) -> None:
    file = str(tmp_path / "file.txt")
    top = str(names.INT_VERSION_MAX)
    assert client.models.create_or_update(Model(name="m", path=file, version=top)).version == top
    with pytest.raises(ValidationError) as info:
        client.models.create_or_update(Model(name="m", path=file, description="again"))
    assert info.value.details["field"] == "version" and "explicitly" in info.value.message
    assert client.models.create_or_update(Model(name="m", path=file, version="named")).version == "named"


# -- names stored before the rules keep working ---------------------------------------------------
LEGACY_ASSET_NAMES = ["../../x", "a/b", "bad\nname", " spaced", "-dash"]


def test_stored_bad_asset_names_can_be_read_archived_and_restored(client: MLClient, run, tmp_path: Path) -> None:
    file = str(tmp_path / "file.txt")
    ctx = client._context()
    sources = {
        "models": client.models.create_or_update(Model(name="good", path=file)),
        "data": client.data.create_or_update(Data(name="good", path=file, type="uri_file")),
        "environments": client.environments.create_or_update(Environment(name="good", image="python:3.11")),
        "components": client.components.create_or_update(
            CommandComponent(name="good", command="echo hi", environment=ENV_URI)),
    }
    ops = {"models": client.models, "data": client.data, "environments": client.environments,
           "components": client.components}
    nouns = {"models": "model", "data": "data", "environments": "environment", "components": "component"}
    for kind, source in sources.items():
        record = ctx.metadata.get_asset_version(ctx.name, kind, "good", source.version)
        legacy = [*LEGACY_ASSET_NAMES, "Bad-Component"] if kind == "components" else LEGACY_ASSET_NAMES
        for bad in legacy:
            ctx.metadata.create_asset_version(ctx.name, kind, bad, "latest", record.spec, record.content_digest,
                                              identity="legacy")
            assert ops[kind].get(bad, version="latest").name == bad
            assert ops[kind].get(bad).version == "latest"  # the label resolves to it, as the newest
            assert bad in {a.name for a in ops[kind].list()}
            assert [a.version for a in ops[kind].list(bad)] == ["latest"]
            ops[kind].archive(bad)
            assert bad not in {a.name for a in ops[kind].list()}
            ops[kind].restore(bad)
        shown = json.loads(run(nouns[kind], "show", "-n", "../../x", "-v", "latest").stdout)
        assert shown["name"] == "../../x"
        run(nouns[kind], "archive", "-n", "a/b")
        run(nouns[kind], "restore", "-n", "a/b")


def test_stored_bad_resource_and_job_names_can_be_read_and_deleted(client: MLClient, run) -> None:
    ctx = client._context()
    blob = AzureBlobDatastore(name="x", account_name="acct", container_name="c")
    cluster = AmlCompute(name="x")
    for bad in ("../../ds", "a/b", "bad\nname"):
        ctx.metadata.put_resource(ctx.name, "datastores", bad, blob.model_dump(mode="json", exclude_none=True))
        ctx.metadata.put_resource(ctx.name, "computes", bad, cluster.model_dump(mode="json", exclude_none=True))
        assert client.datastores.get(bad).name == bad and client.compute.get(bad).name == bad
        assert bad in {d.name for d in client.datastores.list()} and bad in {c.name for c in client.compute.list()}
    assert json.loads(run("datastore", "show", "-n", "a/b").stdout)["name"] == "a/b"
    assert json.loads(run("compute", "show", "-n", "a/b").stdout)["name"] == "a/b"
    run("datastore", "delete", "-n", "a/b")
    run("compute", "delete", "-n", "a/b", "--yes")
    client.datastores.delete("../../ds")
    client.compute.begin_delete("../../ds").result()
    stored = _stored_names(client)
    assert "a/b" not in stored["datastore"] | stored["compute"]
    assert "../../ds" not in stored["datastore"] | stored["compute"]
    # A job stored under a name the rule refuses (but that is no path) is still shown and archived.
    job = command(name="fine", command="echo hi", environment=ENV_URI, experiment_name="e")
    spec = {"job": job.model_dump(mode="json", exclude_none=True),
            "resolved": {"outputs": {}, "inputs": {}, "warnings": []}}
    ctx.jobs.create_job(ctx.name, "old.job name", "command", spec, experiment_name="e")
    assert client.jobs.get("old.job name").name == "old.job name"
    assert "old.job name" in {j.name for j in client.jobs.list()}
    client.jobs.archive("old.job name")
    assert "old.job name" not in {j.name for j in client.jobs.list()}
    assert json.loads(run("job", "show", "-n", "old.job name").stdout)["name"] == "old.job name"
