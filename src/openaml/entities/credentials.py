"""Credential and identity configurations (azure-ai-ml's classes of the same names).

Secret fields (``account_key``, ``sas_token``, ``client_secret``, ``certificate``, and an S3
key's ``access_key_id``/``secret_access_key``/``session_token``) are plain
strings, as in azure-ai-ml, declared :data:`~openaml.entities._base.SecretText`: they never
appear in ``repr()``/``str()`` and are split off before a datastore is stored. They may be None:
a datastore read back without ``include_secrets`` carries its credential kind without values.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, SerializerFunctionWrapHandler, model_serializer

from ._base import Entity, SecretText, secret_field_names


class CredentialConfiguration(Entity):
    """Base of datastore credentials. ``kind`` is the credential's type (no tag in YAML)."""

    kind: ClassVar[str] = ""

    @property
    def type(self) -> str:
        """The credential type, e.g. ``account_key``."""
        return self.kind

    @model_serializer(mode="wrap")
    def _keep_secret_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A secret split off by the store is None; its key is kept even under exclude_none so
        # the dumped dict still says which credential kind it is.
        data = handler(self)
        for name in secret_field_names(type(self)):
            data.setdefault(name, None)
        return data


class AccountKeyConfiguration(CredentialConfiguration):
    """A storage account key."""

    kind: ClassVar[str] = "account_key"

    account_key: SecretText


class SasTokenConfiguration(CredentialConfiguration):
    """A shared access signature token."""

    kind: ClassVar[str] = "sas"

    sas_token: SecretText


class ServicePrincipalConfiguration(CredentialConfiguration):
    """An Entra ID service principal with a client secret."""

    kind: ClassVar[str] = "service_principal"

    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretText
    authority_url: str | None = None
    resource_url: str | None = None


class CertificateConfiguration(CredentialConfiguration):
    """An Entra ID service principal with a certificate."""

    kind: ClassVar[str] = "certificate"

    tenant_id: str | None = None
    client_id: str | None = None
    certificate: SecretText = None
    thumbprint: str | None = None
    authority_url: str | None = None
    resource_url: str | None = None


class S3AccessKeyConfiguration(CredentialConfiguration):
    """An AWS access key for an ``s3`` datastore (openaml's own; Azure has no S3 datastore).

    Both halves are secret: the key id is kept out of ``show`` too, as a user name that opens a
    bucket together with its secret. ``session_token`` is for temporary credentials.
    """

    kind: ClassVar[str] = "access_key"

    access_key_id: SecretText
    secret_access_key: SecretText
    session_token: SecretText = None


class NoneCredentialConfiguration(CredentialConfiguration):
    """No credentials: identity-based access (written ``credentials: {}`` in YAML)."""

    kind: ClassVar[str] = "none"


CREDENTIAL_CLASSES: tuple[type[CredentialConfiguration], ...] = (
    AccountKeyConfiguration, SasTokenConfiguration, ServicePrincipalConfiguration,
    CertificateConfiguration, S3AccessKeyConfiguration, NoneCredentialConfiguration,
)


def credential_class_for(keys: set[str]) -> type[CredentialConfiguration]:
    """Infer a credential class from the keys of an untagged YAML mapping."""
    if not keys:
        return NoneCredentialConfiguration
    for marker, klass in (("account_key", AccountKeyConfiguration), ("sas_token", SasTokenConfiguration),
                          ("client_secret", ServicePrincipalConfiguration),
                          ("certificate", CertificateConfiguration), ("thumbprint", CertificateConfiguration),
                          ("secret_access_key", S3AccessKeyConfiguration),
                          ("access_key_id", S3AccessKeyConfiguration)):
        if marker in keys:
            return klass
    return ServicePrincipalConfiguration  # tenant_id/client_id only: report what is missing


class ManagedIdentityConfiguration(Entity):
    """A user-assigned managed identity: a job's ``identity`` (``type: managed_identity``), or one
    of a workspace's or compute's ``user_assigned_identities``."""

    client_id: str | None = None
    resource_id: str | None = None
    object_id: str | None = None
    principal_id: str | None = None

    @property
    def type(self) -> str:
        return "managed_identity"


class UserIdentityConfiguration(Entity):
    """A job runs as the user who submitted it (``identity: {type: user_identity}``)."""

    @property
    def type(self) -> str:
        return "user_identity"


class AmlTokenConfiguration(Entity):
    """A job uses the workspace's AML token (``identity: {type: aml_token}``)."""

    @property
    def type(self) -> str:
        return "aml_token"


def _identity_as_mapping(value: Any) -> Any:
    """A job's ``identity`` given as an identity entity is kept in its YAML form, ``{type, ...}``."""
    if isinstance(value, (ManagedIdentityConfiguration, UserIdentityConfiguration, AmlTokenConfiguration)):
        return {"type": value.type, **value._to_dict()}
    return value


JobIdentity = Annotated[dict[str, Any] | None, BeforeValidator(_identity_as_mapping)]
"""A job's ``identity``: a mapping (``{type: user_identity}``) or one of the identity entities.
Jobs run as the local user; the field is kept, and reported as ignored at submission."""


class IdentityConfiguration(Entity):
    """Managed identity of a workspace or compute: ``system_assigned``, ``user_assigned``, ..."""

    type: str
    user_assigned_identities: list[ManagedIdentityConfiguration] | None = None
    principal_id: str | None = None  # read-only
    tenant_id: str | None = None  # read-only
