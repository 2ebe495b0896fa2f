"""A workspace's artifact store on object storage (Azurite, moto), against plain fsspec on the same
container or bucket.

The folder is many small files and a few larger ones. openaml's side is what registering a data
folder and materialising it as a job input cost on a workspace created with ``--storage``: every
file hashed, each blob checked for and uploaded unless stored, a manifest written; then every
file downloaded and verified. The peer is fsspec's own recursive ``put`` and ``get`` of the same
folder (adlfs and s3fs run those as concurrent requests), with no hashing and no checks. Shown
for reference: openaml uploading one file at a time (as a remote store did before uploads were
concurrent; downloads are one batch of the plugin's either way), and registering the unchanged
folder a second time.

Target (issue 10): at least 90% of fsspec's throughput both ways; a second registration of
the same folder under 5% of the first.

    python benchmarks/workspace_storage.py            # 1,000 files of 4 KiB and 4 of 4 MiB
    python benchmarks/workspace_storage.py --quick    # 200 files of 4 KiB and 4 of 4 MiB

Azurite comes from ``scripts/test.sh`` (``.tools/``) and moto from the ``dev`` extra; a storage
whose emulator cannot start is skipped with the reason.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

import _compare as cmp

from openaml.entities import AccountKeyConfiguration, S3AccessKeyConfiguration, WorkspaceStorage
from openaml.store.workspace_storage import open_artifact_store, open_workspace_storage

from tests.emulators import Unavailable, new_container, start_azurite, start_moto

KIB, MIB = 1024, 1024 * 1024
LARGE = 4


def make_folder(folder: Path, n: int) -> int:
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / "small" / f"{i // 100:03d}").mkdir(parents=True, exist_ok=True)
        (folder / "small" / f"{i // 100:03d}" / f"part-{i:05d}.bin").write_bytes(os.urandom(4 * KIB))
    for i in range(LARGE):
        (folder / f"large-{i}.bin").write_bytes(os.urandom(4 * MIB))
    return n * 4 * KIB + LARGE * 4 * MIB


def workspace_storage(emulator, container: str) -> WorkspaceStorage:
    if emulator.name == "moto":
        return WorkspaceStorage(uri=f"s3://{container}/bench", endpoint=emulator.url, region="us-east-1",
                                credentials=S3AccessKeyConfiguration(access_key_id=emulator.access_key,
                                                                     secret_access_key=emulator.secret_key))
    return WorkspaceStorage(uri=f"azure://{emulator.access_key}/{container}/bench", endpoint=emulator.endpoint,
                            protocol="http", credentials=AccountKeyConfiguration(account_key=emulator.secret_key))


def measure(emulator, src: Path, work: Path) -> dict[str, float]:
    container, fs = new_container(emulator, "bench")
    storage = workspace_storage(emulator, container)
    opened = open_workspace_storage(storage, "bench")
    timed: dict[str, float] = {}
    timed["fsspec put"] = cmp.repeat("fsspec put", lambda: fs.put(str(src), f"{container}/peer", recursive=True), 1).wall
    timed["fsspec get"] = cmp.repeat("fsspec get", lambda: fs.get(f"{container}/peer", str(work / "peer"),
                                                                  recursive=True), 1).wall
    store = open_artifact_store(opened, storage.prefix, digest_cache=work / "digests.sqlite",
                                stored_blobs=work / "stored.sqlite")
    digest_box: list[str] = []
    timed["openaml put"] = cmp.repeat("openaml put", lambda: digest_box.append(store.put_path(src)[0]), 1).wall
    timed["openaml again"] = cmp.repeat("openaml again", lambda: store.put_path(src), 1).wall
    timed["openaml get"] = cmp.repeat("openaml get", lambda: store.materialize(digest_box[0], work / "ours"), 1).wall
    # One transfer at a time, into a prefix of its own (so nothing is already stored).
    sequential = open_artifact_store(opened, f"{storage.prefix}-seq", digest_cache=work / "digests-seq.sqlite",
                                     stored_blobs=work / "stored-seq.sqlite")
    sequential._blobs.workers = 1  # the reference: the store before transfers were concurrent
    timed["sequential put"] = cmp.repeat("sequential put", lambda: sequential.put_path(src), 1).wall
    fs.rm(container, recursive=True)
    return timed


def main() -> None:
    parser = cmp.base_parser(__doc__.split("\n\n")[0], default_n=1000, quick_n=200)
    args = parser.parse_args()
    n = cmp.resolve_n(args)
    cmp.print_environment(["adlfs", "s3fs", "fsspec", "moto"])
    with cmp.fresh_dir("openaml-bench-wsstorage-", keep=args.keep) as tmp:
        src = tmp / "folder"
        total = make_folder(src, n)
        print(f"folder: {n:,} files of 4 KiB and {LARGE} of 4 MiB, {total / MIB:.1f} MiB")
        rows, verdicts = [], []
        for name, start in (("Azurite", start_azurite), ("moto", start_moto)):
            try:
                emulator = start(Path(tempfile.mkdtemp(prefix="openaml-bench-emulator-", dir=tmp)))
            except Unavailable as exc:
                print(f"{name}: skipped: {exc}")
                continue
            try:
                t = measure(emulator, src, tmp / f"work-{name}-{uuid.uuid4().hex[:6]}")
            finally:
                emulator.stop()
            for way in ("put", "get"):
                rate = total / MIB / t[f"openaml {way}"]
                sequential = cmp.secs(t["sequential put"]) if way == "put" else "-"
                rows.append([name, way, cmp.secs(t[f"fsspec {way}"]), cmp.secs(t[f"openaml {way}"]), sequential,
                             f"{rate:.1f} MiB/s",
                             f"{t[f'fsspec {way}'] / t[f'openaml {way}']:.0%}"])
                verdicts.append(cmp.verdict(t[f"fsspec {way}"] / t[f"openaml {way}"] >= 0.9,
                                            f"{name} {way}: >= 90% of fsspec's throughput",
                                            f"{t[f'fsspec {way}'] / t[f'openaml {way}']:.0%}"))
            verdicts.append(cmp.verdict(t["openaml again"] < 0.05 * t["openaml put"],
                                        f"{name}: registering the same folder again < 5% of the first",
                                        f"{cmp.secs(t['openaml again'])} = "
                                        f"{t['openaml again'] / t['openaml put']:.1%} of the first"))
        print(cmp.table(["storage", "way", "fsspec", "openaml", "openaml, 1 upload at a time", "openaml rate",
                         "of fsspec's throughput"], rows))
        print("\n".join(verdicts))


if __name__ == "__main__":
    main()
