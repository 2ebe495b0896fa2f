#!/usr/bin/env bash
# Run the whole test suite: installs what it needs into .venv, runs ruff, checks the
# architecture's import layers, then runs pytest. PostgreSQL tests use OPENAML_TEST_PG_URL (default: the server on
# 127.0.0.1:5432); when none is reachable they are skipped with the reason printed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
ensure_venv dev
# MLflow conformance (tests/conformance): the reference server and the oldest supported client.
ensure_tool_venv .venv-mlflow "mlflow==3.17.2"
ensure_tool_venv .venv-mlflow-client-2 "mlflow-skinny==2.10.2"
cd "$ROOT"
export PG_ADMIN_URL="${OPENAML_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}"
if ! "$VENV/bin/python" - <<'PY'
import os, sys
import sqlalchemy as sa
url = os.environ["PG_ADMIN_URL"]
try:
    sa.create_engine(url).connect().close()
except Exception as exc:  # noqa: BLE001 - only reporting
    print(f"PostgreSQL not reachable at {url.split('@')[-1]}: {type(exc).__name__}; "
          "PostgreSQL tests will be skipped.", file=sys.stderr)
    sys.exit(1)
PY
then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "Trying to start the local PostgreSQL cluster ..." >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >&2 || true
  fi
fi
echo "== ruff"
"$VENV/bin/ruff" check src tests benchmarks
echo "== import layers (lint-imports)"
"$VENV/bin/lint-imports"
echo "== pytest"
exec "$VENV/bin/python" -m pytest -n 2 "$@"
