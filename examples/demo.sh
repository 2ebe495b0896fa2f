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
run openaml model download -n credit-default-model -w demo -p "${TMPDIR:-/tmp}/openaml-demo-download"
printf '\nWorkspace folder: %s/workspaces/demo\n' "${OPENAML_HOME:-$HOME/.openaml}"
