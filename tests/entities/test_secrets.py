"""Secrets of entities: hidden from repr/str, split off and merged back by one generic walker."""

import pytest

from openaml.entities import (
    AccountKeyConfiguration, AmlCompute, AzureBlobDatastore, AzureDataLakeGen1Datastore,
    CertificateConfiguration, SasTokenConfiguration, ServicePrincipalConfiguration,
)
from openaml.entities.secrets import merge_secrets, redact, split_secrets
from openaml.errors import ValidationError

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
    assert secrets == {"credentials": {"client_secret": SECRET}}
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


def test_split_and_merge_compute_ssh_password():
    compute = AmlCompute(name="c", ssh_settings={"admin_username": "u", "admin_password": SECRET,
                                                 "ssh_key_value": "ssh-rsa AAAA"})
    bare, secrets = split_secrets(compute)
    assert secrets == {"ssh_settings": {"admin_password": SECRET}}
    assert bare.ssh_settings.admin_password is None and bare.ssh_settings.ssh_key_value == "ssh-rsa AAAA"
    assert SECRET not in str(bare.model_dump()) and redact(compute) == bare
    assert merge_secrets(bare, secrets) == compute
    assert compute.ssh_settings.admin_password == SECRET  # the input is not changed


def test_merge_refuses_or_drops_secrets_without_a_place():
    compute = AmlCompute(name="c")  # no ssh_settings to hold a password
    sealed = {"ssh_settings": {"admin_password": SECRET}}
    with pytest.raises(ValidationError) as info:
        merge_secrets(compute, sealed)
    assert SECRET not in info.value.message
    assert merge_secrets(compute, sealed, missing_ok=True) == compute


def test_secrets_inside_lists_and_dicts_are_found():
    from openaml.entities._base import Entity, SecretText

    class Holder(Entity):
        items: list[AccountKeyConfiguration] = []
        named: dict[str, SasTokenConfiguration] = {}
        token: SecretText = None

    holder = Holder(items=[AccountKeyConfiguration(account_key="k0"), AccountKeyConfiguration(account_key="k1")],
                    named={"a": SasTokenConfiguration(sas_token="s")}, token="t")
    bare, secrets = split_secrets(holder)
    assert secrets == {"items": {"0": {"account_key": "k0"}, "1": {"account_key": "k1"}},
                       "named": {"a": {"sas_token": "s"}}, "token": "t"}
    assert "k0" not in repr(holder) and "'t'" not in repr(holder)
    assert bare.items[0].account_key is None and bare.named["a"].sas_token is None and bare.token is None
    assert merge_secrets(bare, secrets) == holder
