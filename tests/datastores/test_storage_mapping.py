"""The one mapping of a datastore to an fsspec file system (``openaml.store.storage``), checked
as data, with no network: addressing (cloud, sovereign cloud, emulator), credentials, the
variables a ``direct`` job gets, the retired Gen1, missing plugins, redaction; and the storage
URIs jobs and assets accept."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from openaml.entities import (AccountKeyConfiguration, AzureBlobDatastore, AzureDataLakeGen1Datastore,
                              AzureDataLakeGen2Datastore, AzureFileDatastore, LocalDatastore,
                              S3AccessKeyConfiguration, S3Datastore, SasTokenConfiguration,
                              ServicePrincipalConfiguration)
from openaml.errors import ValidationError
from openaml.services.locations import parse_storage_uri
from openaml.store.storage import credential_env, filesystem_spec, is_emulator, redact

KEY = "c2VjcmV0LWFjY291bnQta2V5LXZhbHVlLTEyMzQ1Njc4OTA="
SAS = "sv=2024-01-01&sig=TOPSECRETSIGNATURE"


def _blob(**kwargs):
    return AzureBlobDatastore(name="b", account_name="acct", container_name="data", **kwargs)


@pytest.mark.parametrize("endpoint, emulator", [
    ("core.windows.net", False), ("core.chinacloudapi.cn", False), ("127.0.0.1:10000", True),
    ("127.0.0.1", True), ("localhost", True), ("azurite:10000", True), ("[::1]:10000", True), ("[::1]", True),
])
def test_emulators_are_told_by_port_or_address(endpoint, emulator):
    assert is_emulator(endpoint) is emulator


def test_blob_with_a_key_in_the_cloud_and_in_a_sovereign_cloud():
    spec = filesystem_spec(_blob(credentials=AccountKeyConfiguration(account_key=KEY)))
    assert (spec.protocol, spec.root, spec.url) == ("abfs", "data", "https://acct.blob.core.windows.net/data")
    assert spec.options["connection_string"] == (f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};"
                                                 "BlobEndpoint=https://acct.blob.core.windows.net;")
    assert KEY not in repr(spec)
    china = filesystem_spec(_blob(endpoint="core.chinacloudapi.cn", credentials=AccountKeyConfiguration(account_key=KEY)))
    assert china.url == "https://acct.blob.core.chinacloudapi.cn/data"


def test_an_emulator_is_addressed_path_style_over_http():
    spec = filesystem_spec(_blob(endpoint="127.0.0.1:10000", protocol="http",
                                 credentials=AccountKeyConfiguration(account_key=KEY)))
    assert spec.url == "http://127.0.0.1:10000/acct/data"
    assert "BlobEndpoint=http://127.0.0.1:10000/acct;" in spec.options["connection_string"]
    assert spec.options["connection_string"].startswith("DefaultEndpointsProtocol=http;")


def test_blob_sas_principal_and_identity():
    sas = filesystem_spec(_blob(credentials=SasTokenConfiguration(sas_token="?" + SAS)))
    assert sas.options["connection_string"] == f"BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature={SAS}"
    gen2 = AzureDataLakeGen2Datastore(name="g", account_name="acct", filesystem="fs", credentials=
                                      ServicePrincipalConfiguration(tenant_id="t", client_id="c", client_secret="s3cr3t"))
    principal = filesystem_spec(gen2)
    assert (principal.root, principal.url) == ("fs", "https://acct.blob.core.windows.net/fs")  # Gen2: blob endpoint
    assert {k: principal.options[k] for k in ("tenant_id", "client_id", "client_secret", "account_host")} == \
        {"tenant_id": "t", "client_id": "c", "client_secret": "s3cr3t", "account_host": "acct.blob.core.windows.net"}
    cert = filesystem_spec(AzureDataLakeGen2Datastore(name="g", account_name="acct", filesystem="fs", credentials={
        "tenant_id": "t", "client_id": "c", "certificate": "-----BEGIN PRIVATE KEY-----xyz"}))
    assert (cert.options["credential"].tenant_id, cert.options["credential"].certificate) == \
        ("t", "-----BEGIN PRIVATE KEY-----xyz")
    assert "PRIVATE KEY" not in repr(cert.options["credential"])
    identity = filesystem_spec(_blob(credentials={}))
    assert identity.options["anon"] is False and "connection_string" not in identity.options
    public = filesystem_spec(_blob(endpoint="127.0.0.1:10000", protocol="http"), anonymous=True)
    assert public.options["connection_string"] == "BlobEndpoint=http://127.0.0.1:10000/acct;"


def test_azure_files_goes_over_rest_with_the_account_key_or_a_sas_token():
    share = AzureFileDatastore(name="f", account_name="acct", file_share_name="share",
                               credentials=AccountKeyConfiguration(account_key=KEY))
    spec = filesystem_spec(share)
    assert (spec.protocol, spec.root, spec.url) == ("azfile", "/share", "https://acct.file.core.windows.net/share")
    assert {k: spec.options[k] for k in ("account_url", "share_name", "credential")} == {
        "account_url": "https://acct.file.core.windows.net", "share_name": "share",
        "credential": {"account_name": "acct", "account_key": KEY}}
    sas = filesystem_spec(share.model_copy(update={"credentials": SasTokenConfiguration(sas_token=SAS)}))
    assert (sas.protocol, sas.options["credential"]) == ("azfile", SAS)
    assert KEY not in repr(spec) and SAS not in repr(sas)  # options are never shown
    emulator = filesystem_spec(share.model_copy(update={"endpoint": "127.0.0.1:10004", "protocol": "http"}))
    assert emulator.options["account_url"] == "http://127.0.0.1:10004/acct"
    with pytest.raises(ValidationError, match=r"needs an account key or a SAS token") as caught:
        filesystem_spec(share.model_copy(update={"credentials": None}))
    assert caught.value.details.get("field") == "credentials" or "credentials" in str(caught.value.details)


def test_s3_with_a_key_an_endpoint_and_a_region():
    ds = S3Datastore(name="s", bucket="bkt", endpoint_url="http://127.0.0.1:9000", region="eu-west-1",
                     credentials=S3AccessKeyConfiguration(access_key_id="AKIA1", secret_access_key="shh-secret"))
    spec = filesystem_spec(ds)
    assert (spec.protocol, spec.root, spec.url) == ("s3", "bkt", "s3://bkt")
    assert {k: spec.options[k] for k in ("key", "secret", "endpoint_url", "client_kwargs", "anon")} == {
        "key": "AKIA1", "secret": "shh-secret", "endpoint_url": "http://127.0.0.1:9000",
        "client_kwargs": {"region_name": "eu-west-1"}, "anon": False}
    assert credential_env(ds) == {
        "AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "shh-secret", "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"}
    assert "key" not in filesystem_spec(S3Datastore(name="s", bucket="bkt")).options  # the AWS default chain


def test_direct_jobs_get_the_variables_azure_sdks_read():
    env = credential_env(_blob(credentials=AccountKeyConfiguration(account_key=KEY)))
    assert env["AZURE_STORAGE_ACCOUNT"] == env["AZURE_STORAGE_ACCOUNT_NAME"] == "acct"
    assert env["AZURE_STORAGE_KEY"] == env["AZURE_STORAGE_ACCOUNT_KEY"] == KEY
    assert env["AZURE_STORAGE_CONNECTION_STRING"].endswith("BlobEndpoint=https://acct.blob.core.windows.net;")
    principal = credential_env(AzureDataLakeGen2Datastore(
        name="g", account_name="acct", filesystem="fs",
        credentials=ServicePrincipalConfiguration(tenant_id="t", client_id="c", client_secret="s3cr3t")))
    assert (principal["AZURE_TENANT_ID"], principal["AZURE_CLIENT_ID"], principal["AZURE_CLIENT_SECRET"]) == \
        ("t", "c", "s3cr3t")
    assert credential_env(LocalDatastore(name="l", path="/x")) == {}


def test_gen1_is_accepted_from_yaml_but_using_it_says_the_service_is_retired():
    gen1 = AzureDataLakeGen1Datastore(name="old", store_name="lake")
    with pytest.raises(ValidationError) as info:
        filesystem_spec(gen1)
    assert "datastore 'old'" in str(info.value) and "retired Data Lake Storage Gen1" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("module, extra, datastore", [
    ("adlfs", "azure", "AzureBlobDatastore(name='b', account_name='acct', container_name='data', credentials={})"),
    ("s3fs", "s3", "S3Datastore(name='b', bucket='bkt')"),
])
def test_a_missing_plugin_names_the_pip_install_that_adds_it(module, extra, datastore):
    # A fresh interpreter where the plugin cannot be imported (fsspec remembers a plugin once loaded).
    code = textwrap.dedent(f"""
        import sys
        sys.modules[{module!r}] = None
        from openaml.entities import AzureBlobDatastore, S3Datastore
        from openaml.errors import MissingExtraError
        from openaml.store.storage import open_storage
        try:
            open_storage({datastore})
        except MissingExtraError as exc:
            print(exc)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    kind = "azure_blob" if module == "adlfs" else "s3"
    assert out.stdout.strip() == (f"datastore 'b' ({kind}) needs the {module} package, which is not installed; "
                                  f"install it with: pip install 'openaml[{extra}]'"), out.stderr


def test_messages_lose_secrets_and_signatures():
    text = f"GET https://a.blob.core.windows.net/c?sv=1&sig=abcDEF%2B&se=2 failed; AccountKey={KEY}; key {KEY}"
    assert redact(text, [KEY]) == "GET https://a.blob.core.windows.net/c?sv=1&sig=***&se=2 failed; AccountKey=***; key ***"


@pytest.mark.parametrize("uri, parts", [
    ("wasbs://data@acct.blob.core.windows.net/a/b.csv", ("azure", "acct", "data", "core.windows.net", "a/b.csv", True)),
    ("abfss://fs@acct.dfs.core.windows.net/x/", ("azure", "acct", "fs", "core.windows.net", "x", True)),
    ("https://acct.blob.core.windows.net/data/my%20file.csv",
     ("azure", "acct", "data", "core.windows.net", "my file.csv", True)),
    ("http://127.0.0.1:10000/devstoreaccount1/data/in",
     ("azure", "devstoreaccount1", "data", "127.0.0.1:10000", "in", False)),
    ("s3://bkt/k/x.parquet", ("s3", None, "bkt", None, "k/x.parquet", True)),
    ("s3://bkt", ("s3", None, "bkt", None, "", True)),
])
def test_storage_uris_are_taken_apart(uri, parts):
    found = parse_storage_uri(uri)
    assert (found.service, found.account, found.container, found.endpoint, found.path, found.secure) == parts


@pytest.mark.parametrize("uri, words", [
    ("https://acct.blob.core.windows.net/data/x?sv=1&sig=SECRET", "query (a SAS token?)"),
    ("s3://bkt/a/../../etc", "leaves its root"),
    ("wasbs://data@acct.blob.core.windows.net/a/%2e%2e/b", "leaves its root"),
    ("s3://bkt/a\x00b", "control character"),
    ("https://example.com/file.csv", "Azure blob storage only"),
])
def test_hostile_or_foreign_storage_uris_are_refused_naming_the_field(uri, words):
    with pytest.raises(ValidationError) as info:
        parse_storage_uri(uri, field="inputs.x.path")
    assert words in str(info.value) and info.value.details["field"] == "inputs.x.path"
    assert "SECRET" not in str(info.value)
    assert parse_storage_uri("azureml://datastores/x/paths/y") is None
