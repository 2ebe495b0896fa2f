"""A stock MLflow client against a workspace's mount with the token of ``MLFLOW_TRACKING_TOKEN``
(or none): what it may do, and what it says when it may not.

Usage: ``python mlflow_token_client.py RUN_ID`` (``-``: the run this client logs) with
``MLFLOW_TRACKING_URI`` set. Prints one JSON object: for each step, ``{"ok": value}`` or
``{"error": "<exception class>: <its text>"}``, the text a user of the client would read.
Standard library and ``mlflow`` only: it runs in the client's own venv (3.x or mlflow-skinny 2.10).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient


def attempt(step: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"ok": step()}
    except Exception as exc:  # noqa: BLE001 - the client's error is the result
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(run_id: str) -> None:
    client = MlflowClient()

    def log() -> str:
        with mlflow.start_run(experiment_id="0") as run:
            mlflow.log_metric("m", 1.0)
            mlflow.log_text("hello", "a.txt")  # a request to mlflow-artifacts
        return run.info.run_id

    out = {"log": attempt(log)}
    target = out["log"].get("ok") if run_id == "-" else run_id
    out["search"] = attempt(lambda: [r.info.run_id for r in client.search_runs(["0"])])
    out["history"] = attempt(lambda: [m.value for m in client.get_metric_history(target, "m")])
    out["artifact"] = attempt(lambda: mlflow.artifacts.load_text(client.get_run(target).info.artifact_uri + "/a.txt"))
    out["log_metric"] = attempt(lambda: client.log_metric(target, "m", 2.0))
    out["log_artifact"] = attempt(lambda: client.log_text(target, "bye", "b.txt"))
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
