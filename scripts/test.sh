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
  stop_postgres "$pg_dir"
  rm -rf "$pg_dir"
}
trap cleanup EXIT
pg_port=$(free_port)
start_postgres "$pg_dir" "$pg_port"
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

# One closing line in the plain "N passed, N failed" form CI reads.
summary=$(grep -E '^Executed [0-9]+ out of [0-9]+ tests?:' "$pg_dir/bazel-test.log" | tail -1 || true)
passed=$(grep -cE '^//.* (\(cached\) )?PASSED in' "$pg_dir/bazel-test.log" || true)
failed=$(grep -cE '^//.* (FAILED|TIMEOUT|NO STATUS|FLAKY)' "$pg_dir/bazel-test.log" || true)
echo "${summary:-no summary from bazel}"
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
