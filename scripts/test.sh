#!/usr/bin/env bash
# Runs every test: installs missing packages, starts a throwaway PostgreSQL
# on a free loopback port, runs `bazel test //...` against it, stops what it
# started. Extra arguments go to bazel test (e.g. --config=asan, a target).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

install_packages

pg_dir=$(mktemp -d /tmp/chatgenius-test-pg-XXXXXX)
cleanup() {
  stop_postgres "$pg_dir/durable"
  stop_postgres "$pg_dir"
  rm -rf "$pg_dir"
}
trap cleanup EXIT
start_private_postgres "$pg_dir"
# The SSH tunnel tests start their own sshd (generated keys, a free loopback
# port) so they can kill and stop it; it needs root and this directory.
mkdir -p /run/sshd 2>/dev/null || true

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(//...)

status=0
bazel test \
  --test_env=TEST_POSTGRES_HOST=127.0.0.1 \
  --test_env=TEST_POSTGRES_PORT="$pg_port" \
  --test_env=TEST_POSTGRES_USER=postgres \
  --test_env=PG_BIN="$PG_BIN" \
  "${targets[@]}" 2>&1 | tee "$pg_dir/bazel-test.log" || status=$?

summary=$(grep -E '^Executed [0-9]+ out of [0-9]+ tests?:' "$pg_dir/bazel-test.log" | tail -1 || true)
passed=$(grep -cE '^//.* (\(cached\) )?PASSED in' "$pg_dir/bazel-test.log" || true)
failed=$(grep -cE '^//.* (FAILED|TIMEOUT|NO STATUS|FLAKY)' "$pg_dir/bazel-test.log" || true)

# Conformance: the real server binary against clients nobody here wrote
# (Node's @grpc/grpc-js, @grpc/proto-loader, grpc-health-check; versions
# pinned by tests/conformance/package-lock.json). Skipped when only some
# targets were asked for.
conf_passed=0
conf_failed=0
if [ $# -eq 0 ]; then
  bazel build //server:chatgenius-db-server //client:cli >/dev/null 2>&1
  npm ci --prefix tests/conformance --no-audit --no-fund --loglevel=error >/dev/null
  psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -qc "CREATE DATABASE conformance"
  conf_port=$(free_port)
  LISTEN_ADDRESS=127.0.0.1:$conf_port POSTGRES_HOST=127.0.0.1 POSTGRES_PORT=$pg_port \
    POSTGRES_DB=conformance POSTGRES_SSLMODE=disable \
    bazel-bin/server/chatgenius-db-server >"$pg_dir/conformance-server.log" 2>&1 &
  conf_pid=$!
  for _ in $(seq 1 100); do
    bazel-bin/client/cli --target=127.0.0.1:$conf_port --timeout_ms=500 health >/dev/null 2>&1 && break
    sleep 0.1
  done
  CONFORMANCE_TARGET=127.0.0.1:$conf_port node --test tests/conformance/conformance.test.mjs \
    2>&1 | tee "$pg_dir/conformance.log" || status=1
  kill -TERM "$conf_pid" 2>/dev/null || true
  wait "$conf_pid" 2>/dev/null || true
  conf_passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$pg_dir/conformance.log" | tail -1)
  conf_failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$pg_dir/conformance.log" | tail -1)
  [ "${conf_failed:-1}" = "0" ] || status=1
fi

# Deployment files: the compose topology and Kubernetes manifests keep the
# properties the README promises (Debian's python3 with python3-yaml).
man_passed=0
man_failed=0
if [ $# -eq 0 ]; then
  /usr/bin/python3 tests/deploy/manifests_test.py >"$pg_dir/manifests.log" 2>&1 || status=1
  cat "$pg_dir/manifests.log"
  man_total=$(sed -n 's/^Ran \([0-9]*\) tests\? .*/\1/p' "$pg_dir/manifests.log")
  man_failed=$(grep -cE '^(FAIL|ERROR):' "$pg_dir/manifests.log" || true)
  man_passed=$((${man_total:-0} - man_failed))
  [ -n "$man_total" ] || { man_failed=1; status=1; }
fi

# The operator's kit: the Prometheus rules load, and their unit tests (every
# alert firing and silent where it should, the SLO ratios by value) pass.
# Whether the dashboard and rules name only exported metrics is checked
# against a real server by //tests/deploy:operator_kit_test above.
rules_passed=0
rules_failed=0
if [ $# -eq 0 ]; then
  for check in "check rules deploy/prometheus/chatgenius-db.rules.yml" \
    "test rules deploy/prometheus/tests/chatgenius-db.test.yml"; do
    # shellcheck disable=SC2086  # the words of $check are promtool's arguments
    if promtool $check; then
      rules_passed=$((rules_passed + 1))
    else
      rules_failed=$((rules_failed + 1))
      status=1
    fi
  done
fi

# The private cluster scripts/run.sh starts (start_postgres ... durable):
# durable and reachable by its owner only.
script_passed=0
script_failed=0
script_check() {  # script_check NAME COMMAND...
  if "${@:2}"; then
    script_passed=$((script_passed + 1))
  else
    script_failed=$((script_failed + 1))
    status=1
    log "FAILED: $1"
  fi
}
if [ $# -eq 0 ]; then
  durable_dir="$pg_dir/durable"
  durable_port=$(free_port)
  if start_postgres "$durable_dir" "$durable_port" durable; then
    q() { psql -h "$durable_dir/socket" -p "$durable_port" -U postgres -d postgres -tAc "$1"; }
    script_check "run.sh's cluster: fsync on" test "$(q 'SHOW fsync')" = on
    script_check "run.sh's cluster: synchronous_commit on" test "$(q 'SHOW synchronous_commit')" = on
    script_check "run.sh's cluster: no TCP listener" test -z "$(q 'SHOW listen_addresses')"
    script_check "run.sh's cluster: socket directory 0700" \
      test "$(stat -c %a "$durable_dir/socket")" = 700
    script_check "run.sh's cluster: nothing on its port" \
      bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$durable_port) 2>/dev/null"
    stop_postgres "$durable_dir"
  else
    script_check "run.sh's cluster starts" false
  fi
  echo "scripts: $script_passed passed, $script_failed failed"
fi

# One closing line in the plain "N passed, N failed" form CI reads: Bazel
# test targets plus conformance cases plus manifest, rule and script checks.
echo "${summary:-no summary from bazel}"
echo "conformance: ${conf_passed:-0} passed, ${conf_failed:-0} failed"
echo "manifests: $man_passed passed, $man_failed failed"
echo "prometheus rules: $rules_passed passed, $rules_failed failed"
echo "tests: $((passed + ${conf_passed:-0} + man_passed + rules_passed + script_passed)) passed, $((failed + ${conf_failed:-0} + man_failed + rules_failed + script_failed)) failed"
exit "$status"
