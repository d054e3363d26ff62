#!/usr/bin/env bash
# Benchmarks, measured side by side in one run on this machine. Starts what
# it needs (a private PostgreSQL and the server binary), prints one table per
# benchmark, stops what it started. See docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

install_packages
bazel build -c opt //server:chatgenius-db-server //bench:event_bench //client:cli >/dev/null

work=$(mktemp -d /tmp/chatgenius-bench-XXXXXX)
chmod 755 "$work"  # user postgres owns the cluster inside
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  stop_postgres "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT
pg_port=$(free_port)
start_postgres "$work/pg" "$pg_port"
psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -qc "CREATE DATABASE bench"

port=$(free_port)
LISTEN_ADDRESS=127.0.0.1:$port POSTGRES_HOST=127.0.0.1 POSTGRES_PORT=$pg_port POSTGRES_DB=bench \
  POSTGRES_SSLMODE=disable SHUTDOWN_DRAIN_MS=0 EVENT_STREAM_QUEUE=100000 \
  bazel-bin/server/chatgenius-db-server >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  bazel-bin/client/cli --target=127.0.0.1:$port --timeout_ms=500 health >/dev/null 2>&1 && break
  sleep 0.1
done

echo "== post -> event delivery (loopback; goal: p99 < 10 ms at 100 subscribers, RSS < 100 MiB at 1,000 streams)"
bazel-bin/bench/event_bench --target=127.0.0.1:$port --server_pid=$server_pid \
  --subscribers=1,100,1000 --messages=200
