"""Datastores as fsspec file systems: the one place a datastore, with its secrets, becomes a file
system and a root path. Everything that reads or writes a datastore goes through here.

Two steps, so the mapping can be checked without a network or the plugins:
:func:`filesystem_spec` turns a datastore into an :class:`FsSpec` (an fsspec protocol, its
options and the root inside it: pure data), and :func:`open_storage` opens it as a
:class:`Storage`. The plugins load only then: adlfs (``openaml[azure]``) for Azure Blob and ADLS
Gen2, azure-storage-file-share (``openaml[azure]``) for Azure Files, s3fs (``openaml[s3]``) for S3; a missing
one is one line naming the ``pip install`` that adds it.

Addressing: an ``endpoint`` that is a DNS suffix (``core.windows.net``) gives Azure's
``<protocol>://<account>.blob.<endpoint>``; one with a port or an IP address is an emulator
(Azurite), addressed path-style, ``<protocol>://<endpoint>/<account>``. ADLS Gen2 is reached
through its blob endpoint (the same API; what Azurite emulates). Azure Files is reached over its
REST API (HTTPS) with the account key or a SAS token (:mod:`openaml.store.azure_files` says why
not SMB).

Errors from the plugins become one line naming the datastore (:class:`DatastoreAccessError`),
with every secret of the datastore and any ``sig=`` of a URL blanked out.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from openaml.entities.credentials import (AccountKeyConfiguration, CertificateConfiguration,
                                          S3AccessKeyConfiguration, SasTokenConfiguration,
                                          ServicePrincipalConfiguration)
from openaml.entities.datastore import (AzureBlobDatastore, AzureDataLakeGen1Datastore, AzureDataLakeGen2Datastore,
                                        AzureFileDatastore, Datastore, LocalDatastore, S3Datastore)
from openaml.entities.secrets import split_secrets
from openaml.errors import DatastoreAccessError, MissingExtraError, NotFoundError, OpenAMLError, ValidationError
from openaml.paths import check_relative

if TYPE_CHECKING:
    import fsspec

__all__ = ["FsSpec", "Storage", "credential_env", "filesystem_spec", "is_emulator", "open_storage", "unusable",
           "version_tag"]

GEN1_RETIRED = ("Azure retired Data Lake Storage Gen1 on 29 February 2024; move the data to a Gen2 account "
                "and use type azure_data_lake_gen2")
_EXTRAS = {"abfs": ("adlfs", "azure"), "azfile": ("azure-storage-file-share", "azure"), "s3": ("s3fs", "s3")}


@dataclass(frozen=True)
class FsSpec:
    """How to open a datastore's file system: ``fsspec.filesystem(protocol, **options)``, and the
    ``root`` path inside it (a container, a bucket, ``/<share>``, a local folder). ``url`` shows
    the root without secrets; ``identity`` names the storage for caches."""

    protocol: str
    root: str
    url: str
    identity: str
    options: dict[str, Any] = field(default_factory=dict, repr=False)  # secrets: never shown


@dataclass(frozen=True)
class CertificateCredentialSpec:
    """A service principal's certificate, turned into azure-identity's credential when opened."""

    tenant_id: str | None
    client_id: str | None
    certificate: str | None = field(repr=False)


def is_emulator(endpoint: str) -> bool:
    """Whether *endpoint* names an emulator (a port, an IP address or ``localhost``) rather than
    a cloud's DNS suffix: emulators are addressed path-style."""
    host, _, port = endpoint.rpartition(":") if not endpoint.endswith("]") else (endpoint, "", "")
    if port.isdigit() and host:
        return True
    host = endpoint.strip("[]")
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _scheme(protocol: str) -> str:
    return "http" if protocol == "http" else "https"  # wasbs/abfss are TLS, as https


def account_url(ds: AzureBlobDatastore | AzureDataLakeGen2Datastore | AzureFileDatastore, service: str) -> str:
    """``https://<account>.<service>.<endpoint>``, or path-style for an emulator."""
    scheme = _scheme(ds.protocol)
    if is_emulator(ds.endpoint):
        return f"{scheme}://{ds.endpoint}/{ds.account_name}"
    return f"{scheme}://{ds.account_name}.{service}.{ds.endpoint}"


def _connection_string(ds: AzureBlobDatastore | AzureDataLakeGen2Datastore | AzureFileDatastore,
                       service: str) -> str | None:
    """Azure's connection string for a key or a SAS (None for other credentials): the one form
    that carries an emulator's path-style endpoint, read by every Azure SDK and by adlfs."""
    creds = ds.credentials
    endpoint = f"{'Blob' if service == 'blob' else 'File'}Endpoint={account_url(ds, service)}"
    if isinstance(creds, AccountKeyConfiguration) and creds.account_key:
        return (f"DefaultEndpointsProtocol={_scheme(ds.protocol)};AccountName={ds.account_name};"
                f"AccountKey={creds.account_key};{endpoint};")
    if isinstance(creds, SasTokenConfiguration) and creds.sas_token:
        return f"{endpoint};SharedAccessSignature={creds.sas_token.lstrip('?')}"
    return None


def _azure_blob(ds: AzureBlobDatastore | AzureDataLakeGen2Datastore, container: str, anonymous: bool) -> FsSpec:
    url = account_url(ds, "blob")
    options: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False}
    conn = _connection_string(ds, "blob")
    creds = ds.credentials
    if conn:
        options["connection_string"] = conn
    elif anonymous and not isinstance(creds, (ServicePrincipalConfiguration, CertificateConfiguration)):
        # No credential at all (a public container): the endpoint alone, which keeps an
        # emulator's path-style address and http (adlfs would build https://<account>.blob...).
        options["connection_string"] = f"BlobEndpoint={url};"
    else:
        options["account_name"] = ds.account_name
        if not is_emulator(ds.endpoint):
            options["account_host"] = url.split("://", 1)[1]
        if isinstance(creds, ServicePrincipalConfiguration):
            options.update(tenant_id=creds.tenant_id, client_id=creds.client_id, client_secret=creds.client_secret)
        elif isinstance(creds, CertificateConfiguration):  # built when opened: azure-identity is adlfs's
            options["credential"] = CertificateCredentialSpec(creds.tenant_id, creds.client_id, creds.certificate)
        else:  # no credentials: the Azure identity chain, as Azure's identity-based datastores
            options["anon"] = anonymous
    return FsSpec("abfs", container, f"{url}/{container}", f"azure:{url}/{container}", options)


def _azure_file(ds: AzureFileDatastore) -> FsSpec:
    """A share over Azure Files' REST API (:mod:`openaml.store.azure_files`), with the account
    key or the SAS token (see :func:`unusable`)."""
    creds = ds.credentials
    credential: Any
    if isinstance(creds, AccountKeyConfiguration):
        credential = {"account_name": ds.account_name, "account_key": creds.account_key}
    else:
        assert isinstance(creds, SasTokenConfiguration)
        credential = creds.sas_token
    url = account_url(ds, "file")
    options = {"account_url": url, "share_name": ds.file_share_name, "credential": credential,
               "skip_instance_cache": True}
    return FsSpec("azfile", f"/{ds.file_share_name}", f"{url}/{ds.file_share_name}",
                  f"azure-file:{url}/{ds.file_share_name}", options)


def _s3(ds: S3Datastore, anonymous: bool) -> FsSpec:
    creds = ds.credentials
    options: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False, "anon": anonymous}
    if isinstance(creds, S3AccessKeyConfiguration) and creds.secret_access_key:
        options.update(key=creds.access_key_id, secret=creds.secret_access_key)
        if creds.session_token:
            options["token"] = creds.session_token
    if ds.endpoint_url:
        options["endpoint_url"] = ds.endpoint_url
    if ds.region:
        options["client_kwargs"] = {"region_name": ds.region}
    where = ds.endpoint_url.rstrip("/") + "/" if ds.endpoint_url else ""
    return FsSpec("s3", ds.bucket, f"s3://{ds.bucket}", f"s3:{where}{ds.bucket}", options)


def unusable(ds: Datastore) -> tuple[str, str] | None:
    """``(why, field)`` when openaml cannot reach *ds* whatever its secrets hold (ADLS Gen1, an
    Azure Files share with a SAS token); None when it can try."""
    if isinstance(ds, AzureDataLakeGen1Datastore):
        return f"datastore '{ds.name}' is azure_data_lake_gen1: {GEN1_RETIRED}", "type"
    if isinstance(ds, AzureFileDatastore) and not isinstance(ds.credentials, (AccountKeyConfiguration,
                                                                               SasTokenConfiguration)):
        return (f"datastore '{ds.name}' (azure_file) needs an account key or a SAS token (credentials: "
                "{account_key: ...} or {sas_token: ...}), as Azure's file datastores do", "credentials")
    if not isinstance(ds, (AzureBlobDatastore, AzureDataLakeGen2Datastore, AzureFileDatastore, S3Datastore,
                           LocalDatastore)):
        return f"datastore '{ds.name}' has type {ds.type!r}, which openaml cannot read", "type"
    return None


def filesystem_spec(ds: Datastore, *, anonymous: bool = False) -> FsSpec:
    """The file system and root behind *ds* (with its secrets, when it was read with them).

    A datastore without credentials uses the Azure identity chain or the AWS default chain;
    with *anonymous* (a public URL no registered datastore matches) it signs nothing instead.
    """
    problem = unusable(ds)
    if problem:
        raise ValidationError(problem[0], field=problem[1])
    if isinstance(ds, AzureBlobDatastore):
        return _azure_blob(ds, ds.container_name, anonymous)
    if isinstance(ds, AzureDataLakeGen2Datastore):
        return _azure_blob(ds, ds.filesystem, anonymous)
    if isinstance(ds, AzureFileDatastore):
        return _azure_file(ds)
    if isinstance(ds, S3Datastore):
        return _s3(ds, anonymous)
    assert isinstance(ds, LocalDatastore)
    return FsSpec("file", ds.path, f"file://{ds.path}", f"file:{ds.path}", {})


def credential_env(ds: Datastore) -> dict[str, str]:
    """The environment variables through which Azure's and AWS's SDKs (and adlfs, s3fs, the
    az and aws command lines) find *ds*'s storage and credentials: what a job reading an input in
    ``direct`` mode is given."""
    env: dict[str, str] = {}
    if isinstance(ds, (AzureBlobDatastore, AzureDataLakeGen2Datastore, AzureFileDatastore)):
        env.update(AZURE_STORAGE_ACCOUNT=ds.account_name, AZURE_STORAGE_ACCOUNT_NAME=ds.account_name)
        conn = _connection_string(ds, "file" if isinstance(ds, AzureFileDatastore) else "blob")
        if conn:
            env["AZURE_STORAGE_CONNECTION_STRING"] = conn
        creds = ds.credentials
        if isinstance(creds, AccountKeyConfiguration) and creds.account_key:
            env.update(AZURE_STORAGE_KEY=creds.account_key, AZURE_STORAGE_ACCOUNT_KEY=creds.account_key)
        elif isinstance(creds, SasTokenConfiguration) and creds.sas_token:
            env["AZURE_STORAGE_SAS_TOKEN"] = creds.sas_token
        elif isinstance(creds, ServicePrincipalConfiguration) and creds.client_secret:
            for prefix in ("AZURE_", "AZURE_STORAGE_"):  # azure-identity's EnvironmentCredential; adlfs
                env.update({f"{prefix}TENANT_ID": creds.tenant_id or "", f"{prefix}CLIENT_ID": creds.client_id or "",
                            f"{prefix}CLIENT_SECRET": creds.client_secret})
    elif isinstance(ds, S3Datastore):
        creds = ds.credentials
        if isinstance(creds, S3AccessKeyConfiguration) and creds.secret_access_key:
            env.update(AWS_ACCESS_KEY_ID=creds.access_key_id or "", AWS_SECRET_ACCESS_KEY=creds.secret_access_key)
            if creds.session_token:
                env["AWS_SESSION_TOKEN"] = creds.session_token
        if ds.region:
            env.update(AWS_REGION=ds.region, AWS_DEFAULT_REGION=ds.region)
        if ds.endpoint_url:
            env.update(AWS_ENDPOINT_URL=ds.endpoint_url, AWS_ENDPOINT_URL_S3=ds.endpoint_url)
    return {k: v for k, v in env.items() if v}


def secret_values(ds: Datastore) -> list[str]:
    """Every secret value *ds* holds, to blank out of messages."""
    _, secrets = split_secrets(ds)
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, str) and len(value) >= 4:
            found.append(value)
    walk(secrets)
    return found


_SIGNATURE = re.compile(r"((?:sig|signature|AccountKey|SharedAccessSignature|X-Amz-Signature|X-Amz-Credential)=)"
                        r"[^&;\s'\"]+", re.IGNORECASE)


def redact(text: str, secrets: list[str]) -> str:
    """*text* with every secret and every signature of a URL or connection string blanked out."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _SIGNATURE.sub(r"\1***", text)


def version_tag(info: dict[str, Any]) -> str | None:
    """What changes whenever a remote object's bytes change: its ETag where the store gives one,
    else its modification time with its size; None when neither is known (no caching then)."""
    etag = info.get("etag") or info.get("ETag") or info.get("e_tag")
    if etag:
        return "etag:" + str(etag).strip('"')
    mtime = info.get("mtime") or info.get("last_modified") or info.get("LastModified")
    if mtime is not None:
        return f"mtime:{mtime}:{info.get('size')}"
    return None


class Storage:
    """A datastore opened: its fsspec file system and the root of its paths.

    Paths handed in are relative posix paths checked by :func:`openaml.paths.check_relative`;
    :meth:`path` joins them under the root, so nothing built here leaves the datastore.
    """

    def __init__(self, name: str, spec: FsSpec, fs: fsspec.AbstractFileSystem, secrets: list[str], *,
                 label: str | None = None, owner: str = "datastore", fix: str | None = None) -> None:
        self.name, self.spec, self.fs = name, spec, fs
        # What errors call the storage, whose credentials it takes, and how to change them.
        self.label = label or f"datastore '{name}'"
        self.owner = owner
        self.fix = fix or f"change them with: openaml datastore update -n {name}"
        self._secrets = secrets
        self._precheck: Callable[[], None] | None = None
        self._precheck_lock = threading.Lock()

    def check_first(self, check: Callable[[], None]) -> None:
        """Run *check* before the first request of this process goes to the storage (again
        after each failure, never once it passed): a quick look that raises one clear error
        where the plugin would retry for a minute (an unreachable endpoint)."""
        self._precheck = check

    def __repr__(self) -> str:
        return f"Storage({self.name!r}, {self.spec.url!r})"

    @property
    def identity(self) -> str:
        return self.spec.identity

    def path(self, rel: str = "", *, field: str = "path") -> str:
        """The file system path of *rel* (relative, checked) under the root."""
        rel = check_relative(rel, field=field, allow_empty=True)
        root = self.spec.root.rstrip("/") if self.spec.root != "/" else ""
        return f"{root}/{rel}" if rel else (root or "/")

    def url(self, rel: str = "") -> str:
        """A URL of *rel* to show or to pass to a job (no secrets in it)."""
        rel = check_relative(rel, allow_empty=True)
        return f"{self.spec.url}/{rel}" if rel else self.spec.url

    def relative(self, fs_path: str) -> str:
        """The inverse of :meth:`path` for a path the file system listed under the root."""
        root = self.path().rstrip("/")
        stripped = fs_path.rstrip("/")
        if stripped == root:
            return ""
        if not stripped.startswith(root + "/"):
            raise ValidationError(f"{self.label} listed {stripped!r}, outside its root {root!r}")
        return stripped[len(root) + 1:]

    @contextlib.contextmanager
    def errors(self, action: str, *, missing: str | None = None) -> Iterator[None]:
        """Turn the plugin's errors inside the block into one line naming the datastore and
        *action*; a missing object becomes :class:`NotFoundError` saying *missing*."""
        if self._precheck is not None:
            with self._precheck_lock:
                if self._precheck is not None:
                    self._precheck()
                    self._precheck = None
        try:
            yield
        except OpenAMLError:
            raise
        except FileNotFoundError as exc:
            raise NotFoundError(self._line(missing or f"{action}: not found", exc, detail=False)) from None
        except Exception as exc:  # noqa: BLE001 - every plugin error becomes one line, secrets out
            status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
            if isinstance(exc, PermissionError) or status in (401, 403) or _auth_error(exc):
                raise DatastoreAccessError(self._line(
                    f"{action}: the storage refused the {self.owner}'s credentials (a wrong key, an expired "
                    f"token or missing permissions; {self.fix})",
                    exc)) from None
            raise DatastoreAccessError(self._line(f"{action} failed", exc)) from None

    def _line(self, text: str, exc: BaseException, *, detail: bool = True) -> str:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0] if detail else ""
        reason = redact(reason, self._secrets)[:300]
        return f"{self.label} ({self.spec.url}): {text}" + (f" [{reason}]" if reason else "")


def _auth_error(exc: BaseException) -> bool:
    names = {type(exc).__name__, *(type(e).__name__ for e in (exc.__cause__, exc.__context__) if e is not None)}
    return bool(names & {"ClientAuthenticationError", "CredentialUnavailableError", "NoCredentialsError"})


FileSystemFactory = Callable[[FsSpec], "fsspec.AbstractFileSystem"]


def _open_fs(spec: FsSpec) -> fsspec.AbstractFileSystem:
    import fsspec

    options = dict(spec.options)
    cert = options.get("credential")
    if isinstance(cert, CertificateCredentialSpec):
        from azure.identity.aio import CertificateCredential

        options["credential"] = CertificateCredential(cert.tenant_id, cert.client_id,
                                                      certificate_data=(cert.certificate or "").encode())
    if spec.protocol == "azfile":  # ours, not a registered fsspec plugin
        from openaml.store.azure_files import AzureFilesFileSystem

        return AzureFilesFileSystem(**options)
    return fsspec.filesystem(spec.protocol, **options)


def open_storage(ds: Datastore, *, anonymous: bool = False, factory: FileSystemFactory | None = None,
                 label: str | None = None, owner: str = "datastore", fix: str | None = None) -> Storage:
    """Open *ds* (read with its secrets) as a :class:`Storage` (*anonymous*: see
    :func:`filesystem_spec`). *factory* builds the file system from the spec instead of fsspec
    (a memory file system in tests of a mapping that has no emulator: Azure Files)."""
    spec = filesystem_spec(ds, anonymous=anonymous)
    storage = Storage(ds.name, spec, None, secret_values(ds), label=label, owner=owner,  # type: ignore[arg-type]
                      fix=fix)
    with storage.errors("connecting"):
        try:
            storage.fs = factory(spec) if factory else _open_fs(spec)
        except ImportError:
            package, extra = _EXTRAS.get(spec.protocol, (spec.protocol, spec.protocol))
            raise MissingExtraError(f"{storage.label} ({ds.type}) needs the {package} package, which is not "
                                    f"installed; install it with: pip install 'openaml[{extra}]'") from None
    return storage
