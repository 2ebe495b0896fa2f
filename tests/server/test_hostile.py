"""Every name and path in a request is hostile: checked at the edge, never escaping its root;
bodies are capped; an upload that is cut or changed stores nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from openaml.rest.paths import PROVIDER


def _under(home: Path) -> set[Path]:
    return {p for p in home.rglob("*")}


@pytest.mark.parametrize("name", ["..", ".", "a/b", "a\\b", "/etc", "x\x00y", "x\ny", "%2e%2e", "x" * 300,
                                  "ü" * 40, " lead"])
def test_hostile_asset_names_are_refused_and_write_nothing(http, ws, home: Path, name: str):
    before = _under(home)
    url = ws.base + "/models/" + _quoted(name) + "/versions/1"
    answer = http.put(url, json={"properties": {"modelUri": "azureml://datastores/workspaceblobstore/paths/x"}})
    assert answer.status_code in (400, 404), answer.text
    assert answer.json()["error"]["code"] in ("Validation", "NotFound")
    assert all(p.name.startswith("metadata.db") for p in _under(home) - before)  # its journal at most


def _quoted(name: str) -> str:
    from urllib.parse import quote
    return quote(name, safe="")


@pytest.mark.parametrize("segment", ["..", "a b", "x\x01", "-lead", "a/b"])
def test_hostile_subscription_and_workspace_segments(http, segment: str):
    quoted = _quoted(segment)
    for url in (f"/subscriptions/{quoted}/resourceGroups/rg/providers/{PROVIDER}/workspaces/ws/models",
                f"/subscriptions/s/resourceGroups/{quoted}/providers/{PROVIDER}/workspaces/ws/models",
                f"/subscriptions/s/resourceGroups/rg/providers/{PROVIDER}/workspaces/{quoted}/models"):
        answer = http.get(url)
        assert answer.status_code in (400, 404) and "error" in answer.json(), url


@pytest.mark.parametrize("path", ["../../../../etc/passwd", "/etc/passwd", "user_logs/../../x", "%2e%2e/x",
                                  "user_logs/std_log.txt\x00"])
def test_log_files_are_only_the_jobs_logs(http, ws, app, path: str):
    from openaml import MLClient, command
    from openaml.entities import Environment
    from openaml.server.testing import InMemoryTransport
    client = MLClient(workspace_name="ws", server="http://openaml.test", transport=InMemoryTransport(app))
    job = client.jobs.create_or_update(command(command="echo hi", environment=Environment(image="python:3.11-slim")))
    answer = http.get(ws.of("jobs", job.name, "logs") + "/" + _quoted(path).replace("%2F", "/"))
    assert answer.status_code in (400, 404) and "root:" not in answer.text
    client._backend.jobs().wait(job.name, timeout=60)


def test_bodies_are_capped(http, ws):
    big = {"properties": {"description": "x" * (80 * 1024)}}
    answer = http.put(ws.of("models", "m", "versions", "1"), content=json.dumps(big),
                      headers={"content-type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "PayloadTooLarge"
    answer = http.put(ws.of("blobs", "0" * 64), content=b"x" * (2 * 1024 * 1024))
    assert answer.status_code == 413


def test_a_blob_whose_bytes_are_not_its_name_stores_nothing(http, ws, home: Path):
    data = b"hello"
    wrong = hashlib.sha256(b"other").hexdigest()
    answer = http.put(ws.of("blobs", wrong), content=data)
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "Integrity"
    assert http.head(ws.of("blobs", wrong)).status_code == 404
    right = hashlib.sha256(data).hexdigest()
    assert http.head(ws.of("blobs", right)).status_code == 404
    assert http.put(ws.of("blobs", right), content=data).status_code == 201
    assert http.get(ws.of("blobs", right)).content == data
    leftovers = list((home / "workspaces" / "ws" / "artifacts" / "tmp").glob("*"))
    assert leftovers == []


@pytest.mark.parametrize("digest", ["abc", "G" * 64, "../" + "a" * 61, "A" * 64])
def test_blob_names_are_digests(http, ws, digest: str):
    assert http.put(ws.of("blobs", digest), content=b"x").status_code in (400, 404)


def test_an_upload_is_committed_only_whole(http, ws):
    from openaml.store.manifest import Manifest, ManifestEntry
    data = b"file bytes"
    entry = ManifestEntry(hashlib.sha256(data).hexdigest(), len(data))
    manifest = Manifest(root="src", kind="folder", files={"a.py": entry}).to_json()
    digest = hashlib.sha256(manifest).hexdigest()
    assert http.put(ws.of("blobs", digest), content=manifest).status_code == 201
    uri = f"azureml://datastores/workspaceblobstore/paths/LocalUpload/{digest}/src"
    answer = http.put(ws.of("codes", digest, "versions", "1"), json={"properties": {"codeUri": uri}})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "MissingFile"
    http.put(ws.of("blobs", entry.digest), content=data)
    answer = http.put(ws.of("codes", digest, "versions", "1"), json={"properties": {"codeUri": uri}})
    assert answer.status_code == 200 and answer.json()["properties"]["codeUri"] == uri


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=1, max_size=80))
@example(name="/").via("a name that decodes to a slash was once redirected (307)")
def test_any_datastore_name_is_checked_or_not_found(http, ws, name: str):
    answer = http.get(ws.base + "/datastores/" + _quoted(name))
    assert answer.status_code in (200, 400, 404)
    assert "error" in answer.json() or answer.json()["name"] == name
