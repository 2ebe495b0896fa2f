"""Guarantee 8: every secret field of every resource goes through one encrypt-on-write /
redact-on-read path (``SecretText`` fields, ``entities.secrets``, ``services.sealed``).

A walk over every entity class fails when a field whose name looks secret is not declared
secret; compute passwords are encrypted at rest, never returned, never printed; datastores keep
their ``include_secrets`` opt-in. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import re
import textwrap
import typing
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from pydantic import BaseModel

import openaml.entities as entities_pkg
from openaml import MLClient
from openaml.cli.main import cli
from openaml.entities import (AccountKeyConfiguration, AmlCompute, AzureBlobDatastore, CertificateConfiguration,
                              S3AccessKeyConfiguration, SasTokenConfiguration, ServicePrincipalConfiguration, VirtualMachineCompute,
                              Workspace)
from openaml.entities._base import Entity, is_secret_field
from openaml.entities.compute import AmlComputeSshSettings, VirtualMachineSshSettings
from openaml.entities.endpoint import EndpointAadToken, EndpointAuthKeys, EndpointAuthToken
from openaml.errors import ValidationError
from openaml.services.compute import ComputeService
from openaml.services.datastores import DatastoreService
from openaml.services.sealed import SealedResources

from tests.helpers import use_home

PASSWORD = "Pa55-w0rd-N0t-F0r-Y0ur-Eyes"
KEY = "c2VjcmV0LWFjY291bnQta2V5LXZhbHVlLTEyMzQ1Njc4OTA="

# -- every field of every entity class -----------------------------------------------------------
_SECRET_WORDS = re.compile(r"(^|_)(password|passwd|pwd|secret|secrets|key|keys|token|tokens|sas|credential|"
                           r"credentials|certificate|cert|passphrase|private|apikey|connection)(_|$)")
# Names that look secret and are not, each with the reason. Keep it short.
NOT_SECRET = {
    "ssh_key_value": "the PUBLIC ssh key installed on nodes (Azure's ssh_settings.ssh_key_value)",
    "ssh_private_key_file": "the PATH of a private key file on this machine; openaml never reads the key",
    "key_vault": "the ARM resource id of the workspace's Key Vault, not key material",
    "key_uri": "the URI naming a customer-managed key inside Key Vault; the key never leaves the vault",
    "private_ip_address": "a read-only network address of a compute",
    "partition_keys": "names of the data columns a parallel job partitions by",
    "token_type": "the kind of an endpoint's token (Bearer), not a token",
    "private_network_connection": "a flag of a managed deployment (Azure's network isolation), not a key",
}
# The classes that declare secret fields today. A new one must be stored through
# services.sealed.SealedResources (as datastores and computes are) before it is added here.
SECRET_HOLDERS = {
    AccountKeyConfiguration: {"account_key"},
    SasTokenConfiguration: {"sas_token"},
    ServicePrincipalConfiguration: {"client_secret"},
    CertificateConfiguration: {"certificate"},
    S3AccessKeyConfiguration: {"access_key_id", "secret_access_key", "session_token"},
    AmlComputeSshSettings: {"admin_password"},
    VirtualMachineSshSettings: {"admin_password"},
    # an endpoint's keys are sealed in its row by services.endpoints (never in its spec) and
    # returned only by get_keys
    EndpointAuthKeys: {"primary_key", "secondary_key"},
    EndpointAuthToken: {"access_token"},
    EndpointAadToken: {"access_token"},
}


def _entity_classes() -> set[type[BaseModel]]:
    """Every pydantic class of openaml.entities: each module imported, subclasses followed."""
    for module in pkgutil.iter_modules(entities_pkg.__path__):
        importlib.import_module(f"{entities_pkg.__name__}.{module.name}")
    found: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [Entity]
    while todo:
        cls = todo.pop()
        if cls not in found:
            found.add(cls)
            todo.extend(cls.__subclasses__())
    for module in pkgutil.iter_modules(entities_pkg.__path__):
        for value in vars(importlib.import_module(f"{entities_pkg.__name__}.{module.name}")).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__.startswith("openaml."):
                found.add(value)
    return {cls for cls in found if cls.__module__.startswith("openaml.entities")}


def _models_in(annotation: object) -> set[type[BaseModel]]:
    """The pydantic classes a field's annotation can hold (through Optional, Union, list, dict...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {annotation}
    return {m for arg in typing.get_args(annotation) for m in _models_in(arg)}


def test_the_walk_sees_every_exported_entity_class() -> None:
    classes = _entity_classes()
    exported = {getattr(entities_pkg, n) for n in entities_pkg.__all__}
    assert {c for c in exported if isinstance(c, type) and issubclass(c, BaseModel)} <= classes  # not enums
    assert len(classes) > 50  # commands, jobs, pipelines, sweeps, nodes, settings...


def test_every_secret_looking_field_is_declared_secret() -> None:
    unmarked = []
    for cls in _entity_classes():
        for name, info in cls.model_fields.items():
            if not _SECRET_WORDS.search(name) or is_secret_field(info) or name in NOT_SECRET:
                continue
            if _models_in(info.annotation):
                continue  # a container (credentials, customer_managed_key): its own fields are walked
            unmarked.append(f"{cls.__module__}.{cls.__name__}.{name}")
    assert not unmarked, ("declare these fields SecretText (openaml.entities._base), or add them to "
                          f"NOT_SECRET with the reason: {sorted(unmarked)}")


def test_the_allow_list_names_fields_that_exist() -> None:
    fields = {name for cls in _entity_classes() for name in cls.model_fields}
    assert set(NOT_SECRET) <= fields


def test_only_the_known_classes_hold_secrets() -> None:
    holders = {cls: {n for n, i in cls.model_fields.items() if is_secret_field(i)} for cls in _entity_classes()}
    assert {cls: names for cls, names in holders.items() if names} == SECRET_HOLDERS


def test_secret_fields_are_masked_in_repr_and_str() -> None:
    compute = AmlCompute(name="cpu", ssh_settings={"admin_username": "u", "admin_password": PASSWORD})
    for text in (repr(compute), str(compute), f"{compute}", repr(compute.ssh_settings)):
        assert PASSWORD not in text
    assert "admin_password='***'" in repr(compute.ssh_settings)


# -- computes: encrypted at rest, never returned, never printed ------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def client(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workspace_name: str):
    use_home(tmp_path, monkeypatch, host_python=False)
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    ml_client = MLClient(workspace_name=workspace_name)
    ml_client.workspaces.begin_create(Workspace(name=workspace_name), database_url=url).result()
    yield ml_client
    ml_client.close()


def _rows(client: MLClient, kind: str, name: str) -> tuple[str, bytes | None]:
    """The stored row as the database holds it: spec text and sealed bytes."""
    ctx = client._context()
    engine = ctx.metadata._engine
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT spec, secret FROM resources WHERE workspace = :w AND kind = :k "
                                   "AND name = :n"), {"w": ctx.name, "k": kind, "n": name}).one()
    spec = row.spec if isinstance(row.spec, str) else json.dumps(row.spec)
    return spec, bytes(row.secret) if row.secret is not None else None


def _sealed(client: MLClient, kind: str, name: str) -> dict:
    _, secret = _rows(client, kind, name)
    return client._context().secrets.decrypt(secret)


def test_compute_password_is_sealed_and_never_returned_by_the_sdk(client: MLClient, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    created = client.compute.begin_create_or_update(AmlCompute(
        name="cpu", ssh_settings={"admin_username": "azureuser", "admin_password": PASSWORD,
                                  "ssh_key_value": "ssh-rsa AAAApublic"})).result()
    vm = client.compute.begin_create_or_update(VirtualMachineCompute(
        name="vm", resource_id="/subscriptions/x/vm", ssh_settings={"admin_password": PASSWORD})).result()
    for compute in (created, vm, client.compute.get("cpu"), client.compute.get("vm"), *client.compute.list()):
        assert compute.ssh_settings.admin_password is None
        assert PASSWORD not in json.dumps(compute.model_dump(mode="json")) + repr(compute)
    assert client.compute.get("cpu").ssh_settings.ssh_key_value == "ssh-rsa AAAApublic"  # public: kept
    for name in ("cpu", "vm"):
        spec, secret = _rows(client, "computes", name)
        assert PASSWORD not in spec and secret is not None and PASSWORD.encode() not in secret
        assert _sealed(client, "computes", name) == {"ssh_settings": {"admin_password": PASSWORD}}
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


def test_a_compute_update_keeps_replaces_or_drops_the_password(client: MLClient) -> None:
    client.compute.begin_create_or_update(AmlCompute(
        name="cpu", ssh_settings={"admin_username": "u", "admin_password": PASSWORD})).result()
    shown = client.compute.get("cpu")
    shown.max_instances = 9  # Azure's get-change-update: the password is not repeated
    client.compute.begin_update(shown).result()
    assert client.compute.get("cpu").max_instances == 9
    assert _sealed(client, "computes", "cpu") == {"ssh_settings": {"admin_password": PASSWORD}}
    shown.ssh_settings = {"admin_username": "u", "admin_password": "new-one"}
    client.compute.begin_update(shown).result()
    assert _sealed(client, "computes", "cpu") == {"ssh_settings": {"admin_password": "new-one"}}
    shown.ssh_settings = None  # no ssh settings: nowhere to keep a password
    client.compute.begin_update(shown).result()
    assert _rows(client, "computes", "cpu")[1] is None


def test_the_cli_never_prints_a_compute_password(client: MLClient, tmp_path: Path) -> None:
    spec = tmp_path / "cpu.yml"
    spec.write_text(textwrap.dedent(f"""
        name: cpu
        type: amlcompute
        ssh_settings:
          admin_username: azureuser
          admin_password: {PASSWORD}
          ssh_key_value: ssh-rsa AAAApublic
        """))
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> str:
        result = runner.invoke(cli, [*args, "-w", client.workspace_name], catch_exceptions=False)
        assert (result.exit_code == 0) is ok, result.output + result.stderr
        return result.stdout + result.stderr

    outputs = [run("compute", "create", "-f", str(spec), "-o", fmt) for fmt in ("json", "yaml", "table")]
    outputs += [run("compute", "show", "-n", "cpu", "-o", fmt) for fmt in ("json", "yaml", "table")]
    outputs += [run("compute", "list", "-o", fmt) for fmt in ("json", "yaml", "table")]
    outputs.append(run("compute", "update", "-n", "cpu", "--max-instances", "5"))
    assert "azureuser" in outputs[0] and "ssh-rsa AAAApublic" in outputs[0]
    assert all(PASSWORD not in text for text in outputs)
    assert _sealed(client, "computes", "cpu") == {"ssh_settings": {"admin_password": PASSWORD}}
    # An invalid file fails without echoing the password either.
    spec.write_text(spec.read_text() + "max_instances: -3\n")
    assert PASSWORD not in run("compute", "create", "-f", str(spec), ok=False)


def test_error_messages_never_hold_the_password() -> None:
    with pytest.raises(ValidationError) as info:
        AmlCompute(name="cpu", max_instances=0, ssh_settings={"admin_username": "u", "admin_password": PASSWORD})
    assert PASSWORD not in info.value.message and PASSWORD not in str(info.value.details)
    with pytest.raises(ValidationError) as info:
        AmlComputeSshSettings(admin_username=None, admin_password=PASSWORD)
    assert PASSWORD not in info.value.message and PASSWORD not in str(info.value.details)


# -- datastores: same path, include_secrets round-trips, older sealed rows still open -------------
def test_datastore_secrets_round_trip_through_the_same_path(client: MLClient) -> None:
    client.datastores.create_or_update(AzureBlobDatastore(
        name="blob", account_name="acct", container_name="c", credentials=AccountKeyConfiguration(account_key=KEY)))
    spec, secret = _rows(client, "datastores", "blob")
    assert KEY not in spec and KEY.encode() not in secret
    assert _sealed(client, "datastores", "blob") == {"credentials": {"account_key": KEY}}
    assert client.datastores.get("blob").credentials.account_key is None
    assert all(d.credentials is None or getattr(d.credentials, "account_key", None) is None
               for d in client.datastores.list())
    assert client.datastores.get("blob", include_secrets=True).credentials.account_key == KEY
    assert [d.credentials.account_key for d in client.datastores.list(include_secrets=True) if d.name == "blob"] == [KEY]


def test_a_datastore_sealed_by_an_older_openaml_still_opens(client: MLClient) -> None:
    ctx = client._context()
    public = AzureBlobDatastore(name="old", account_name="a", container_name="c",
                                credentials=AccountKeyConfiguration(account_key=None))
    ctx.metadata.put_resource(ctx.name, "datastores", "old", public.model_dump(mode="json", exclude_none=True),
                              ctx.secrets.encrypt({"account_key": KEY}))  # the flat shape of before
    assert client.datastores.get("old", include_secrets=True).credentials.account_key == KEY
    assert client.datastores.get("old").credentials.account_key is None


def test_services_store_secret_holders_through_the_sealed_path(client: MLClient) -> None:
    ctx = client._context()
    assert isinstance(DatastoreService(ctx)._store, SealedResources)
    assert isinstance(ComputeService(ctx)._store, SealedResources)
