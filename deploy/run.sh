#!/usr/bin/env bash
# Starts one CsMetrics node (silo + HTTP API) on http://127.0.0.1:5000.
# Usage: deploy/run.sh [extra server arguments, e.g. --urls http://127.0.0.1:5100]
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh

require_dotnet
step "build"
dotnet build src/CsMetrics.Server -c Release --verbosity quiet -clp:ErrorsOnly
step "start CsMetrics on http://127.0.0.1:5000 (Ctrl+C stops it)"
exec dotnet run --project src/CsMetrics.Server -c Release --no-build -- --urls http://127.0.0.1:5000 "$@"
