"""Loading an MLTable into pandas: ``openaml.data.load_table(...).to_pandas_dataframe()`` against
reading the same files directly (pandas' ``read_csv``, pyarrow's readers: the floor) and,
when an interpreter with it is named, Azure's ``mltable`` package on the same MLTable folders.

Three tables of N rows (an integer, a float, a category, a 0/1 flag): one CSV file with
``read_delimited`` (type inference on), one Parquet file with ``read_parquet``, one JSON Lines
file with ``read_json_lines``. Each is loaded --repeat times after one untimed load; the
medians are compared. No target is set (issue 10 names none); the ratios are the measurement.

    python benchmarks/mltable.py                    # N = 1,000,000
    python benchmarks/mltable.py --quick            # N = 100,000
    python benchmarks/mltable.py --azure-mltable-python /path/to/venv/bin/python

Azure's package is proprietary and not a dependency: install it in a venv of its own
(``python -m venv v && v/bin/pip install mltable pandas``) and name that interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _compare as cmp

TABLES = {
    "csv": ("data.csv", "read_delimited"),
    "parquet": ("data.parquet", "read_parquet"),
    "jsonl": ("data.jsonl", "read_json_lines"),
}

AZURE_SCRIPT = """
import json, statistics, sys, time, warnings
warnings.simplefilter("ignore")
import mltable
folder, repeat = sys.argv[1], int(sys.argv[2])
mltable.load(folder).to_pandas_dataframe()
samples = []
for _ in range(repeat):
    t0 = time.perf_counter()
    df = mltable.load(folder).to_pandas_dataframe()
    samples.append(time.perf_counter() - t0)
print(json.dumps({"median": statistics.median(samples), "rows": len(df)}))
"""


def make_tables(root: Path, n: int) -> dict[str, Path]:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": np.arange(n), "x": rng.random(n), "cat": rng.choice(["a", "b", "c"], n),
                          "flag": rng.integers(0, 2, n)})
    folders = {}
    for kind, (name, reader) in TABLES.items():
        folder = root / kind
        folder.mkdir()
        if kind == "csv":
            frame.to_csv(folder / name, index=False)
        elif kind == "parquet":
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / name)
        else:
            frame.to_json(folder / name, orient="records", lines=True)
        (folder / "MLTable").write_text(f"paths:\n  - file: ./{name}\ntransformations:\n  - {reader}\n")
        folders[kind] = folder
    return folders


def direct(kind: str, path: Path):
    """The same file read without openaml: the floor."""
    import pandas as pd
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    if kind == "csv":
        return pd.read_csv(path)
    if kind == "parquet":
        return pq.read_table(path).to_pandas()
    return pj.read_json(path).to_pandas()


def azure(python: str, folder: Path, repeat: int) -> float:
    out = subprocess.run([python, "-c", AZURE_SCRIPT, str(folder), str(repeat)], capture_output=True, text=True,
                         timeout=1800)
    if out.returncode != 0:
        print(f"    Azure's mltable failed on {folder.name}: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return float("nan")
    return json.loads(out.stdout.strip().splitlines()[-1])["median"]


def main() -> None:
    parser = cmp.base_parser(__doc__.splitlines()[0], default_n=1_000_000, quick_n=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed loads of each table (default 5)")
    parser.add_argument("--azure-mltable-python", default=None,
                        help="an interpreter with Azure's mltable package, to compare with it")
    args = parser.parse_args()
    n = cmp.resolve_n(args)
    cmp.require("pyarrow", extra="mltable", purpose="to read tables")
    from openaml.data import load_table

    cmp.print_environment(["openaml", "pyarrow", "pandas"])
    rows = []
    with cmp.fresh_dir("bench-mltable-", keep=args.keep) as root:
        cmp.section(f"{n:,} rows per table")
        folders = make_tables(root, n)
        for kind, folder in folders.items():
            name = TABLES[kind][0]
            ours = cmp.repeat(f"openaml {kind}", lambda f=folder: load_table(f).to_pandas_dataframe(), args.repeat,
                              warmup=1)
            floor = cmp.repeat(f"direct {kind}", lambda k=kind, p=folder / name: direct(k, p), args.repeat, warmup=1)
            theirs = azure(args.azure_mltable_python, folder, args.repeat) if args.azure_mltable_python else float("nan")
            rows.append([kind, cmp.secs(ours.median), cmp.secs(floor.median), cmp.ratio(ours.median, floor.median),
                         cmp.secs(theirs) if theirs == theirs else "-", cmp.ratio(ours.median, theirs)])
    print(cmp.table(["table", "openaml", "direct", "openaml/direct", "Azure mltable", "openaml/Azure"], rows))


if __name__ == "__main__":
    main()
