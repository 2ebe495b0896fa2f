"""Pipeline benchmark: a DAG of trivial steps on openaml (first run, then fully reused) vs the same
DAG as a Metaflow flow run by Metaflow's local runtime.

Targets: openaml end to end >= 5x faster than Metaflow; a fully reused resubmission < 1 s.

    .venv-bench/bin/python benchmarks/pipelines.py            # 50 steps
    .venv-bench/bin/python benchmarks/pipelines.py --quick    # 12 steps

The DAG is built from blocks (chains, and fan-outs whose branches are short chains joined again),
so it is both an openaml pipeline (``${{parent.jobs.X.outputs.o}}`` bindings) and a valid
Metaflow graph (every split closed by a join). Every step does the same trivial work on both
sides: it takes the set of step names seen upstream (openaml: the lines of each input's ``f.txt``;
Metaflow: the ``seen`` artifact of its input(s)), adds its own name and passes it on. The last
step therefore holds every step's name exactly once, which is checked on both sides.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _compare as cmp

SPEEDUP_TARGET = 5.0     # openaml end to end at least 5x faster than Metaflow
REUSE_TARGET = 1.0       # seconds, a fully reused resubmission, submit -> client sees Completed
IMAGE = "python:3.11-slim"


# ---- the DAG -----------------------------------------------------------------------------------

class Dag:
    """Steps in topological order, each with its upstream steps, and the block structure
    Metaflow needs (which step splits into which branches and where they join)."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.ups: dict[str, list[str]] = {}
        self.nexts: dict[str, list[str]] = {}  # Metaflow's self.next(...) targets
        self.joins: set[str] = set()           # steps that take `inputs` (Metaflow join steps)

    def add(self, name: str, ups: list[str], *, join: bool = False) -> str:
        self.order.append(name)
        self.ups[name] = list(ups)
        self.nexts[name] = []
        for u in ups:
            self.nexts[u].append(name)
        if join:
            self.joins.add(name)
        return name

    @property
    def edges(self) -> int:
        return sum(len(u) for u in self.ups.values())

    def critical_path(self) -> int:
        depth: dict[str, int] = {}
        for s in self.order:
            depth[s] = 1 + max((depth[u] for u in self.ups[s]), default=0)
        return max(depth.values())

    def max_width(self) -> int:
        depth: dict[str, int] = {}
        for s in self.order:
            depth[s] = 1 + max((depth[u] for u in self.ups[s]), default=0)
        return max(list(depth.values()).count(d) for d in set(depth.values()))


# (kind, a, b): ("chain", length, -) or ("fan", branches, steps per branch) + one join step.
BLOCKS_50 = [("chain", 3, 0), ("fan", 8, 1), ("chain", 2, 0), ("fan", 4, 3), ("chain", 2, 0),
             ("fan", 3, 2), ("chain", 1, 0), ("fan", 6, 1)]
BLOCKS_SMALL = [("chain", 1, 0), ("fan", 3, 1), ("chain", 1, 0), ("fan", 2, 1)]


def build_dag(n: int) -> Dag:
    """``n`` steps (n >= 3): start, blocks (repeated as needed), a chain padding to n, end."""
    if n < 3:
        raise SystemExit("error: --n must be at least 3 (start, one step, end)")
    dag = Dag()
    last = dag.add("start", [])
    budget = n - 2  # start and end
    blocks = BLOCKS_50 if n >= 30 else BLOCKS_SMALL
    b = 0
    while True:
        kind, x, y = blocks[b % len(blocks)]
        if kind == "fan" and last in dag.joins:
            kind, x = "chain", 1  # Metaflow: a join step cannot also be a split step
        size = x if kind == "chain" else x * y + 1
        if size > budget:
            break
        if kind == "chain":
            for i in range(x):
                last = dag.add(f"c{b}_{i}", [last])
        else:
            tails = []
            for br in range(x):
                prev = last
                for i in range(y):
                    prev = dag.add(f"f{b}_b{br}_{i}", [prev])
                tails.append(prev)
            last = dag.add(f"j{b}", tails, join=True)
        budget -= size
        b += 1
    for i in range(budget):  # padding
        last = dag.add(f"p_{i}", [last])
    dag.add("end", [last])
    assert len(dag.order) == n, (len(dag.order), n)
    return dag


# ---- openaml side ------------------------------------------------------------------------------

def openaml_yaml(dag: Dag) -> str:
    lines = ["$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
             "type: pipeline", "display_name: bench-dag", "experiment_name: bench", "jobs:"]
    for s in dag.order:
        ups = dag.ups[s]
        cats = " ".join(f"${{{{inputs.x{i}}}}}/f.txt" for i in range(len(ups)))
        reads = f"cat {cats}; " if ups else ""
        command = f"{{ {reads}echo {s}; }} | sort -u > ${{{{outputs.o}}}}/f.txt"
        lines += [f"  {s}:",
                  f"    command: '{command}'",
                  f"    environment: {{image: {IMAGE}}}",
                  "    outputs: {o: {type: uri_folder}}"]
        if ups:
            lines.append("    inputs:")
            lines += [f"      x{i}: ${{{{parent.jobs.{u}.outputs.o}}}}" for i, u in enumerate(ups)]
    return "\n".join(lines) + "\n"


def _ts(value: datetime | None) -> float:
    return value.timestamp() if value is not None else float("nan")


def run_openaml(client, yml: Path, poll: float, timeout: float, trace_poll: float = 0.0) -> dict:
    """Submit the pipeline and poll its record until terminal; times from the submit call.

    With ``trace_poll`` > 0, the children's records are also read (one query) every
    ``trace_poll`` s to note when each was first seen Preparing: a job's agent enters Preparing
    once it has started, imported, opened the workspace and taken a compute slot. The records
    themselves keep only created_at, started_at (Running) and ended_at."""
    from openaml import load_job
    from openaml.entities.job_status import JobStatus, is_terminal

    service = client._job_service()
    ctx = client._context()
    t0 = cmp.clock()
    wall0 = time.time()
    job = client.jobs.create_or_update(load_job(yml))
    submitted = cmp.clock() - t0
    seen: dict[str, dict[str, float]] = {}
    next_trace = 0.0
    while True:
        record = service.record(job.name)
        if is_terminal(JobStatus(record.status)):
            break
        now = cmp.clock()
        if now - t0 > timeout:
            sys.exit(f"error: pipeline {job.name} still {record.status} after {timeout:.0f} s")
        if trace_poll > 0 and now >= next_trace:
            stamp = time.time()
            for child in ctx.jobs.list_jobs(ctx.name, parent_job_name=job.name):
                seen.setdefault(child.name, {}).setdefault(child.status, stamp)
            next_trace = now + trace_poll
        time.sleep(poll)
    observed = cmp.clock() - t0
    return {"name": job.name, "status": record.status, "error": record.error, "submit": submitted,
            "observed": observed, "wall0": wall0, "record": record, "seen": seen}


def children_records(client, parent: str) -> dict[str, object]:
    """Step name -> child job record (as tests/pipelines/conftest.py:children finds them)."""
    service = client._job_service()
    out = {}
    for job in client.jobs.list(parent_job_name=parent):
        step = (job.properties or {}).get("openaml.pipeline_step")
        out[step] = (job, service.record(job.name))
    return out


def check_openaml(client, dag: Dag, parent: str, tmp: Path) -> None:
    kids = children_records(client, parent)
    if set(kids) != set(dag.order):
        sys.exit(f"error: sanity check failed: pipeline {parent} has steps {sorted(kids)[:5]}..., "
                 f"expected {len(dag.order)}")
    bad = [s for s, (j, r) in kids.items() if r.status != "Completed"]
    if bad:
        sys.exit(f"error: sanity check failed: steps not Completed: {bad[:5]}")
    end_job = kids["end"][0]
    target = tmp / f"dl-{parent}"
    client.jobs.download(end_job.name, download_path=target, output_name="o")
    seen = (target / "named-outputs" / "o" / "f.txt").read_text().split()
    if sorted(seen) != sorted(dag.order):
        sys.exit(f"error: sanity check failed: the end step saw {len(seen)} step names, expected "
                 f"{len(dag.order)}")


def step_breakdown(client, dag: Dag, run: dict) -> dict:
    """Per-step phases from the child job records (seconds)."""
    kids = children_records(client, run["name"])
    rec = {s: r for s, (j, r) in kids.items()}
    reused = {s: (j.properties or {}).get("azureml.isreused") == "true" for s, (j, r) in kids.items()}
    created = {s: _ts(r.created_at) for s, r in rec.items()}
    started = {s: _ts(r.started_at) for s, r in rec.items()}
    ended = {s: _ts(r.ended_at) for s, r in rec.items()}
    # ready = when the last upstream step ended (the pipeline's Running for the roots)
    p = run["record"]
    p_start, p_end, p_created = _ts(p.started_at), _ts(p.ended_at), _ts(p.created_at)
    ready = {s: max((ended[u] for u in dag.ups[s]), default=p_start) for s in dag.order}
    # max steps Running at once
    events = sorted([(started[s], 1) for s in dag.order] + [(ended[s], -1) for s in dag.order])
    cur = peak = 0
    for _, d in events:
        cur += d
        peak = max(peak, cur)
    last_end = max(ended.values())
    first_create = min(created.values())
    # From the client's trace: first sighting of Preparing (slot taken), split by whether the
    # child was created while every slot was held by a sibling (it had to queue) or not.
    names = {s: r.name for s, r in rec.items()}
    prep = {s: run["seen"].get(names[s], {}).get("Preparing", float("nan")) for s in dag.order}
    traced = sum(1 for v in prep.values() if v == v)
    # Not seen Preparing (shorter than a trace poll): the slot was taken by Running at the latest.
    prep = {s: (v if v == v and v <= started[s] else started[s]) for s, v in prep.items()}
    # "alone": no other child was in flight (created, not ended) when it was created, so its
    # created -> slot taken is the bare agent start; the others also queue for a slot and share
    # the cores with sibling agents starting at the same time.
    free, queued = [], []
    for s in dag.order:
        busy = sum(1 for o in dag.order if o != s and created[o] <= created[s] < ended[o])
        (queued if busy else free).append(prep[s] - created[s])
    return {
        "created_to_preparing_free": free,
        "created_to_preparing_queued": queued,
        "preparing_to_running": [started[s] - prep[s] for s in dag.order],
        "traced": traced,
        "reused": sum(reused.values()),
        "ready_to_created": [created[s] - ready[s] for s in dag.order],
        "created_to_running": [started[s] - created[s] for s in dag.order],
        "running_to_ended": [ended[s] - started[s] for s in dag.order],
        "created_to_ended": [ended[s] - created[s] for s in dag.order],
        "pipeline_submit_to_created": p_created - run["wall0"],
        "pipeline_created_to_running": p_start - p_created,
        "pipeline_running_to_first_child": first_create - p_start,
        "last_child_to_pipeline_end": p_end - last_end,
        "pipeline_end_to_seen": run["wall0"] + run["observed"] - p_end,
        "peak_running": peak,
        "busy_sum": sum(ended[s] - created[s] for s in dag.order),
        "span": p_end - p_start,
    }


def bench_openaml(args, dag: Dag, tmp: Path, profiles: cmp.Profiles) -> dict:
    os.environ["OPENAML_ALLOW_HOST_PYTHON"] = "1"
    from openaml import MLClient
    from openaml.entities import Workspace

    yml = tmp / "pipeline.yml"
    yml.write_text(openaml_yaml(dag))
    client = MLClient(workspace_name="bench", openaml_home=tmp / "home", show_progress=False)
    client.workspaces.begin_create(Workspace(name="bench")).result()
    res: dict = {}
    print(f"openaml: first run of {len(dag.order)} steps ...", flush=True)
    with profiles.phase("openaml first run (client side: submit + polling)"):
        first = run_openaml(client, yml, args.poll, args.timeout, args.trace_poll)
    if first["status"] != "Completed":
        sys.exit(f"error: the openaml pipeline ended {first['status']}: {first['error']}\n"
                 f"(see {tmp / 'home'}, kept with --keep)")
    print(f"openaml: first run {first['observed']:.2f} s; resubmitting ...", flush=True)
    with profiles.phase("openaml reused run (client side: submit + polling)"):
        again = run_openaml(client, yml, args.poll, args.timeout)
    if again["status"] != "Completed":
        sys.exit(f"error: the reused openaml pipeline ended {again['status']}: {again['error']}")
    print(f"openaml: reused run {again['observed']:.2f} s", flush=True)
    check_openaml(client, dag, first["name"], tmp)
    check_openaml(client, dag, again["name"], tmp)
    res["first"], res["again"], res["trace_poll"] = first, again, args.trace_poll
    res["first_steps"] = step_breakdown(client, dag, first)
    res["again_steps"] = step_breakdown(client, dag, again)
    if res["again_steps"]["reused"] != len(dag.order):
        print(f"WARNING: only {res['again_steps']['reused']}/{len(dag.order)} steps were reused on resubmission")
    res["interp"] = interpreter_costs()
    client.close()
    return res


def interpreter_costs() -> dict[str, float]:
    """The fixed cost every agent pays: a fresh interpreter, and importing the agent module."""
    out = {}
    for label, code in (("python -c pass", "pass"),
                        ("python -c 'import openaml.backends.local.agent'", "import openaml.backends.local.agent")):
        samples = []
        for _ in range(5):
            t0 = cmp.clock()
            subprocess.run([sys.executable, "-c", code], check=True)
            samples.append(cmp.clock() - t0)
        out[label] = statistics.median(samples)
    return out


# ---- Metaflow side -----------------------------------------------------------------------------

def metaflow_flow(dag: Dag) -> str:
    def meth(s: str) -> str:
        return s  # step names are valid identifiers already

    out = ["from metaflow import FlowSpec, step", "", "",
           "class BenchDagFlow(FlowSpec):"]
    for s in dag.order:
        ups, nexts = dag.ups[s], dag.nexts[s]
        if s in dag.joins:
            sig, body = "self, inputs", "self.seen = set().union(*(i.seen for i in inputs)) | {%r}" % s
        elif ups:
            sig, body = "self", "self.seen = set(self.seen) | {%r}" % s
        else:
            sig, body = "self", "self.seen = {%r}" % s
        out += ["", "    @step", f"    def {meth(s)}({sig}):", f"        {body}"]
        if nexts:
            out.append(f"        self.next({', '.join('self.' + meth(n) for n in nexts)})")
        else:  # end
            out.append('        print("SEEN", len(self.seen), ",".join(sorted(self.seen)))')
    out += ["", "", 'if __name__ == "__main__":', "    BenchDagFlow()", ""]
    return "\n".join(out)


def metaflow_env(tmp: Path) -> dict[str, str]:
    """Local datastore and metadata in a temp folder; nothing that reaches the network."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("METAFLOW_"):
            del env[key]
    env.update({
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DEFAULT_METADATA": "local",
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(tmp / "mfroot"),
        "METAFLOW_HOME": str(tmp / "mfhome"),       # no ~/.metaflowconfig profile
        "METAFLOW_DEFAULT_ENVIRONMENT": "local",
        "USERNAME": "bench", "USER": env.get("USER", "bench"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def bench_metaflow(args, dag: Dag, tmp: Path, workers: int) -> dict:
    flow = tmp / "bench_flow.py"
    flow.write_text(metaflow_flow(dag))
    (tmp / "mfroot").mkdir()
    (tmp / "mfhome").mkdir()
    env = metaflow_env(tmp)
    cmd = [sys.executable, str(flow), "--no-pylint", "run", "--max-workers", str(workers)]
    print(f"metaflow: {' '.join(cmd[1:])} ...", flush=True)
    t0 = cmp.clock()
    done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=args.timeout)
    wall = cmp.clock() - t0
    if done.returncode != 0:
        sys.exit(f"error: the Metaflow run failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    text = done.stdout + done.stderr
    m = re.search(r"SEEN (\d+) (\S+)", text)
    if not m or sorted(m.group(2).split(",")) != sorted(dag.order):
        sys.exit(f"error: sanity check failed: Metaflow's end step did not see every step:\n{text[-3000:]}")
    tasks = len(re.findall(r"Task finished successfully", text))
    # Metaflow's own startup: the interpreter plus `import metaflow`.
    samples = []
    for _ in range(3):
        s0 = cmp.clock()
        subprocess.run([sys.executable, "-c", "import metaflow"], env=env, check=True, capture_output=True)
        samples.append(cmp.clock() - s0)
    print(f"metaflow: {wall:.2f} s ({tasks} tasks reported finished)", flush=True)
    return {"wall": wall, "tasks": tasks, "import": statistics.median(samples), "flow": flow}


# ---- report ------------------------------------------------------------------------------------

def _fmt(samples: list[float]) -> list[str]:
    clean = [x for x in samples if x == x]
    if not clean:
        return ["-", "-", "-"]
    return [cmp.secs(statistics.median(clean)), cmp.secs(cmp.percentile(clean, 95)), cmp.secs(max(clean))]


def report(dag: Dag, oa: dict, mf: dict | None, workers: int) -> list[str]:
    first, again = oa["first"], oa["again"]
    cmp.section("Results: wall time, submit -> client sees Completed")
    rows = [["openaml, first run", cmp.secs(first["observed"]), cmp.secs(first["submit"]), "-"],
            ["openaml, resubmitted (all steps reused)", cmp.secs(again["observed"]), cmp.secs(again["submit"]), "-"]]
    if mf:
        rows.append([f"Metaflow local runtime (--max-workers {workers})", cmp.secs(mf["wall"]), "-",
                     cmp.ratio(mf["wall"], first["observed"])])
    print(cmp.table(["", "wall", "submit call", "Metaflow / openaml"], rows))
    if mf:
        print(f"(Metaflow: whole `python flow.py run` process; `import metaflow` alone takes "
              f"{cmp.secs(mf['import'])} in a fresh interpreter)")
    n = len(dag.order)
    print(f"per step: openaml {cmp.secs(first['observed'] / n)}" +
          (f", Metaflow {cmp.secs(mf['wall'] / n)}" if mf else "") +
          f"; critical path {dag.critical_path()} steps, {workers} cores")

    for label, key in (("first run", "first_steps"), ("resubmission", "again_steps")):
        st = oa[key]
        cmp.section(f"openaml per-step breakdown, {label} ({st['reused']}/{n} steps reused)")
        rows = [
            ["upstream ended -> child created (orchestrator: poll, reuse key, submit)"] + _fmt(st["ready_to_created"]),
            ["child created -> Running (agent process start, imports, prepare)"] + _fmt(st["created_to_running"]),
            ["Running -> ended (command, finalize)"] + _fmt(st["running_to_ended"]),
            ["child created -> ended"] + _fmt(st["created_to_ended"]),
        ]
        if st["traced"] and not st["reused"]:
            rows.insert(2, ["  of which created -> slot taken, launched alone (agent start)"]
                        + _fmt(st["created_to_preparing_free"]) + [str(len(st["created_to_preparing_free"]))])
            rows.insert(3, ["  of which created -> slot taken, others in flight (+ queue, shared CPU)"]
                        + _fmt(st["created_to_preparing_queued"]) + [str(len(st["created_to_preparing_queued"]))])
            rows.insert(4, ["  of which slot taken -> Running (inputs, environment, code)"]
                        + _fmt(st["preparing_to_running"]))
            rows = [r + [""] * (5 - len(r)) for r in rows]
            print(cmp.table(["per child job", "median", "p95", "max", "steps"], rows))
            print(f"('slot taken' = first seen Preparing, polling the children every {oa['trace_poll'] * 1e3:.0f} ms, "
                  f"so late by up to that; seen for {st['traced']}/{n} steps, the others' Preparing was shorter "
                  "than a poll and Running is used. 'launched alone' = no sibling in flight when it was created)")
        else:
            print(cmp.table(["per child job", "median", "p95", "max"], rows))
        rows = [
            ["client submit start -> pipeline record created", cmp.secs(st["pipeline_submit_to_created"])],
            ["pipeline created -> Running (orchestrator agent start)", cmp.secs(st["pipeline_created_to_running"])],
            ["pipeline Running -> first child created", cmp.secs(st["pipeline_running_to_first_child"])],
            ["last child ended -> pipeline ended", cmp.secs(st["last_child_to_pipeline_end"])],
            ["pipeline ended -> client sees it (poll)", cmp.secs(st["pipeline_end_to_seen"])],
            ["pipeline Running -> ended (span)", cmp.secs(st["span"])],
            ["sum over children of created -> ended", cmp.secs(st["busy_sum"])],
            ["most children Running at once", str(st["peak_running"])],
        ]
        print(cmp.table(["pipeline", ""], rows))
    print("\nFixed costs every child agent pays before it reads its job (median of 5, fresh interpreter):")
    print(cmp.table(["", "wall"], [[k, cmp.secs(v)] for k, v in oa["interp"].items()]))

    verdicts = [cmp.verdict(again["observed"] < REUSE_TARGET, f"fully reused resubmission < {REUSE_TARGET:g} s",
                            f"{cmp.secs(again['observed'])} ({oa['again_steps']['reused']}/{n} reused)")]
    if mf:
        r = mf["wall"] / first["observed"]
        verdicts.append(cmp.verdict(r >= SPEEDUP_TARGET, f"openaml end to end >= {SPEEDUP_TARGET:g}x faster "
                                    "than Metaflow", f"{cmp.secs(mf['wall'])} / {cmp.secs(first['observed'])} "
                                    f"= {r:.2f}x"))
    else:
        verdicts.append(f"----  openaml >= {SPEEDUP_TARGET:g}x faster than Metaflow: not measured (--skip-metaflow)")
    return verdicts


# ---- main --------------------------------------------------------------------------------------

def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = cmp.base_parser(__doc__.split("\n\n")[0], default_n=50, quick_n=12)
    parser.add_argument("--poll", type=float, default=0.01,
                        help="seconds between the client's pipeline-status polls (default 0.01)")
    parser.add_argument("--workers", type=int, default=None,
                        help="Metaflow --max-workers (default: this machine's cores)")
    parser.add_argument("--trace-poll", type=float, default=0.05,
                        help="first run: seconds between reads of the children's statuses, to see when "
                             "each enters Preparing (default 0.05; 0 turns it off)")
    parser.add_argument("--timeout", type=float, default=900, help="per run, seconds (default 900)")
    parser.add_argument("--skip-metaflow", action="store_true", help="measure openaml only")
    parser.add_argument("--show", action="store_true", help="print the generated pipeline YAML and flow")
    args = parser.parse_args()
    n = cmp.resolve_n(args)
    workers = args.workers or os.cpu_count() or 1

    cmp.require("openaml", purpose="(this repository, installed in this venv)")
    if not args.skip_metaflow:
        try:
            import metaflow  # noqa: F401
        except ImportError as exc:
            sys.exit(f"error: this benchmark needs Metaflow in this interpreter ({exc}).\n"
                     f"  Install it with:   {sys.executable} -m pip install metaflow\n"
                     "  or run with --skip-metaflow")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)

    dag = build_dag(n)
    cmp.section("Pipelines benchmark")
    cmp.print_environment(["openaml", "metaflow"])
    print("load average at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"DAG: {n} steps, {dag.edges} edges, {len(dag.joins)} joins, critical path {dag.critical_path()} steps, "
          f"widest level {dag.max_width()}; openaml pool = {os.cpu_count()} slots, Metaflow --max-workers {workers}")
    if args.show:
        print(openaml_yaml(dag))
        print(metaflow_flow(dag))
    profiles = cmp.Profiles(args.profile)
    try:
        with cmp.fresh_dir("openaml-bench-pipes-", keep=args.keep) as tmp:
            oa = bench_openaml(args, dag, tmp, profiles)
        mf = None
        if not args.skip_metaflow:
            with cmp.fresh_dir("metaflow-bench-", keep=args.keep) as tmp:
                mf = bench_metaflow(args, dag, tmp, workers)
    except KeyboardInterrupt:
        print("\ninterrupted; temp folders removed (agents already started finish on their own)", file=sys.stderr)
        return 0
    verdicts = report(dag, oa, mf, workers)
    print("\nload average at end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) +
          " (other work on the machine slows both sides; compare runs on an idle machine)")
    cmp.section("Targets")
    for line in verdicts:
        print(line)
    profiles.report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
