"""Errors cross the wire in Azure's shape and come back as the same class, with their message
and details; the HTTP status is the code's."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.core.exceptions import ODataV4Format, ResourceExistsError, ResourceNotFoundError
from hypothesis import given
from hypothesis import strategies as st

from openaml import MLClient
from openaml.entities import Model, Workspace
from openaml.errors import (_BY_CODE, AlreadyExistsError, ErrorCode, NotFoundError, OpenAMLError, ValidationError,
                            VersionConflictError, WorkspaceNotFoundError)
from openaml.rest.errors import from_body, to_body
from openaml.server.testing import InMemoryTransport

_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200)
_details = st.dictionaries(st.sampled_from(["file", "field", "name", "path", "version"]), _text, max_size=4)


@given(code=st.sampled_from(list(ErrorCode)), message=_text, details=_details)
def test_every_error_class_round_trips(code: ErrorCode, message: str, details: dict):
    original = OpenAMLError.from_dict({"code": code.value, "message": message, "details": details})
    body = to_body(original)
    rebuilt = from_body(body, original.http_status)
    assert type(rebuilt) is _BY_CODE[code] is type(original)
    assert rebuilt.message == message and rebuilt.details == details
    ODataV4Format(body["error"])  # azure-core reads the body as Azure's


def test_a_body_that_is_not_ours_is_an_internal_error_naming_the_status():
    err = from_body("<html>bad gateway</html>", 502)
    assert type(err) is OpenAMLError and "502" in err.message
    assert type(from_body({"error": {"code": "SomethingNew", "message": "m"}}, 400)) is OpenAMLError


def test_validation_sub_errors_are_azures_details():
    err = ValidationError("bad", field="inputs.x", errors=[{"field": "inputs.x", "message": "too big"}])
    body = to_body(err)["error"]
    assert body["target"] == "inputs.x"
    assert body["details"] == [{"code": "Validation", "message": "too big", "target": "inputs.x"}]


def _client(app) -> MLClient:
    return MLClient(workspace_name="ws", server="http://openaml.test", transport=InMemoryTransport(app))


def test_not_found_conflict_and_validation_rebuild_the_same_classes(app, http, ws, tmp_path: Path):
    client = _client(app)
    with pytest.raises(NotFoundError) as err:
        client.models.get("ghost", "1")
    assert isinstance(err.value, ResourceNotFoundError) and err.value.details["name"] == "ghost"
    assert http.get(ws.of("models", "ghost", "versions", "1")).status_code == 404

    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    client.models.create_or_update(Model(name="m", version="1", path=str(tmp_path / "a")))
    with pytest.raises(VersionConflictError) as err:
        client.models.create_or_update(Model(name="m", version="1", path=str(tmp_path / "b")))
    assert isinstance(err.value, ResourceExistsError)

    with pytest.raises(AlreadyExistsError):
        client.workspaces.begin_create(Workspace(name="ws"))
    with pytest.raises(WorkspaceNotFoundError):
        MLClient(workspace_name="nowhere", server="http://openaml.test", transport=InMemoryTransport(app)).models.get("m")

    answer = http.put(ws.of("models", "m", "versions", "1"), json={"properties": {"modelUri": 5}})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "Validation"


def test_unknown_routes_and_unexpected_errors_keep_the_shape(app, http, ws, monkeypatch: pytest.MonkeyPatch):
    answer = http.get("/nothing/here")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "NotFound"
    from openaml.services import registry

    def boom(*args, **kwargs):
        raise RuntimeError("secret-value-123 leaked?")
    monkeypatch.setattr(registry.RegistryService, "page", boom)
    answer = http.get(ws.of("models"))
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "Internal" and "secret-value-123" not in answer.text
