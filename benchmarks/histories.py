"""Sampled metric histories for charts: ``metrics/get-history-bulk-interval`` over many runs, on
openaml's tracking endpoint and on ``mlflow server``, side by side in one run.

    .venv-bench/bin/python benchmarks/histories.py            # 100 runs x 10,000 points
    .venv-bench/bin/python benchmarks/histories.py --quick    # 20 runs x 2,000 points

Both servers get the same data through REST ``runs/log-batch`` (1,000 points a call, not timed);
then the same GET that MLflow's UI sends for a chart (``run_ids`` repeated, ``metric_key``,
``max_results``) is timed, over all runs at once, for the UI's default sample (320 points a run)
and MLflow's largest (2,500). The responses are checked to hold the same points. Target
(issue 9): at least 10x MLflow. Always exits 0 (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _compare as cmp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))


def _call(url: str, method: str = "GET", body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=300) as response:
        text = response.read()
    return json.loads(text) if text.strip() else {}


def _fill(base: str, runs: int, points: int) -> list[str]:
    api = f"{base}/api/2.0/mlflow"
    experiment = _call(f"{api}/experiments/create", "POST", {"name": f"hist-{time.time_ns()}"})["experiment_id"]
    run_ids = []
    for _ in range(runs):
        run_id = _call(f"{api}/runs/create", "POST", {"experiment_id": experiment})["run"]["info"]["run_id"]
        for start in range(0, points, 1000):
            _call(f"{api}/runs/log-batch", "POST", {"run_id": run_id, "metrics": [
                {"key": "loss", "value": 1.0 / (i + 1), "timestamp": 1_700_000_000_000 + i, "step": i}
                for i in range(start, min(points, start + 1000))]})
        run_ids.append(run_id)
    return run_ids


def _sampled(base: str, run_ids: list[str], max_results: int) -> dict:
    query = urllib.parse.urlencode({"run_ids": run_ids, "metric_key": "loss", "max_results": max_results}, doseq=True)
    return _call(f"{base}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?{query}")


def _points(answer: dict, run_ids: list[str]) -> list[tuple[int, int, float]]:
    index = {r: i for i, r in enumerate(run_ids)}
    return [(index[m["run_id"]], m["step"], m["value"]) for m in answer.get("metrics", [])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="20 runs x 2,000 points")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.points = 20, 2_000
    cmp.require("mlflow", purpose="to run `mlflow server` as the peer")
    cmp.print_environment(["mlflow", "openaml"])
    print(f"data    : {args.runs} runs x {args.points:,} points of one metric, on each server\n")

    from openaml import MLClient
    from openaml.backends.local.agent import tracking_server_for
    from openaml.entities import Workspace

    with cmp.fresh_dir("openaml-histories") as tmp:
        client = MLClient(workspace_name="bench", openaml_home=str(tmp / "home"))
        client.workspaces.begin_create(Workspace(name="bench")).result()
        peer = cmp.MlflowServer(sys.executable, tmp, "1", env={
            "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
        mlflow_url = peer.url
        try:
            peer.wait_ready()
            time.sleep(1)  # settle
            with tracking_server_for(client._context()) as ours:
                t0 = time.perf_counter()
                our_runs = _fill(ours.url, args.runs, args.points)
                t1 = time.perf_counter()
                their_runs = _fill(mlflow_url, args.runs, args.points)
                t2 = time.perf_counter()
                print(f"filled  : openaml {cmp.secs(t1 - t0)}, mlflow server {cmp.secs(t2 - t1)} (not timed below)\n")
                rows = []
                for size in (320, 2500):
                    same = _points(_sampled(ours.url, our_runs, size), our_runs) == \
                        _points(_sampled(mlflow_url, their_runs, size), their_runs)
                    mine = cmp.repeat(f"openaml {size}", lambda s=size: _sampled(ours.url, our_runs, s),
                                      args.repeats, warmup=1)
                    theirs = cmp.repeat(f"mlflow {size}", lambda s=size: _sampled(mlflow_url, their_runs, s),
                                        args.repeats, warmup=1)
                    m, t = cmp.percentile(mine.samples, 50), cmp.percentile(theirs.samples, 50)
                    rows.append((size, m, t, same))
                print(f"{'sample per run':>15} | {'openaml (median)':>17} | {'mlflow server':>14} | {'ratio':>7} | same points")
                for size, m, t, same in rows:
                    print(f"{size:>15,} | {cmp.ms(m):>17} | {cmp.ms(t):>14} | {t / m:>6.1f}x | {same}")
                print()
                for size, m, t, _ in rows:
                    verdict = "PASS" if t / m >= 10 else "MISS"
                    print(f"{verdict}: get-history-bulk-interval, {args.runs} runs, {size} points each: "
                          f"{t / m:.1f}x mlflow server (target >= 10x)")
        finally:
            peer.stop()
            client.close()


if __name__ == "__main__":
    main()
