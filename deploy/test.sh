#!/usr/bin/env bash
# Runs the whole CsMetrics test suite: restore, build, test. Ends with "N passed, N failed".
# Usage: deploy/test.sh [extra dotnet test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh

require_dotnet
mkdir -p artifacts

# One Azurite for the whole run, on a free port with a throwaway data directory.
step "azurite"
azurite_dir=$(mktemp -d -t csmetrics-azurite-XXXXXX)
trap 'bash deploy/azurite.sh stop "$azurite_dir"; rm -rf "$azurite_dir"' EXIT
CSMETRICS_AZURITE_CONNECTION=$(bash deploy/azurite.sh start "$azurite_dir")
export CSMETRICS_AZURITE_CONNECTION

# The official Segment and RudderStack SDKs the Segment-compatibility tests drive (project-local).
step "sdk"
(cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error)

# A real headless Chromium for the dashboard tests.
step "chromium"
require_chromium

step "restore"
dotnet restore CsMetrics.sln --verbosity quiet
step "build"
dotnet build CsMetrics.sln -c Release --no-restore --verbosity quiet -clp:ErrorsOnly
step "test"
set +e
dotnet test --solution CsMetrics.sln -c Release --no-build "$@" 2>&1 | tee artifacts/test.log
status=${PIPESTATUS[0]}
set -e

# The runner's closing summary ("total: N", "failed: N", "succeeded: N", "skipped: N").
summary=$(sed -n '/^Test run summary/,$p' artifacts/test.log)
count() { echo "$summary" | sed -n "s/^ *$1: *\([0-9]*\).*/\1/p" | tail -1; }
passed=$(count succeeded); failed=$(count failed); skipped=$(count skipped)
if [[ -z "$passed" ]]; then
  echo "no test summary found (runner exit code $status)"
  echo "0 passed, 1 failed"
  exit 1
fi
# Each failed test with its message, repeated here because a failing test host prints its whole
# console output after it, and CI keeps only the end of the log.
if [[ "${failed:-0}" != "0" ]]; then
  echo "failed tests:"
  awk '/^failed /{n=14; print; next} n>0 && /^  /{n--; print; next} {n=0}' artifacts/test.log
fi
echo "${passed} passed, ${failed:-0} failed, ${skipped:-0} skipped"
exit "$status"
