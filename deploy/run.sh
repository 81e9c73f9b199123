#!/usr/bin/env bash
# Runs CsMetrics: Azurite (project-local, installed from npm on first use), one node (silo + HTTP API
# + dashboard) on http://127.0.0.1:5000, and, unless --no-demo, the simulator; prints the
# dashboard's address. Ctrl+C stops everything.
#
# The demo (default): a node whose clock runs 43,200 times faster (a simulated day every 2 s), with
# throwaway state in .data/demo (wiped at each start) and a model that accepts the simulated month's
# history; the simulator plays 300 accounts live for a simulated year, 20 % sliding toward churn in
# the first month and 10 % expanding
# (ground truth in .data/demo/truth.csv, its log in .data/demo/simulator.log). Within a minute the
# dashboard shows accounts moving between bands and alerts arriving.
#
# --no-demo: a plain node at real time with its state kept in .data/azurite.
#
# Usage: deploy/run.sh [--no-demo] [extra server arguments, e.g. --CsMetrics:Access:Keys:0:Name=...]
# Environment: CSMETRICS_PORT (5000), CSMETRICS_AZURITE_PORT (10002, tables), CSMETRICS_AZURITE_BLOB_PORT (10000, blobs), CSMETRICS_DEMO_ACCOUNTS (300).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh

demo=1
if [[ "${1:-}" == "--no-demo" ]]; then
  demo=0
  shift
fi
port=${CSMETRICS_PORT:-5000}
url="http://127.0.0.1:$port"
root=$(pwd)

require_dotnet
if [[ $demo == 1 ]]; then
  data=.data/demo
  rm -rf "$data"
  mkdir -p "$data"
else
  data=.data
fi

step "azurite"
connection=$(bash deploy/azurite.sh start "$data/azurite" "${CSMETRICS_AZURITE_PORT:-10002}" "${CSMETRICS_AZURITE_BLOB_PORT:-10000}")
server_pid=
simulator_pid=
# Stops in order: the simulator, then the node (gracefully, so it can checkpoint while storage is
# still there; killed after 90 s, past its own drain and shutdown limits), then Azurite (which runs in a session of its own, so Ctrl+C does
# not stop it under the node's feet).
cleanup() {
  set +e
  [[ -n "$simulator_pid" ]] && kill "$simulator_pid" 2>/dev/null
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null
    for _ in $(seq 1 180); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$server_pid" 2>/dev/null
  fi
  bash "$root/deploy/azurite.sh" stop "$root/$data/azurite"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "build"
dotnet build src/CsMetrics.Server -c Release --verbosity quiet -clp:ErrorsOnly
args=(--urls "$url" --CsMetrics:Storage:Provider=AzureTable "--CsMetrics:Storage:AzureTable:ConnectionString=$connection")
if [[ $demo == 1 ]]; then
  dotnet build src/CsMetrics.Cli -c Release --verbosity quiet -clp:ErrorsOnly
  # The shipped model, with a grace window long enough for the simulated accounts' whole history
  # (they signed up 60 to 300 days before the month starts) and a re-evaluation every 0.05 minutes
  # of real time (timers keep real time: 3 s, a day and a half of the demo's clock), so silence shows.
  node -e 'const fs=require("fs"); const m=JSON.parse(fs.readFileSync(process.argv[1])); m.version+="-demo"; m.ingest.graceHours=24*400; m.evaluation.reevaluateMinutes=0.05; fs.writeFileSync(process.argv[2], JSON.stringify(m, null, 2))' \
    src/CsMetrics.Scoring/Defaults/scoring-model.json "$data/model.json"
  args+=(--CsMetrics:Clock:SpeedUp=43200 "--CsMetrics:Model:Path=$root/$data/model.json" --CsMetrics:Node:ServiceId=csmetricsdemo)
fi

# The collector's smallest gen0 budget (768 MB; a DOTNET_ variable because the runtime reads this
# setting from the environment only). Every event writes into an old account, so each ephemeral
# collection scans most of the account state; fewer, larger ones cost much less in all. Measured
# with the benchmark (which sets the same, --gen0-size): storage-off ingest +16 %, event to score
# visible p99 41-47 ms instead of 199-236 ms, for up to 768 MB more memory per node. Set
# DOTNET_GCgen0size yourself to change it, or to 0 for the runtime's own budget.
export DOTNET_GCgen0size="${DOTNET_GCgen0size:-0x30000000}"
step "start CsMetrics on $url (Ctrl+C stops it)"
(cd src/CsMetrics.Server/bin/Release/net10.0 && exec dotnet CsMetrics.Server.dll "${args[@]}" "$@") &
server_pid=$!
for _ in $(seq 1 240); do
  curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "CsMetrics stopped before it was ready (see above)" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "$url/readyz" >/dev/null || { echo "CsMetrics did not become ready within 2 minutes: $(curl -sS "$url/readyz")" >&2; exit 1; }

if [[ $demo == 1 ]]; then
  step "simulator: ${CSMETRICS_DEMO_ACCOUNTS:-300} accounts, a simulated day every 2 s for a year (log: $data/simulator.log)"
  dotnet src/CsMetrics.Cli/bin/Release/net10.0/CsMetrics.Cli.dll simulate --live --url "$url" \
    --accounts "${CSMETRICS_DEMO_ACCOUNTS:-300}" --days 365 --truth "$data/truth.csv" >"$data/simulator.log" 2>&1 &
  simulator_pid=$!
fi

printf '\n    Dashboard: %s/\n    API:       %s/v1/portfolio\n\n' "$url" "$url"
wait "$server_pid"
