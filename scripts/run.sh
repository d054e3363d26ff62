#!/usr/bin/env bash
# Builds and runs the database service. Installs missing packages; unless
# POSTGRES_HOST (or SSH_HOST) points at a database elsewhere, starts a
# private, durable PostgreSQL under .data/ (CHATGENIUS_DATA_DIR: fsync on,
# no TCP listener, its socket in a 0700 directory) and creates the
# database; the server applies migrations and serves gRPC. Ctrl-C stops
# the server and the PostgreSQL this script started. Arguments go to the
# server (e.g. --listen_address=127.0.0.1:6000).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

install_packages
bazel build //server:chatgenius-db-server
server=bazel-bin/server/chatgenius-db-server

started_pg=""
if [ -z "${POSTGRES_HOST:-}" ] && [ -z "${SSH_HOST:-}" ]; then
  data_dir=${CHATGENIUS_DATA_DIR:-$PWD/.data}
  export POSTGRES_HOST=$data_dir/postgres/socket
  export POSTGRES_PORT=${POSTGRES_PORT:-54329}
  export POSTGRES_USER=${POSTGRES_USER:-postgres}
  export POSTGRES_DB=${POSTGRES_DB:-chatgenius}
  export POSTGRES_SSLMODE=${POSTGRES_SSLMODE:-disable}
  start_postgres "$data_dir/postgres" "$POSTGRES_PORT" durable
  started_pg="$data_dir/postgres"
  if ! psql -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$POSTGRES_DB'" | grep -q 1; then
    psql -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" -U postgres -d postgres -qc \
      "CREATE DATABASE \"$POSTGRES_DB\""
    log "created database $POSTGRES_DB"
  fi
fi

cleanup() {
  if [ -n "$started_pg" ]; then
    stop_postgres "$started_pg"
    log "stopped the private PostgreSQL"
  fi
}
trap cleanup EXIT
# Ctrl-C reaches the server too (same process group); it shuts down
# gracefully and the trap then stops PostgreSQL.
trap 'true' INT TERM
"$server" "$@" || true
