"""Datastore secrets: hidden from repr/str, split off and merged back."""

import pytest

from openaml.entities import (
    AccountKeyConfiguration, AmlCompute, AzureBlobDatastore, AzureDataLakeGen1Datastore,
    CertificateConfiguration, SasTokenConfiguration, ServicePrincipalConfiguration,
)
from openaml.entities.datastore import merge_secrets, split_secrets

SECRET = "S3cr3t-V4lue"


@pytest.mark.parametrize("cred", [
    AccountKeyConfiguration(account_key=SECRET),
    SasTokenConfiguration(sas_token=SECRET),
    ServicePrincipalConfiguration(tenant_id="t", client_id="c", client_secret=SECRET),
    CertificateConfiguration(tenant_id="t", client_id="c", certificate=SECRET, thumbprint="tp"),
])
def test_secret_not_in_repr_or_str(cred):
    assert SECRET not in repr(cred) and SECRET not in str(cred)
    assert SECRET in cred.model_dump().values()  # still readable on purpose


def test_secret_not_in_datastore_repr():
    ds = AzureBlobDatastore(name="b", account_name="a", container_name="c",
                            credentials={"account_key": SECRET})
    assert SECRET not in repr(ds) and SECRET not in str(ds)
    assert ds.credentials.account_key == SECRET


def test_ssh_password_not_in_repr():
    compute = AmlCompute(name="c", ssh_settings={"admin_username": "u", "admin_password": SECRET})
    assert SECRET not in repr(compute)


def test_split_and_merge_secrets():
    ds = AzureDataLakeGen1Datastore(name="g", store_name="s", credentials={
        "tenant_id": "t", "client_id": "c", "client_secret": SECRET})
    bare, secrets = split_secrets(ds)
    assert secrets == {"client_secret": SECRET}
    assert bare.credentials.client_secret is None and bare.credentials.tenant_id == "t"
    assert ds.credentials.client_secret == SECRET  # the input is not changed
    assert merge_secrets(bare, secrets) == ds


def test_split_without_credentials():
    ds = AzureBlobDatastore(name="b", account_name="a", container_name="c")
    bare, secrets = split_secrets(ds)
    assert secrets == {} and bare == ds


def test_split_datastore_survives_a_dump_and_reload():
    from pydantic import TypeAdapter

    from openaml.entities.datastore import AnyDatastore

    ds = AzureBlobDatastore(name="b", account_name="a", container_name="c",
                            credentials={"account_key": SECRET})
    bare, secrets = split_secrets(ds)
    dumped = bare.model_dump(mode="json", exclude_none=True)
    assert dumped["credentials"] == {"account_key": None} and SECRET not in str(dumped)
    again = TypeAdapter(AnyDatastore).validate_python(dumped)
    assert isinstance(again.credentials, AccountKeyConfiguration)
    assert merge_secrets(again, secrets) == ds
