"""Large blobs written to object storage in parts, straight from the local file, visible only once
committed under their content address.

The digest (hence the key) of a large file is known before its upload starts (hashed once, or
remembered by the digest cache). Its bytes then go up in parts, several at once, hashed again
as they are read; the object is committed with one request only if what was sent hashes to
that digest. A file that changed since it was hashed is never committed under the wrong name,
and a failed or interrupted upload leaves nothing a reader can see:

* Azure Blob: blocks staged on the blob (uncommitted blocks are invisible to readers, and Azure
  discards them at the blob's next commit or after a week), then one Put Block List, create-only
  (``If-None-Match: *``);
* S3: a multipart upload, completed create-only (``IfNoneMatch``) and aborted on any failure. An
  upload cut short by a killed process stays open (invisible, but billed) until the bucket's
  lifecycle rule for incomplete multipart uploads removes it.

Other file systems have no such upload: the store copies through a local temp file instead.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import fsspec

__all__ = ["PARTS_IN_FLIGHT", "PART_SIZE", "PartUpload", "part_size", "parts_for", "upload_in_parts"]

# 8 MiB parts: above S3's 5 MiB minimum, few enough requests, little memory per part in flight.
PART_SIZE = 8 * 1024 * 1024
# S3 allows 10,000 parts (Azure 50,000): a larger file gets larger parts.
MAX_PARTS = 10_000
# Parts of one file sent at once; a store also bounds the parts in flight over all its uploads
# (PARTS_IN_FLIGHT x PART_SIZE of memory at most).
PARTS_PER_FILE = 4
PARTS_IN_FLIGHT = 16


class PartUpload(Protocol):
    """One object being written in numbered parts (from 1); nothing is visible before :meth:`commit`."""

    def put_part(self, number: int, data: bytes) -> None: ...

    def commit(self, count: int) -> bool:
        """Make parts 1..*count* the object, only if it does not exist yet; False when it did."""
        ...

    def abort(self) -> None:
        """Give up the upload (best effort: never raises)."""
        ...


#: Starts a :class:`PartUpload` of the object at a file system path.
Begin = Callable[[str], PartUpload]


def part_size(size: int) -> int:
    """The part size for a file of *size* bytes: :data:`PART_SIZE`, larger for huge files."""
    needed = -(-size // MAX_PARTS)
    return max(PART_SIZE, -(-needed // (1024 * 1024)) * 1024 * 1024)


class _AzureBlocks:
    """Blocks staged on the blob, committed as its block list (adlfs's own async client)."""

    def __init__(self, fs: fsspec.AbstractFileSystem, path: str) -> None:
        self.fs = fs
        self.container, self.blob, _ = fs.split_path(path)
        self._prefix = uuid.uuid4().hex  # block ids of this upload only; all ids of a blob have one length

    def _id(self, number: int) -> str:
        return base64.b64encode(f"{self._prefix}-{number:06d}".encode()).decode()

    def _run(self, method: str, **kwargs: object) -> None:
        from fsspec.asyn import sync

        async def call() -> None:
            async with self.fs.service_client.get_blob_client(self.container, self.blob) as client:
                await getattr(client, method)(**kwargs)
        sync(self.fs.loop, call)

    def put_part(self, number: int, data: bytes) -> None:
        self._run("stage_block", block_id=self._id(number), data=data, length=len(data))

    def commit(self, count: int) -> bool:
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.storage.blob import BlobBlock

        blocks = [BlobBlock(self._id(n)) for n in range(1, count + 1)]
        try:
            self._run("commit_block_list", block_list=blocks, metadata={"is_directory": "false"},
                      headers={"If-None-Match": "*"})
        except (ResourceExistsError, ResourceModifiedError):
            return False
        return True

    def abort(self) -> None:
        pass  # staged blocks are invisible, and dropped by Azure (a commit of the blob or a week)


class _S3Parts:
    """An S3 multipart upload through s3fs's own client (its retries and error mapping)."""

    def __init__(self, fs: fsspec.AbstractFileSystem, path: str) -> None:
        self.fs = fs
        self.bucket, self.key, _ = fs.split_path(path)
        self.upload_id = fs.call_s3("create_multipart_upload", Bucket=self.bucket, Key=self.key)["UploadId"]
        self._etags: dict[int, str] = {}

    def put_part(self, number: int, data: bytes) -> None:
        out = self.fs.call_s3("upload_part", Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                              PartNumber=number, Body=data)
        self._etags[number] = out["ETag"]

    def commit(self, count: int) -> bool:
        parts = [{"PartNumber": n, "ETag": self._etags[n]} for n in range(1, count + 1)]
        try:
            self.fs.call_s3("complete_multipart_upload", Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                            MultipartUpload={"Parts": parts}, IfNoneMatch="*")
        except FileExistsError:  # s3fs's name for "a pre-condition did not hold": it exists
            self.abort()
            return False
        return True

    def abort(self) -> None:
        try:
            self.fs.abort_mpu(self.bucket, self.key, self.upload_id)
        except Exception:  # noqa: BLE001 - best effort; an open upload is invisible to readers
            pass


def parts_for(fs: fsspec.AbstractFileSystem) -> Begin | None:
    """How to upload in parts on *fs*, or None when it has no committed-at-the-end upload."""
    protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    if protocols & {"abfs", "az", "abfss"} and hasattr(fs, "service_client"):
        return lambda path: _AzureBlocks(fs, path)
    if protocols & {"s3", "s3a"} and hasattr(fs, "call_s3"):
        return lambda path: _S3Parts(fs, path)
    return None


class FileChanged(Exception):
    """The file's bytes no longer hash to the digest it was uploaded under (nothing committed)."""


def upload_in_parts(begin: Begin, local_path: str, remote_path: str, digest: str, *, slots: threading.Semaphore,
                    progress: Callable[[int], None] | None = None) -> bool:
    """Upload the file to *remote_path* in parts, a few at once (each holding one of *slots*
    while in flight), and commit it only if the bytes read hash to *digest*. Returns False when
    the object already existed (nothing changed); raises :class:`FileChanged` when the file no
    longer matches *digest* (nothing committed). Any failure aborts the upload."""
    upload = begin(remote_path)
    committed = False
    pool = ThreadPoolExecutor(PARTS_PER_FILE, thread_name_prefix="part")
    try:
        count, sent = _send_parts(upload, local_path, pool, slots, progress)
        if sent != digest:
            raise FileChanged(local_path)
        committed = True  # from here the upload is the commit's: no abort on the way out
        return upload.commit(count)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if not committed:
            upload.abort()


def _send_parts(upload: PartUpload, local_path: str, pool: ThreadPoolExecutor, slots: threading.Semaphore,
                progress: Callable[[int], None] | None) -> tuple[int, str]:
    """Read, hash and hand each part to *pool*; returns the part count and the digest of what
    was sent once every part is (the first failed part's error is raised, and no more parts are
    read). A slot is taken before a part is read into memory and given back when it is done."""
    h = hashlib.sha256()
    futures: list[Future[None]] = []
    failed = threading.Event()

    def send(number: int, data: bytes) -> None:
        try:
            upload.put_part(number, data)
            if progress:
                progress(len(data))
        except BaseException:
            failed.set()
            raise

    with open(local_path, "rb") as f:
        size = f.seek(0, 2)
        f.seek(0)
        step = part_size(size)
        while not failed.is_set() and (data := f.read(step)):
            if len(futures) >= MAX_PARTS:
                raise FileChanged(local_path)  # it grew past what its part size allows
            h.update(data)
            slots.acquire()
            try:
                future = pool.submit(send, len(futures) + 1, data)
            except BaseException:
                slots.release()
                raise
            future.add_done_callback(lambda _: slots.release())  # also when cancelled, never run
            futures.append(future)
    for future in futures:
        future.result()
    return len(futures), h.hexdigest()
