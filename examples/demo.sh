#!/usr/bin/env bash
# openaml demo: a workspace and one of each asset, registered from Azure ML v2 YAML files.
set -euo pipefail
cd "$(dirname "$0")"
run() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

openaml workspace show -n demo -o table >/dev/null 2>&1 || run openaml workspace create -n demo --description "openaml demo" -o table
run openaml environment create -f environment/environment.yml -w demo -o table
run openaml data create -f data/data.yml -w demo -o table
run openaml model create -f model/model.yml -w demo -o table
run openaml component create -f component/train.yml -w demo -o table
run openaml model list -w demo -o table
run openaml data list -w demo -o table
run openaml environment list -w demo -o table
run openaml component list -w demo -o table
run openaml datastore list -w demo -o table
# A second run replaces the first download: only --overwrite lets a download replace files.
run openaml model download -n credit-default-model -w demo -p "${TMPDIR:-/tmp}/openaml-demo-download" --overwrite
printf '\nWorkspace folder: %s/workspaces/demo\n' "${OPENAML_HOME:-$HOME/.openaml}"

# A real training job: scikit-learn in the curated sklearn-1.5 environment (built once with uv,
# then reused), metrics and the model logged with MLflow, the model registered from the job.
JOB="train_credit_$(date +%Y%m%d_%H%M%S)"
run openaml job create -f jobs/train-job.yml -n "$JOB" -w demo --stream -o table
run openaml model create -n credit-default-mlflow --type mlflow_model \
    --path "azureml://jobs/$JOB/outputs/artifacts/paths/model/" -w demo -o table
run openaml model show -n credit-default-mlflow -w demo -o yaml
printf '\n\033[1mMetrics of job %s\033[0m\n' "$JOB"
openaml job show -n "$JOB" -w demo -o json | python -c '
import json, sys
job = json.load(sys.stdin)
for key, value in sorted(job.get("metrics", {}).items()):
    print(f"  {key:15} {value:.4f}")
for key, value in sorted(job.get("params", {}).items()):
    print(f"  param {key:9} {value}")'

# A three-step pipeline from component files, run twice: the second run reuses every step.
run_pipeline() {
  local name="credit_pipeline_$(date +%Y%m%d_%H%M%S)_$1" start end
  start=$(date +%s.%N)
  run openaml job create -f pipelines/pipeline.yml -n "$name" -w demo --stream -o table >&2
  end=$(date +%s.%N)
  openaml job list -p "$name" -w demo -o json | python show_steps.py >&2
  python -c "print(f'{$end - $start:.1f}')"
}
FIRST=$(run_pipeline first)
SECOND=$(run_pipeline second)
printf '\n\033[1mPipeline: first run %s s, second run %s s (every step reused)\033[0m\n' "$FIRST" "$SECOND"

# A deployed endpoint answering: the job's MLflow model behind an online endpoint, no scoring
# script, served by a worker process on this machine behind the endpoint's router (key auth).
openaml online-endpoint delete -n credit-endpoint -w demo --yes >/dev/null 2>&1 || true
run openaml online-endpoint create -f endpoints/endpoint.yml -w demo -o table
run openaml online-deployment create -f endpoints/blue.yml --all-traffic -w demo -o table
run openaml online-endpoint invoke -n credit-endpoint --request-file endpoints/request.json -w demo
run openaml online-endpoint delete -n credit-endpoint -w demo --yes

# The same workspace through an openaml server, as a team would share it: the CLI talks to it
# over HTTP (Azure ML's REST layout) with a token of the workspace's Owner, the job's code is
# uploaded, and the job runs on the server's machine.
printf '\n\033[1m$ export OPENAML_TOKEN=$(openaml server token create -w demo --role owner -n demo)\033[0m\n'
OPENAML_TOKEN=$(openaml server token create -w demo --role owner -n demo)
export OPENAML_TOKEN
PORT=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVER="http://127.0.0.1:$PORT"
SERVER_LOG="${TMPDIR:-/tmp}/openaml-demo-server.log"
printf '\n\033[1m$ openaml server start --port %s &\033[0m   (log: %s)\n' "$PORT" "$SERVER_LOG"
openaml server start --port "$PORT" --log-level warning >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true' EXIT
python - "$SERVER" <<'PY'
import sys, time, urllib.request
deadline = time.monotonic() + 60
while True:
    try:
        urllib.request.urlopen(sys.argv[1] + "/health", timeout=2).read()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"the server at {sys.argv[1]} did not answer within 60 s")
        time.sleep(0.2)
PY
run openaml model list -w demo --server "$SERVER" -o table
run openaml job create -f jobs/train-job.yml -n "${JOB}_remote" -w demo --server "$SERVER" --stream -o table
run openaml job show -n "${JOB}_remote" -w demo --server "$SERVER" -o table
# The job logged to its own MLflow endpoint; outside any job, a stock MLflow client reads its run
# at the workspace's mlflow_tracking_uri on the server, with the same token.
MLFLOW_TRACKING_URI=$(openaml workspace show -n demo --server "$SERVER" -o json |
    python -c 'import json, sys; print(json.load(sys.stdin)["mlflow_tracking_uri"])')
export MLFLOW_TRACKING_URI MLFLOW_TRACKING_TOKEN="$OPENAML_TOKEN"
printf '\n\033[1m$ MLFLOW_TRACKING_URI=%s MLFLOW_TRACKING_TOKEN=$OPENAML_TOKEN python -c "mlflow.get_run(...)"\033[0m\n' \
    "$MLFLOW_TRACKING_URI"
python - "${JOB}_remote" <<'PY'
import sys

import mlflow

run = mlflow.get_run(sys.argv[1])  # a job's run id is its name
print(f"run {run.info.run_id}: {run.info.status}, metrics {run.data.metrics}")
PY
printf '\nServer: %s (OpenAPI at %s/openapi.json); stopped when the demo ends.\n' "$SERVER" "$SERVER"
