#!/usr/bin/env bash
# Benchmarks, measured side by side in one run on this machine. Starts what
# it needs — a private PostgreSQL, PgBouncer, a private sshd, the server —
# loads the dataset (bench/dataset.sql: 1,000 users, 200 channels, 1,000,000
# messages), prints one table per figure with its comparison, and stops what
# it started. See docs/BENCHMARKS.md for a recorded run.
#   BENCH_SECONDS   seconds per throughput point (default 3)
#   PGBENCH_SECONDS seconds per pgbench run (default 10)
#   BENCH_ONLY      "writes": only cold start and the write figures (with the
#                   import); "import": cold start and the import only
#   --plot          also draw docs/bench/*.svg (gnuplot): throughput against
#                   concurrency per read RPC next to direct, PgBouncer and the
#                   gRPC floor, and the event-delivery latency distribution
set -euo pipefail
cd "$(dirname "$0")/.."
plot=""
for arg in "$@"; do
  case $arg in
    --plot) plot=1 ;;
    *) echo "usage: bench/run.sh [--plot]" >&2; exit 2 ;;
  esac
done
. scripts/lib.sh

install_packages build run test bench
bazel build -c opt //server:chatgenius-db-server //client:cli //bench:event_bench \
  //bench:load_bench //bench:tunnel_endpoint //bench:write_bench //bench:grpc_floor \
  //tests/server/app:failover_drill_test >/dev/null 2>&1
bin=bazel-bin
seconds=${BENCH_SECONDS:-3}
pgbench_seconds=${PGBENCH_SECONDS:-10}

work=$(mktemp -d /tmp/chatgenius-bench-XXXXXX)
chmod 755 "$work"  # user postgres owns the cluster and PgBouncer inside
pids=()
cleanup() {
  # PgBouncer runs under runuser, which does not pass TERM on: by pid file.
  [ -f "$work/pgbouncer/pgbouncer.pid" ] && kill "$(cat "$work/pgbouncer/pgbouncer.pid")" 2>/dev/null || true
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -f "$work/sshd.pid" ] && kill "$(cat "$work/sshd.pid")" 2>/dev/null
  stop_postgres "$work/r1"
  stop_postgres "$work/r2"
  stop_postgres "$work/pg"
  stop_postgres "$work/pgw"
  rm -rf "$work"
}
trap cleanup EXIT
psql_pg() { psql -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
wait_serving() {  # wait_serving PORT: until the health check says SERVING
  for _ in $(seq 1 1000); do
    "$bin/client/cli" --target=127.0.0.1:$1 --timeout_ms=200 health >/dev/null 2>&1 && return 0
    sleep 0.005
  done
  return 1
}
start_server() {  # start_server PORT DB [VAR=value...]
  local port=$1 db=$2
  shift 2
  env LISTEN_ADDRESS=127.0.0.1:$port POSTGRES_HOST=127.0.0.1 POSTGRES_PORT=$pg_port \
    POSTGRES_DB=$db POSTGRES_SSLMODE=disable SHUTDOWN_DRAIN_MS=0 HEALTH_PROBE_INTERVAL_MS=20 \
    "$@" "$bin/server/chatgenius-db-server" >>"$work/server-$port.log" 2>&1 &
  server_pid=$!
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"), PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}')"
pg_port=$(free_port)
start_postgres "$work/pg" "$pg_port" 2>/dev/null

# -- cold start: exec to SERVING on an empty database (migrations applied)
echo
echo "== cold start to SERVING with migrations applied (empty database each time; goal < 1 s)"
times=()
for i in 1 2 3; do
  psql_pg -d postgres -qc "DROP DATABASE IF EXISTS cold" -qc "CREATE DATABASE cold"
  port=$(free_port)
  t0=$(date +%s%N)
  start_server "$port" cold
  wait_serving "$port" || { echo "server did not become SERVING"; exit 1; }
  times+=($((($(date +%s%N) - t0) / 1000000)))
  kill -TERM "$server_pid"
  wait "$server_pid" 2>/dev/null || true
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "runs: ${times[*]} ms; median ${sorted[1]} ms (includes ~5-15 ms per CLI health poll)"

# -- writes, against a cluster with fsync on (production durability; the
# other figures use a throwaway cluster with fsync off, which would hide
# the WAL flush every commit waits for)
pgw_port=$(free_port)
start_postgres "$work/pgw" "$pgw_port" durable 2>/dev/null
psql -h "$work/pgw/socket" -p "$pgw_port" -U postgres -v ON_ERROR_STOP=1 -d postgres \
  -qc "CREATE DATABASE writes"
wport=$(free_port)
env LISTEN_ADDRESS=127.0.0.1:$wport POSTGRES_HOST="$work/pgw/socket" POSTGRES_PORT=$pgw_port \
  POSTGRES_DB=writes SHUTDOWN_DRAIN_MS=0 HEALTH_PROBE_INTERVAL_MS=1000 \
  MAX_EVENT_STREAMS_PER_CALLER=20000 \
  "$bin/server/chatgenius-db-server" >>"$work/server-writes.log" 2>&1 &
pids+=($!)
wait_serving "$wport" || { tail -20 "$work/server-writes.log"; exit 1; }
# The floor: one gRPC hop to a server built the same way that does no work.
fport=$(free_port)
"$bin/bench/grpc_floor" --listen=127.0.0.1:$fport --api=sync 2>>"$work/floor.log" &
pids+=($!)
if [ "${BENCH_ONLY:-}" != import ]; then
  echo
  "$bin/bench/write_bench" --target=127.0.0.1:$wport --floor_target=127.0.0.1:$fport \
    --seconds="$seconds" --direct="host=$work/pgw/socket port=$pgw_port dbname=writes user=postgres"
fi

# -- import-legacy (a write figure: the same fsync-on cluster): the
# benchmark dataset shaped as the old module's schema, imported by the CLI
# into a database `setup` created
psql_w() { psql -h "$work/pgw/socket" -p "$pgw_port" -U postgres -v ON_ERROR_STOP=1 -q "$@"; }
psql_w -d postgres -c "CREATE DATABASE legacy"
psql_w -d legacy -f tests/support/legacy_schema.sql
psql_w -d legacy -f bench/legacy_dataset.sql >/dev/null
import_env=(POSTGRES_HOST="$work/pgw/socket" POSTGRES_PORT=$pgw_port POSTGRES_USER=postgres
  POSTGRES_DB=imported)
env "${import_env[@]}" "$bin/client/cli" setup >/dev/null
echo
echo "== import-legacy: 1,000,000 messages (+ users, channels, members, reactions, files) from the old schema, fsync on"
t0=$(date +%s%N)
env "${import_env[@]}" "$bin/client/cli" import-legacy \
  --from="host=$work/pgw/socket port=$pgw_port dbname=legacy user=postgres" >"$work/import.txt"
import_ms=$((($(date +%s%N) - t0) / 1000000))
sed -n '/^TABLE/,/^$/p' "$work/import.txt"
rows=$(awk '/^TABLE/{on=1; next} on && NF==8 {s += $2} /^$/{on=0} END{print s}' "$work/import.txt")
messages=$(awk '$1=="messages" && NF==8 {print $2}' "$work/import.txt")
echo "$rows rows read in $((import_ms / 1000)).$(((import_ms % 1000) / 100)) s:" \
  "$(echo "$rows * 1000 / $import_ms" | bc) rows/s, $(echo "$messages * 1000 / $import_ms" | bc) messages/s"
# The limit: about the same rows (bench/dataset.sql) written by one
# INSERT ... SELECT per table, in one transaction, into a database `setup`
# created (the same indexes, generated search column and checks).
env "${import_env[@]/POSTGRES_DB=imported/POSTGRES_DB=direct}" "$bin/client/cli" setup >/dev/null
t0=$(date +%s%N)
psql_w -d direct -f bench/dataset.sql >/dev/null
direct_ms=$((($(date +%s%N) - t0) / 1000000))
direct_rows=$(psql_w -d direct -tAc "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM channels) + (SELECT count(*) FROM channel_members) + (SELECT count(*) FROM messages) + (SELECT count(*) FROM reactions)")
echo "the same data as one INSERT ... SELECT per table: $direct_rows rows in" \
  "$((direct_ms / 1000)).$(((direct_ms % 1000) / 100)) s: $(echo "$direct_rows * 1000 / $direct_ms" | bc) rows/s;" \
  "import/direct $(echo "scale=2; ($rows * 1000 / $import_ms) / ($direct_rows * 1000 / $direct_ms)" | bc)"
# Gone before the next figures: autovacuum's passes over the three fresh
# million-row databases (and their GIN pending lists) would otherwise take
# the 2 cores from everything measured after this.
psql_w -d postgres -c "DROP DATABASE legacy" -c "DROP DATABASE imported" -c "DROP DATABASE direct"
[ "${BENCH_ONLY:-}" = writes ] || [ "${BENCH_ONLY:-}" = import ] && exit 0

# -- the dataset, in a database the server migrated
psql_pg -d postgres -qc "CREATE DATABASE bench"
port=$(free_port)
start_server "$port" bench EVENT_STREAM_QUEUE=100000
pids+=("$server_pid")
main_pid=$server_pid
wait_serving "$port"
t0=$(date +%s)
psql_pg -d bench -q -f bench/dataset.sql >/dev/null
echo
echo "dataset loaded in $(($(date +%s) - t0)) s: $(psql_pg -d bench -tAc "SELECT count(*) FROM messages") messages"

# -- PgBouncer (transaction pooling, 10 server connections like the service)
pgb_port=$(free_port)
pgb=$work/pgbouncer  # PgBouncer refuses root: it runs as the cluster owner
mkdir -p "$pgb"
cat >"$pgb/pgbouncer.ini" <<INI
[databases]
bench = host=127.0.0.1 port=$pg_port dbname=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $pgb_port
unix_socket_dir =
auth_type = trust
auth_file = $pgb/userlist.txt
pool_mode = transaction
default_pool_size = 10
max_client_conn = 500
logfile = $pgb/pgbouncer.log
pidfile = $pgb/pgbouncer.pid
INI
echo '"postgres" ""' >"$pgb/userlist.txt"
[ "$(id -u)" -ne 0 ] || chown -R postgres "$pgb"
as_pg_owner pgbouncer "$pgb/pgbouncer.ini" >/dev/null 2>&1 &
pids+=($!)
pgb_up=""
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$pgb_port") 2>/dev/null && { pgb_up=1; break; }
  sleep 0.05
done
[ -n "$pgb_up" ] || { cat "$pgb/pgbouncer.log"; echo "PgBouncer did not start"; exit 1; }

echo
mkdir -p "$work/plot"
"$bin/bench/load_bench" --target=127.0.0.1:$port --seconds="$seconds" \
  --floor_target=127.0.0.1:$fport --plot_data="$work/plot/throughput.dat" --server_pid="$main_pid" \
  --direct="host=127.0.0.1 port=$pg_port dbname=bench user=postgres sslmode=disable" \
  --pgbouncer="host=127.0.0.1 port=$pgb_port dbname=bench user=postgres sslmode=disable"

echo
echo "== post -> event delivery (loopback; goal: p99 < 10 ms at 100 subscribers, RSS < 100 MiB at 1,000 streams; Hasura polls live queries every 1 s)"
"$bin/bench/event_bench" --target=127.0.0.1:$port --server_pid=$main_pid \
  --subscribers=1,100,1000 --messages=200 --latencies_file="$work/plot/latency.dat"
# At a post every 5 ms, 1,000 streams are 200,000 deliveries a second, more
# than the load generator alone can read on these 2 cores (~10 us each):
# the same at one post every 50 ms, then one event at a time to 5,000 and
# 10,000 open streams (goals: p99 < 25 ms, and < 250 ms with RSS < 250 MiB).
echo
echo "== post -> event, paced: 1,000 subscribers at a post every 50 ms; 5,000 and 10,000 at one every 500 ms"
"$bin/bench/event_bench" --target=127.0.0.1:$port --server_pid=$main_pid \
  --subscribers=1000 --messages=100 --interval_ms=50 | sed '$d'
"$bin/bench/event_bench" --target=127.0.0.1:$port --server_pid=$main_pid \
  --subscribers=5000,10000 --messages=20 --interval_ms=500 | sed 1d

# -- pgbench -S: direct, through OpenSSH's ssh -L, through our tunnel
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
ssh_port=$(free_port)
echo "[127.0.0.1]:$ssh_port $(cut -d' ' -f1,2 "$work/host_key.pub")" >"$work/known_hosts"
cat >"$work/sshd_config" <<CFG
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PidFile $work/sshd.pid
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
StrictModes no
LogLevel ERROR
CFG
/usr/sbin/sshd -f "$work/sshd_config"
psql_pg -d postgres -qc "CREATE DATABASE pgbench"
"$PG_BIN/pgbench" -i -s 10 -q -h 127.0.0.1 -p "$pg_port" -U postgres pgbench >/dev/null 2>&1
fwd_port=$(free_port)
ssh -N -o ExitOnForwardFailure=yes -o BatchMode=yes -o UserKnownHostsFile="$work/known_hosts" \
  -o StrictHostKeyChecking=yes -i "$work/client_key" -p "$ssh_port" \
  -L "127.0.0.1:$fwd_port:127.0.0.1:$pg_port" "$(id -un)@127.0.0.1" &
pids+=($!)
SSH_HOST=127.0.0.1 SSH_PORT=$ssh_port SSH_USER=$(id -un) SSH_KEY_PATH=$work/client_key \
  SSH_KNOWN_HOSTS=$work/known_hosts POSTGRES_REMOTE_HOST=127.0.0.1 POSTGRES_REMOTE_PORT=$pg_port \
  "$bin/bench/tunnel_endpoint" >"$work/tunnel.port" 2>"$work/tunnel.log" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/tunnel.port" ] && break; sleep 0.05; done
tunnel_port=$(cat "$work/tunnel.port")
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$fwd_port") 2>/dev/null && break; sleep 0.05; done
tps() {  # tps PORT CLIENTS SECONDS
  "$PG_BIN/pgbench" -S -n -c "$2" -j 2 -T "$3" -h 127.0.0.1 -p "$1" -U postgres \
    pgbench 2>/dev/null | sed -n 's/^tps = \([0-9.]*\) .*without.*/\1/p'
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
round_seconds=$(((pgbench_seconds + 2) / 3))
echo
echo "== pgbench -S (scale 10): our tunnel vs OpenSSH ssh -L vs direct TCP; median of 3 interleaved ${round_seconds}-s rounds; goal tunnel/ssh-L >= 1.0"
printf "%-8s | %10s %10s %10s | %12s %12s\n" clients direct ssh-L tunnel tunnel/ssh-L tunnel/direct
for c in 1 8; do
  ds=() ss=() ts=()
  for _ in 1 2 3; do
    ds+=("$(tps "$pg_port" $c "$round_seconds")")
    ss+=("$(tps "$fwd_port" $c "$round_seconds")")
    ts+=("$(tps "$tunnel_port" $c "$round_seconds")")
  done
  d=$(median "${ds[@]}")
  s=$(median "${ss[@]}")
  t=$(median "${ts[@]}")
  printf "%-8s | %10.0f %10.0f %10.0f | %12.2f %12.2f\n" "$c" "$d" "$s" "$t" \
    "$(echo "$t / $s" | bc -l)" "$(echo "$t / $d" | bc -l)"
done

# -- read replicas: the same dataset through the same server code with 0,
# 1 and 2 streaming standbys of the bench cluster (pg_basebackup -R), on
# these same 2 cores (so a replica adds a PostgreSQL, not a machine)
replica_hosts=()
for r in 1 2; do
  rp=$(free_port)
  mkdir -p "$work/r$r"
  [ "$(id -u)" -ne 0 ] || chown postgres "$work/r$r"
  as_pg_owner "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$pg_port" -U postgres \
    -D "$work/r$r/data" -R -X stream -c fast ||
    { echo "pg_basebackup of standby $r failed"; exit 1; }
  start_postgres "$work/r$r" "$rp" || { echo "standby $r did not start"; exit 1; }
  replica_hosts+=("127.0.0.1:$rp")
done
r1_port=$(free_port)
start_server "$r1_port" bench POSTGRES_REPLICA_HOSTS="${replica_hosts[0]}"
pids+=("$server_pid")
r2_port=$(free_port)
start_server "$r2_port" bench POSTGRES_REPLICA_HOSTS="${replica_hosts[0]},${replica_hosts[1]}"
pids+=("$server_pid")
for p in $r1_port $r2_port; do
  wait_serving "$p" || { tail -20 "$work/server-$p.log"; exit 1; }
  want=$([ "$p" = "$r1_port" ] && echo 1 || echo 2)
  for _ in $(seq 1 300); do
    n=$("$bin/client/cli" --target=127.0.0.1:$p --json hosts 2>/dev/null | grep -o '"inRotation": *true' | wc -l)
    [ "$n" -ge "$want" ] && break
    sleep 0.1
  done
done
echo
echo "== read replicas: GetMessage / ListMessages(50) through the service, primary only vs 1 and 2 streaming standbys (all on this machine's 2 cores); median of 3 interleaved rounds"
"$bin/bench/load_bench" --seconds="$seconds" --concurrency=16,64 \
  --compare_targets="primary=127.0.0.1:$port,1-replica=127.0.0.1:$r1_port,2-replicas=127.0.0.1:$r2_port"
for p in $r1_port $r2_port; do
  hosts=$("$bin/client/cli" --target=127.0.0.1:$p --json hosts | tr -d ' \n')
  primary_reads=$(echo "$hosts" | sed -n 's/.*"primaryReadsTotal":"\{0,1\}\([0-9]*\).*/\1/p')
  echo "server :$p: ${primary_reads:-0} reads on the primary;" \
    "$(echo "$hosts" | grep -o '"name":"[^"]*"\|"readsTotal":"[0-9]*"' | paste -sd' ')"
done

# -- failover: the drill of tests/server/app/failover_drill_test.cc (a
# pg_auto_failover monitor and two nodes, four writers through the service,
# the primary's node SIGKILLed), three times
echo
echo "== failover on pg_auto_failover (health checks 1 s, primary_demote_timeout 5 s): last acknowledged write before the kill -> first after, 3 drills"
for i in 1 2 3; do
  PG_BIN=$PG_BIN "$bin/tests/server/app/failover_drill_test" 2>&1 | grep -E '^failover:|FAILED|Failure' || true
done

if [ -n "$plot" ]; then
  # The recorded run's data beside its figures: the throughput points, and
  # each subscriber count's latency distribution as 200 quantiles.
  mkdir -p docs/bench
  cp "$work/plot/throughput.dat" docs/bench/throughput.dat
  for n in 1 100 1000; do
    awk -v n="$n" '$1 == n {print $2}' "$work/plot/latency.dat" | sort -g |
      awk -v n="$n" '{v[NR] = $1} END {for (i = 1; i <= 200; i++) {k = int(i * NR / 200); if (k < 1) k = 1; print n, v[k], i / 200}; print ""; print ""}'
  done >docs/bench/latency-quantiles.dat
  gnuplot -e "throughput='docs/bench/throughput.dat'; latency='docs/bench/latency-quantiles.dat'; outdir='docs/bench'" \
    bench/plot.gnuplot
  echo
  echo "figures: $(ls docs/bench/*.svg | tr '\n' ' ')"
fi
