"""The endpoint records on SQLite and PostgreSQL: generations, cascades, states."""

from __future__ import annotations

import pytest

from openaml.errors import AlreadyExistsError, NotFoundError
from openaml.store.endpoints import EndpointStore


def test_endpoint_rows_bump_their_generation_on_every_wanted_change(store, workspace_name: str) -> None:
    endpoints = EndpointStore(store, workspace_name)
    created = endpoints.create_endpoint("my-ep", {"traffic": {}}, b"sealed")
    assert created.generation == 1 and created.secret == b"sealed" and created.runtime is None
    with pytest.raises(AlreadyExistsError):
        endpoints.create_endpoint("my-ep", {}, None)
    assert endpoints.update_endpoint("my-ep", spec={"traffic": {"blue": 100}}).generation == 2
    endpoints.put_deployment("my-ep", "blue", {"instance_count": 1}, {"mode": "script"}, "Creating")
    assert endpoints.get_endpoint("my-ep").generation == 3
    endpoints.set_deployment_state("my-ep", "blue", "Failed", "init() failed")  # the router's facts: no bump
    endpoints.set_runtime("my-ep", {"pid": 1, "port": 2, "token": "t"})
    record = endpoints.get_endpoint("my-ep")
    assert record.generation == 3 and record.runtime == {"pid": 1, "port": 2, "token": "t"}
    blue = endpoints.get_deployment("my-ep", "blue")
    assert (blue.state, blue.error, blue.resolved) == ("Failed", "init() failed", {"mode": "script"})
    again = endpoints.put_deployment("my-ep", "blue", {"instance_count": 2}, {"mode": "script"}, "Updating")
    assert again.state == "Updating" and again.error is None and again.created_at == blue.created_at
    assert endpoints.delete_deployment("my-ep", "blue") and not endpoints.delete_deployment("my-ep", "blue")
    assert endpoints.get_endpoint("my-ep").generation == 5
    with pytest.raises(NotFoundError):
        endpoints.put_deployment("nope", "blue", {}, {}, "Creating")
    with pytest.raises(NotFoundError):
        endpoints.update_endpoint("nope", spec={})


def test_deleting_an_endpoint_deletes_its_deployments_only(store, workspace_name: str) -> None:
    endpoints, other = EndpointStore(store, workspace_name), EndpointStore(store, workspace_name + "-2")
    for es in (endpoints, other):
        es.create_endpoint("my-ep", {}, None)
        es.put_deployment("my-ep", "blue", {}, {}, "Succeeded")
    endpoints.create_endpoint("ep-two", {}, None)
    endpoints.put_deployment("ep-two", "blue", {}, {}, "Succeeded")
    assert endpoints.delete_endpoint("my-ep") and not endpoints.delete_endpoint("my-ep")
    assert endpoints.list_deployments("my-ep") == [] and [d.name for d in endpoints.list_deployments("ep-two")] == ["blue"]
    assert [e.name for e in other.list_endpoints()] == ["my-ep"] and other.get_deployment("my-ep", "blue") is not None
    assert [e.name for e in endpoints.list_endpoints()] == ["ep-two"]
