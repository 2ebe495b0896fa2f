"""Azure Files over its REST API (HTTPS, ``azure-storage-file-share``) as an fsspec file system.

Why REST and not SMB: Azure ML's ``azure_file`` datastores take an account key *or a SAS
token*, and SMB takes the key only; REST takes both, goes over port 443 (445 is closed by many
networks and every consumer ISP's), gives an ETag per file (so unchanged files are read once, as
on blobs) and copies server-side. So openaml reaches every share this way.

Paths are ``/<share>/<dir>/<file>`` (rooted, as fsspec's SMB and memory file systems name
theirs), the share playing the container's part. Azure Files has real
directories: they are created before a file is written under them, and removed bottom-up.
Writes are not atomic for a reader of the file (a file is created at its size, then its ranges
are written): openaml only writes under a staging prefix and then copies server-side
(:func:`openaml.services.remote_data.publish`), waiting for each copy to finish.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

__all__ = ["AzureFilesFileSystem"]

# Azure's copy of a file within an account is synchronous for small files; a larger one is
# polled this often, this long at most.
COPY_POLL_SECONDS = 0.2
COPY_TIMEOUT_SECONDS = 3600.0


class AzureFilesFileSystem(AbstractFileSystem):
    """One Azure file share (*share_name*) of the account at *account_url*, with an account key
    (``credential={"account_name": ..., "account_key": ...}``) or a SAS token
    (``credential=<token>``). Extra keywords (``transport`` in tests) go to the Azure client."""

    protocol = "azfile"
    root_marker = "/"

    def __init__(self, account_url: str, share_name: str, credential: Any, *, client_options: dict | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**{k: v for k, v in kwargs.items() if k in ("skip_instance_cache", "use_listings_cache")})
        from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential
        from azure.storage.fileshare import ShareClient

        if isinstance(credential, dict):
            credential = AzureNamedKeyCredential(credential["account_name"], credential["account_key"])
        elif isinstance(credential, str):
            credential = AzureSasCredential(credential.lstrip("?"))
        self.share_name = share_name
        self.share = ShareClient(account_url, share_name, credential=credential, **(client_options or {}))
        self._sas = credential.signature if isinstance(credential, AzureSasCredential) else None

    # -- paths --------------------------------------------------------------------------------
    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        path = str(path)
        if path.startswith("azfile://"):
            path = path[len("azfile://"):]
        return "/" + path.strip("/")

    def _rel(self, path: str) -> str:
        """The path inside the share (``""`` for its root)."""
        path = self._strip_protocol(path)
        share, _, rel = path[1:].partition("/")
        if share != self.share_name:
            raise ValueError(f"{path!r} is not on the share {self.share_name!r}")
        return rel

    def _full(self, rel: str) -> str:
        return f"/{self.share_name}/{rel}" if rel else f"/{self.share_name}"

    # -- reading ------------------------------------------------------------------------------
    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        rel = self._rel(path)
        if not rel:
            return {"name": self._full(""), "type": "directory", "size": 0}
        try:
            props = self.share.get_file_client(rel).get_file_properties()
            return self._file_info(rel, props.size, props.etag, props.last_modified)
        except ResourceNotFoundError:  # a folder, or nothing: asked next
            pass
        try:
            props = self.share.get_directory_client(rel).get_directory_properties()
        except ResourceNotFoundError:
            raise FileNotFoundError(path) from None
        return {"name": self._full(rel), "type": "directory", "size": 0, "etag": props.etag,
                "last_modified": props.last_modified}

    def _file_info(self, rel: str, size: int, etag: str | None, modified: datetime | None) -> dict[str, Any]:
        return {"name": self._full(rel), "type": "file", "size": int(size or 0), "etag": etag,
                "last_modified": modified}

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        rel = self._rel(path)
        try:
            items = list(self.share.get_directory_client(rel).list_directories_and_files(
                include=["timestamps", "Etag"]))
        except ResourceNotFoundError:
            info = self.info(path)
            if info["type"] == "file":
                return [info] if detail else [info["name"]]
            raise FileNotFoundError(path) from None
        found = []
        for item in items:
            child = f"{rel}/{item.name}" if rel else item.name
            modified = getattr(item, "last_modified", None)
            if item.is_directory:
                found.append({"name": self._full(child), "type": "directory", "size": 0,
                              "etag": getattr(item, "etag", None), "last_modified": modified})
            else:
                found.append(self._file_info(child, getattr(item, "size", 0), getattr(item, "etag", None), modified))
        found.sort(key=lambda entry: entry["name"])
        return found if detail else [entry["name"] for entry in found]

    def modified(self, path: str) -> datetime:
        return self.info(path)["last_modified"]

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        return self._download(path, start, end)

    def _download(self, path: str, start: int | None, end: int | None) -> bytes:
        rel = self._rel(path)
        start = start or 0
        length = None if end is None else max(0, end - start)
        if length == 0:
            return b""
        try:
            return self.share.get_file_client(rel).download_file(offset=start, length=length).readall()
        except ResourceNotFoundError:
            raise FileNotFoundError(path) from None

    def get_file(self, rpath: str, lpath: str, callback: Any = None, **kwargs: Any) -> None:
        rel = self._rel(rpath)
        try:
            downloader = self.share.get_file_client(rel).download_file(max_concurrency=4)
        except ResourceNotFoundError:
            raise FileNotFoundError(rpath) from None
        with open(lpath, "wb") as out:
            downloader.readinto(out)

    def _open(self, path: str, mode: str = "rb", block_size: int | None = None, autocommit: bool = True,
              cache_options: dict | None = None, **kwargs: Any) -> AbstractBufferedFile:
        if mode != "rb":
            raise NotImplementedError("files on an Azure file share are written whole (put_file, pipe_file)")
        return _ShareFile(self, path, mode, block_size=block_size or 4 * 1024 * 1024,
                          cache_type=kwargs.get("cache_type", "readahead"), size=kwargs.get("size"))

    # -- writing ------------------------------------------------------------------------------
    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        rel = self._rel(path)
        parts = rel.split("/") if rel else []
        levels = range(1, len(parts) + 1) if create_parents else [len(parts)]
        for depth in levels:
            try:
                self.share.get_directory_client("/".join(parts[:depth])).create_directory()
            except ResourceExistsError:  # an existing folder is what we want
                pass

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        self.mkdir(path, create_parents=True)

    def put_file(self, lpath: str, rpath: str, callback: Any = None, mode: str = "overwrite", **kwargs: Any) -> None:
        rel = self._rel(rpath)
        self._parents(rel)
        import os

        with open(lpath, "rb") as data:
            self.share.get_file_client(rel).upload_file(data, length=os.fstat(data.fileno()).st_size,
                                                        max_concurrency=4)

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        rel = self._rel(path)
        self._parents(rel)
        self.share.get_file_client(rel).upload_file(value, length=len(value))

    def _parents(self, rel: str) -> None:
        if "/" in rel:
            self.mkdir(self._full(rel.rsplit("/", 1)[0]))

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """A server-side copy (waited for): the source's URL, with the SAS when that is the
        credential (Azure authorises a same-account source with the account key itself)."""
        source, target = self._rel(path1), self._rel(path2)
        self._parents(target)
        url = self.share.get_file_client(source).url
        if self._sas:
            url = f"{url}{'&' if '?' in url else '?'}{self._sas}"
        client = self.share.get_file_client(target)
        copy = client.start_copy_from_url(url)
        deadline = time.monotonic() + COPY_TIMEOUT_SECONDS
        status = copy.get("copy_status")
        while status == "pending":
            if time.monotonic() > deadline:
                client.abort_copy(copy["copy_id"])
                raise TimeoutError(f"copying {path1} to {path2} took more than {COPY_TIMEOUT_SECONDS:.0f} s")
            time.sleep(COPY_POLL_SECONDS)
            status = client.get_file_properties().copy.status
        if status not in (None, "success"):
            raise OSError(f"copying {path1} to {path2} ended {status}")

    def rm_file(self, path: str) -> None:
        rel = self._rel(path)
        try:
            self.share.get_file_client(rel).delete_file()
            return
        except ResourceNotFoundError:  # a folder, or already gone
            pass
        try:
            self.share.get_directory_client(rel).delete_directory()
        except ResourceNotFoundError:  # already gone is removed
            pass

    def rmdir(self, path: str) -> None:
        self.share.get_directory_client(self._rel(path)).delete_directory()

    def _rm(self, path: str) -> None:
        self.rm_file(path)


class _ShareFile(AbstractBufferedFile):
    """A file of the share opened for reading, fetched in ranges."""

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs._download(self.path, start, end)
