"""Model registry speed: openaml (in-process MLClient, SQLite workspace) against MLflow's model
registry (MlflowClient on a SQLite backend), side by side in fresh temp folders.

    .venv-bench/bin/python benchmarks/registry.py            # N = 10,000
    .venv-bench/bin/python benchmarks/registry.py --quick    # N = 1,000

Measures, for one model name with N versions:
  * registrations/s: openaml with a local file per version (upload path: hash, store blob,
    manifest, row) and with an ``azureml://`` URI (no upload, like MLflow, which stores only a
    source string); MLflow ``create_model_version(name, source=<file URI>)``;
  * latency of "the latest version" over --latest-calls calls: openaml
    ``models.get(name, label="latest")``; MLflow ``search_model_versions(order_by version DESC,
    max_results=1)`` (``get_latest_versions`` is deprecated in MLflow 3), and for reference
    ``get_model_version_by_alias`` on an alias pinned to the newest version;
  * time to list all N versions: ``models.list(name)`` / ``search_model_versions`` (all pages).

Targets (from the issue): openaml registration throughput >= 3x MLflow's; openaml
``get(label="latest")`` median < 2 ms. Printed as PASS/MISS; the exit status is always 0.
See benchmarks/README.md.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _compare as cmp

# MLflow 3 sends usage telemetry unless told not to; a benchmark must not touch the network.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

MODEL = "bench-model"
THROUGHPUT_TARGET = 3.0       # openaml registrations/s >= 3x MLflow's
LATEST_MEDIAN_TARGET = 0.002  # openaml get(label="latest") median < 2 ms


def write_sources(folder: Path, n: int) -> list[Path]:
    """N tiny distinct files (a few bytes each), written before any timing starts."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(1, n + 1):
        p = folder / f"model-{i}.bin"
        p.write_bytes(f"weights {i}\n".encode())
        paths.append(p)
    return paths


# ---- openaml -------------------------------------------------------------------------------------

def openaml_client(home: Path):
    from openaml import MLClient
    from openaml.entities import Workspace

    client = MLClient(workspace_name="bench", openaml_home=home, show_progress=False)
    client.workspaces.begin_create(Workspace(name="bench")).result()
    client.models.list()  # open the workspace (engine, migrations check) before any timing
    return client


def bench_openaml(args, n: int, profiles: cmp.Profiles) -> dict:
    from openaml.entities import Model

    out: dict = {}
    every = max(n // 5, 1) if n >= 5000 else 0

    # 1. upload path: one tiny distinct local file per version.
    with cmp.fresh_dir("openaml-bench-upload-", keep=args.keep) as tmp:
        sources = write_sources(tmp / "src", n)
        client = openaml_client(tmp / "home")
        with profiles.phase("openaml register (upload)"):
            out["reg_upload"] = cmp.time_calls(
                "openaml register (file upload)",
                (lambda p=p: client.models.create_or_update(Model(name=MODEL, path=str(p))) for p in sources),
                progress_every=every)

        # Reads run against this workspace: N versions of one name.
        for _ in range(20):
            client.models.get(MODEL, label="latest")
        with profiles.phase("openaml get(label='latest')"):
            out["latest"] = cmp.repeat("openaml get latest",
                                       lambda: client.models.get(MODEL, label="latest"), args.latest_calls)
        got = client.models.get(MODEL, label="latest")
        assert got.version == str(n), f"latest is {got.version}, expected {n}"

        with profiles.phase("openaml list(name)"):
            out["list"] = cmp.repeat("openaml list(name)", lambda: list(client.models.list(MODEL)),
                                     args.list_repeats, warmup=1)
        count = len(list(client.models.list(MODEL)))
        assert count == n, f"list returned {count}, expected {n}"
        out["list_names"] = cmp.repeat("openaml list()", lambda: list(client.models.list()), 20, warmup=2)
        client.close()

    # 2. URI path: no upload, the closest match to what MLflow stores.
    with cmp.fresh_dir("openaml-bench-uri-", keep=args.keep) as tmp:
        client = openaml_client(tmp / "home")
        uris = [f"azureml://datastores/workspaceblobstore/paths/m/{i}" for i in range(1, n + 1)]
        with profiles.phase("openaml register (URI)"):
            out["reg_uri"] = cmp.time_calls(
                "openaml register (URI)",
                (lambda u=u: client.models.create_or_update(Model(name=MODEL, path=u)) for u in uris),
                progress_every=every)
        client.close()
    return out


# ---- MLflow ---------------------------------------------------------------------------------------

def search_all(client, filter_string: str) -> list:
    """Every matching model version, following page tokens (a page holds at most 10,000)."""
    found, token = [], None
    while True:
        page = client.search_model_versions(filter_string, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def bench_mlflow(args, n: int) -> dict:
    from mlflow import MlflowClient

    out: dict = {}
    every = max(n // 5, 1) if n >= 5000 else 0
    with cmp.fresh_dir("mlflow-bench-", keep=args.keep) as tmp:
        sources = write_sources(tmp / "src", n)
        uri = f"sqlite:///{tmp}/mlflow.db"
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.create_registered_model(MODEL)  # creates the schema; not timed
        # A run is not needed: the SQLAlchemy registry stores `source` as given and never reads
        # it (a models:/ URI would be resolved; a file URI or plain path is not).
        out["reg"] = cmp.time_calls(
            "mlflow create_model_version",
            (lambda p=p: client.create_model_version(MODEL, source=p.as_uri()) for p in sources),
            progress_every=every)

        flt = f"name='{MODEL}'"

        def latest():
            return client.search_model_versions(flt, order_by=["version_number DESC"], max_results=1)[0]

        for _ in range(20):
            latest()
        out["latest"] = cmp.repeat("mlflow latest (search)", latest, args.latest_calls)
        assert latest().version in (n, str(n)), f"latest is {latest().version}, expected {n}"

        client.set_registered_model_alias(MODEL, "newest", str(n))
        out["alias"] = cmp.repeat("mlflow get_model_version_by_alias",
                                  lambda: client.get_model_version_by_alias(MODEL, "newest"),
                                  args.latest_calls, warmup=20)

        out["list"] = cmp.repeat("mlflow search_model_versions", lambda: search_all(client, flt),
                                 args.list_repeats, warmup=1)
        count = len(search_all(client, flt))
        assert count == n, f"search returned {count}, expected {n}"
        out["list_names"] = cmp.repeat("mlflow search_registered_models",
                                       lambda: list(client.search_registered_models()), 20, warmup=2)
    return out


# ---- report ---------------------------------------------------------------------------------------

def report(n: int, mlflow_n: int, oa: dict, mf: dict | None) -> None:
    cmp.section("Results")
    print(f"openaml N = {n:,}; MLflow N = {mlflow_n:,}" if mf else f"openaml N = {n:,}; MLflow not run")
    if mf and mlflow_n != n:
        print("NOTE: the two sides registered different N; rates are compared, not totals.")

    rows = []
    reg_mf = mf["reg"] if mf else None

    def reg_row(label, t, other):
        rows.append([label, f"{t.n:,}", cmp.secs(t.wall), cmp.per_s(t.rate), cmp.ms(t.median), cmp.ms(t.p95),
                     cmp.ratio(t.rate, other.rate) if other else "-"])

    reg_row("openaml register, local file (upload)", oa["reg_upload"], reg_mf)
    reg_row("openaml register, azureml:// URI", oa["reg_uri"], reg_mf)
    if reg_mf:
        reg_row("MLflow create_model_version", reg_mf, None)
    print("\nRegistration (one name, versions 1..N; ratio = openaml rate / MLflow rate, higher is better)")
    print(cmp.table(["", "N", "total", "rate", "median", "p95", "vs MLflow"], rows))

    rows = []

    def lat_row(label, t, other):
        rows.append([label, f"{t.n:,}", cmp.ms(t.median), cmp.ms(t.p95), cmp.ms(t.maximum),
                     cmp.ratio(t.median, other.median) if other else "-"])

    lat_row('openaml models.get(name, label="latest")', oa["latest"], mf["latest"] if mf else None)
    if mf:
        lat_row("MLflow search_model_versions(DESC, max_results=1)", mf["latest"], None)
        lat_row("MLflow get_model_version_by_alias (reference)", mf["alias"], None)
    print("\nLatest version (ratio = openaml median / MLflow search median, lower is better)")
    print(cmp.table(["", "calls", "median", "p95", "max", "vs MLflow"], rows))

    rows = []

    def list_row(label, t, count, other):
        rows.append([label, f"{count:,}", cmp.ms(t.median), cmp.ms(min(t.samples)),
                     cmp.ratio(t.median, other.median) if other else "-"])

    list_row("openaml list(name)", oa["list"], n, mf["list"] if mf else None)
    if mf:
        list_row("MLflow search_model_versions (all pages)", mf["list"], mlflow_n, None)
    list_row("openaml list() (latest of each name)", oa["list_names"], 1, mf["list_names"] if mf else None)
    if mf:
        list_row("MLflow search_registered_models()", mf["list_names"], 1, None)
    print("\nListing (median of repeats; ratio = openaml / MLflow, lower is better)")
    print(cmp.table(["", "items", "median", "best", "vs MLflow"], rows))

    cmp.section("Targets")
    if mf:
        for label, t in (("azureml:// URI (like for like)", oa["reg_uri"]),
                         ("local file upload", oa["reg_upload"])):
            r = t.rate / reg_mf.rate
            print(cmp.verdict(r >= THROUGHPUT_TARGET, f"registration throughput >= {THROUGHPUT_TARGET:g}x MLflow, "
                              f"{label}", f"{cmp.per_s(t.rate)} vs {cmp.per_s(reg_mf.rate)} = {r:.2f}x"))
    else:
        print("----  registration throughput >= 3x MLflow: not measured (MLflow skipped)")
    med = oa["latest"].median
    print(cmp.verdict(med < LATEST_MEDIAN_TARGET, f'get(label="latest") median < {LATEST_MEDIAN_TARGET * 1e3:g} ms',
                      f"{cmp.ms(med)} at {n:,} versions"))


def main() -> int:
    parser = cmp.base_parser(__doc__.split("\n\n")[0], default_n=10_000, quick_n=1_000)
    parser.add_argument("--mlflow-n", type=int, default=None,
                        help="versions to register on the MLflow side (default: the same N)")
    parser.add_argument("--skip-mlflow", action="store_true", help="measure openaml only (no MLflow needed)")
    parser.add_argument("--latest-calls", type=int, default=1000, help="calls timed for get-latest (default 1000)")
    parser.add_argument("--list-repeats", type=int, default=5, help="timed repeats of each list (default 5)")
    args = parser.parse_args()
    n = cmp.resolve_n(args)
    mlflow_n = args.mlflow_n or n

    cmp.require("openaml", extra="bench", purpose="(this repository, installed in this venv)")
    if not args.skip_mlflow:
        cmp.require("mlflow", extra="bench", purpose="to compare against MLflow's model registry "
                    "(or pass --skip-mlflow)")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="mlflow")

    cmp.section("Model registry benchmark")
    cmp.print_environment(["openaml", "mlflow", "sqlalchemy", "pydantic"])
    print(f"N = {n:,} versions of one model; get-latest over {args.latest_calls:,} calls; "
          f"lists repeated {args.list_repeats}x")

    profiles = cmp.Profiles(args.profile)
    if args.profile:
        print("NOTE: --profile is on; openaml timings include cProfile's overhead.")
    cmp.section("openaml (in-process MLClient, SQLite workspace)")
    start = cmp.clock()
    oa = bench_openaml(args, n, profiles)
    print(f"openaml done in {cmp.clock() - start:.1f} s", flush=True)

    mf = None
    if not args.skip_mlflow:
        cmp.section("MLflow (MlflowClient, SQLite registry)")
        start = cmp.clock()
        mf = bench_mlflow(args, mlflow_n)
        print(f"MLflow done in {cmp.clock() - start:.1f} s", flush=True)

    report(n, mlflow_n, oa, mf)
    profiles.report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
