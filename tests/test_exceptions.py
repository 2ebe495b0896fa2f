"""openaml's errors are azure-core's and azure-ai-ml's exception classes where they correspond,
and keep openaml's own codes, messages and wire shape."""

from __future__ import annotations

import pickle

import pytest
from azure.core.exceptions import (AzureError, HttpResponseError, ResourceExistsError,
                                   ResourceNotFoundError, ServiceRequestError)

from openaml import errors
from openaml.exceptions import (ErrorCategory, ErrorTarget, JobException, MlException,
                                UserErrorException, ValidationErrorType, ValidationException)

# openaml class -> (azure-core class it must be, HTTP status)
AZURE_CORE = {
    errors.NotFoundError: (ResourceNotFoundError, 404),
    errors.WorkspaceNotFoundError: (ResourceNotFoundError, 404),
    errors.AlreadyExistsError: (ResourceExistsError, 409),
    errors.VersionConflictError: (ResourceExistsError, 409),
    errors.ArchivedError: (HttpResponseError, 409),
    errors.ImmutableFieldError: (HttpResponseError, 400),
    errors.InvalidTransitionError: (HttpResponseError, 409),
}


@pytest.mark.parametrize("klass", sorted(AZURE_CORE, key=lambda k: k.__name__))
def test_http_errors_are_azure_core_classes_with_a_status(klass):
    azure_class, status = AZURE_CORE[klass]
    err = klass("model 'm' version '3' not found in workspace 'ws'", field="version")
    with pytest.raises(azure_class) as caught:
        raise err
    assert caught.value is err
    assert err.status_code == status and err.reason  # "Not Found", "Conflict", ...
    assert err.error.code == err.code.value  # azure-core's ODataV4Format
    assert str(err) == "model 'm' version '3' not found in workspace 'ws'"
    assert "\n" not in str(err)


def test_errors_that_are_not_http_responses_stay_out_of_http_response_error():
    for klass in (errors.ValidationError, errors.MissingFileError, errors.JobFailedError,
                  errors.EnvironmentBuildError, errors.IntegrityError):
        err = klass("x")
        assert isinstance(err, AzureError) and not isinstance(err, HttpResponseError), klass
    assert isinstance(errors.StoreUnavailableError("db down"), ServiceRequestError)


def test_except_validation_exception_catches_validation_missing_file_and_bad_reference():
    for err in (errors.ValidationError("bad", field="x"), errors.YamlParseError("bad yaml"),
                errors.MissingFileError("no such file"), errors.BadReferenceError("azureml:")):
        with pytest.raises(ValidationException):
            raise err
    with pytest.raises(errors.NotFoundError):  # a not-found error is not a validation error
        try:
            raise errors.NotFoundError("gone")
        except ValidationException:
            pytest.fail("NotFoundError caught as ValidationException")


def test_azure_ai_ml_names_map_onto_openaml_classes():
    assert MlException is errors.OpenAMLError and UserErrorException is errors.UserError
    assert JobException is errors.JobFailedError
    assert issubclass(errors.NotFoundError, MlException)
    err = errors.ValidationError("bad value", field="inputs.lr")
    assert err.error_category == ErrorCategory.USER_ERROR == "UserError"
    assert errors.IntegrityError("x").error_category == ErrorCategory.SYSTEM_ERROR
    assert err.target == ErrorTarget.UNKNOWN and err.no_personal_data_message == err.message
    assert ValidationErrorType.GENERIC.value == "GENERIC"


def test_validation_exception_takes_azure_ai_mls_arguments():
    err = ValidationException("Name is invalid", "Name is invalid", error_type=ValidationErrorType.INVALID_VALUE,
                              target=ErrorTarget.MODEL, error_category=ErrorCategory.USER_ERROR)
    assert str(err) == "Name is invalid" and err.target == "Model"
    assert err.code == errors.ErrorCode.VALIDATION


def test_openaml_shape_is_kept_wire_round_trip_and_pickle():
    err = errors.ValidationError("must be positive", file="job.yml", line=4, field="limits.timeout")
    assert str(err) == "job.yml:4, field 'limits.timeout': must be positive"
    assert err.details == {"file": "job.yml", "field": "limits.timeout", "line": 4}
    wire = err.to_dict()
    assert wire == {"code": "Validation", "message": str(err), "details": err.details}
    rebuilt = errors.OpenAMLError.from_dict(errors.NotFoundError("gone", name="m").to_dict())
    assert type(rebuilt) is errors.NotFoundError and isinstance(rebuilt, ResourceNotFoundError)
    assert rebuilt.status_code == 404 and str(rebuilt) == "gone" and rebuilt.details == {"name": "m"}
    copied = pickle.loads(pickle.dumps(err))
    assert type(copied) is errors.ValidationError and str(copied) == str(err)


def test_an_error_raised_while_handling_another_holds_no_traceback():
    try:
        try:
            raise KeyError("inner")
        except KeyError:
            raise errors.NotFoundError("outer") from None
    except errors.NotFoundError as exc:
        assert exc.exc_traceback is None and exc.exc_value is None


def test_sdk_not_found_is_caught_as_azure_samples_write_it(tmp_path, monkeypatch):
    from tests.helpers import new_workspace_client, use_home

    use_home(tmp_path, monkeypatch, host_python=False)
    client = new_workspace_client("ws")
    try:
        with pytest.raises(ResourceNotFoundError) as caught:
            client.models.get("no-such-model", version="1")
        assert caught.value.status_code == 404 and "no-such-model" in str(caught.value)
        with pytest.raises(ResourceNotFoundError):
            client.compute.get("cpu-cluster")
    finally:
        client.close()

