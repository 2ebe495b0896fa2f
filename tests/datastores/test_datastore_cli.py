"""``openaml datastore create|show|list|update|delete`` for the remote types: YAML in, secrets
never out (not in ``show``, ``list`` or the error of a bad file), kept across an update."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from openaml.cli.main import cli

from tests.helpers import write

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def _run(*args: str):
    result = CliRunner().invoke(cli, [*args, "-w", "data"])
    return result


def test_s3_and_emulator_datastores_round_trip_through_the_cli(ml_client, tmp_path: Path):
    s3 = write(tmp_path / "s3.yml", f"""
        name: lake
        type: s3
        description: raw data
        bucket: my-bucket
        endpoint_url: http://127.0.0.1:9000
        region: us-east-1
        credentials:
          access_key_id: AKIAEXAMPLE
          secret_access_key: {SECRET}
        """)
    blob = write(tmp_path / "blob.yml", f"""
        name: emulated
        type: azure_blob
        account_name: devstoreaccount1
        container_name: data
        endpoint: 127.0.0.1:10000
        protocol: http
        credentials:
          account_key: {SECRET}
        """)
    for spec in (s3, blob):
        created = _run("datastore", "create", "-f", str(spec), "-o", "json")
        assert created.exit_code == 0, created.output
        assert SECRET not in created.output
    shown = _run("datastore", "show", "-n", "lake", "-o", "json")
    assert shown.exit_code == 0 and SECRET not in shown.output and "AKIAEXAMPLE" not in shown.output
    data = json.loads(shown.output)
    assert (data["type"], data["bucket"], data["endpoint_url"], data["region"]) == \
        ("s3", "my-bucket", "http://127.0.0.1:9000", "us-east-1")
    assert json.loads(_run("datastore", "show", "-n", "emulated", "-o", "json").output)["protocol"] == "http"
    listed = _run("datastore", "list", "-o", "json")
    assert {d["name"]: d["type"] for d in json.loads(listed.output)}.items() >= {"lake": "s3",
                                                                                "emulated": "azure_blob"}.items()
    assert SECRET not in listed.output
    updated = _run("datastore", "update", "-n", "lake", "--set", "region=eu-west-1", "-o", "json")
    assert updated.exit_code == 0 and SECRET not in updated.output
    kept = ml_client.datastores.get("lake", include_secrets=True)
    assert (kept.region, kept.credentials.secret_access_key, kept.credentials.access_key_id) == \
        ("eu-west-1", SECRET, "AKIAEXAMPLE")
    assert _run("datastore", "delete", "-n", "lake").exit_code == 0
    assert _run("datastore", "show", "-n", "lake").exit_code != 0


def test_a_bad_datastore_file_names_the_field_and_shows_no_secret(ml_client, tmp_path: Path):
    spec = write(tmp_path / "bad.yml", f"""
        name: bad
        type: azure_blob
        account_name: acct
        container_name: data
        endpoint: evil.example/steal?x=
        credentials:
          account_key: {SECRET}
        """)
    result = _run("datastore", "create", "-f", str(spec))
    assert result.exit_code != 0
    assert "endpoint" in result.output and SECRET not in result.output
