#!/usr/bin/env bash
# Azurite (Azure Storage emulator: its table and blob services) for development and tests, project-local.
#
#   deploy/azurite.sh install                 npm ci into deploy/azurite/node_modules (once)
#   deploy/azurite.sh start DIR [PORT [BLOBPORT]]
#                                             start the table service on 127.0.0.1:PORT and the blob
#                                             service on BLOBPORT (free ports if omitted) with data in DIR,
#                                             wait until both answer, print the connection string
#                                             (CSMETRICS_AZURITE_IN_MEMORY=1: data in memory only)
#   deploy/azurite.sh stop DIR                stop the Azurite started with DIR (by its pid files)
#   deploy/azurite.sh connection-string DIR   print the connection string of a running one
#
# Two processes, not Azurite's all-in-one: each service runs on one Node.js thread, and the table
# service stops answering while it rewrites its database file (every 5 s); the event log's appends
# go to the blob service and must not wait for that.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/azurite/node_modules/.bin/azurite-table"
blob_bin="$here/azurite/node_modules/.bin/azurite-blob"

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

connection_string() {
  local port=$1 blob_port=$2
  # The well-known development account of Azurite; not a secret.
  echo "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:${blob_port}/devstoreaccount1;TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;"
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

# launch NAME BIN PORTFLAGS...: one service in a session of its own (a Ctrl+C meant for the node
# in front does not stop storage under it), no telemetry (it sends usage data out, and on stop
# waits ~20 s to flush it).
launch() {
  local name=$1 bin=$2
  shift 2
  setsid nohup "$bin" --silent --disableTelemetry --skipApiVersionCheck --loose "$@" >"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}

# wait_for NAME URL PORT: until the service answers, or it exited, or 30 s passed.
wait_for() {
  local name=$1 url=$2 port=$3
  for _ in $(seq 1 150); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)" != "000" ]]; then
      return
    fi
    if ! kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null; then
      echo "Azurite ($name) exited at start; its log:" >&2
      cat "$dir/$name.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "Azurite ($name) did not answer on 127.0.0.1:${port} within 30 s; see $dir/$name.log" >&2
  exit 1
}

start() {
  dir=$1
  local port=${2:-} blob_port=${3:-}
  install
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [[ -f "$dir/azurite.pid" ]] && kill -0 "$(cat "$dir/azurite.pid")" 2>/dev/null \
     && [[ -f "$dir/azurite-blob.pid" ]] && kill -0 "$(cat "$dir/azurite-blob.pid")" 2>/dev/null; then
    connection_string "$(cat "$dir/azurite.port")" "$(cat "$dir/azurite-blob.port")"
    return
  fi
  stop "$dir" # one of the two may have died: start both again
  port=${port:-$(free_port)}
  blob_port=${blob_port:-$(free_port)}
  while [[ "$blob_port" == "$port" ]]; do blob_port=$(free_port); done
  local extra=(--location "$dir")
  # CSMETRICS_AZURITE_IN_MEMORY=1: keep the data in memory only (lost when Azurite stops). Azurite
  # otherwise rewrites its whole database as one JSON file every 5 s, which on a table of 100,000
  # accounts takes most of a core; the benchmark reports runs both ways.
  if [[ "${CSMETRICS_AZURITE_IN_MEMORY:-}" == 1 ]]; then
    extra=(--inMemoryPersistence)
  fi
  launch azurite "$bin" --tableHost 127.0.0.1 --tablePort "$port" "${extra[@]}"
  launch azurite-blob "$blob_bin" --blobHost 127.0.0.1 --blobPort "$blob_port" "${extra[@]}"
  echo "$port" >"$dir/azurite.port"
  echo "$blob_port" >"$dir/azurite-blob.port"
  wait_for azurite "http://127.0.0.1:${port}/devstoreaccount1/Tables" "$port"
  wait_for azurite-blob "http://127.0.0.1:${blob_port}/devstoreaccount1?comp=list" "$blob_port"
  echo "Azurite is up: tables on 127.0.0.1:${port}, blobs on 127.0.0.1:${blob_port} (data in $dir, pids $(cat "$dir/azurite.pid") and $(cat "$dir/azurite-blob.pid"))" >&2
  connection_string "$port" "$blob_port"
}

stop() {
  local dir=$1 name pid
  for name in azurite azurite-blob; do
    if [[ -f "$dir/$name.pid" ]]; then
      pid=$(cat "$dir/$name.pid")
      # SIGINT, not SIGTERM: only on SIGINT does Azurite save its database before it exits; on
      # SIGTERM it dies at once and loses what it took since its last save (every 5 s).
      kill -INT "$pid" 2>/dev/null || true
    fi
  done
  for name in azurite azurite-blob; do
    if [[ -f "$dir/$name.pid" ]]; then
      pid=$(cat "$dir/$name.pid")
      for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?data directory}" "${3:-}" "${4:-}" ;;
  stop) stop "${2:?data directory}" ;;
  connection-string) connection_string "$(cat "${2:?data directory}/azurite.port")" "$(cat "${2:?data directory}/azurite-blob.port")" ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
