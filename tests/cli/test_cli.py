"""The CLI end to end, in-process through click's runner: the az ml verbs on real workspaces."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from openaml.cli.main import cli

KEY = "c2VjcmV0LWtleS1mb3ItdGVzdHMtMDEyMzQ1Njc4OQ=="


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAML_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        else:
            assert result.exit_code != 0, result.output
        return result

    invoke("workspace", "create", "-n", "cli-ws")
    return invoke


def _yaml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_model_lifecycle(run, tmp_path: Path):
    _yaml(tmp_path / "m" / "w.txt", "weights")
    spec = _yaml(tmp_path / "model.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/model.schema.json
        name: my-model
        path: ./m
        description: from yaml
        """)
    out = json.loads(run("model", "create", "-f", str(spec), "-w", "cli-ws").stdout)
    assert out["name"] == "my-model" and out["version"] == "1" and out["type"] == "custom_model"
    out = json.loads(run("model", "create", "-f", str(spec), "-w", "cli-ws", "--set", "version=7").stdout)
    assert out["version"] == "7"
    out = json.loads(run("model", "create", "-n", "flagged", "--path", str(tmp_path / "m"), "-w", "cli-ws").stdout)
    assert out["name"] == "flagged"
    table = run("model", "list", "-w", "cli-ws", "-o", "table").stdout
    assert "my-model" in table and "flagged" in table and "Version" in table
    shown = json.loads(run("model", "show", "-n", "my-model", "-l", "latest", "-w", "cli-ws").stdout)
    assert shown["version"] == "7"
    updated = json.loads(run("model", "update", "-n", "my-model", "-v", "1", "--set", "description=new",
                             "--set", "tags.team=ml", "-w", "cli-ws").stdout)
    assert updated["description"] == "new" and updated["tags"] == {"team": "ml"}
    bad = run("model", "update", "-n", "my-model", "-v", "1", "--set", "type=triton_model", "-w", "cli-ws", ok=False)
    assert "cannot change" in bad.stderr
    run("model", "archive", "-n", "my-model", "-v", "7", "-w", "cli-ws")
    assert json.loads(run("model", "show", "-n", "my-model", "-w", "cli-ws").stdout)["version"] == "1"
    versions = json.loads(run("model", "list", "-n", "my-model", "--include-archived", "-w", "cli-ws").stdout)
    assert [v["version"] for v in versions] == ["7", "1"]
    run("model", "restore", "-n", "my-model", "-v", "7", "-w", "cli-ws")
    run("model", "download", "-n", "my-model", "-v", "1", "-p", str(tmp_path / "dl"), "-w", "cli-ws")
    assert (tmp_path / "dl" / "my-model" / "m" / "w.txt").read_text() == "weights"
    yaml_out = run("model", "show", "-n", "my-model", "-v", "1", "-o", "yaml", "-w", "cli-ws").stdout
    assert "name: my-model" in yaml_out


def test_errors_are_one_line_with_nonzero_exit(run, tmp_path: Path):
    spec = _yaml(tmp_path / "bad.yml", """
        name: m
        path: ./x
        descripton: typo
        """)
    result = run("model", "create", "-f", str(spec), "-w", "cli-ws", ok=False)
    err = result.stderr.strip()
    assert err.count("\n") == 0 and err.startswith("Error:")
    assert "bad.yml" in err and "descripton" in err and ":3" in err
    missing = run("model", "show", "-n", "ghost", "-w", "cli-ws", ok=False)
    assert "not found" in missing.stderr
    nows = run("model", "list", "-w", "missing-ws", ok=False)
    assert "openaml workspace create -n missing-ws" in nows.stderr


def test_datastore_secrets_never_printed(run, tmp_path: Path):
    spec = _yaml(tmp_path / "blob.yml", f"""
        $schema: https://azuremlschemas.azureedge.net/latest/azureBlob.schema.json
        name: blobstore
        type: azure_blob
        account_name: acct
        container_name: data
        credentials:
          account_key: {KEY}
        """)
    outputs = [run("datastore", "create", "-f", str(spec), "-w", "cli-ws").output]
    for fmt in ("json", "yaml", "table"):
        outputs.append(run("datastore", "show", "-n", "blobstore", "-w", "cli-ws", "-o", fmt).output)
        outputs.append(run("datastore", "list", "-w", "cli-ws", "-o", fmt).output)
    outputs.append(run("datastore", "update", "-n", "blobstore", "--set", "description=d", "-w", "cli-ws").output)
    assert all(KEY not in o for o in outputs)
    assert "blobstore" in outputs[-2]


def test_workspace_from_config_json(run, tmp_path: Path, monkeypatch):
    (tmp_path / "proj" / "sub").mkdir(parents=True)
    (tmp_path / "proj" / "config.json").write_text(json.dumps({"workspace_name": "cli-ws"}))
    monkeypatch.chdir(tmp_path / "proj" / "sub")
    _yaml(tmp_path / "proj" / "sub" / "c.yml", """
        name: cpu-cluster
        type: amlcompute
        size: STANDARD_DS3_V2
        max_instances: 2
        """)
    run("compute", "create", "-f", "c.yml")
    assert "cpu-cluster" in run("compute", "list", "-o", "table").stdout
    assert json.loads(run("workspace", "show").stdout)["name"] == "cli-ws"


def _all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield prefix + (name,)
        if isinstance(command, click.Group):
            yield from _all_commands(command, prefix + (name,))


def test_help_on_every_command():
    runner = CliRunner()
    commands = list(_all_commands(cli))
    assert ("model", "create") in commands and ("workspace", "delete") in commands
    for path in commands:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Usage:" in result.output
        command = cli
        for part in path:
            command = command.commands[part]
        assert command.help, f"{' '.join(path)} has no help text"


def test_create_from_flags_for_each_asset_group(run, tmp_path: Path):
    data_file = _yaml(tmp_path / "d" / "rows.csv", "a,b\n1,2\n")
    out = json.loads(run("data", "create", "-n", "rows", "--type", "uri_file", "--path", str(data_file),
                         "-w", "cli-ws").stdout)
    assert (out["name"], out["version"], out["type"]) == ("rows", "1", "uri_file")
    conda = _yaml(tmp_path / "conda.yml", "dependencies:\n  - python=3.11\n  - pip:\n    - six\n")
    env = json.loads(run("environment", "create", "-n", "env", "--image", "python:3.11-slim",
                         "--conda-file", str(conda), "-w", "cli-ws").stdout)
    assert env["conda_file"]["dependencies"][0] == "python=3.11" and env["image"] == "python:3.11-slim"
    _yaml(tmp_path / "ctx" / "Dockerfile", "FROM python:3.11-slim\n")
    built = json.loads(run("environment", "create", "-n", "built", "--build-context", str(tmp_path / "ctx"),
                           "-w", "cli-ws").stdout)
    assert built["build"]["path"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    bad = run("data", "create", "-n", "rows2", "--type", "uri_folder", "--path", str(data_file), "-w", "cli-ws",
              ok=False)
    assert "uri_file" in bad.stderr
    assert run("data", "list", "-w", "cli-ws", "-o", "table").stdout.count("rows") == 1


def test_compute_flags_update_and_delete(run):
    created = json.loads(run("compute", "create", "-n", "cpu", "--type", "amlcompute", "--size", "STANDARD_D2_V2",
                             "--max-instances", "3", "-w", "cli-ws").stdout)
    assert (created["size"], created["max_instances"]) == ("STANDARD_D2_V2", 3)
    updated = json.loads(run("compute", "update", "-n", "cpu", "--max-instances", "5", "-w", "cli-ws").stdout)
    assert updated["max_instances"] == 5
    run("compute", "delete", "-n", "cpu", "--yes", "-w", "cli-ws")
    assert "cpu" not in run("compute", "list", "-w", "cli-ws").stdout
    assert "not found" in run("compute", "show", "-n", "cpu", "-w", "cli-ws", ok=False).stderr
