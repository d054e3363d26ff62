#!/usr/bin/env bash
# Fuzzes request validation, page-token decoding and the token-file parser
# (tests/fuzz/request_fuzzer.cc) with libFuzzer under AddressSanitizer and
# UndefinedBehaviorSanitizer for a bounded time, starting from
# tests/fuzz/corpus/. Inputs that crash or break a contract are written to
# .fuzz/ and the script exits non-zero; add them to the corpus once fixed.
#   FUZZ_SECONDS   how long to fuzz (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
install_packages build fuzz

seconds=${FUZZ_SECONDS:-60}
out=.fuzz
mkdir -p "$out/corpus" "$out/artifacts"
cp -n tests/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
# The same abseil libraries the Bazel build links (one list, in system.BUILD).
mapfile -t absl_libs < <(sed -n '/^ABSL_LIBS = \[/,/^\]/p' third_party/system/system.BUILD |
  grep -o '"-l[^"]*"' | tr -d '"')
log "building the fuzzer with clang-15"
clang++-15 -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I. tests/fuzz/request_fuzzer.cc server/common/validation.cc server/common/page_token.cc \
  server/common/ulid.cc server/auth/bearer_tokens.cc \
  "${absl_libs[@]}" -lssl -lcrypto -o "$out/request_fuzzer"
log "fuzzing for ${seconds}s"
"$out/request_fuzzer" -max_total_time="$seconds" -max_len=4096 -timeout=5 \
  -artifact_prefix="$out/artifacts/" -print_final_stats=1 "$out/corpus" 2>&1 | tee "$out/fuzz.log" |
  grep -E '^#[0-9]+.*(DONE|pulse|NEW)|^stat::number_of_executed_units|ERROR|contract' | tail -5
status=${PIPESTATUS[0]}
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz.log")
echo "fuzz: ${runs:-0} inputs in ${seconds}s, exit $status (artifacts in $out/artifacts)"
exit "$status"
