"""Datastores: named pointers to storage, with credentials kept apart from the rest.

``type`` is the discriminator (``azure_blob``, ``azure_file``, ``azure_data_lake_gen1``,
``azure_data_lake_gen2``, and openaml's own ``s3`` and ``local``). Credentials carry no type tag
in YAML; the class is inferred from the keys and must be one the datastore type allows.

``endpoint`` is the storage's DNS suffix (``core.windows.net``, ``core.chinacloudapi.cn``...) or,
for an emulator such as Azurite, a ``host:port`` or an IP address; ``protocol`` accepts ``http``
besides Azure's ``https``/``wasbs``/``abfss``, for emulators (Azure's own schema does not).
Names that end up in URLs (accounts, containers, buckets, endpoints) are checked here, so a
URL built from them cannot be steered elsewhere.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator

from ._base import Resource
from .credentials import (
    CREDENTIAL_CLASSES,
    AccountKeyConfiguration,
    CertificateConfiguration,
    CredentialConfiguration,
    NoneCredentialConfiguration,
    S3AccessKeyConfiguration,
    SasTokenConfiguration,
    ServicePrincipalConfiguration,
    credential_class_for,
)

# A DNS name, an IPv4 address or a bracketed IPv6 address, with an optional port: nothing that
# could add a path, a query or credentials to a URL.
_ENDPOINT = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                       r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9]+$")  # Azure: 3-24 lowercase letters and digits
_CONTAINER = re.compile(r"^(?:\$root|\$web|\$logs|[A-Za-z0-9][A-Za-z0-9-]*)$")  # Azure: 3-63, lowercase
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # S3: 3-63, lowercase, digits, '.', '-'
_URL = re.compile(r"^https?://[^\s/?#@]+/?$")


def _matching(pattern: re.Pattern[str], what: str):
    def check(value: str | None) -> str | None:
        if value is not None and not pattern.match(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value
    return check

def _credential_tag(value: Any) -> str:
    if isinstance(value, dict):
        return credential_class_for(set(value)).__name__
    return type(value).__name__


AnyCredentials = Annotated[
    Union[tuple(Annotated[k, Tag(k.__name__)] for k in CREDENTIAL_CLASSES)],  # type: ignore[misc]
    Discriminator(_credential_tag),
]
"""Any credential; YAML has no type tag, so the class is inferred from the keys."""

CredentialClasses = tuple[type[CredentialConfiguration], ...]
_KEY_OR_SAS = (AccountKeyConfiguration, SasTokenConfiguration)
_PRINCIPAL = (ServicePrincipalConfiguration, CertificateConfiguration, NoneCredentialConfiguration)


class Datastore(Resource):
    """Base of datastores. Subclasses fix ``type`` and list their ``allowed_credentials``."""

    allowed_credentials: ClassVar[CredentialClasses] = ()

    type: str
    properties: dict[str, str] | None = None
    credentials: AnyCredentials | None = None

    @field_validator("credentials")
    @classmethod
    def _check_allowed(cls, v: CredentialConfiguration | None) -> CredentialConfiguration | None:
        if v is not None and type(v) not in cls.allowed_credentials:
            raise ValueError(_not_allowed(cls, type(v)))
        return v


def _not_allowed(cls: type[Datastore], klass: type[CredentialConfiguration]) -> str:
    allowed = ", ".join(k.__name__ for k in cls.allowed_credentials) or "none"
    return f"{klass.__name__} is not allowed for {cls.__name__}; allowed: {allowed}"


class _AzureStorage(Datastore):
    """What the Azure Storage datastores share: an account at an endpoint."""

    account_name: str
    endpoint: str = "core.windows.net"

    _check_account = field_validator("account_name")(_matching(_ACCOUNT, "storage account name"))
    _check_endpoint = field_validator("endpoint")(
        _matching(_ENDPOINT, "endpoint (a DNS suffix such as core.windows.net, or host:port of an emulator)"))


class AzureBlobDatastore(_AzureStorage):
    """An Azure Blob Storage container. No credentials means the Azure identity chain."""

    allowed_credentials: ClassVar[CredentialClasses] = (
        *_KEY_OR_SAS, NoneCredentialConfiguration)

    type: Literal["azure_blob"] = "azure_blob"
    container_name: str
    protocol: Literal["https", "wasbs", "http"] = "https"

    _check_container = field_validator("container_name")(_matching(_CONTAINER, "container name"))


class AzureFileDatastore(_AzureStorage):
    """An Azure Files share (reached over its REST API with the account key or a SAS token)."""

    allowed_credentials: ClassVar[CredentialClasses] = _KEY_OR_SAS

    type: Literal["azure_file"] = "azure_file"
    file_share_name: str
    protocol: Literal["https", "wasbs", "http"] = "https"

    _check_share = field_validator("file_share_name")(_matching(_CONTAINER, "file share name"))


class AzureDataLakeGen1Datastore(Datastore):
    """An Azure Data Lake Storage Gen1 store."""

    allowed_credentials: ClassVar[CredentialClasses] = _PRINCIPAL

    type: Literal["azure_data_lake_gen1"] = "azure_data_lake_gen1"
    store_name: str


class AzureDataLakeGen2Datastore(_AzureStorage):
    """An Azure Data Lake Storage Gen2 filesystem (reached through its blob endpoint).

    Azure allows a service principal or the identity chain; openaml also takes an account key,
    which Gen2 accounts accept too (and the way into an emulator).
    """

    allowed_credentials: ClassVar[CredentialClasses] = (*_PRINCIPAL, AccountKeyConfiguration)

    type: Literal["azure_data_lake_gen2"] = "azure_data_lake_gen2"
    filesystem: str
    protocol: Literal["https", "abfss", "http"] = "https"

    _check_filesystem = field_validator("filesystem")(_matching(_CONTAINER, "filesystem name"))


class S3Datastore(Datastore):
    """openaml's own ``type: s3``: an Amazon S3 bucket, or a bucket of an S3-compatible store at
    ``endpoint_url``. No credentials means the AWS default chain (environment, profile, role)."""

    allowed_credentials: ClassVar[CredentialClasses] = (S3AccessKeyConfiguration, NoneCredentialConfiguration)

    type: Literal["s3"] = "s3"
    bucket: str
    endpoint_url: str | None = None
    region: str | None = None

    _check_bucket = field_validator("bucket")(_matching(_BUCKET, "bucket name"))
    _check_url = field_validator("endpoint_url")(_matching(_URL, "endpoint_url (http(s)://host[:port])"))


class LocalDatastore(Datastore):
    """openaml's own ``type: local``: a folder on this machine (``path``)."""

    allowed_credentials: ClassVar[CredentialClasses] = (
        NoneCredentialConfiguration,)

    type: Literal["local"] = "local"
    path: str


AnyDatastore = Annotated[
    Union[AzureBlobDatastore, AzureFileDatastore, AzureDataLakeGen1Datastore,
          AzureDataLakeGen2Datastore, S3Datastore, LocalDatastore],
    Field(discriminator="type"),
]
"""Any datastore, chosen by ``type`` (for ``pydantic.TypeAdapter``)."""

DATASTORE_CLASSES: dict[str, type[Datastore]] = {
    "azure_blob": AzureBlobDatastore,
    "azure_file": AzureFileDatastore,
    "azure_data_lake_gen1": AzureDataLakeGen1Datastore,
    "azure_data_lake_gen2": AzureDataLakeGen2Datastore,
    "s3": S3Datastore,
    "local": LocalDatastore,
}
