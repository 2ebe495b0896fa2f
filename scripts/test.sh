#!/usr/bin/env bash
# Run the whole test suite: installs what it needs into .venv, runs ruff, checks the
# architecture's import layers, then runs pytest. PostgreSQL tests use OPENAML_TEST_PG_URL (default: the server on
# 127.0.0.1:5432); when none is reachable they are skipped with the reason printed. The datastore tests run
# against Azurite (installed here from npm into .tools/) and moto's S3 server (from the dev extra), which
# the tests start on loopback ports; when one cannot be installed or started its tests are skipped with
# the reason printed. Read-only FUSE mounts need Debian's fuse3, installed here when root can.
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
# Azurite, the Azure Storage emulator, from npm into .tools/ (git-ignored); once, then kept.
AZURITE_VERSION="3.37.0"
if [ ! -x "$ROOT/.tools/node_modules/.bin/azurite-blob" ] \
   || ! grep -q "\"version\": \"$AZURITE_VERSION\"" "$ROOT/.tools/node_modules/azurite/package.json" 2>/dev/null; then
  if command -v npm >/dev/null 2>&1; then
    echo "Installing Azurite $AZURITE_VERSION into .tools/ ..." >&2
    npm install --silent --no-audit --no-fund --no-save --prefix "$ROOT/.tools" "azurite@$AZURITE_VERSION" >&2 \
      || echo "Azurite could not be installed; the Azure datastore tests will be skipped." >&2
  else
    echo "npm not found: Azurite cannot be installed; the Azure datastore tests will be skipped." >&2
  fi
fi
# FUSE (read-only mounts of remote inputs): libfuse and fusermount from Debian's fuse3, when this
# machine can install them (root and apt-get); otherwise the FUSE tests skip with the reason.
if ! command -v fusermount3 >/dev/null 2>&1 && ! command -v fusermount >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing fuse3 (libfuse, fusermount) with apt-get ..." >&2
    { apt-get install -y -qq fuse3 >&2 || { apt-get update -qq >&2 && apt-get install -y -qq fuse3 >&2; }; } \
      || echo "fuse3 could not be installed; the FUSE mount tests will be skipped." >&2
  else
    echo "fusermount not found and fuse3 cannot be installed here; the FUSE mount tests will be skipped." >&2
  fi
fi
echo "== ruff"
"$VENV/bin/ruff" check src tests benchmarks
echo "== import layers (lint-imports)"
"$VENV/bin/lint-imports"
echo "== pytest"
exec "$VENV/bin/python" -m pytest -n 2 "$@"
