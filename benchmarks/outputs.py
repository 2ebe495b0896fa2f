"""Publishing a job's output into the content-addressed store, against a plain ``cp -r``.

A finished job's output folder is published by hashing every file (sha256, a few threads) and
moving it into the store's blobs (a rename on the same file system); a blob that already
exists is not written again. The peer is ``cp -r`` of the same folder, run in the same process
tree on the same disk, and the old way of publishing (``shutil.copytree`` to a temp folder and
a rename) is shown for reference.

Targets (issue 7): publishing 1 GiB in 1,000 files costs at most 1.2x ``cp -r``; publishing
identical content a second time costs under 10% of the first. "A second time" has two cases,
measured apart: the *same files* again (a datastore folder that every job reads, a data folder
registered again: unchanged files are recognised by their identity and not read), and
*another job* producing the same bytes in new files (every byte must be hashed again to know
it is the same; only the writes are saved).

    python benchmarks/outputs.py            # 1,000 files of 1 MiB
    python benchmarks/outputs.py --quick    # 200 files of 1 MiB
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _compare as cmp

from openaml.store.artifacts import HASH_WORKERS, ArtifactStore
from openaml.store.folders import remove_tree

MIB = 1024 * 1024


def make_files(folder: Path, n: int, size: int) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"part-{i:05d}.bin").write_bytes(os.urandom(size))


def copy(src: Path, dst: Path) -> None:
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True)


def settle() -> None:
    """Write back dirty pages before a timed phase, so no side pays for the previous one's."""
    subprocess.run(["sync"], check=False)


def one_round(src: Path, work: Path) -> dict[str, float]:
    """One timing of each side, in a fresh folder (and a fresh store) of its own."""
    work.mkdir()
    timed: dict[str, float] = {}
    # The peer: cp -r of the same folder on the same disk.
    settle()
    timed["cp"] = cmp.repeat("cp -r", lambda: copy(src, work / "cp"), 1).wall

    def old_publish() -> None:  # before this issue: copytree to a temp folder, then rename
        shutil.copytree(src, work / "old-tmp")
        os.replace(work / "old-tmp", work / "old")

    settle()
    timed["old"] = cmp.repeat("copytree + rename", old_publish, 1).wall
    # Now: the job's scratch output (a fresh copy, not timed) published into a new store.
    store = ArtifactStore(str(work / "store"))
    copy(src, work / "scratch")
    settle()
    timed["first"] = cmp.repeat("publish", lambda: store.put_path(work / "scratch", links="keep", move=True), 1).wall
    # Another job producing the same bytes in new files.
    copy(src, work / "scratch2")
    settle()
    timed["other"] = cmp.repeat("again", lambda: store.put_path(work / "scratch2", links="keep", move=True), 1).wall
    # The same unchanged files stored again (the first pass, not timed, fills the digest cache).
    store.put_path(src)
    settle()
    timed["same"] = cmp.repeat("same files", lambda: store.put_path(src), 1).wall
    remove_tree(work)
    return timed


def main() -> int:
    parser = cmp.base_parser(__doc__.split("\n", 1)[0], default_n=1000, quick_n=200)
    parser.add_argument("--size-mib", type=float, default=1.0, help="size of each file (default 1 MiB)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions of each side (median)")
    args = parser.parse_args()
    n, size = cmp.resolve_n(args), int(args.size_mib * MIB)
    cmp.print_environment(["openaml"])
    print(f"    {n} files of {size / MIB:g} MiB ({n * size / MIB / 1024:.2f} GiB), {HASH_WORKERS} hashing threads, "
          f"{args.repeats} repetitions, median shown")
    with cmp.fresh_dir("openaml-bench-outputs-", keep=args.keep) as tmp:
        src = tmp / "output"
        make_files(src, n, size)
        subprocess.run(["sync"], check=False)
        samples: dict[str, list[float]] = {k: [] for k in ("cp", "old", "first", "other", "same")}
        for r in range(args.repeats):
            for key, seconds in one_round(src, tmp / f"round-{r}").items():
                samples[key].append(seconds)
    med = {k: cmp.percentile(v, 50) for k, v in samples.items()}
    cmp.section("publishing an output")
    print(cmp.table(["what", "median", "vs cp -r"], [
        ["cp -r (peer)", cmp.secs(med["cp"]), "1.00x"],
        ["before: copytree + rename", cmp.secs(med["old"]), cmp.ratio(med["old"], med["cp"])],
        ["now: publish into the store (hash + move)", cmp.secs(med["first"]), cmp.ratio(med["first"], med["cp"])],
        ["now: another job, same bytes", cmp.secs(med["other"]), cmp.ratio(med["other"], med["cp"])],
        ["now: the same files again", cmp.secs(med["same"]), cmp.ratio(med["same"], med["cp"])],
    ]))
    print(cmp.verdict(med["first"] <= 1.2 * med["cp"], "publish <= 1.2x cp -r",
                      cmp.ratio(med["first"], med["cp"])))
    print(cmp.verdict(med["same"] < 0.1 * med["first"], "the same files again < 10% of the first",
                      f"{100 * med['same'] / med['first']:.1f}%"))
    print(cmp.verdict(med["other"] < 0.1 * med["first"], "another job's identical output < 10% of the first",
                      f"{100 * med['other'] / med['first']:.1f}% (every byte is hashed again; no byte is written)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
