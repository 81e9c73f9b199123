#!/usr/bin/env bash
# Azurite (Azure Storage emulator, table service) for development and tests, project-local.
#
#   deploy/azurite.sh install                 npm ci into deploy/azurite/node_modules (once)
#   deploy/azurite.sh start DIR [PORT]        start on 127.0.0.1:PORT (a free port if omitted) with data in DIR,
#                                             wait until it answers, print its connection string
#                                             (CSMETRICS_AZURITE_IN_MEMORY=1: data in memory only)
#   deploy/azurite.sh stop DIR                stop the Azurite started with DIR (by its pid file)
#   deploy/azurite.sh connection-string DIR   print the connection string of a running one
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/azurite/node_modules/.bin/azurite-table"

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

connection_string() {
  local port=$1
  # The well-known development account of Azurite; not a secret.
  echo "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;"
}

install() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "Azurite needs Node.js and npm on PATH" >&2
    exit 1
  fi
  if [[ ! -x "$bin" ]]; then
    echo "installing Azurite 3.37.0 into deploy/azurite/node_modules ..." >&2
    (cd "$here/azurite" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
}

start() {
  local dir=$1 port=${2:-}
  install
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [[ -f "$dir/azurite.pid" ]] && kill -0 "$(cat "$dir/azurite.pid")" 2>/dev/null; then
    connection_string "$(cat "$dir/azurite.port")"
    return
  fi
  port=${port:-$(free_port)}
  local extra=(--location "$dir")
  # CSMETRICS_AZURITE_IN_MEMORY=1: keep the data in memory only (lost when Azurite stops). Azurite
  # otherwise rewrites its whole database as one JSON file every 5 s, which on a table of 100,000
  # accounts takes most of a core; the benchmark reports runs both ways.
  if [[ "${CSMETRICS_AZURITE_IN_MEMORY:-}" == 1 ]]; then
    extra=(--inMemoryPersistence)
  fi
  # A session of its own: a Ctrl+C meant for the node in front does not stop storage under it.
  # No telemetry: it sends usage data out, and on stop it waits ~20 s to flush it.
  setsid nohup "$bin" --silent --disableTelemetry --tableHost 127.0.0.1 --tablePort "$port" --skipApiVersionCheck --loose "${extra[@]}" \
    >"$dir/azurite.log" 2>&1 &
  echo $! >"$dir/azurite.pid"
  echo "$port" >"$dir/azurite.port"
  for _ in $(seq 1 150); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${port}/devstoreaccount1/Tables" || true)" != "000" ]]; then
      echo "Azurite is up on 127.0.0.1:${port} (data in $dir, pid $(cat "$dir/azurite.pid"))" >&2
      connection_string "$port"
      return
    fi
    if ! kill -0 "$(cat "$dir/azurite.pid")" 2>/dev/null; then
      echo "Azurite exited at start; its log:" >&2
      cat "$dir/azurite.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "Azurite did not answer on 127.0.0.1:${port} within 30 s; see $dir/azurite.log" >&2
  exit 1
}

stop() {
  local dir=$1
  if [[ -f "$dir/azurite.pid" ]]; then
    local pid
    pid=$(cat "$dir/azurite.pid")
    # SIGINT, not SIGTERM: only on SIGINT does Azurite save its database before it exits; on
    # SIGTERM it dies at once and loses what it took since its last save (every 5 s).
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/azurite.pid"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?data directory}" "${3:-}" ;;
  stop) stop "${2:?data directory}" ;;
  connection-string) connection_string "$(cat "${2:?data directory}/azurite.port")" ;;
  *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
