"""``python tests/server/_load_clients.py URL WORKSPACE CLIENTS SECONDS WORKDIR OUT``: CLIENTS
processes against an openaml server for SECONDS, each registering model and data versions of
names they all share, listing (every page), and submitting small jobs that log metrics from
inside through their MLflow tracking endpoint; what each did (versions it was given, jobs, the
metric points its jobs log, errors) is written to OUT as JSON.

The clients are forked from this process once it has imported openaml (spawned where fork is
not available), so sixteen of them start in well under a second instead of an import each.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
import traceback
from pathlib import Path

#: What each job logs: LOSS_STEPS points one at a time (log-metric), BATCH points in one log-batch.
LOSS_STEPS = 20
BATCH = 100
JOBS_PER_CLIENT = 2

JOB_SCRIPT = f"""
import json, os, time, urllib.request

# The tracking endpoint the job was given (MLflow's REST API, what mlflow.log_metric calls);
# urllib rather than the mlflow package, whose import alone takes seconds on a loaded machine.
base = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/"
run = os.environ["MLFLOW_RUN_ID"]


def post(path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                     headers={{"Content-Type": "application/json"}})
    urllib.request.urlopen(request, timeout=60).read()


now = int(time.time() * 1000)
for step in range({LOSS_STEPS}):
    post("runs/log-metric", {{"run_id": run, "key": "loss", "value": 1 / (step + 1), "timestamp": now + step,
                             "step": step}})
post("runs/log-batch", {{"run_id": run, "metrics": [
    {{"key": "accuracy", "value": step / {BATCH}, "timestamp": now, "step": step}} for step in range({BATCH})]}})
print("logged")
"""


def client_main(index: int, url: str, workspace: str, seconds: float, workdir: str, out: str) -> None:
    from openaml import MLClient, command
    from openaml.entities import Data, Environment, Model

    record: dict = {"client": index, "models": [], "data": [], "jobs": [], "lists": 0, "errors": []}
    work = Path(workdir) / f"client{index}"
    (work / "src").mkdir(parents=True, exist_ok=True)
    (work / "src" / "log.py").write_text(JOB_SCRIPT)
    client = MLClient(workspace_name=workspace, server=url)
    deadline = time.monotonic() + seconds
    step = 0
    while time.monotonic() < deadline:
        step += 1
        try:
            if step % 10 == 1 and len(record["jobs"]) < JOBS_PER_CLIENT:
                job = client.jobs.create_or_update(command(
                    code=str(work / "src"), command=f"{sys.executable} log.py",
                    environment=Environment(image="python:3.11-slim"), experiment_name="load"))
                record["jobs"].append(job.name)
            elif step % 4 == 0:
                names = [m.name for m in client.models.list()]
                mine = record["models"][-1][0] if record["models"] else "shared-0"
                versions = [m.version for m in client.models.list(mine)] if record["models"] else []
                if len(versions) != len(set(versions)) or len(names) != len(set(names)):
                    record["errors"].append(f"a listing repeated an item: {names} {versions}")
                record["lists"] += 1
            elif step % 4 == 2:
                path = work / f"data-{step}.csv"
                path.write_text(f"client,step\n{index},{step}\n")
                data = client.data.create_or_update(Data(name="shared-data", path=str(path), type="uri_file"))
                record["data"].append(data.version)
            else:
                path = work / f"model-{step}"
                path.mkdir()
                (path / "weights.txt").write_text(f"{index}:{step}")
                model = client.models.create_or_update(Model(name=f"shared-{(step // 4) % 2}", path=str(path)))
                record["models"].append([model.name, model.version])
        except Exception:  # noqa: BLE001 - every error is the test's finding
            record["errors"].append(traceback.format_exc())
    Path(out).with_suffix(f".{index}.json").write_text(json.dumps(record))


def main() -> None:
    url, workspace, clients, seconds, workdir, out = sys.argv[1:7]
    # Imported once, here, before the fork: the clients start with it loaded.
    from openaml import MLClient, command  # noqa: F401

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    processes = [context.Process(target=client_main, args=(i, url, workspace, float(seconds), workdir, out))
                 for i in range(int(clients))]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    records = []
    for i in range(int(clients)):
        part = Path(out).with_suffix(f".{i}.json")
        records.append(json.loads(part.read_text()) if part.exists() else
                       {"client": i, "errors": [f"client {i} ended with code {processes[i].exitcode}"]})
    Path(out).write_text(json.dumps(records))


if __name__ == "__main__":
    main()
