#!/usr/bin/env bash
# Starts Azurite (project-local, data in .data/azurite, port 10002) and one CsMetrics node
# (silo + HTTP API) on http://127.0.0.1:5000 with state in Azure Table Storage. Ctrl+C stops both.
# Usage: deploy/run.sh [extra server arguments, e.g. --urls http://127.0.0.1:5100]
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh

require_dotnet
step "azurite"
connection=$(bash deploy/azurite.sh start .data/azurite "${CSMETRICS_AZURITE_PORT:-10002}")
root=$(pwd)
server_pid=
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  bash "$root/deploy/azurite.sh" stop "$root/.data/azurite"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
step "build"
dotnet build src/CsMetrics.Server -c Release --verbosity quiet -clp:ErrorsOnly
step "start CsMetrics on http://127.0.0.1:5000 (Ctrl+C stops it)"
cd src/CsMetrics.Server/bin/Release/net10.0
dotnet CsMetrics.Server.dll --urls http://127.0.0.1:5000 \
  --CsMetrics:Storage:Provider=AzureTable "--CsMetrics:Storage:AzureTable:ConnectionString=$connection" "$@" &
server_pid=$!
wait "$server_pid"
