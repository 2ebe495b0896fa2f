"""Fixtures for the datastore tests: the emulators (``azurite``, ``moto_s3``: tests/conftest.py),
and :class:`Remote`, a registered datastore on one of them with a fresh container or bucket and
a file system of the test's own to look at what openaml wrote there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from openaml.entities import (AccountKeyConfiguration, AzureBlobDatastore, AzureDataLakeGen2Datastore, Datastore,
                              S3AccessKeyConfiguration, S3Datastore)

from tests.emulators import Unavailable, new_container
from tests.helpers import new_workspace_client, use_home

SERVICES = ("azure_blob", "azure_data_lake_gen2", "s3")


@dataclass
class Remote:
    """A datastore registered on an emulator: its entity (with the key), the key, the URI forms
    of a path on it, and the test's own fsspec file system rooted like the datastore."""

    service: str
    name: str
    datastore: Datastore
    secret: str
    fs: Any
    root: str
    native_prefix: str  # wasbs://<container>@<account>.blob.core.windows.net or s3://<bucket>

    def uri(self, path: str) -> str:
        return f"azureml://datastores/{self.name}/paths/{path}"

    def native(self, path: str) -> str:
        return f"{self.native_prefix}/{path}"

    def put_tree(self, prefix: str, files: dict[str, bytes]) -> None:
        self.fs.pipe({f"{self.root}/{prefix}/{rel}": data for rel, data in files.items()})

    def listing(self, prefix: str = "") -> dict[str, bytes]:
        """Every object under *prefix*, relative to the datastore's root, with its bytes."""
        base = f"{self.root}/{prefix}".rstrip("/")
        found = self.fs.find(base) if self.fs.exists(base) else []
        return {p[len(self.root) + 1:]: self.fs.cat_file(p) for p in found}


def make_remote(service: str, azurite, moto_s3, *, wrong_key: bool = False) -> Remote:
    """A new container or bucket on *service*'s emulator and its datastore entity (not yet
    registered); skips the test, with the reason, when the emulator is not available."""
    emulator = moto_s3 if service == "s3" else azurite
    if isinstance(emulator, Unavailable):
        pytest.skip(str(emulator))
    if service == "s3":
        bucket, fs = new_container(emulator, "bucket")
        secret = "not-the-secret-key-0123456789" if wrong_key else emulator.secret_key
        ds = S3Datastore(name=f"s3{bucket[-10:]}", bucket=bucket, endpoint_url=emulator.url, region="us-east-1",
                         credentials=S3AccessKeyConfiguration(access_key_id=emulator.access_key,
                                                              secret_access_key=secret))
        return Remote(service, ds.name, ds, secret, fs, bucket, f"s3://{bucket}")
    container, fs = new_container(emulator, "data")
    suffix = container[-10:]
    secret = ("A" * 86 + "==") if wrong_key else emulator.secret_key
    common = dict(account_name=emulator.access_key, endpoint=emulator.endpoint, protocol="http",
                  credentials=AccountKeyConfiguration(account_key=secret))
    if service == "azure_blob":
        ds = AzureBlobDatastore(name=f"blob{suffix}", container_name=container, **common)
        native = f"wasbs://{container}@{emulator.access_key}.blob.core.windows.net"
    else:
        ds = AzureDataLakeGen2Datastore(name=f"adls{suffix}", filesystem=container, **common)
        native = f"abfss://{container}@{emulator.access_key}.dfs.core.windows.net"
    return Remote(service, ds.name, ds, secret, fs, container, native)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_home(tmp_path, monkeypatch, host_python=True)


@pytest.fixture
def ml_client(home: Path):
    client = new_workspace_client("data")
    yield client
    client.close()


@pytest.fixture(params=SERVICES)
def remote(request, azurite, moto_s3, ml_client) -> Remote:
    """A datastore on each emulated service, registered in the test's workspace."""
    made = make_remote(request.param, azurite, moto_s3)
    ml_client.datastores.create_or_update(made.datastore)
    return made
