"""Azure Files over its REST API, without an emulator (Azurite has none for Files): the requests
openaml's client builds are answered by a small share kept in a dict behind an azure-core
transport stub, so what is checked is what would go over the wire: the URLs, the SAS on every
request (and on the copy source) or the SharedKey signature, and a SAS or key never in a log, an
error or a ``show``."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from azure.core.pipeline.transport import HttpResponse, HttpTransport
from azure.core.utils import CaseInsensitiveDict

from openaml.entities import AccountKeyConfiguration, AzureFileDatastore, SasTokenConfiguration
from openaml.errors import DatastoreAccessError, ValidationError
from openaml.services import remote_data
from openaml.services.contents import Content
from openaml.services.datastore_io import open_datastore
from openaml.store.azure_files import AzureFilesFileSystem

SAS = "sv=2022-11-02&ss=f&srt=sco&sp=rwdlc&se=2030-01-01T00:00:00Z&sig=c2FzLXNpZ25hdHVyZS1zZWNyZXQ%3D"
SIG = "c2FzLXNpZ25hdHVyZS1zZWNyZXQ%3D"
KEY = "c2VjcmV0LWFjY291bnQta2V5LXZhbHVlLTEyMzQ1Njc4OTA="
STAMP = formatdate(usegmt=True)


class _Response(HttpResponse):
    def __init__(self, request, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        super().__init__(request, None)
        self.status_code, self.reason, self._body = status, "OK" if status < 400 else "Error", body
        self.headers = CaseInsensitiveDict({"x-ms-version": "2025-01-05", **headers})
        self.content_type = self.headers.get("Content-Type")

    def body(self) -> bytes:
        return self._body

    def iter_bytes(self, **_: object):
        yield self._body

    iter_raw = iter_bytes

    def read(self) -> bytes:
        return self._body

    def stream_download(self, pipeline, **_: object):
        return iter([self._body])


@dataclass
class FakeShare(HttpTransport):
    """A share named *share* of account ``acct``: files and folders in dicts, answered the way
    the FileREST API answers the requests azure-storage-file-share makes. *refuse* answers every
    request 403, as Azure does to a wrong key or an expired SAS."""

    share: str
    files: dict[str, bytes] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=lambda: {""})
    requests: list = field(default_factory=list)
    refuse: bool = False

    def __enter__(self):
        return self

    def __exit__(self, *args):
        pass

    def open(self):
        pass

    def close(self):
        pass

    def send(self, request, **kwargs):
        self.requests.append(request)
        if self.refuse:
            return _Response(request, 403, {"x-ms-error-code": "AuthenticationFailed"},
                             b"<Error><Code>AuthenticationFailed</Code></Error>")
        url = urlsplit(request.url)
        assert url.path.startswith(f"/{self.share}"), url.path
        rel = unquote(url.path[len(self.share) + 1:]).strip("/")
        query = parse_qs(url.query)
        folder = query.get("restype") == ["directory"]
        return _Response(request, *self._answer(request, rel, query, folder))

    def _answer(self, request, rel: str, query: dict, folder: bool):
        method, headers = request.method, request.headers
        missing = (404, {"x-ms-error-code": "ResourceNotFound"}, b"<Error><Code>ResourceNotFound</Code></Error>")
        if folder and query.get("comp") == ["list"]:
            return (200, {"Content-Type": "application/xml"}, self._listing(rel)) if rel in self.dirs else missing
        if folder and method == "GET":
            return (200, {"ETag": '"0xD"', "Last-Modified": STAMP}) if rel in self.dirs else missing
        if folder and method == "PUT":
            if rel in self.dirs:
                return 409, {"x-ms-error-code": "ResourceAlreadyExists"}, b""
            self.dirs.add(rel)
            return 201, {"ETag": '"0xD"', "Last-Modified": STAMP}
        if folder and method == "DELETE":
            self.dirs.discard(rel)
            return 202, {}
        if method == "HEAD":
            data = self.files.get(rel)
            return missing if data is None else (200, {"Content-Length": str(len(data)), "x-ms-type": "File",
                                                       "ETag": f'"0x{len(data)}"', "Last-Modified": STAMP})
        if method == "GET":
            data = self.files.get(rel)
            if data is None:
                return missing
            wanted = re.match(r"bytes=(\d+)-(\d+)", headers.get("x-ms-range", ""))
            start, end = (int(wanted[1]), min(int(wanted[2]), len(data) - 1)) if wanted else (0, len(data) - 1)
            part = data[start:end + 1]
            return (206 if wanted else 200), {"Content-Length": str(len(part)), "x-ms-type": "File",
                                              "Content-Range": f"bytes {start}-{end}/{len(data)}",
                                              "ETag": f'"0x{len(data)}"', "Last-Modified": STAMP}, part
        if method == "PUT" and "x-ms-copy-source" in headers:
            source = urlsplit(headers["x-ms-copy-source"])
            self.files[rel] = self.files[unquote(source.path[len(self.share) + 2:])]
            return 202, {"x-ms-copy-status": "success", "x-ms-copy-id": "copy-1", "ETag": '"0xC"', "Last-Modified": STAMP}
        if method == "PUT" and query.get("comp") == ["range"]:
            start = int(re.match(r"bytes=(\d+)-", headers["x-ms-range"])[1])
            body = request.body if isinstance(request.body, bytes) else bytes(request.body or b"")
            current = self.files[rel]
            self.files[rel] = current[:start] + body + current[start + len(body):]
            return 201, {"ETag": '"0xR"', "Last-Modified": STAMP}
        if method == "PUT":
            self.files[rel] = bytes(int(headers["x-ms-content-length"]))
            return 201, {"ETag": '"0xF"', "Last-Modified": STAMP}
        if method == "DELETE":
            return (202, {}) if self.files.pop(rel, None) is not None else missing
        raise AssertionError(f"unexpected request {method} {request.url}")

    def _listing(self, rel: str) -> bytes:
        prefix = f"{rel}/" if rel else ""
        children_files = sorted(p[len(prefix):] for p in self.files if p.startswith(prefix) and "/" not in p[len(prefix):])
        children_dirs = sorted(d[len(prefix):] for d in self.dirs
                               if d and d.startswith(prefix) and "/" not in d[len(prefix):])
        entries = "".join(f"<File><Name>{n}</Name><Properties><Content-Length>{len(self.files[prefix + n])}"
                          f"</Content-Length><Etag>\"0x{len(self.files[prefix + n])}\"</Etag>"
                          f"<Last-Modified>{STAMP}</Last-Modified></Properties></File>" for n in children_files)
        entries += "".join(f"<Directory><Name>{n}</Name><Properties /></Directory>" for n in children_dirs)
        return (f'<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://acct.file.'
                f'core.windows.net/" ShareName="{self.share}" DirectoryPath="{rel}"><Entries>{entries}</Entries>'
                f"<NextMarker /></EnumerationResults>").encode()

    def put(self, files: dict[str, bytes]) -> None:
        for rel, data in files.items():
            self.files[rel] = data
            parts = rel.split("/")[:-1]
            self.dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))


@pytest.fixture(params=["sas", "key"])
def share(request, ml_client):
    name = f"share-{uuid.uuid4().hex[:8]}"
    credentials = SasTokenConfiguration(sas_token=SAS) if request.param == "sas" \
        else AccountKeyConfiguration(account_key=KEY)
    ml_client.datastores.create_or_update(AzureFileDatastore(
        name="files", account_name="acct", file_share_name=name, credentials=credentials))
    fake = FakeShare(name)

    def factory(spec):
        return AzureFilesFileSystem(**spec.options, client_options={"transport": fake})

    return request.param, fake, factory


def _secret(kind: str) -> str:
    return SIG if kind == "sas" else KEY


def test_a_folder_is_read_and_an_output_published_over_rest(ml_client, share, tmp_path, caplog):
    kind, fake, factory = share
    caplog.set_level(logging.DEBUG)
    fake.put({"in/a.csv": b"x\n1\n", "in/sub/b.txt": b"b" * 3000})
    ctx = ml_client._context()
    read = open_datastore(ctx, "files", factory=factory).read(ctx, "in", field="path")
    manifest = ctx.artifacts.get_manifest(read.content.digest)
    assert sorted(manifest.files) == ["a.csv", "sub/b.txt"] and "2 files" in read.summary
    again = open_datastore(ctx, "files", factory=factory).read(ctx, "in", field="path")
    assert again.content == read.content and "2 unchanged, from the cache" in again.summary  # ETags, as on blobs
    (tmp_path / "out" / "deep").mkdir(parents=True)
    (tmp_path / "out" / "deep" / "r.txt").write_text("result")
    digest, stored = ctx.artifacts.put_path(tmp_path / "out")
    open_datastore(ctx, "files", factory=factory).publish(ctx, "results/run", Content(digest, stored.root, stored.kind),
                                                          label="job.out", warn=print)
    assert fake.files["results/run/deep/r.txt"] == b"result"
    assert not [p for p in fake.files if p.startswith(remote_data.STAGING_PREFIX)]
    hosts = {urlsplit(r.url).netloc for r in fake.requests}
    assert hosts == {"acct.file.core.windows.net"}
    for r in fake.requests:  # every request is signed, one way or the other
        if kind == "sas":
            assert parse_qs(urlsplit(r.url).query)["sig"] == [unquote(SIG)] and "Authorization" not in r.headers
        else:
            assert r.headers["Authorization"].startswith("SharedKey acct:") and "sig=" not in r.url
    copies = [r.headers["x-ms-copy-source"] for r in fake.requests if "x-ms-copy-source" in r.headers]
    assert copies and all(c.startswith(f"https://acct.file.core.windows.net/{fake.share}/.openaml-staging/")
                          for c in copies)
    assert all(("sig=" in c) == (kind == "sas") for c in copies)  # a SAS authorises the copy's source too
    assert _secret(kind) not in caplog.text and unquote(_secret(kind)) not in caplog.text


def test_refused_credentials_are_one_line_naming_the_datastore_without_the_secret(ml_client, share):
    kind, fake, factory = share
    fake.refuse = True
    ctx = ml_client._context()
    with pytest.raises(DatastoreAccessError) as caught:
        open_datastore(ctx, "files", factory=factory).read(ctx, "in", field="path")
    message = str(caught.value)
    assert message.startswith(f"datastore 'files' (https://acct.file.core.windows.net/{fake.share}): reading in: "
                              "the storage refused the datastore's credentials")
    assert "\n" not in message and _secret(kind) not in message and unquote(_secret(kind)) not in message
    shown = repr(ml_client.datastores.get("files"))
    assert _secret(kind) not in shown and unquote(_secret(kind)) not in shown


def test_a_share_without_a_key_or_a_token_is_refused_at_submission(ml_client):
    ml_client.datastores.create_or_update(AzureFileDatastore(name="bare", account_name="acct", file_share_name="s"))
    from openaml import Input, command

    with pytest.raises(ValidationError, match=r"datastore 'bare' \(azure_file\) needs an account key or a SAS token"):
        ml_client.jobs.create_or_update(command(
            command="ls ${{inputs.d}}", environment="azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
            inputs={"d": Input(type="uri_folder", path="azureml://datastores/bare/paths/x")}))


def test_paths_outside_the_share_are_refused_by_the_file_system():
    fs = AzureFilesFileSystem("https://acct.file.core.windows.net", "share", SAS,
                              client_options={"transport": FakeShare("share")})
    with pytest.raises(ValueError, match="is not on the share 'share'"):
        fs.info("/other/x")
    assert fs.info("/share") == {"name": "/share", "type": "directory", "size": 0}
