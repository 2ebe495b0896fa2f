"""Data transfer throughput (issue 10): a folder of mixed file sizes moved through openaml and
through plain fsspec ``put``/``get``, on Azurite, on moto and on a local folder, in one run.

The folder is ``--small`` small files (1 KiB to 64 KiB, in 10 sub-folders) and ``--large`` large
ones that make up the rest of ``--size``. For each store, each repetition starts from a fresh
container or bucket (a fresh folder for the local store) and times:

* fsspec ``put`` of the folder (recursive, the plugin's own concurrency) and ``get`` of it back:
  the peer, with no hashing and no checks;
* openaml *publish*: a finished job's output (a fresh copy of the folder, made before the clock
  starts) published into the workspace's content-addressed store, as the job agent does
  (``put_path(..., move=True)``: the files are the job's own, no temp copies);
* openaml *register*: the folder registered as a data asset (``put_path``: every file hashed
  and stored, a manifest written), into a store with empty caches;
* openaml *register again*: the identical folder registered a second time;
* openaml *read*: the registered folder materialised as a job input (every byte verified).

Targets (issue 10): publish and register at least 90% of fsspec ``put``'s throughput, read at
least 90% of fsspec ``get``'s; registering the identical folder again under 5% of the first.
Medians of ``--repeats`` runs. ``sync`` runs before every timed phase.

    python benchmarks/data.py                                   # 1 GiB: 1,000 small + 4 large files
    python benchmarks/data.py --quick                           # 128 MiB: 200 small + 2 large
    python benchmarks/data.py --stores moto,local --repeats 1

Azurite comes from ``scripts/test.sh`` (``.tools/``; run here with its data on disk, so 1 GiB
fits) and moto from the ``dev`` extra; a store whose emulator cannot start is skipped with the
reason. Everything runs on this machine: the emulators share its cores with the client.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

import _compare as cmp

from openaml.entities import AccountKeyConfiguration, S3AccessKeyConfiguration, WorkspaceStorage
from openaml.store.artifacts import ArtifactStore
from openaml.store.workspace_storage import open_artifact_store, open_workspace_storage

from tests.emulators import Emulator, Unavailable, new_container, start_azurite, start_moto

KIB, MIB = 1024, 1024 * 1024
STORES = ("azurite", "moto", "local")
WAYS = ("fsspec put", "fsspec get", "publish", "register", "register again", "read")


def make_folder(folder: Path, size: int, small: int, large: int, seed: int = 10) -> tuple[int, int]:
    """Write the folder; returns (bytes in small files, bytes in large files)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    small_bytes = 0
    for i in range(small):
        part = folder / "small" / f"{i % 10:02d}"
        part.mkdir(parents=True, exist_ok=True)
        n = int(KIB * 2 ** rng.uniform(0, 6))  # log-uniform, 1 KiB to 64 KiB
        (part / f"part-{i:05d}.bin").write_bytes(os.urandom(n))
        small_bytes += n
    each = max(0, size - small_bytes) // large if large else 0
    for i in range(large):
        with open(folder / f"large-{i}.bin", "wb") as f:
            for start in range(0, each, 16 * MIB):
                f.write(os.urandom(min(16 * MIB, each - start)))
    return small_bytes, each * large


def settle() -> None:
    """Write back dirty pages before a timed phase, so no side pays for the previous one's."""
    subprocess.run(["sync"], check=False)


def timed(fn: Callable[[], Any]) -> float:
    settle()
    start = cmp.clock()
    fn()
    return cmp.clock() - start


@dataclass
class Target:
    """One store under test: how to make a fresh place on it, fsspec's view of it, and
    openaml's artifact store on a prefix of it."""

    name: str
    fs: Any
    fresh: Callable[[], str]  # a new empty container/bucket/folder, as fsspec names it
    store: Callable[[str, str, Path], ArtifactStore]  # (place, prefix, caches folder)
    drop: Callable[[str], None]


def remote_target(emulator: Emulator) -> Target:
    first, fs = new_container(emulator, "bench")  # fsspec's side: one file system, reused
    unused = [first]

    def fresh() -> str:
        if unused:
            return unused.pop()
        container = f"bench-{uuid.uuid4().hex[:12]}"
        fs.mkdir(container)
        return container

    def store(container: str, prefix: str, caches: Path) -> ArtifactStore:
        opened = open_workspace_storage(workspace_storage(emulator, container, prefix), "bench")
        caches.mkdir(parents=True, exist_ok=True)
        return open_artifact_store(opened, prefix, digest_cache=caches / "digests.sqlite",
                                   stored_blobs=caches / "stored-blobs.sqlite")

    return Target(emulator.name, fs, fresh, store, lambda container: fs.rm(container, recursive=True))


def workspace_storage(emulator: Emulator, container: str, prefix: str) -> WorkspaceStorage:
    if emulator.name == "moto":
        return WorkspaceStorage(uri=f"s3://{container}/{prefix}", endpoint=emulator.url, region="us-east-1",
                                credentials=S3AccessKeyConfiguration(access_key_id=emulator.access_key,
                                                                     secret_access_key=emulator.secret_key))
    return WorkspaceStorage(uri=f"azure://{emulator.access_key}/{container}/{prefix}", endpoint=emulator.endpoint,
                            protocol="http", credentials=AccountKeyConfiguration(account_key=emulator.secret_key))


def local_target(base: Path) -> Target:
    import fsspec

    def fresh() -> str:
        place = base / f"local-{uuid.uuid4().hex[:8]}"
        place.mkdir(parents=True)
        return str(place)

    def store(place: str, prefix: str, caches: Path) -> ArtifactStore:
        return ArtifactStore(str(Path(place) / prefix))  # its caches live in its folder

    return Target("local", fsspec.filesystem("file"), fresh, store, lambda place: shutil.rmtree(place, True))


def one_round(target: Target, src: Path, work: Path) -> dict[str, float]:
    """One timing of every way, in a fresh place on the store and a fresh local folder."""
    work.mkdir(parents=True)
    place = target.fresh()
    try:
        t: dict[str, float] = {}
        t["fsspec put"] = timed(lambda: target.fs.put(str(src), f"{place}/peer", recursive=True))
        t["fsspec get"] = timed(lambda: target.fs.get(f"{place}/peer", str(work / "peer"), recursive=True))
        shutil.rmtree(work / "peer", ignore_errors=True)
        target.fs.rm(f"{place}/peer", recursive=True)
        store = target.store(place, "registered", work / "caches-registered")
        box: list[str] = []
        t["register"] = timed(lambda: box.append(store.put_path(src)[0]))
        t["register again"] = timed(lambda: store.put_path(src))
        t["read"] = timed(lambda: store.materialize(box[0], work / "read"))
        shutil.rmtree(work / "read", ignore_errors=True)
        output = work / "output"
        subprocess.run(["cp", "-r", str(src), str(output)], check=True)  # the job's own files
        published = target.store(place, "published", work / "caches-published")
        t["publish"] = timed(lambda: published.put_path(output, links="keep", move=True))
        return t
    finally:
        target.drop(place)
        shutil.rmtree(work, ignore_errors=True)


def report(name: str, samples: dict[str, list[float]], total: int) -> list[str]:
    med = {way: cmp.percentile(v, 50) for way, v in samples.items()}
    rows = []
    for way in WAYS:
        peer = med["fsspec get"] if way in ("fsspec get", "read") else med["fsspec put"]
        share = "" if way == "register again" else f"{peer / med[way]:.0%}"
        rows.append([way, cmp.secs(med[way]), f"{total / MIB / med[way]:.0f} MiB/s",
                     " ".join(f"{s:.2f}" for s in samples[way]), share])
    print(cmp.table([f"{name}", "median", "throughput", "each run (s)", "of fsspec's throughput"], rows))
    verdicts = [cmp.verdict(med["fsspec put"] / med[way] >= 0.9, f"{name} {way}: >= 90% of fsspec put's throughput",
                            f"{med['fsspec put'] / med[way]:.0%}") for way in ("publish", "register")]
    verdicts.append(cmp.verdict(med["fsspec get"] / med["read"] >= 0.9,
                                f"{name} read: >= 90% of fsspec get's throughput",
                                f"{med['fsspec get'] / med['read']:.0%}"))
    verdicts.append(cmp.verdict(med["register again"] < 0.05 * med["register"],
                                f"{name}: registering the identical folder again < 5% of the first",
                                f"{cmp.secs(med['register again'])} = "
                                f"{med['register again'] / med['register']:.1%}"))
    return verdicts


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=float, default=None, help="folder size in MiB (default 1024)")
    parser.add_argument("--small", type=int, default=None, help="small files, 1-64 KiB each (default 1,000)")
    parser.add_argument("--large", type=int, default=None, help="large files sharing the rest (default 4)")
    parser.add_argument("--stores", default=",".join(STORES), help=f"comma-separated, of {', '.join(STORES)}")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of every way (median shown)")
    parser.add_argument("--quick", action="store_true", help="128 MiB, 200 small and 2 large files")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder and print where it is")
    args = parser.parse_args()
    args.size = int((args.size if args.size is not None else 128 if args.quick else 1024) * MIB)
    args.small = args.small if args.small is not None else 200 if args.quick else 1000
    args.large = args.large if args.large is not None else 2 if args.quick else 4
    args.stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = set(args.stores) - set(STORES)
    if unknown:
        parser.error(f"--stores: unknown {', '.join(sorted(unknown))}; choose from {', '.join(STORES)}")
    return args


def main() -> int:
    args = parse_args()
    cmp.print_environment(["adlfs", "azure-storage-blob", "s3fs", "fsspec", "moto"])
    load = os.getloadavg()
    print(f"load    : {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min) at the start")
    with cmp.fresh_dir("openaml-bench-data-", keep=args.keep) as tmp:
        src = tmp / "folder"
        small_bytes, large_bytes = make_folder(src, args.size, args.small, args.large)
        total = small_bytes + large_bytes
        print(f"folder  : {args.small:,} small files ({small_bytes / MIB:.1f} MiB) and {args.large} large "
              f"({large_bytes / max(args.large, 1) / MIB:.1f} MiB each), {total / MIB:.1f} MiB; "
              f"{args.repeats} runs, median")
        verdicts: list[str] = []
        for name in args.stores:
            cmp.section(name)
            emulator: Emulator | None = None
            try:
                if name == "azurite":
                    emulator = start_azurite(Path(tempfile.mkdtemp(dir=tmp)), in_memory=False)
                elif name == "moto":
                    emulator = start_moto(Path(tempfile.mkdtemp(dir=tmp)))
            except Unavailable as exc:
                print(f"{name}: skipped: {exc}")
                continue
            try:
                target = remote_target(emulator) if emulator else local_target(tmp / "stores")
                samples: dict[str, list[float]] = {way: [] for way in WAYS}
                for r in range(args.repeats):
                    for way, seconds in one_round(target, src, tmp / f"work-{name}-{r}").items():
                        samples[way].append(seconds)
            finally:
                if emulator:
                    emulator.stop()
            verdicts += report(name, samples, total)
        cmp.section("targets")
        print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
