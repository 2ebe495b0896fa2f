"""No request can make the tracking endpoint answer 500: hostile JSON bodies for every route.

For each route, hypothesis builds bodies from the route's own field names (and a few strangers)
with values of every JSON type, nested lists and objects, huge numbers and control characters,
and the endpoint must answer with MLflow's error shape and a 4xx, or succeed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openaml.tracking import routes, validation

FIELDS = sorted({name for rules in validation.RULES.values() for name in rules.fields}
                | {"key", "value", "timestamp", "step", "model_id", "name", "dataset", "tags"})

leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "", "0", "job_abc", "..", "../../etc", "\x00\x1f", "a" * 300]),
)
values = st.recursive(leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4)), max_leaves=12)
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)

@pytest.fixture(scope="module")
def full_server(tmp_path_factory: pytest.TempPathFactory):
    """What a job's agent serves (the model registry included), on a fresh workspace with the
    run ``job_abc``: every route is reachable, so every route is fuzzed."""
    from openaml import MLClient
    from openaml.backends.local.agent import tracking_server_for
    from openaml.entities import Workspace

    client = MLClient(workspace_name="fuzz", openaml_home=str(tmp_path_factory.mktemp("home")))
    client.workspaces.begin_create(Workspace(name="fuzz")).result()
    ctx = client._context()
    ctx.tracking.create_run(ctx.tracking.get_or_create_experiment("fuzz"), run_id="job_abc", run_name="job_abc")
    with tracking_server_for(ctx) as server:
        yield server
    client.close()


POST_ROUTES = sorted(path for method, path in routes.FIXED if method == "POST")
GET_ROUTES = sorted(path for method, path in routes.FIXED if method == "GET")


def _send(url: str, method: str, body: bytes | None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _assert_not_a_server_error(status: int, payload: bytes, what: str) -> None:
    assert status < 500, f"{what} answered {status}: {payload[:300]!r}"
    if status >= 400:
        error = json.loads(payload)
        assert error["error_code"] and error["message"], payload


@pytest.mark.parametrize("path", POST_ROUTES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_post_routes_never_answer_500(full_server, path: str, body: dict) -> None:
    # The run job_abc exists: a body naming it gets past the run lookup to the store's own checks.
    url = f"{full_server.url}/api/2.0/mlflow{path}"
    status, payload = _send(url, "POST", json.dumps(body).encode())
    _assert_not_a_server_error(status, payload, f"POST {path} {body!r}")


@pytest.mark.parametrize("path", GET_ROUTES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=30), max_size=5))
def test_get_routes_never_answer_500(full_server, path: str, query: dict) -> None:
    from urllib.parse import urlencode

    url = f"{full_server.url}/api/2.0/mlflow{path}?{urlencode(query)}"
    status, payload = _send(url, "GET", None)
    if path in ("/server-info",) or status == 200:
        return
    _assert_not_a_server_error(status, payload, f"GET {path}?{urlencode(query)}")


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b"null", b"\"text\"", b"\xff\xfe", b"{\"run_id\": " + b"9" * 5000 + b"}"])
def test_malformed_bodies_are_400(server, raw: bytes) -> None:
    status, payload = _send(f"{server.url}/api/2.0/mlflow/runs/log-batch", "POST", raw)
    assert status == 400, payload
    assert json.loads(payload)["error_code"] == "INVALID_PARAMETER_VALUE"
