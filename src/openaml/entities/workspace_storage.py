"""``WorkspaceStorage``: where a workspace keeps its bytes when they are not in its folder.

``uri`` is ``azure://<account>/<container>[/<prefix>]`` (an Azure Blob container) or
``s3://<bucket>[/<prefix>]`` (an S3 bucket, or one of an S3-compatible store at ``endpoint``).
The workspace's default datastore becomes that container or bucket, and its content-addressed
artifact store lives under ``<prefix>`` there (``openaml`` when none is given).

A URI never carries a credential: one with a query, a fragment, user information (``@``) or a
percent-escape is refused, as are control characters, ``..``, empty segments, backslashes and
names outside the storage's rules. Credentials go in ``credentials`` (encrypted when stored,
never shown); none at all means the Azure identity chain or the AWS default chain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Tag, field_validator, model_validator

from ._base import Entity
from .credentials import (AccountKeyConfiguration, NoneCredentialConfiguration, S3AccessKeyConfiguration,
                          SasTokenConfiguration, credential_class_for)
from .datastore import AzureBlobDatastore, Datastore, S3Datastore

DEFAULT_PREFIX = "openaml"
MAX_URI = 1024
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Prefix segments: what an object key can hold without quoting, and no '.'/'..' segment.
_SEGMENT = re.compile(r"^[A-Za-z0-9_.\-]+$")
_AZURE_CREDENTIALS = (AccountKeyConfiguration, SasTokenConfiguration, NoneCredentialConfiguration)
_S3_CREDENTIALS = (S3AccessKeyConfiguration, NoneCredentialConfiguration)


def _credential_tag(value: Any) -> str:
    if isinstance(value, dict):
        return credential_class_for(set(value)).__name__
    return type(value).__name__


StorageCredentials = Annotated[
    Union[tuple(Annotated[k, Tag(k.__name__)] for k in (*_AZURE_CREDENTIALS, S3AccessKeyConfiguration))],  # type: ignore[misc]
    Discriminator(_credential_tag),
]


def parse_storage_uri(uri: str) -> tuple[str, str, str, str]:
    """``(service, account or "", container or bucket, prefix)`` of a workspace storage URI;
    ValueError saying what is wrong otherwise. The prefix is ``""`` when none is given."""
    if not isinstance(uri, str):
        raise ValueError(f"the storage URI must be text, not {type(uri).__name__}")
    if len(uri) > MAX_URI:
        raise ValueError(f"the storage URI is longer than {MAX_URI} characters")
    if _CONTROL.search(uri) or any(c.isspace() for c in uri):
        raise ValueError("the storage URI holds a control character or a space")
    scheme = _SCHEME.match(uri)
    if not scheme or scheme[1].lower() not in ("azure", "s3"):
        got = f"scheme {scheme[1]!r}" if scheme else "no scheme"
        raise ValueError(f"the storage URI has {got}; give azure://<account>/<container>[/<prefix>] or "
                         "s3://<bucket>[/<prefix>]")
    if any(c in uri for c in "?#@%\\"):
        raise ValueError("the storage URI may hold no query, fragment, user information, percent-escape or "
                         "backslash: credentials never go in it (give them as credentials, a file or the "
                         "standard environment variables)")
    service, rest = scheme[1].lower(), uri[scheme.end():].rstrip("/")
    parts = rest.split("/") if rest else []
    for part in parts:
        if not part:
            raise ValueError("the storage URI has an empty path segment ('//')")
        if part in (".", "..") or not _SEGMENT.match(part):
            raise ValueError(f"the storage URI's segment {part!r} is not allowed (letters, digits, '.', '_' "
                             "and '-'; not '.' or '..')")
    if service == "azure":
        if len(parts) < 2:
            raise ValueError("an azure storage URI names an account and a container: "
                             "azure://<account>/<container>[/<prefix>]")
        return service, parts[0], parts[1], "/".join(parts[2:])
    if not parts:
        raise ValueError("an s3 storage URI names a bucket: s3://<bucket>[/<prefix>]")
    return service, "", parts[0], "/".join(parts[1:])


class WorkspaceStorage(Entity):
    """Object storage holding a workspace's default datastore and artifact store (openaml's own).

    ``endpoint``: for Azure, the storage's DNS suffix (``core.windows.net`` by default) or an
    emulator's ``host:port`` (addressed path-style, as datastores are); for S3, the endpoint URL
    of an S3-compatible store. ``protocol`` (Azure only): ``https``, or ``http`` for an emulator.
    ``region`` (S3 only). ``credentials``: an account key or a SAS token for Azure, an access key
    for S3, or none (the Azure identity chain, the AWS default chain).
    """

    uri: str
    endpoint: str | None = None
    protocol: Literal["https", "http"] | None = None
    region: str | None = None
    credentials: StorageCredentials | None = None

    @field_validator("uri")
    @classmethod
    def _check_uri(cls, v: str) -> str:
        service, account, container, prefix = parse_storage_uri(v)
        base = f"azure://{account}/{container}" if service == "azure" else f"s3://{container}"
        return f"{base}/{prefix}" if prefix else base  # one spelling: lower-case scheme, no trailing '/'

    @model_validator(mode="after")
    def _check_service_fields(self) -> "WorkspaceStorage":
        allowed = _AZURE_CREDENTIALS if self.service == "azure" else _S3_CREDENTIALS
        if self.credentials is not None and not isinstance(self.credentials, allowed):
            names = ", ".join(k.__name__ for k in allowed)
            raise ValueError(f"{type(self.credentials).__name__} is not a credential for {self.service} storage; "
                             f"allowed: {names}")
        if self.service == "s3" and self.protocol is not None:
            raise ValueError("protocol is for azure storage; an s3 endpoint says its protocol in its URL")
        if self.service == "azure" and self.region is not None:
            raise ValueError("region is for s3 storage")
        try:  # the datastore's own checks of the endpoint (no path, query or credentials in it)
            self.datastore("check")
        except Exception as exc:  # noqa: BLE001 - pydantic's error, re-raised as one line
            detail = getattr(exc, "message", None) or str(exc)
            raise ValueError(f"endpoint: {detail.split(': ', 1)[-1]}") from None
        return self

    @property
    def service(self) -> str:
        """``azure`` or ``s3``."""
        return parse_storage_uri(self.uri)[0]

    @property
    def container(self) -> str:
        """The Azure container or the S3 bucket."""
        return parse_storage_uri(self.uri)[2]

    @property
    def prefix(self) -> str:
        """Where the artifact store lives inside the container or bucket."""
        return parse_storage_uri(self.uri)[3] or DEFAULT_PREFIX

    def datastore(self, name: str, description: str | None = None) -> Datastore:
        """The container or bucket as a datastore named *name*, with these credentials."""
        service, account, container, _ = parse_storage_uri(self.uri)
        if service == "azure":
            extra: dict[str, Any] = {"endpoint": self.endpoint} if self.endpoint else {}
            return AzureBlobDatastore(name=name, description=description, account_name=account,
                                      container_name=container, protocol=self.protocol or "https",
                                      credentials=self.credentials, **extra)
        return S3Datastore(name=name, description=description, bucket=container, endpoint_url=self.endpoint,
                           region=self.region, credentials=self.credentials)

    def with_environment_credentials(self, env: Mapping[str, str]) -> "WorkspaceStorage":
        """A copy whose credentials, when none were given, come from the standard variables in
        *env*: ``AZURE_STORAGE_KEY`` (or ``AZURE_STORAGE_ACCOUNT_KEY``) or
        ``AZURE_STORAGE_SAS_TOKEN`` (not when ``AZURE_STORAGE_ACCOUNT`` names another account);
        ``AWS_ACCESS_KEY_ID`` with ``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``). None
        set: no credentials, the Azure identity chain or the AWS default chain."""
        if self.credentials is not None:
            return self
        found: Any = NoneCredentialConfiguration()
        if self.service == "azure":
            named = env.get("AZURE_STORAGE_ACCOUNT") or env.get("AZURE_STORAGE_ACCOUNT_NAME")
            key = env.get("AZURE_STORAGE_KEY") or env.get("AZURE_STORAGE_ACCOUNT_KEY")
            if named and named != parse_storage_uri(self.uri)[1]:
                pass  # the variables are another account's
            elif key:
                found = AccountKeyConfiguration(account_key=key)
            elif env.get("AZURE_STORAGE_SAS_TOKEN"):
                found = SasTokenConfiguration(sas_token=env["AZURE_STORAGE_SAS_TOKEN"])
        elif env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
            found = S3AccessKeyConfiguration(access_key_id=env["AWS_ACCESS_KEY_ID"],
                                             secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                             session_token=env.get("AWS_SESSION_TOKEN") or None)
        return self.model_copy(update={"credentials": found})
