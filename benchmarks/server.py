"""The openaml server against ``mlflow server``, with the same clients on both sides.

    .venv/bin/python benchmarks/server.py            # 20 s of get-latest per side, 10,000 metrics, 20 jobs
    .venv/bin/python benchmarks/server.py --quick    # 5 s, 2,000 metrics, 5 jobs

(a) Get the latest version of a model, over HTTP: --clients processes (forked from this one),
    each one keep-alive connection (``http.client``) asking in a closed loop for --seconds, after
    a second of warm-up. openaml: ``GET .../models/{name}/labels/latest`` (what
    ``ml_client.models.get(name)`` sends) on ``openaml server start`` (uvicorn, one process);
    MLflow: ``GET /api/2.0/mlflow/model-versions/search?filter=name='...'&order_by=version_number
    DESC&max_results=1`` (what answers "latest" in MLflow 3, as benchmarks/registry.py explains) on
    ``mlflow server`` (its default 4 workers). Both on SQLite, then both on PostgreSQL when one is
    reachable (--pg-url; MLflow's interpreter needs a driver: ``pip install 'psycopg[binary]'``).
    Every answer is checked (status 200, the newest version). Requests per second and p99.
(b) MLflow metric logging, the stock ``MlflowClient`` (MLflow's venv, in a subprocess, the same for
    both sides): ``log_metric`` one request each, and ``log_batch`` of 1,000 metrics a request,
    against ``mlflow server`` and against openaml's per-workspace MLflow mount
    (``<server>/mlflow/v2.0/subscriptions/.../workspaces/{ws}``); while the server does not serve
    the mount, its row says so and nothing is measured.
(c) A hello-world command job submitted remotely (``MLClient(server=...)``, image-only environment
    on the server's interpreter, agents forked by the server home's warm job pool): the median of
    submit -> Completed seen by the client (status polled every 10 ms) minus the median of the
    command run directly (``bash -c 'echo hello'``); also the job record's own span.

Targets (issue 11): get-latest >= 5x MLflow's requests per second with p99 < 20 ms; job overhead
median < 0.1 s. PASS/MISS lines; the exit status is always 0. --profile runs the openaml server
under cProfile during (a) and prints its top functions. See benchmarks/README.md.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _compare as cmp

REPO = Path(__file__).resolve().parent.parent
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
             "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
os.environ.update(QUIET_ENV)
# MLflow 3's server also starts a GenAI job runner (Huey workers) that keeps taking CPU: off, as in
# benchmarks/tracking.py and histories.py, unless --mlflow-job-runner.
NO_JOB_RUNNER = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}

RATIO_TARGET = 5.0
P99_TARGET = 0.020
JOB_TARGET = 0.1
MODEL = "bench"
VERSIONS = 50
SUB, RG, WS = "00000000-0000-0000-0000-000000000000", "openaml", "bench"
WS_PATH = (f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices"
           f"/workspaces/{WS}")


# ---- (a) the load generator: the same on both sides -----------------------------------------------

def _load_worker(port: int, path: str, expect: str, warmup: float, seconds: float, out) -> None:
    """One client: a keep-alive connection asking GET *path* until the time is up."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    clock, latencies, errors = time.perf_counter, [], 0
    start = clock()
    measuring_from, end = start + warmup, start + warmup + seconds
    while True:
        t0 = clock()
        if t0 >= end:
            break
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            ok = response.status == 200 and expect.encode() in body
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            ok = False
        t1 = clock()
        if t0 >= measuring_from:
            latencies.append(t1 - t0)
            errors += not ok
    out.put((latencies, errors))


@dataclass
class Load:
    """What the clients saw: every latency (seconds) over ``seconds`` of asking, and errors."""

    latencies: list[float]
    errors: int
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def p99(self) -> float:
        return cmp.percentile(self.latencies, 99)

    @property
    def median(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")


def run_load(port: int, path: str, expect: str, clients: int, seconds: float, warmup: float = 1.0) -> Load:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_load_worker, args=(port, path, expect, warmup, seconds, queue))
               for _ in range(clients)]
    for w in workers:
        w.start()
    results = [queue.get(timeout=warmup + seconds + 120) for _ in workers]
    for w in workers:
        w.join()
    return Load([x for lat, _ in results for x in lat], sum(e for _, e in results), seconds)


# ---- servers -----------------------------------------------------------------------------------------

class OpenamlServer:
    """``openaml server start`` on a free loopback port (own process group), home in *folder*."""

    def __init__(self, folder: Path, database_url: str | None, profile: Path | None = None) -> None:
        self.port = cmp.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = folder / "home"
        openaml = Path(sys.executable).with_name("openaml")
        cmd = [str(openaml), "server", "start", "--port", str(self.port), "--no-auth", "--log-level", "warning"]
        if profile:  # the same command under cProfile, written when the server is stopped (SIGINT)
            cmd = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "openaml.cli.main", *cmd[1:]]
        if database_url:
            cmd += ["--database-url", database_url]
        env = dict(os.environ, OPENAML_HOME=str(self.home), OPENAML_POOL="auto", OPENAML_ALLOW_HOST_PYTHON="1",
                   OPENAML_CONTAINER_RUNTIME="none")
        self.log_path = folder / "openaml-server.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, env=env)

    def wait_ready(self, timeout: float = 120.0) -> float:
        start = cmp.clock()
        while cmp.clock() - start < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"openaml server exited with {self.proc.returncode}:\n{self._tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/ready")
                if conn.getresponse().status == 200:
                    return cmp.clock() - start
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"openaml server not ready after {timeout:.0f} s:\n{self._tail()}")

    def _tail(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """SIGINT first (uvicorn's graceful stop; a profiled server writes its profile), then harder."""
        for sig, grace in ((signal.SIGINT, 20.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=grace)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        try:  # the home's warm job pool and anything else the server started
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        from openaml.backends.local.pool_client import PoolClient
        from openaml.services.settings import Settings
        PoolClient(Settings.from_env(home=self.home)).stop()
        self._log.close()


# ---- databases -------------------------------------------------------------------------------------

class Databases:
    """Fresh PostgreSQL databases made for this run and dropped after it."""

    def __init__(self, admin_url: str) -> None:
        import sqlalchemy as sa
        self.sa, self.admin_url = sa, sa.make_url(admin_url)
        self.admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT",
                                      connect_args={"connect_timeout": 3})
        self.made: list[str] = []

    def reachable(self) -> str | None:
        """None when PostgreSQL answers, else why not."""
        try:
            with self.admin.connect() as conn:
                conn.execute(self.sa.text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
            return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        return None

    def new(self, prefix: str, driver: str = "postgresql+psycopg") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(self.sa.text(f'CREATE DATABASE "{name}"'))
        self.made.append(name)
        return self.admin_url.set(drivername=driver, database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.made:
                conn.execute(self.sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


# ---- MLflow's side: run by MLflow's interpreter -------------------------------------------------------

MLFLOW_SCRIPT = textwrap.dedent("""
    import json, sys, time, logging, warnings
    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    what, url = sys.argv[1], sys.argv[2]
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    clock = time.perf_counter
    if what == "register":
        name, n = sys.argv[3], int(sys.argv[4])
        client.create_registered_model(name)
        for i in range(n):
            client.create_model_version(name, source=f"s3://bench-bucket/model-{i}")  # never read
        print(json.dumps({"mlflow": mlflow.__version__}))
    elif what == "metrics":
        n, batches = int(sys.argv[3]), int(sys.argv[4])
        exp = client.create_experiment(f"bench-{time.time_ns()}")
        run_id = client.create_run(exp).info.run_id
        for i in range(20):  # opens the keep-alive connection; not timed
            client.log_metric(run_id, "warmup", float(i), step=i)
        start = clock()
        for i in range(n):
            client.log_metric(run_id, "loss", 1.0 / (i + 1), step=i)
        single = clock() - start
        now = int(time.time() * 1000)
        start = clock()
        for b in range(batches):
            client.log_batch(run_id, metrics=[Metric("acc", i / 1000, now, b * 1000 + i) for i in range(1000)])
        batch = clock() - start
        loss = client.get_metric_history(run_id, "loss")
        acc = client.get_metric_history(run_id, "acc")
        print(json.dumps({"single": single, "batch": batch, "loss": len(loss), "acc": len(acc),
                          "mlflow": mlflow.__version__}))
""")


def mlflow_python(args) -> str:
    """The interpreter with a full MLflow (client and server): --mlflow-python, else .venv-mlflow."""
    for python in ([args.mlflow_python] if args.mlflow_python else
                   [str(REPO / ".venv-mlflow" / "bin" / "python"), str(REPO / ".venv-bench" / "bin" / "python")]):
        if python and Path(python).exists() and subprocess.run(
                [python, "-c", "import mlflow.server"], capture_output=True).returncode == 0:
            return python
    sys.exit("error: this benchmark needs a full MLflow for `mlflow server` and its client: the repository's "
             ".venv-mlflow (scripts/test.sh makes it), or --mlflow-python PATH")


def mlflow_env(args) -> dict[str, str]:
    return {**QUIET_ENV, **({} if args.mlflow_job_runner else NO_JOB_RUNNER)}


def mlflow_run(python: str, *argv: str) -> dict:
    done = subprocess.run([python, "-c", MLFLOW_SCRIPT, *argv], capture_output=True, text=True,
                          env=dict(os.environ, **QUIET_ENV))
    if done.returncode != 0:
        sys.exit(f"error: the MLflow client failed ({argv[0]} against {argv[1]}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def has_driver(python: str) -> bool:
    return subprocess.run([python, "-c", "import psycopg"], capture_output=True).returncode == 0


# ---- (a) get-latest on each side ----------------------------------------------------------------------

def openaml_get_latest(args, folder: Path, database_url: str | None, profiles: list[Path]) -> Load:
    from openaml import MLClient
    from openaml.entities import Model, Workspace

    profile = folder / "openaml-server.prof" if args.profile else None
    server = OpenamlServer(folder, database_url, profile)
    try:
        server.wait_ready()
        client = MLClient(workspace_name=WS, server=server.url, show_progress=False)
        client.workspaces.begin_create(Workspace(name=WS)).result()
        for i in range(VERSIONS):
            client.models.create_or_update(Model(name=MODEL, path=f"azureml://datastores/workspaceblobstore/paths/m/{i}"))
        latest = client.models.get(MODEL)
        if latest.version != str(VERSIONS):
            sys.exit(f"error: sanity check failed: openaml's latest {MODEL} is {latest.version}, not {VERSIONS}")
        client.close()
        path = f"{WS_PATH}/models/{MODEL}/labels/latest?api-version=2024-04-01"
        return run_load(server.port, path, f'"name":"{VERSIONS}"', args.clients, args.seconds)
    finally:
        server.stop()
        if profile and profile.exists():
            profiles.append(profile)


def mlflow_get_latest(args, python: str, folder: Path, backend: str | None) -> Load:
    server = cmp.MlflowServer(python, folder, args.mlflow_workers, env=mlflow_env(args), backend=backend)
    try:
        server.wait_ready()
        mlflow_run(python, "register", server.url, MODEL, str(VERSIONS))
        query = urllib.parse.urlencode({"filter": f"name='{MODEL}'", "order_by": "version_number DESC",
                                        "max_results": 1})
        return run_load(server.port, f"/api/2.0/mlflow/model-versions/search?{query}",
                        f'"version": "{VERSIONS}"', args.clients, args.seconds)
    finally:
        server.stop()


# ---- (b) metrics --------------------------------------------------------------------------------------

def mount_url(server_url: str) -> str:
    return f"{server_url}/mlflow/v2.0{WS_PATH}"


def mount_served(server: OpenamlServer) -> bool:
    """Whether the server answers MLflow's REST API at the workspace's mount (a route, not a 404
    "no such route")."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    path = urllib.parse.urlsplit(mount_url(server.url)).path
    conn.request("GET", f"{path}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default")
    response = conn.getresponse()
    body = response.read()
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return response.status == 200 or "error_code" in parsed


def bench_metrics(args, python: str, folder: Path) -> dict:
    out: dict = {}
    (folder / "openaml").mkdir(parents=True, exist_ok=True)
    server = OpenamlServer(folder / "openaml", None)
    try:
        server.wait_ready()
        from openaml import MLClient
        from openaml.entities import Workspace
        MLClient(workspace_name=WS, server=server.url).workspaces.begin_create(Workspace(name=WS)).result()
        if mount_served(server):
            out["openaml"] = mlflow_run(python, "metrics", mount_url(server.url), str(args.metrics),
                                        str(args.batches))
        else:
            out["openaml"] = None
    finally:
        server.stop()
    mlflow_dir = folder / "mlflow"
    mlflow_dir.mkdir(exist_ok=True)
    mlflow = cmp.MlflowServer(python, mlflow_dir, args.mlflow_workers, env=mlflow_env(args))
    try:
        mlflow.wait_ready()
        out["mlflow"] = mlflow_run(python, "metrics", mlflow.url, str(args.metrics), str(args.batches))
    finally:
        mlflow.stop()
    for side, result in out.items():
        if result and (result["loss"] != args.metrics or result["acc"] != args.batches * 1000):
            sys.exit(f"error: sanity check failed: {side} stored {result['loss']} / {result['acc']} points")
    return out


# ---- (c) remote job overhead --------------------------------------------------------------------------

def bench_jobs(args, folder: Path) -> dict:
    from openaml import MLClient, command
    from openaml.entities import Environment, Workspace

    direct = cmp.repeat("direct", lambda: subprocess.run(["bash", "-c", "echo hello"], stdout=subprocess.DEVNULL,
                                                         check=True), max(args.jobs, 20), warmup=2)
    server = OpenamlServer(folder, None)
    runs = []
    try:
        server.wait_ready()
        client = MLClient(workspace_name=WS, server=server.url, show_progress=False)
        client.workspaces.begin_create(Workspace(name=WS)).result()
        env = Environment(image=f"python:{sys.version_info.major}.{sys.version_info.minor}-slim")
        for i in range(args.jobs + 1):  # the first one starts the warm pool: not counted
            t0 = cmp.clock()
            job = client.jobs.create_or_update(command(command="echo hello", environment=env))
            while (job := client.jobs.get(job.name)).status not in ("Completed", "Failed", "Canceled"):
                time.sleep(0.01)
            seen = cmp.clock() - t0
            if job.status != "Completed":
                sys.exit(f"error: sanity check failed: job {job.name} ended {job.status}")
            if i == 0:
                _wait_for_pool(server)
                continue
            ctx = job.creation_context or {}
            span = _seconds(ctx.get("end_time")) - _seconds(ctx.get("created_at"))
            runs.append((seen, span))
        client.close()
    finally:
        server.stop()
    return {"direct": direct, "seen": [r[0] for r in runs], "span": [r[1] for r in runs]}


def _wait_for_pool(server: OpenamlServer, timeout: float = 60) -> None:
    from openaml.backends.local.pool_client import PoolClient
    from openaml.services.settings import Settings

    deadline = time.monotonic() + timeout
    while PoolClient(Settings.from_env(home=server.home)).status() is None:
        if time.monotonic() > deadline:
            sys.exit("error: the server's warm job pool did not start")
        time.sleep(0.05)


def _seconds(iso: str | None) -> float:
    from datetime import datetime
    return datetime.fromisoformat(iso).timestamp() if iso else float("nan")


# ---- report -------------------------------------------------------------------------------------------

def report_latest(results: dict[str, tuple[Load | None, Load | None, str]], clients: int) -> list[str]:
    cmp.section("(a) Get the latest model version over HTTP")
    print(f"{clients} client processes, one keep-alive connection each, closed loop; {VERSIONS} versions of one model")
    rows, verdicts = [], []
    for backend, (oa, mf, note) in results.items():
        for label, load in ((f"openaml server, {backend}", oa), (f"mlflow server, {backend}", mf)):
            if load is None:
                rows.append([label, "-", "-", "-", "-", note or "not measured"])
                continue
            rows.append([label, f"{len(load.latencies):,}", cmp.per_s(load.rate), cmp.ms(load.median),
                         cmp.ms(load.p99), f"{load.errors} errors" if load.errors else ""])
        if oa and mf:
            r = oa.rate / mf.rate
            verdicts.append(cmp.verdict(r >= RATIO_TARGET, f"get-latest >= {RATIO_TARGET:g}x MLflow, {backend}",
                                        f"{cmp.per_s(oa.rate)} vs {cmp.per_s(mf.rate)} = {r:.2f}x"))
        if oa:
            verdicts.append(cmp.verdict(oa.p99 < P99_TARGET and not oa.errors,
                                        f"get-latest p99 < {P99_TARGET * 1e3:g} ms, {backend}", cmp.ms(oa.p99)))
    print(cmp.table(["", "requests", "rate", "median", "p99", ""], rows))
    return verdicts


def report_metrics(res: dict, n: int, batches: int) -> list[str]:
    cmp.section("(b) MLflow metric logging (the stock MlflowClient, one process)")
    rows = []
    for label, r in (("openaml server, workspace MLflow mount", res.get("openaml")),
                     ("mlflow server, sqlite", res.get("mlflow"))):
        if r is None:
            rows.append([label, "not served by this server yet (no route at /mlflow/v2.0/...): skipped", "", ""])
            continue
        rows.append([label, cmp.per_s(n / r["single"]), cmp.per_s(batches * 1000 / r["batch"]),
                     f"mlflow {r['mlflow']}"])
    print(cmp.table(["", f"log_metric ({n:,} calls)", f"log_batch ({batches} x 1,000)", "client"], rows))
    oa, mf = res.get("openaml"), res.get("mlflow")
    if oa and mf:
        return [f"info  log_metric {cmp.ratio(mf['single'], oa['single'])} and log_batch "
                f"{cmp.ratio(mf['batch'], oa['batch'])} MLflow server's throughput"]
    return ["----  MLflow logging through the workspace mount: not served yet, not measured"]


def report_jobs(res: dict) -> list[str]:
    cmp.section("(c) Hello-world job submitted remotely (warm pool)")
    direct, seen, span = res["direct"], res["seen"], res["span"]
    med_seen, med_span = statistics.median(seen), statistics.median(span)
    rows = [["direct bash -c 'echo hello'", f"{direct.n}", cmp.secs(direct.median), "-"],
            ["job, client: submit -> Completed seen", f"{len(seen)}", cmp.secs(med_seen),
             cmp.secs(med_seen - direct.median)],
            ["job, record: created -> ended", f"{len(span)}", cmp.secs(med_span), cmp.secs(med_span - direct.median)]]
    print(cmp.table(["", "runs", "median", "overhead"], rows))
    overhead = med_seen - direct.median
    return [cmp.verdict(overhead < JOB_TARGET, f"remote job overhead median < {JOB_TARGET:g} s",
                        f"{cmp.secs(med_seen)} - {cmp.secs(direct.median)} = {cmp.secs(overhead)}")]


def report_profiles(paths: list[Path], top: int = 25) -> None:
    import io
    import pstats
    for path in paths:
        for key in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(str(path), stream=out).strip_dirs().sort_stats(key).print_stats(top)
            print(f"\n--- profile: openaml server during get-latest ({path.parent.name}), top {top} by {key} ---")
            print(out.getvalue().split("\n", 1)[-1].strip())


# ---- main ----------------------------------------------------------------------------------------------

def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = cmp.base_parser(__doc__.split("\n\n")[0], default_n=20, quick_n=5)
    parser.add_argument("--seconds", type=float, default=None, help="seconds of get-latest per side (20; --quick 5)")
    parser.add_argument("--clients", type=int, default=4, help="get-latest client processes (default 4)")
    parser.add_argument("--metrics", type=int, default=None, help="log_metric calls (default 2,000; --quick 300)")
    parser.add_argument("--batches", type=int, default=None, help="log_batch calls of 1,000 (default 10; --quick 2)")
    parser.add_argument("--pg-url", default=os.environ.get("OPENAML_TEST_PG_URL",
                                                           "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
                        help="an admin URL of a PostgreSQL server (CREATE DATABASE); its rows are skipped when "
                             "it does not answer")
    parser.add_argument("--mlflow-python", default=None, help="interpreter with full MLflow (default .venv-mlflow)")
    parser.add_argument("--mlflow-workers", default=None, help="mlflow server --workers (default: MLflow's, 4)")
    parser.add_argument("--mlflow-job-runner", action="store_true",
                        help="leave mlflow server's GenAI job runner on (its default; off here, as in tracking.py)")
    parser.add_argument("--skip-latest", action="store_true")
    parser.add_argument("--skip-metrics", action="store_true")
    parser.add_argument("--skip-jobs", action="store_true")
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args()
    args.jobs = cmp.resolve_n(args)
    args.seconds = args.seconds or (5.0 if args.quick else 20.0)
    args.metrics = args.metrics or (300 if args.quick else 2_000)
    args.batches = args.batches or (2 if args.quick else 10)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    cmp.require("openaml", extra="server", purpose="(this repository, installed in this venv)")
    python = mlflow_python(args)

    cmp.section("Server benchmark")
    cmp.print_environment(["openaml", "fastapi", "uvicorn", "sqlalchemy", "pydantic"])
    print(f"MLflow (server and client): {python}")
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    verdicts: list[str] = []
    profiles: list[Path] = []
    databases = None
    try:
        with cmp.fresh_dir("openaml-bench-server-", keep=args.keep or args.profile) as tmp:
            if not args.skip_latest:
                latest: dict[str, tuple[Load | None, Load | None, str]] = {}
                cmp.section("(a) running get-latest")
                (tmp / "oa-sqlite").mkdir()
                (tmp / "mf-sqlite").mkdir()
                oa = openaml_get_latest(args, tmp / "oa-sqlite", None, profiles)
                print(f"openaml, sqlite: {cmp.per_s(oa.rate)}, p99 {cmp.ms(oa.p99)}", flush=True)
                mf = mlflow_get_latest(args, python, tmp / "mf-sqlite", None)
                print(f"mlflow, sqlite: {cmp.per_s(mf.rate)}, p99 {cmp.ms(mf.p99)}", flush=True)
                latest["sqlite"] = (oa, mf, "")
                if not args.skip_pg:
                    databases = Databases(args.pg_url)
                    why = databases.reachable()
                    if why is None:
                        (tmp / "oa-pg").mkdir()
                        (tmp / "mf-pg").mkdir()
                        oa = openaml_get_latest(args, tmp / "oa-pg", databases.new("openaml_bench"), profiles)
                        print(f"openaml, postgresql: {cmp.per_s(oa.rate)}, p99 {cmp.ms(oa.p99)}", flush=True)
                        if has_driver(python):
                            mf = mlflow_get_latest(args, python, tmp / "mf-pg", databases.new("mlflow_bench"))
                            latest["postgresql"] = (oa, mf, "")
                        else:
                            latest["postgresql"] = (oa, None, f"{python} has no PostgreSQL driver: "
                                                              "pip install 'psycopg[binary]' into it")
                    else:
                        latest["postgresql"] = (None, None, f"PostgreSQL not reachable ({why})")
                verdicts += report_latest(latest, args.clients)
            if not args.skip_metrics:
                cmp.section("(b) logging metrics")
                verdicts += report_metrics(bench_metrics(args, python, tmp / "metrics"), args.metrics, args.batches)
            if not args.skip_jobs:
                cmp.section("(c) running jobs")
                (tmp / "jobs").mkdir()
                verdicts += report_jobs(bench_jobs(args, tmp / "jobs"))
            if profiles:
                report_profiles(profiles)
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        return 0
    finally:
        if databases is not None:
            databases.drop_all()
    cmp.section("Targets")
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for line in verdicts:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
