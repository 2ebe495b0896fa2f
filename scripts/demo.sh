#!/usr/bin/env bash
# The demo: installs openaml into .venv, creates a workspace in ./.openaml-demo and registers a
# model, a data asset, an environment and a component from the YAML files in examples/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
ensure_venv dev
cd "$ROOT/examples"
export OPENAML_HOME="${OPENAML_HOME:-$ROOT/.openaml-demo}"
export PATH="$VENV/bin:$PATH"
exec ./demo.sh
