"""Job speed: the overhead of a hello-world command job, and MLflow metric logging into a job's
tracking endpoint against ``mlflow server``, side by side.

    .venv-bench/bin/python benchmarks/jobs.py            # 20 jobs per environment, 10,000 metrics
    .venv-bench/bin/python benchmarks/jobs.py --quick    # 5 jobs per environment, 1,000 metrics

(a) Job overhead: wall time of ``command(command="echo hello")`` submitted with the in-process SDK
    (``ml_client.jobs.create_or_update`` -> status Completed) against running the same command
    directly (``subprocess.run(["bash", "-c", "echo hello"])``), median over --n jobs, for an
    image-only environment as it runs by default where no container engine runs (an empty venv for
    the image's Python, built once), the same on openaml's own interpreter
    (OPENAML_ALLOW_HOST_PYTHON=1), and a warm cached venv (conda file with one pip package, built
    once before timing); each with cold agents (a new interpreter per job, OPENAML_POOL=off) and
    with agents forked by the home's warm job pool (OPENAML_POOL=auto; the pool is started by the
    untimed warm-up job and waited for), with a pool/cold comparison. The time is split with the
    job record's timestamps (created_at, started_at = Running, ended_at) and the first time the
    client sees each status.
(b) Metric logging: the stock ``MlflowClient().log_metric`` in a loop (one request each), run by the
    same MLflow installation in a subprocess for both sides, against openaml's tracking endpoint
    (``openaml.tracking.start_tracking_server`` over a workspace, as a job's agent serves it) and
    against ``mlflow server --backend-store-uri sqlite:///...`` on a free loopback port.

Targets: job overhead median < 0.5 s (each environment); with the warm pool < 0.1 s (issue 11's
figure, to be met with the server); openaml metric throughput >= 2x MLflow's.
Printed as PASS/MISS; the exit status is always 0. See benchmarks/README.md.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time
import warnings
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _compare as cmp

REPO = Path(__file__).resolve().parent.parent
# MLflow 3 sends usage telemetry unless told not to; a benchmark must not touch the network.
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
             "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
os.environ.update(QUIET_ENV)
# Each client reads OPENAML_ALLOW_HOST_PYTHON when it is made (bench_jobs makes one with, one without).
os.environ.pop("OPENAML_ALLOW_HOST_PYTHON", None)

OVERHEAD_TARGET = 0.5     # job wall time - direct command wall time, median, seconds
POOL_OVERHEAD_TARGET = 0.1  # issue 11: with the warm pool (the server's figure, later)
THROUGHPUT_TARGET = 2.0   # openaml log_metric/s >= 2x mlflow server's
COMMAND = "echo hello"
VENV_CONDA = {"dependencies": ["python=3.11", {"pip": ["six"]}]}
TERMINAL = {"Completed", "Failed", "Canceled"}


# ---- (a) job overhead -----------------------------------------------------------------------------

def direct_runs(n: int) -> cmp.Timing:
    return cmp.repeat("direct bash -c", lambda: subprocess.run(["bash", "-c", COMMAND], stdout=subprocess.DEVNULL,
                                                               check=True), n, warmup=2)


def interpreter_costs(repeats: int = 5) -> dict[str, float]:
    """Median wall time of a bare interpreter start and of importing the agent module (what every
    job's agent pays before it touches the job)."""
    out = {}
    for label, code in (("python -c pass", "pass"),
                        ("python -c 'import openaml.backends.local.agent'", "import openaml.backends.local.agent")):
        samples = []
        for _ in range(repeats + 1):
            t0 = cmp.clock()
            subprocess.run([sys.executable, "-c", code], check=True)
            samples.append(cmp.clock() - t0)
        out[label] = statistics.median(samples[1:])
    return out


def forked_by_pool(client, name: str) -> bool:
    """Whether the job's agent was forked by the warm pool (its log's first line says so)."""
    log = client._settings.agent_log_file(client.workspace_name, name)
    return log.exists() and "forked by the warm job pool" in log.read_text()


def wait_for_pool(client, timeout: float = 60) -> None:
    """Return once the home's pool answers (the warm-up job started it on first use)."""
    from openaml.backends.local.pool_client import PoolClient

    deadline = time.monotonic() + timeout
    while PoolClient(client._settings).status() is None:
        if time.monotonic() > deadline:
            sys.exit(f"error: the warm job pool did not start within {timeout} s (see runs/agent-logs/pool.log)")
        time.sleep(0.05)


def stop_pool(client) -> None:
    from openaml.backends.local.pool_client import PoolClient

    PoolClient(client._settings).stop()


def run_one_job(client, service, environment, poll: float) -> dict:
    """Submit one job, poll its record until terminal; every time relative to the submit call."""
    from openaml import command

    wall0, t0 = time.time(), cmp.clock()
    job = client.jobs.create_or_update(command(command=COMMAND, environment=environment))
    submitted = cmp.clock() - t0
    seen: dict[str, float] = {}
    while True:
        record = service.record(job.name)
        seen.setdefault(record.status, cmp.clock() - t0)
        if record.status in TERMINAL:
            break
        time.sleep(poll)
    observed = cmp.clock() - t0

    def rel(moment: datetime | None) -> float:
        return moment.timestamp() - wall0 if moment else float("nan")

    if record.status != "Completed":
        sys.exit(f"error: sanity check failed: job {job.name} ended {record.status}: {record.error}")
    return {"name": job.name, "submit": submitted, "created": rel(record.created_at),
            "preparing_seen": seen.get("Preparing", float("nan")), "running": rel(record.started_at),
            "ended": rel(record.ended_at), "observed": observed, "forked": forked_by_pool(client, job.name)}


def bench_job_env(client, service, label: str, environment, n: int, poll: float, profiles: cmp.Profiles,
                  launch: str) -> dict:
    t0 = cmp.clock()
    warm = run_one_job(client, service, environment, poll)  # builds the venv / warms imports; not timed
    warmup_wall = cmp.clock() - t0
    if launch == "pool":
        wait_for_pool(client)  # started by the warm-up job's launch; untimed
    runs = []
    with profiles.phase(f"openaml jobs, {label} (submission, status polling)"):
        for _ in range(n):
            runs.append(run_one_job(client, service, environment, poll))
    print(f"    {label}, {launch}: warm-up job {warmup_wall:.2f} s, {n} timed jobs, median "
          f"{cmp.secs(_med(runs, 'observed'))}", file=sys.stderr, flush=True)
    return {"label": label, "launch": launch, "warmup": warmup_wall, "runs": runs, "first": warm}


def bench_jobs(args, n: int, profiles: cmp.Profiles) -> dict:
    from openaml import MLClient
    from openaml.entities import Environment, Workspace

    out: dict = {"direct": direct_runs(max(n, 20)), "interp": interpreter_costs()}
    launches = ["cold"] if args.skip_pool else ["cold", "pool"]
    with cmp.fresh_dir("openaml-bench-jobs-", keep=args.keep) as tmp:
        # Each client reads OPENAML_POOL and OPENAML_ALLOW_HOST_PYTHON when it is made.
        clients = {}
        for launch in launches:
            os.environ["OPENAML_POOL"] = "off" if launch == "cold" else "auto"
            clients[launch] = MLClient(workspace_name="bench", openaml_home=tmp / "home", show_progress=False)
            os.environ["OPENAML_ALLOW_HOST_PYTHON"] = "1"  # this client's jobs run image-only on this Python
            clients[launch, "host"] = MLClient(workspace_name="bench", openaml_home=tmp / "home", show_progress=False)
            os.environ.pop("OPENAML_ALLOW_HOST_PYTHON")
        os.environ.pop("OPENAML_POOL")
        clients["cold"].workspaces.begin_create(Workspace(name="bench")).result()
        image = Environment(image=f"python:{sys.version_info.major}.{sys.version_info.minor}-slim")
        envs = []
        for launch in launches:
            envs += [("image only, default (empty venv)", clients[launch], image, launch),
                     ("image only, host python (OPENAML_ALLOW_HOST_PYTHON=1)", clients[launch, "host"], image, launch)]
            if not args.skip_venv:
                envs.append(("warm cached venv (conda file, uv)", clients[launch],
                             Environment(image="python:3.11", conda_file=VENV_CONDA), launch))
        try:
            out["envs"] = [bench_job_env(c, c._job_service(), label, env, n, args.poll, profiles, launch)
                           for label, c, env, launch in envs]
        finally:
            if "pool" in launches:
                stop_pool(clients["pool"])
            # Let the last agent exit before its folder is removed.
            time.sleep(0.5)
            for c in clients.values():
                c.close()
    return out


def _med(runs: list[dict], key: str, start: str | None = None) -> float:
    values = [r[key] - (r[start] if start else 0.0) for r in runs]
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def _p95(runs: list[dict], key: str, start: str | None = None) -> float:
    values = [r[key] - (r[start] if start else 0.0) for r in runs]
    return cmp.percentile([v for v in values if v == v], 95)


# ---- (b) metric logging ----------------------------------------------------------------------------

# Run by the MLflow venv's interpreter, for both sides: the identical client does the logging.
CLIENT_SCRIPT = textwrap.dedent("""
    import json, sys, time, logging, warnings
    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import mlflow
    from mlflow import MlflowClient

    url, run_id, n, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    client = MlflowClient(tracking_uri=url)
    if run_id == "new":
        exp = client.create_experiment("bench")
        run_id = client.create_run(exp).info.run_id
    for i in range(warmup):  # opens the keep-alive connection; not timed
        client.log_metric(run_id, "warmup", float(i), step=i)
    clock = time.perf_counter
    samples = []
    start = clock()
    for i in range(n):
        t0 = clock()
        client.log_metric(run_id, "loss", 1.0 / (i + 1), step=i)
        samples.append(clock() - t0)
    wall = clock() - start
    history = client.get_metric_history(run_id, "loss")
    print(json.dumps({"samples": samples, "wall": wall, "history": len(history),
                      "last": max(m.step for m in history) if history else None,
                      "mlflow": mlflow.__version__}))
""")


def bench_python(args) -> str:
    """The interpreter that runs the MLflow client (and `mlflow server`): --bench-python, else the
    repository's .venv-bench, else this one."""
    candidates = [args.bench_python] if args.bench_python else [str(REPO / ".venv-bench" / "bin" / "python"),
                                                                  sys.executable]
    for python in candidates:
        if python and Path(python).exists():
            ok = subprocess.run([python, "-c", "import mlflow.server, mlflow.tracking"], capture_output=True)
            if ok.returncode == 0:
                return python
    sys.exit("error: the metric benchmark needs a full MLflow (client and server), e.g. the repository's "
             ".venv-bench:\n  python -m venv .venv-bench && .venv-bench/bin/pip install -e '.[bench]'\n"
             "or pass --bench-python PATH, or --skip-mlflow / --skip-metrics.")


def run_client(python: str, url: str, run_id: str, n: int, warmup: int) -> cmp.Timing:
    done = subprocess.run([python, "-c", CLIENT_SCRIPT, url, run_id, str(n), str(warmup)],
                          capture_output=True, text=True, env=dict(os.environ, **QUIET_ENV))
    if done.returncode < 0:  # killed by a signal: Ctrl-C reached the client first
        raise KeyboardInterrupt(f"MLflow client stopped by signal {-done.returncode}")
    if done.returncode != 0:
        sys.exit(f"error: the MLflow client failed against {url}:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["history"] != n or result["last"] != n - 1:
        sys.exit(f"error: sanity check failed: logged {n} metrics to {url}, the history holds "
                 f"{result['history']} (last step {result['last']})")
    timing = cmp.Timing(f"log_metric -> {url}", result["samples"], result["wall"])
    timing.mlflow_version = result["mlflow"]  # type: ignore[attr-defined]
    return timing


def bench_metrics_openaml(args, python: str, n: int) -> cmp.Timing:
    from openaml import MLClient
    from openaml.entities import Workspace
    from openaml.services.locations import job_folder
    from openaml.tracking import start_tracking_server

    with cmp.fresh_dir("openaml-bench-metrics-", keep=args.keep) as tmp:
        client = MLClient(workspace_name="bench", openaml_home=tmp / "home", show_progress=False)
        client.workspaces.begin_create(Workspace(name="bench")).result()
        ctx = client._context()
        experiment_id = ctx.tracking.get_or_create_experiment("bench")
        run_id = "bench_metrics_run"
        ctx.tracking.create_run(experiment_id, run_id=run_id, run_name="bench")
        # As the job agent serves it (openaml.backends.local.agent._run_with_tracking).
        with start_tracking_server(ctx.tracking, artifact_root_for_run=lambda rid: job_folder(ctx, rid)) as server:
            timing = run_client(python, server.url, run_id, n, args.warmup)
        client.close()
    return timing


def bench_metrics_mlflow(args, python: str, n: int) -> tuple[cmp.Timing, float]:
    with cmp.fresh_dir("mlflow-bench-server-", keep=args.keep) as tmp:
        server = cmp.MlflowServer(python, tmp, args.mlflow_workers, env=QUIET_ENV)
        try:
            try:
                startup = server.wait_ready()
            except RuntimeError as exc:
                sys.exit(f"error: {exc}")
            timing = run_client(python, server.url, "new", n, args.warmup)
        finally:
            server.stop()
    return timing, startup


# ---- report ----------------------------------------------------------------------------------------

def report_jobs(res: dict, poll: float) -> list[str]:
    direct = res["direct"]
    cmp.section("(a) Hello-world command job: wall time vs the command run directly")
    print(f"command: {COMMAND!r}; client polls the job record every {poll * 1e3:.0f} ms; "
          f"direct = subprocess.run(['bash','-c',...]) over {direct.n} runs")
    rows = [["direct subprocess.run", "-", f"{direct.n}", cmp.secs(direct.median), cmp.secs(direct.p95), "-", "-"]]
    verdicts = []
    for env in res["envs"]:
        runs = env["runs"]
        med, p95 = _med(runs, "observed"), _p95(runs, "observed")
        by_record = _med(runs, "ended")
        forked = sum(r["forked"] for r in runs)
        rows.append([f"job, {env['label']}", env["launch"], f"{len(runs)}" + (f" ({forked} forked)" if forked else ""),
                     cmp.secs(med), cmp.secs(p95), cmp.secs(med - direct.median), cmp.secs(by_record - direct.median)])
        overhead = med - direct.median
        verdicts.append(cmp.verdict(overhead < OVERHEAD_TARGET,
                                    f"job overhead median < {OVERHEAD_TARGET:g} s, {env['label']}, {env['launch']}",
                                    f"{cmp.secs(med)} - {cmp.secs(direct.median)} = {cmp.secs(overhead)}"))
        if env["launch"] == "pool":
            if forked < len(runs):
                print(f"NOTE: {len(runs) - forked} of {len(runs)} '{env['label']}' pool jobs started cold")
            verdicts.append(cmp.verdict(overhead < POOL_OVERHEAD_TARGET,
                                        f"job overhead median < {POOL_OVERHEAD_TARGET:g} s (issue 11), {env['label']}, pool",
                                        f"{cmp.secs(overhead)}"))
    print(cmp.table(["", "agent", "runs", "median", "p95", "overhead", "overhead to ended_at"], rows))
    print("(overhead = job median - direct median; 'to ended_at' stops at the record's ended_at, "
          "without the client's polling delay; agent 'cold' = a new interpreter per job, 'pool' = forked "
          "by the home's warm job pool)")
    pairs = [(c, p) for c in res["envs"] for p in res["envs"]
             if c["launch"] == "cold" and p["launch"] == "pool" and c["label"] == p["label"]]
    if pairs:
        print("\nWarm pool vs cold agent (overhead medians, seconds; ratio = cold / pool):")
        lines = []
        for cold, pool in pairs:
            oc, op = _med(cold["runs"], "observed") - direct.median, _med(pool["runs"], "observed") - direct.median
            rc, rp = _med(cold["runs"], "running", "submit"), _med(pool["runs"], "running", "submit")
            lines.append([cold["label"], cmp.secs(oc), cmp.secs(op), cmp.ratio(oc, op), cmp.secs(oc - op),
                          f"{rc:.3f} / {rp:.3f}"])
        print(cmp.table(["", "cold", "pool", "cold/pool", "saved", "submit->Running cold / pool"], lines))

    print("\nWhere the time goes (median / p95 per job, seconds from the start of the submit call)")
    phases = [
        ("submit call (create_or_update returns)", "submit", None),
        ("submit returned -> Preparing first seen by client", "preparing_seen", "submit"),
        ("Preparing seen -> Running (started_at)", "running", "preparing_seen"),
        ("submit returned -> Running (agent start + prepare)", "running", "submit"),
        ("Running -> terminal (ended_at: command + finalize)", "ended", "running"),
        ("ended_at -> client sees Completed (polling)", "observed", "ended"),
        ("total, submit -> client sees Completed", "observed", None),
    ]
    headers = [""] + [f"{env['label'].split(' (')[0]}, {env['launch']}" for env in res["envs"]]
    rows = []
    def cell(runs, key, start):
        med = _med(runs, key, start)
        if med != med:
            return "not seen"
        seen = sum(1 for r in runs if r[key] == r[key] and (start is None or r[start] == r[start]))
        partial = f" ({seen}/{len(runs)})" if seen < len(runs) else ""
        return f"{med:.3f} / {_p95(runs, key, start):.3f}{partial}"

    for label, key, start in phases:
        rows.append([label] + [cell(env["runs"], key, start) for env in res["envs"]])
    rows.append(["warm-up job (untimed: first submit, venv build)"] + [f"{env['warmup']:.3f}" for env in res["envs"]])
    print(cmp.table(headers, rows))
    print("('Preparing first seen' is polled, so it is late by up to one poll; a Preparing shorter than a "
          "poll is missed ('not seen', or (k/N): seen in k of N jobs), and a late sighting can fall after started_at. JobService.wait() polls every 0.2 s by default, which adds ~0.1 s "
          "on average to what a caller of wait() sees; --poll 0.2 measures that.)")
    print("\nFixed costs every agent pays before it reads the job (median of 5, fresh interpreter):")
    print(cmp.table(["", "wall"], [[k, cmp.secs(v)] for k, v in res["interp"].items()]))
    return verdicts


def report_metrics(oa: cmp.Timing | None, mf: cmp.Timing | None, startup: float | None) -> list[str]:
    cmp.section("(b) MLflow log_metric, one request each (stock MlflowClient in a subprocess)")
    version = getattr(oa or mf, "mlflow_version", "?")
    print(f"client: mlflow {version}, MlflowClient(tracking_uri=...).log_metric(run_id, 'loss', v, step=i)")
    if oa and mf and oa.n != mf.n:
        print(f"NOTE: openaml logged {oa.n:,} metrics, MLflow {mf.n:,} (--mlflow-metrics); RATES are "
              "compared, not totals.")
    rows = []
    for label, t in (("openaml tracking endpoint (in-process, as a job's agent)", oa),
                     ("mlflow server, sqlite backend", mf)):
        if t is None:
            continue
        rows.append([label, f"{t.n:,}", cmp.secs(t.wall), cmp.per_s(t.rate), cmp.ms(t.median), cmp.ms(t.p95),
                     cmp.ratio(t.rate, mf.rate) if (mf and t is oa) else "-"])
    print(cmp.table(["", "metrics", "total", "rate", "median", "p95", "vs MLflow"], rows))
    if startup is not None:
        print(f"(mlflow server took {startup:.1f} s to answer /health after start; not timed)")
    if oa and mf:
        r = oa.rate / mf.rate
        return [cmp.verdict(r >= THROUGHPUT_TARGET, f"log_metric throughput >= {THROUGHPUT_TARGET:g}x MLflow server",
                            f"{cmp.per_s(oa.rate)} vs {cmp.per_s(mf.rate)} = {r:.2f}x")]
    return [f"----  log_metric throughput >= {THROUGHPUT_TARGET:g}x MLflow server: not measured"]


# ---- main ------------------------------------------------------------------------------------------

def _interrupt(signum, frame):  # SIGTERM/SIGHUP behave like Ctrl-C: unwind, so servers get stopped
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = cmp.base_parser(__doc__.split("\n\n")[0], default_n=20, quick_n=5)
    parser.add_argument("--metrics", type=int, default=None,
                        help="metrics logged to openaml's endpoint (default 10,000; --quick 1,000)")
    parser.add_argument("--mlflow-metrics", type=int, default=None,
                        help="metrics logged to mlflow server (default 2,000; --quick 300): it is slow, "
                             "so rates are compared")
    parser.add_argument("--warmup", type=int, default=20, help="untimed log_metric calls first (default 20)")
    parser.add_argument("--poll", type=float, default=0.01,
                        help="seconds between the client's job-status polls (default 0.01)")
    parser.add_argument("--skip-venv", action="store_true", help="jobs: image-only environments only")
    parser.add_argument("--skip-pool", action="store_true", help="jobs: cold agents only (no warm-pool rows)")
    parser.add_argument("--skip-jobs", action="store_true", help="measure metric logging only")
    parser.add_argument("--skip-metrics", action="store_true", help="measure jobs only")
    parser.add_argument("--skip-mlflow", action="store_true", help="metrics: openaml side only")
    parser.add_argument("--bench-python", default=None,
                        help="interpreter with full MLflow for the client and server (default .venv-bench)")
    parser.add_argument("--mlflow-workers", default=None, help="mlflow server --workers (default: MLflow's, 4)")
    args = parser.parse_args()
    n = cmp.resolve_n(args)
    metrics_n = args.metrics or (1_000 if args.quick else 10_000)
    mlflow_n = args.mlflow_metrics or (300 if args.quick else 2_000)

    cmp.require("openaml", extra="bench", purpose="(this repository, installed in this venv)")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="mlflow")
    # Ctrl-C must unwind even when started with SIGINT ignored (e.g. `cmd &` in a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    python = bench_python(args) if not args.skip_metrics else None

    cmp.section("Jobs benchmark")
    cmp.print_environment(["openaml", "mlflow", "sqlalchemy", "pydantic", "uv"])
    if python:
        print(f"MLflow client / server interpreter: {python}")
    print(f"jobs: {n} timed per environment; metrics: openaml {metrics_n:,}, mlflow server "
          f"{0 if args.skip_mlflow else mlflow_n:,}")
    profiles = cmp.Profiles(args.profile)
    verdicts: list[str] = []
    try:
        jobs = None
        if not args.skip_jobs:
            cmp.section("(a) running jobs")
            start = cmp.clock()
            jobs = bench_jobs(args, n, profiles)
            print(f"jobs done in {cmp.clock() - start:.1f} s", flush=True)
        oa = mf = startup = None
        if not args.skip_metrics:
            cmp.section("(b) logging metrics")
            start = cmp.clock()
            oa = bench_metrics_openaml(args, python, metrics_n)
            print(f"openaml: {oa.n:,} metrics in {oa.wall:.1f} s", flush=True)
            if not args.skip_mlflow:
                mf, startup = bench_metrics_mlflow(args, python, mlflow_n)
                print(f"mlflow server: {mf.n:,} metrics in {mf.wall:.1f} s", flush=True)
            print(f"metrics done in {cmp.clock() - start:.1f} s", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped, temp folders removed", file=sys.stderr)
        return 0

    cmp.section("Results")
    if jobs:
        verdicts += report_jobs(jobs, args.poll)
    if oa:
        verdicts += report_metrics(oa, mf, startup)
    cmp.section("Targets")
    for line in verdicts:
        print(line)
    profiles.report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
