"""The REST API fuzzed from its own OpenAPI document (schemathesis): for requests generated from
every operation's parameters and bodies, valid and invalid, the server never answers a 5xx and
never answers what its document does not describe (status, content type, body schema).

The app runs in this process (ASGI, no socket); jobs it accepts are not started. The path's
subscription, resource group and workspace are mostly those of the test's workspace, so that the
requests reach the routes' own rules (tests/server/test_hostile.py fuzzes those segments).
Bounded: a few dozen examples per operation, well under two minutes on two cores.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                              response_schema_conformance, status_code_conformance)
from schemathesis.checks import not_a_server_error

from openaml.backends.local import LocalLauncher
from openaml.rest.paths import DEFAULT_RESOURCE_GROUP, DEFAULT_SUBSCRIPTION

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
CONFIG = {"parameters": {"path.subscriptionId": DEFAULT_SUBSCRIPTION,
                         "path.resourceGroupName": DEFAULT_RESOURCE_GROUP,
                         "path.workspaceName": "ws"}}


def _document() -> dict:
    """The app's OpenAPI document (the same for every home: nothing is opened to build it)."""
    from openaml.server import ServerSettings, create_app
    from openaml.services.settings import Settings
    return create_app(ServerSettings(workspace_settings=Settings(home=Path("/nonexistent/openaml")))).openapi()


schema = schemathesis.openapi.from_dict(_document(), config=SchemathesisConfig.from_dict(CONFIG))


@pytest.fixture
def served(app, http, monkeypatch: pytest.MonkeyPatch):
    """The test's app, serving the document the tests were generated from; its jobs are not started."""
    assert http.get("/openapi.json").json() == schema.raw_schema
    monkeypatch.setattr(LocalLauncher, "launch", lambda self, settings, workspace, job_name: None)
    return app


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_5xx_and_nothing_the_document_does_not_describe(case, served, owner_token):
    case.call_and_validate(app=served, checks=CHECKS, headers={"Authorization": f"Bearer {owner_token}"})


def test_the_document_lists_the_errors_the_server_sends_and_not_fastapis_422():
    """Found by the fuzzer: every 400 was an undocumented status (the document listed FastAPI's
    422, which the server never sends, and no error response at all)."""
    document = schema.raw_schema
    error = document["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["error"] and "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            assert responses["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorResponse"}, (method, path)
            if any(p["name"] == "$skipToken" for p in operation.get("parameters", [])):
                ok = next(r for code, r in responses.items() if code.startswith("2"))
                assert ok["content"]["application/json"]["schema"]["required"] == ["value"], (method, path)
