# Shared by demo.sh and test.sh: make .venv and install openaml (with EXTRAS) if it is not there yet.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
ensure_venv() {
  local extras="$1"
  local stamp="$VENV/.openaml-installed-$extras"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating $VENV ..." >&2
    "$PY" -m venv "$VENV"
  fi
  # Reinstall only when pyproject.toml changed since the last install.
  local want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing openaml[$extras] into $VENV ..." >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[$extras]" >&2
    echo "$want" > "$stamp"
  fi
  # An editable install leaves openaml's own modules uncompiled, and every job's agent is a new
  # interpreter: compile once (only changed files are redone) so agents start faster.
  "$VENV/bin/python" -m compileall -q "$ROOT/src/openaml" >/dev/null
}

# A venv of its own for a program the tests compare openaml against (a stock `mlflow server`, an
# old MLflow client): never imported by openaml, so it cannot pull openaml's dependencies apart.
# Reinstalled only when the requirement changes; a failed install is reported and the tests that
# need it skip with the reason.
ensure_tool_venv() {
  local dir="$ROOT/$1"; shift
  local want
  want="$(echo "$*" | sha256sum | cut -c1-16)"
  if [ -f "$dir/.openaml-installed" ] && [ "$(cat "$dir/.openaml-installed")" = "$want" ]; then
    return 0
  fi
  echo "Installing $* into $dir ..." >&2
  if "$PY" -m venv "$dir" && "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2; then
    echo "$want" > "$dir/.openaml-installed"
  else
    echo "Could not install $*; the tests that compare against it will be skipped." >&2
  fi
}
