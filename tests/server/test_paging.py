"""Collections come a page at a time, as Azure's do: ``$top`` items and a ``nextLink`` holding an
opaque ``$skipToken``; following the links gives every item once, in a stable order, even while
items are added; a token that is not one the server made is a 400 naming it; the SDK follows the
links by itself."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openaml import MLClient, command
from openaml.backends.local import LocalLauncher
from openaml.entities import AmlCompute, Environment, LocalDatastore, Workspace
from openaml.rest.paths import WorkspaceScope
from openaml.server import ServerSettings, create_app
from openaml.server.routes._paging import decode_token, encode_token
from openaml.server.testing import InMemoryTransport
from openaml.services.settings import Settings

from tests.helpers import StaticToken

URI = "azureml://datastores/workspaceblobstore/paths/x"


class Counting(httpx.BaseTransport):
    """A transport that counts the requests it passes on."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.paths, self.hosts = inner, [], []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        self.hosts.append(request.url.host)
        return self.inner.handle_request(request)


@pytest.fixture
def small_pages(home: Path, owner_token: str):
    """The app with pages of 3 items, and an SDK client of it counting its requests (both with
    the Owner token of ``ws``)."""
    app = create_app(ServerSettings(workspace_settings=Settings.from_env(), page_size=3))
    memory = InMemoryTransport(app)
    counting = Counting(memory)
    client = MLClient(workspace_name="ws", server="http://openaml.test", transport=counting)
    http = httpx.Client(base_url="http://openaml.test", transport=memory,
                        headers={"Authorization": f"Bearer {owner_token}"})
    yield app, http, client, counting
    http.close()
    memory.close()
    app.state.openaml.close()


def _put_model(http: httpx.Client, ws: WorkspaceScope, name: str, version: str = "1") -> None:
    answer = http.put(ws.of("models", name, "versions", version), json={"properties": {"modelUri": URI}})
    assert answer.status_code in (200, 201), answer.text


def _read_all(http: httpx.Client, url: str, params: dict[str, Any] | None = None) -> list[list[str]]:
    """The names on each page, following nextLink to the end."""
    pages, body = [], http.get(url, params=params).json()
    while True:
        pages.append([item["name"] for item in body["value"]])
        if "nextLink" not in body:
            return pages
        assert len(pages) < 100, "nextLink never ends"
        body = http.get(body["nextLink"]).json()


def test_containers_and_versions_come_in_pages_in_a_stable_order(small_pages, ws):
    app, http, _, _ = small_pages
    names = ["m07", "m01", "m05", "m03", "m02", "m06", "m04"]
    for name in names:
        _put_model(http, ws, name)
    first = http.get(ws.of("models"), params={"api-version": "2024-04-01"}).json()
    assert [i["name"] for i in first["value"]] == ["m01", "m02", "m03"]
    link = urlsplit(first["nextLink"])
    query = parse_qs(link.query)
    assert link.path == ws.of("models") and set(query) == {"api-version", "$skipToken"}
    assert query["api-version"] == ["2024-04-01"]
    assert _read_all(http, ws.of("models")) == [["m01", "m02", "m03"], ["m04", "m05", "m06"], ["m07"]]
    assert _read_all(http, ws.of("models"), {"$top": 5}) == [["m01", "m02", "m03", "m04", "m05"], ["m06", "m07"]]
    assert _read_all(http, ws.of("models"), {"count": 7}) == [sorted(names)]

    for version in range(2, 8):
        _put_model(http, ws, "m01", str(version))
    versions = http.get(ws.of("models", "m01", "versions"), params={"$top": 4}).json()
    assert [v["properties"].get("version", v["name"]) for v in versions["value"]] == ["7", "6", "5", "4"]
    rest = http.get(versions["nextLink"]).json()
    assert [v["name"] for v in rest["value"]] == ["3", "2", "1"] and "nextLink" not in rest


def test_an_exact_last_page_has_no_next_link(small_pages, ws):
    _, http, _, _ = small_pages
    for name in ("a", "b", "c"):
        _put_model(http, ws, name)
    body = http.get(ws.of("models")).json()
    assert [i["name"] for i in body["value"]] == ["a", "b", "c"] and "nextLink" not in body
    assert http.get(ws.of("models", "a", "versions")).json() == {"value": [http.get(
        ws.of("models", "a", "versions", "1")).json()]}


def test_every_collection_route_pages(small_pages, ws, admin_token: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch):
    app, http, client, _ = small_pages
    # Workspaces are created, and all of them listed, by the server's administrator.
    admin_memory = InMemoryTransport(app)
    admin_http = httpx.Client(base_url="http://openaml.test", transport=admin_memory,
                              headers={"Authorization": f"Bearer {admin_token}"})
    admin = MLClient(StaticToken(admin_token), workspace_name="ws", server="http://openaml.test",
                     transport=admin_memory)
    monkeypatch.setattr(LocalLauncher, "launch", lambda self, settings, workspace, job_name: None)
    for i in range(4):
        client.datastores.create_or_update(LocalDatastore(name=f"local{i}", path=str(tmp_path / f"d{i}")))
        client.compute.begin_create_or_update(AmlCompute(name=f"cpu{i}")).result()
        admin.workspaces.begin_create(Workspace(name=f"extra{i}")).result()
    jobs = [client.jobs.create_or_update(command(command="echo hi", environment=Environment(image="python:3.11-slim")))
            for _ in range(5)]

    datastores = [n for page in _read_all(http, ws.of("datastores")) for n in page]
    assert datastores == sorted(datastores) and {f"local{i}" for i in range(4)} <= set(datastores)
    assert _read_all(http, ws.of("computes")) == [["cpu0", "cpu1", "cpu2"], ["cpu3"]]
    assert _read_all(admin_http, ws.workspaces) == [["extra0", "extra1", "extra2"], ["extra3", "ws"]]
    assert _read_all(http, ws.workspaces) == [["ws"]]  # the Owner of ws sees only ws
    assert [n for page in _read_all(http, ws.of("jobs")) for n in page] == [j.name for j in reversed(jobs)]
    for path in ("datastores", "computes", "jobs", "usages", "vmSizes"):
        body = http.get(ws.of(path), params={"$top": 1}).json()
        assert len(body["value"]) == 1, path

    # The SDK follows the links: everything, each once.
    assert [j.name for j in client.jobs.list()] == [j.name for j in reversed(jobs)]
    assert [j.name for j in client.jobs.list(max_results=4)] == [j.name for j in reversed(jobs)][:4]
    assert sorted(c.name for c in client.compute.list()) == [f"cpu{i}" for i in range(4)]
    assert {f"extra{i}" for i in range(4)} | {"ws"} == {w.name for w in admin.workspaces.list()}
    assert [d.name for d in client.datastores.list()] == datastores
    admin.close()
    admin_http.close()
    admin_memory.close()


def test_the_sdk_reads_the_next_pages_only_as_iteration_reaches_them(small_pages, ws):
    _, http, client, counting = small_pages
    for i in range(8):
        _put_model(http, ws, f"m{i}")
    counting.paths.clear()
    models = client.models.list()
    assert counting.paths == [ws.of("models")]
    iterator = iter(models)
    assert [next(iterator).name for _ in range(3)] == ["m0", "m1", "m2"] and len(counting.paths) == 1
    assert next(iterator).name == "m3" and len(counting.paths) == 2
    assert [m.name for m in iterator] == [f"m{i}" for i in range(4, 8)] and len(counting.paths) == 3
    assert [m.name for m in models] == [f"m{i}" for i in range(8)]  # iterable again
    assert [[m.name for m in page] for page in models.by_page()] == [["m0", "m1", "m2"], ["m3", "m4", "m5"],
                                                                     ["m6", "m7"]]
    for version in range(2, 9):
        _put_model(http, ws, "m0", str(version))
    assert [m.version for m in client.models.list("m0")] == [str(v) for v in range(8, 0, -1)]


def test_a_next_link_is_followed_on_the_clients_own_server(small_pages, ws):
    """A nextLink naming another host is read from the client's server, never from that host."""
    app, http, client, counting = small_pages
    for i in range(4):
        _put_model(http, ws, f"m{i}")
    first = http.get(ws.of("models"), params={"$expand": "latestVersion"}).json()
    link = urlsplit(first["nextLink"])
    memory = counting.inner

    def elsewhere(request: httpx.Request) -> httpx.Response:
        answer = memory.handle_request(request)
        body = json.loads(answer.read())
        if body.get("nextLink"):
            body["nextLink"] = f"https://attacker.example{link.path}?{link.query}"
        return httpx.Response(answer.status_code, json=body)

    counting.inner = httpx.MockTransport(elsewhere)
    counting.paths.clear()
    assert [m.name for m in client.models.list()] == ["m0", "m1", "m2", "m3"]
    assert counting.paths == [ws.of("models")] * 2 and set(counting.hosts) == {"openaml.test"}


def test_pages_read_while_items_are_added_lose_and_repeat_nothing(small_pages, ws):
    _, http, _, _ = small_pages
    for name in ("b", "d", "f", "h", "j", "l"):
        _put_model(http, ws, name)
    first = http.get(ws.of("models")).json()
    assert [i["name"] for i in first["value"]] == ["b", "d", "f"]
    for name in ("a", "c", "e", "g", "k", "z"):  # before and after the reader's position
        _put_model(http, ws, name)
    _put_model(http, ws, "b", "2")
    seen = ["b", "d", "f"] + [n for page in _read_all(http, first["nextLink"]) for n in page]
    assert len(seen) == len(set(seen)) and {"b", "d", "f", "h", "j", "l"} <= set(seen)
    assert seen[3:] == ["g", "h", "j", "k", "l", "z"]

    versions = http.get(ws.of("models", "b", "versions"), params={"$top": 1}).json()
    assert [v["name"] for v in versions["value"]] == ["2"]
    _put_model(http, ws, "b", "3")
    rest = [n for page in _read_all(http, versions["nextLink"]) for n in page]
    assert rest == ["1"]


# -- tokens ------------------------------------------------------------------------------------

def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["$skipToken"][0]


def _tampered(token: str) -> list[str]:
    body, check = token.split(".")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    forged = json.loads(raw)
    forged[2] = "zzz" if isinstance(forged[2], int) else 10**30
    forged_body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    return [flipped + "." + check, body + "." + check[::-1], forged_body + "." + check, body, "." + check,
            token + "x", "../../etc/passwd", "a\x00b", "\n", "%00", "😀", "x" * 5000, "", " " + token]


def test_a_tampered_or_foreign_token_is_a_400_naming_it(small_pages, ws):
    _, http, _, _ = small_pages
    for i in range(5):
        _put_model(http, ws, f"m{i}")
        _put_model(http, ws, "m0", str(i + 2))
    containers = _token(http.get(ws.of("models")).json()["nextLink"])
    versions = _token(http.get(ws.of("models", "m0", "versions")).json()["nextLink"])
    for bad in _tampered(containers) + _tampered(versions):
        answer = http.get(ws.of("models"), params={"$skipToken": bad})
        assert answer.status_code == 400, (bad, answer.text)
        error = answer.json()["error"]
        assert "$skipToken" in error["message"] or "$skipToken" in (error.get("target") or ""), error
    # A real token, on another list, other filters, another kind or another workspace.
    foreign = [(ws.of("models", "m0", "versions"), containers), (ws.of("models"), versions),
               (ws.of("data"), containers), (ws.of("models"), containers, {"listViewType": "All"})]
    for path, token, *extra in foreign:
        answer = http.get(path, params={"$skipToken": token, **(extra[0] if extra else {})})
        assert answer.status_code == 400 and "another list" in answer.json()["error"]["message"], answer.text
    # Azure ML's generated clients call it $skip.
    assert http.get(ws.of("models"), params={"$skip": containers}).status_code == 200
    answer = http.get(ws.of("models"), params={"$skip": "nope"})
    assert answer.status_code == 400 and answer.json()["error"]["target"] == "$skip"
    answer = http.get(ws.of("models"), params={"$skip": containers, "$skipToken": versions})
    assert answer.status_code == 400


@pytest.mark.parametrize("top", ["0", "-1", "1001", "abc", "1e3", "99999999999999999999"])
def test_top_out_of_range_is_a_400(http, ws, top: str):
    answer = http.get(ws.of("models"), params={"$top": top})
    assert answer.status_code == 400 and "$top" in json.dumps(answer.json()), answer.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(max_size=300) | st.from_regex(r"[A-Za-z0-9_-]{1,60}\.[A-Za-z0-9_-]{16}", fullmatch=True))
def test_any_token_is_refused_or_read_never_a_500(http, ws, token: str):
    for path in (ws.of("models"), ws.of("jobs"), ws.of("models", "m", "versions"), ws.of("datastores")):
        assert http.get(path, params={"$skipToken": token}).status_code in (400, 404)


@given(binding=st.text(max_size=40), after=st.integers(0, 2**63 - 1) | st.text(max_size=300))
def test_tokens_round_trip(binding: str, after):
    token = encode_token(binding, after)
    assert decode_token(token, binding, type(after)) == after
    assert token.isascii() and "+" not in token and "/" not in token and "=" not in token


def test_a_next_link_survives_the_way_azures_generated_clients_follow_it(small_pages, ws):
    """azure-ai-ml's generated operations split a nextLink's query with parse_qs, quote each value
    again and send it with their own api-version: the token must come through unchanged."""
    from urllib.parse import quote
    _, http, _, _ = small_pages
    for i in range(5):
        _put_model(http, ws, f"m{i}")
    link = urlsplit(http.get(ws.of("models"), params={"api-version": "2024-04-01"}).json()["nextLink"])
    params = {key: [quote(v) for v in values] for key, values in parse_qs(link.query).items()}
    params["api-version"] = ["2025-12-01"]
    answer = http.get(link.path, params=params)
    assert answer.status_code == 200 and [i["name"] for i in answer.json()["value"]] == ["m3", "m4"]
