#!/usr/bin/env bash
# Runs the test suite under ThreadSanitizer. Debian's abseil is not built
# with -fsanitize=thread, and absl::Mutex lives in it: uninstrumented, TSan
# cannot see its lock/unlock and reports everything it guards as racy. So
# this script builds abseil 20220623 from Debian's own source package (the
# same patches, inline namespace and sonames: a drop-in) with
# -fsanitize=thread once, into .tsan/ (about 2 minutes on 2 cores), and runs
# `scripts/test.sh --config=tsan` with those libraries first on the library
# path and tests/tsan.supp for the libraries that stay uninstrumented.
# Extra arguments replace the default target //tests/...
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
install_packages build run tsan

cache=$PWD/.tsan
lib=$cache/abseil/lib
if [ ! -f "$lib/libabsl_synchronization.so.20220623" ]; then
  src=$cache/abseil-src
  rm -rf "$src"
  mkdir -p "$src/lists/partial"
  echo "deb-src http://deb.debian.org/debian bookworm main" >"$src/sources.list"
  apt_src=(-o Dir::Etc::SourceList="$src/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State::Lists="$src/lists")
  log "fetching Debian's abseil source"
  apt-get "${apt_src[@]}" update -qq
  (cd "$src" && apt-get "${apt_src[@]}" source --download-only abseil >/dev/null 2>&1 &&
    dpkg-source -x abseil_*.dsc tree >/dev/null)
  log "building abseil with -fsanitize=thread"
  cmake -S "$src/tree" -B "$src/build" -DCMAKE_CXX_STANDARD=17 -DBUILD_SHARED_LIBS=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS=-fsanitize=thread \
    -DCMAKE_C_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread >/dev/null
  cmake --build "$src/build" -j"$(nproc)" >"$src/build.log" 2>&1 ||
    { tail -20 "$src/build.log"; exit 1; }
  mkdir -p "$lib"
  find "$src/build" -name 'libabsl_*.so*' -exec cp -P {} "$lib/" \;
  rm -rf "$src"
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(//tests/...)
exec bash scripts/test.sh --config=tsan --test_env=LD_LIBRARY_PATH="$lib" \
  --test_env=TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp" "${targets[@]}"
