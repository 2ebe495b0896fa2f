"""Datastores keep secrets encrypted and out of get/list; compute definitions round-trip."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from openaml.entities import (AccountKeyConfiguration, AmlCompute, AzureBlobDatastore,
                              AzureDataLakeGen2Datastore, KubernetesCompute, SasTokenConfiguration,
                              ServicePrincipalConfiguration)
from openaml.errors import NotFoundError, ValidationError

KEY = "c2VjcmV0LWFjY291bnQta2V5LXZhbHVlLTEyMzQ1Njc4OTA="
SAS = "sv=2024-01-01&sig=TOPSECRETSIGNATURE"
CLIENT_SECRET = "client-secret-value-xyz"


def _secret_values(ds) -> list[str]:
    creds = ds.credentials
    out = []
    for field in ("account_key", "sas_token", "client_secret"):
        value = getattr(creds, field, None)
        if value is not None:
            out.append(value.get_secret_value() if hasattr(value, "get_secret_value") else value)
    return out


def test_secrets_are_encrypted_at_rest_and_hidden(ml_client, home: Path, caplog):
    caplog.set_level(logging.DEBUG)
    ml_client.datastores.create_or_update(AzureBlobDatastore(
        name="blob", account_name="acct", container_name="c",
        credentials=AccountKeyConfiguration(account_key=KEY)))
    ml_client.datastores.create_or_update(AzureBlobDatastore(
        name="sas", account_name="acct", container_name="c", credentials=SasTokenConfiguration(sas_token=SAS)))
    ml_client.datastores.create_or_update(AzureDataLakeGen2Datastore(
        name="adls", account_name="acct", filesystem="fs",
        credentials=ServicePrincipalConfiguration(tenant_id="t", client_id="c", client_secret=CLIENT_SECRET)))
    db_bytes = b"".join(p.read_bytes() for p in (home / "workspaces" / "ws").glob("metadata.db*"))
    for secret in (KEY, SAS, CLIENT_SECRET):
        assert secret.encode() not in db_bytes
    for ds in [*ml_client.datastores.list(), ml_client.datastores.get("blob"), ml_client.datastores.get("adls")]:
        assert _secret_values(ds) == [] if ds.credentials is not None else True
        dumped = str(ds._to_dict()) + repr(ds)
        assert KEY not in dumped and SAS not in dumped and CLIENT_SECRET not in dumped
    assert _secret_values(ml_client.datastores.get("blob", include_secrets=True)) == [KEY]
    assert _secret_values(ml_client.datastores.get("sas", include_secrets=True)) == [SAS]
    assert _secret_values(ml_client.datastores.get("adls", include_secrets=True)) == [CLIENT_SECRET]
    assert ml_client.datastores.get("adls").credentials.tenant_id == "t"  # non-secret parts stay
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_datastore_delete(ml_client):
    ml_client.datastores.create_or_update(AzureBlobDatastore(name="tmp", account_name="a", container_name="c"))
    ml_client.datastores.delete("tmp")
    with pytest.raises(NotFoundError):
        ml_client.datastores.get("tmp")
    with pytest.raises(ValidationError):
        ml_client.datastores.delete("workspaceblobstore")


def test_compute_crud(ml_client):
    ml_client.compute.begin_create_or_update(AmlCompute(name="cpu", size="STANDARD_D2_V2", max_instances=3)).result()
    ml_client.compute.begin_create_or_update(KubernetesCompute(name="k8s", namespace="ml")).result()
    cpu = ml_client.compute.get("cpu")
    assert (cpu.type, cpu.size, cpu.min_instances, cpu.max_instances) == ("amlcompute", "STANDARD_D2_V2", 0, 3)
    assert [c.name for c in ml_client.compute.list(compute_type="kubernetes")] == ["k8s"]
    ml_client.compute.begin_delete("cpu").result()
    with pytest.raises(NotFoundError):
        ml_client.compute.get("cpu")
