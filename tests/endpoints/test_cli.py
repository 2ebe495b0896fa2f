"""``openaml online-endpoint`` and ``openaml online-deployment`` with az ml's verbs and flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from openaml.cli.main import cli

from tests.endpoints.scripts import light_code
from tests.helpers import write

pytestmark = pytest.mark.slow


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(cli, [*args, "-w", "ep"] if args[0] != "workspace" else list(args))
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1, result.output
    return result.output


def test_the_cli_deploys_invokes_and_deletes(ml_client, tmp_path: Path) -> None:
    light_code(tmp_path)
    write(tmp_path / "endpoint.yml", "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json\n"
                                     "name: cli-ep\nauth_mode: key\n")
    write(tmp_path / "blue.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
        name: blue
        endpoint_name: cli-ep
        code_configuration: {code: ./light, scoring_script: score.py}
        environment: {image: python:3.11-slim}
        environment_variables: {LABEL: blue}
        instance_type: Standard_DS3_v2
        instance_count: 1
        """)
    write(tmp_path / "request.json", json.dumps({"echo": "hi"}))
    created = json.loads(run("online-endpoint", "create", "-f", str(tmp_path / "endpoint.yml")))
    assert created["name"] == "cli-ep" and created["scoring_uri"].startswith("http://127.0.0.1:")
    assert "primary_key" not in json.dumps(created)
    assert "already exists" in run("online-endpoint", "create", "-n", "cli-ep", ok=False)
    deployed = json.loads(run("online-deployment", "create", "-f", str(tmp_path / "blue.yml"), "--all-traffic"))
    assert deployed["provisioning_state"] == "Succeeded"
    shown = json.loads(run("online-endpoint", "show", "-n", "cli-ep"))
    assert shown["traffic"] == {"blue": 100}
    answer = json.loads(run("online-endpoint", "invoke", "-n", "cli-ep", "--request-file", str(tmp_path / "request.json")))
    assert answer["echo"] == "hi" and answer["deployment"] == "blue"
    answer = json.loads(run("online-endpoint", "invoke", "-n", "cli-ep", "-r", str(tmp_path / "request.json"),
                            "--deployment-name", "blue"))
    assert answer["deployment"] == "blue"
    keys = json.loads(run("online-endpoint", "get-credentials", "-n", "cli-ep"))
    assert set(keys) == {"primaryKey", "secondaryKey"}
    listed = run("online-endpoint", "list")
    assert "cli-ep" in listed and keys["primaryKey"] not in listed
    run("online-endpoint", "regenerate-keys", "-n", "cli-ep", "--key-type", "secondary")
    assert json.loads(run("online-endpoint", "get-credentials", "-n", "cli-ep"))["secondaryKey"] != keys["secondaryKey"]
    assert "sum to 100" in run("online-endpoint", "update", "-n", "cli-ep", "--traffic", "blue=90", ok=False)
    assert "does not exist" in run("online-endpoint", "update", "-n", "cli-ep", "--traffic", "blue=90 green=10",
                                   ok=False)
    assert "mirror" in run("online-endpoint", "update", "-n", "cli-ep", "--mirror-traffic", "blue=10", ok=False)
    updated = json.loads(run("online-endpoint", "update", "-n", "cli-ep", "--set", "description=scoring"))
    assert updated["description"] == "scoring" and updated["traffic"] == {"blue": 100}
    logs = run("online-deployment", "get-logs", "-n", "blue", "-e", "cli-ep", "--lines", "3")
    assert "scored by blue" in logs and len(logs.strip().splitlines()) <= 3
    init = run("online-deployment", "get-logs", "-n", "blue", "-e", "cli-ep", "-c", "storage-initializer")
    assert "code ->" in init
    table = run("online-deployment", "list", "-e", "cli-ep", "-o", "table")
    assert "blue" in table and "Succeeded" in table
    assert json.loads(run("online-deployment", "show", "-n", "blue", "-e", "cli-ep"))["instance_count"] == 1
    updated = json.loads(run("online-deployment", "update", "-n", "blue", "-e", "cli-ep", "--set", "instance_count=2"))
    assert updated["instance_count"] == 2 and updated["provisioning_state"] == "Succeeded"
    assert "set it to 0 first" in run("online-deployment", "delete", "-n", "blue", "-e", "cli-ep", "--yes", ok=False)
    run("online-endpoint", "delete", "-n", "cli-ep", "--yes")
    assert "not found" in run("online-endpoint", "show", "-n", "cli-ep", ok=False)


def test_help_names_azures_flags() -> None:
    runner = CliRunner()
    update = runner.invoke(cli, ["online-endpoint", "update", "--help"]).output
    assert "--traffic" in update and "--mirror-traffic" in update
    create = runner.invoke(cli, ["online-deployment", "create", "--help"]).output
    assert "--all-traffic" in create and "--endpoint-name" in create
    invoke = runner.invoke(cli, ["online-endpoint", "invoke", "--help"]).output
    assert "--request-file" in invoke and "--deployment-name" in invoke
    logs = runner.invoke(cli, ["online-deployment", "get-logs", "--help"]).output
    assert "--lines" in logs
