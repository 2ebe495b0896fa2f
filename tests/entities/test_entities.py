"""Entities: constructor arguments, validation and the public surface."""

import pytest

import openaml.entities as entities
from openaml.entities import (
    AccountKeyConfiguration, AmlCompute, AzureBlobDatastore, AzureDataLakeGen2Datastore, AzureFileDatastore, BuildContext,
    ComputeInstance, Data, Environment, KubernetesCompute, LocalDatastore, Model, S3AccessKeyConfiguration,
    S3Datastore,
    NoneCredentialConfiguration, ServicePrincipalConfiguration, VirtualMachineCompute, Workspace,
)
from openaml.errors import ValidationError

EXPECTED_EXPORTS = {
    "Model", "Data", "Environment", "BuildContext", "CommandComponent", "Input", "Output",
    "AzureBlobDatastore", "AzureFileDatastore", "AzureDataLakeGen1Datastore",
    "AzureDataLakeGen2Datastore", "LocalDatastore", "AccountKeyConfiguration",
    "SasTokenConfiguration", "ServicePrincipalConfiguration", "CertificateConfiguration",
    "NoneCredentialConfiguration", "S3Datastore", "S3AccessKeyConfiguration", "AmlCompute", "ComputeInstance", "KubernetesCompute",
    "VirtualMachineCompute", "Workspace", "WorkspaceStorage", "Entity", "Asset", "Resource", "Datastore", "Compute",
    "CommandJob", "Command", "CommandJobLimits", "JobResourceConfiguration", "MpiDistribution",
    "PyTorchDistribution", "TensorFlowDistribution", "RayDistribution",
    "PipelineJob", "PipelineJobSettings", "PipelineComponent", "Pipeline",
    "ParallelComponent", "ParallelTask", "RetrySettings",
    "SweepJob", "Sweep", "ParameterizedCommand",
    "Job", "Component", "ResourceConfiguration", "Parallel", "IdentityConfiguration",
    "ManagedIdentityConfiguration", "UserIdentityConfiguration", "AmlTokenConfiguration",
    "VmSize", "Usage", "UsageName", "UsageUnit",
    "OnlineEndpoint", "ManagedOnlineEndpoint", "KubernetesOnlineEndpoint", "EndpointAuthKeys", "EndpointAuthToken",
    "EndpointAadToken", "OnlineDeployment", "ManagedOnlineDeployment", "KubernetesOnlineDeployment",
    "CodeConfiguration", "OnlineRequestSettings", "ProbeSettings", "DefaultScaleSettings",
    "TargetUtilizationScaleSettings", "ResourceRequirementsSettings", "ResourceSettings",
}


def test_public_surface_is_exactly_the_documented_list():
    assert set(entities.__all__) == EXPECTED_EXPORTS
    assert all(hasattr(entities, name) for name in entities.__all__)


def test_lazy_exports_are_the_classes_of_their_modules():
    import importlib
    import subprocess
    import sys

    assert set(entities._HOME) == set(entities.__all__)
    for name, home in entities._HOME.items():
        assert getattr(entities, name) is getattr(importlib.import_module(f"openaml.entities.{home}"), name)
    # A fresh interpreter: the job-status module alone must not build the pydantic entities.
    code = "import sys, openaml.entities.job_status; print('openaml.entities.job' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_asset_kinds():
    assert (Model.asset_kind, Data.asset_kind, Environment.asset_kind) == ("models", "data", "environments")
    assert entities.CommandComponent.asset_kind == "components"


def test_model_defaults_and_int_version_rejected():
    model = Model(name="m", path="./model")
    assert model.type == "custom_model" and model.version is None
    with pytest.raises(ValidationError) as info:
        Model(name="m", version=1)
    assert info.value.details["field"] == "version"


def test_unknown_keyword_argument_raises():
    with pytest.raises(ValidationError) as info:
        Model(name="m", pth="./x")
    assert info.value.details["field"] == "pth"


def test_assignment_is_validated():
    model = Model(name="m")
    with pytest.raises(ValidationError):
        model.type = "not_a_type"


def test_data_defaults_and_registration_check():
    data = Data(name="d")
    assert data.type == "uri_folder" and data.path is None
    with pytest.raises(ValidationError):
        data.validate_for_registration()
    Data(name="d", path="./x").validate_for_registration()


def test_environment_needs_image_or_build():
    with pytest.raises(ValidationError):
        Environment(name="e").validate_for_registration()
    with pytest.raises(ValidationError):
        Environment(name="e", image="x", build=BuildContext(path="ctx")).validate_for_registration()
    with pytest.raises(ValidationError):
        Environment(name="e", build=BuildContext(path="ctx"), conda_file={"a": 1}).validate_for_registration()
    Environment(name="e", image="python:3.11", conda_file={"dependencies": []}).validate_for_registration()
    env = Environment(name="e", build=BuildContext(path="ctx"), os_type="Windows")
    assert env.build.dockerfile_path == "Dockerfile" and env.os_type == "windows"


def test_datastore_defaults():
    blob = AzureBlobDatastore(name="b", account_name="acct", container_name="c")
    assert (blob.type, blob.endpoint, blob.protocol, blob.credentials) == ("azure_blob", "core.windows.net", "https", None)
    assert LocalDatastore(name="l", path="/data").type == "local"


def test_credentials_inferred_from_keys():
    gen2 = AzureDataLakeGen2Datastore(name="g", account_name="a", filesystem="f",
                                      credentials={"tenant_id": "t", "client_id": "c", "client_secret": "s"})
    assert isinstance(gen2.credentials, ServicePrincipalConfiguration)
    blob = AzureBlobDatastore(name="b", account_name="a", container_name="c", credentials={})
    assert isinstance(blob.credentials, NoneCredentialConfiguration)


def test_credentials_not_allowed_for_datastore_type():
    with pytest.raises(ValidationError) as info:
        AzureFileDatastore(name="f", account_name="a", file_share_name="s",
                           credentials=ServicePrincipalConfiguration(client_secret="s"))
    assert info.value.details["field"] == "credentials"
    with pytest.raises(ValidationError):
        AzureDataLakeGen2Datastore(name="g", account_name="a", filesystem="f",
                                   credentials={"sas_token": "k"})
    # openaml's addition to Azure's rule: a Gen2 account takes its account key (emulators need it)
    gen2 = AzureDataLakeGen2Datastore(name="g", account_name="a", filesystem="f", credentials={"account_key": "k"})
    assert isinstance(gen2.credentials, AccountKeyConfiguration)


def test_compute_defaults():
    aml = AmlCompute(name="cpu")
    assert (aml.type, aml.size, aml.min_instances, aml.max_instances, aml.idle_time_before_scale_down) == \
        ("amlcompute", "STANDARD_DS3_V2", 0, 4, 120)
    assert AmlCompute(name="c", tier="LowPriority").tier == "low_priority"
    assert KubernetesCompute(name="k").namespace == "default"
    assert ComputeInstance(name="ci", size="STANDARD_DS3_V2").type == "computeinstance"
    with pytest.raises(ValidationError):
        VirtualMachineCompute(name="vm")  # resource_id is required
    with pytest.raises(ValidationError):
        AmlCompute(name="c", min_instances=5, max_instances=2)


def test_workspace_fields():
    ws = Workspace(name="w", location="eastus", public_network_access="disabled",
                   identity={"type": "system_assigned"})
    assert ws.public_network_access == "Disabled" and ws.identity.type == "system_assigned"
    assert ws.hbi_workspace is False and ws.mlflow_tracking_uri is None


def test_s3_datastore_and_its_key():
    s3 = S3Datastore(name="s", bucket="my-bucket", credentials={"access_key_id": "AKIA", "secret_access_key": "x"})
    assert isinstance(s3.credentials, S3AccessKeyConfiguration) and s3.credentials.type == "access_key"
    assert "AKIA" not in repr(s3) and "x'" not in repr(s3.credentials)
    assert S3Datastore(name="s", bucket="b", credentials={}).credentials.type == "none"
    with pytest.raises(ValidationError) as info:
        S3Datastore(name="s", bucket="b", credentials={"account_key": "k"})
    assert info.value.details["field"] == "credentials"


@pytest.mark.parametrize("field, value", [
    ("endpoint", "evil.example/x?"), ("endpoint", "user@host"), ("endpoint", "host:port"),
    ("account_name", "acct/../x"), ("container_name", "c?sig=1"), ("container_name", "a/b"),
])
def test_names_that_become_urls_are_checked(field, value):
    kwargs = {"name": "b", "account_name": "acct", "container_name": "data", field: value}
    with pytest.raises(ValidationError) as info:
        AzureBlobDatastore(**kwargs)
    assert info.value.details["field"] == field


def test_emulator_endpoints_and_http_are_accepted():
    blob = AzureBlobDatastore(name="b", account_name="devstoreaccount1", container_name="data",
                              endpoint="127.0.0.1:10000", protocol="http")
    assert (blob.endpoint, blob.protocol) == ("127.0.0.1:10000", "http")
    assert AzureDataLakeGen2Datastore(name="g", account_name="a", filesystem="fs", endpoint="[::1]:10000",
                                      protocol="http").endpoint == "[::1]:10000"
    with pytest.raises(ValidationError):
        S3Datastore(name="s", bucket="b", endpoint_url="http://host/path?x")
