"""Datastores: named pointers to storage, with credentials kept apart from the rest.

``type`` is the discriminator (``azure_blob``, ``azure_file``, ``azure_data_lake_gen1``,
``azure_data_lake_gen2``, and openaml's own ``local``). Credentials carry no type tag in YAML;
the class is inferred from the keys and must be one the datastore type allows.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator

from ._base import Resource
from .credentials import (
    CREDENTIAL_CLASSES,
    AccountKeyConfiguration,
    CertificateConfiguration,
    CredentialConfiguration,
    NoneCredentialConfiguration,
    SasTokenConfiguration,
    ServicePrincipalConfiguration,
    credential_class_for,
)

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


class AzureBlobDatastore(Datastore):
    """An Azure Blob Storage container."""

    allowed_credentials: ClassVar[CredentialClasses] = (
        *_KEY_OR_SAS, NoneCredentialConfiguration)

    type: Literal["azure_blob"] = "azure_blob"
    account_name: str
    container_name: str
    endpoint: str = "core.windows.net"
    protocol: Literal["https", "wasbs"] = "https"


class AzureFileDatastore(Datastore):
    """An Azure Files share."""

    allowed_credentials: ClassVar[CredentialClasses] = _KEY_OR_SAS

    type: Literal["azure_file"] = "azure_file"
    account_name: str
    file_share_name: str
    endpoint: str = "core.windows.net"
    protocol: Literal["https", "wasbs"] = "https"


class AzureDataLakeGen1Datastore(Datastore):
    """An Azure Data Lake Storage Gen1 store."""

    allowed_credentials: ClassVar[CredentialClasses] = _PRINCIPAL

    type: Literal["azure_data_lake_gen1"] = "azure_data_lake_gen1"
    store_name: str


class AzureDataLakeGen2Datastore(Datastore):
    """An Azure Data Lake Storage Gen2 filesystem."""

    allowed_credentials: ClassVar[CredentialClasses] = _PRINCIPAL

    type: Literal["azure_data_lake_gen2"] = "azure_data_lake_gen2"
    account_name: str
    filesystem: str
    endpoint: str = "core.windows.net"
    protocol: Literal["https", "abfss"] = "https"


class LocalDatastore(Datastore):
    """openaml's own ``type: local``: a folder on this machine (``path``)."""

    allowed_credentials: ClassVar[CredentialClasses] = (
        NoneCredentialConfiguration,)

    type: Literal["local"] = "local"
    path: str


AnyDatastore = Annotated[
    Union[AzureBlobDatastore, AzureFileDatastore, AzureDataLakeGen1Datastore,
          AzureDataLakeGen2Datastore, LocalDatastore],
    Field(discriminator="type"),
]
"""Any datastore, chosen by ``type`` (for ``pydantic.TypeAdapter``)."""

DATASTORE_CLASSES: dict[str, type[Datastore]] = {
    "azure_blob": AzureBlobDatastore,
    "azure_file": AzureFileDatastore,
    "azure_data_lake_gen1": AzureDataLakeGen1Datastore,
    "azure_data_lake_gen2": AzureDataLakeGen2Datastore,
    "local": LocalDatastore,
}
