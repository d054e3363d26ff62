#!/usr/bin/env bash
# Runs the test suite under ThreadSanitizer. TSan only sees synchronisation
# in code compiled with -fsanitize=thread, and two of Debian's libraries hold
# synchronisation our code relies on: abseil (absl::Mutex) and gRPC (its
# call hand-offs, inlined from its headers into our binaries but completed
# inside libgrpc). Against Debian's uninstrumented builds TSan reports
# everything they order as racy. So this script builds both from Debian's own
# source packages (the same patches, inline namespace and sonames: drop-ins)
# with -fsanitize=thread, once, into .tsan/ — abseil in about 2 minutes, gRPC
# (libgpr, libupb, libaddress_sorting, libgrpc, libgrpc++) in about 20 on 2
# cores — and runs `scripts/test.sh --config=tsan` with those libraries first
# on the library path and tests/tsan.supp for the libraries that stay
# uninstrumented. Extra arguments replace the default target //tests/...
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
install_packages build run tsan

cache=$PWD/.tsan
lib=$cache/lib
tsan_flags="-O1 -g1 -fsanitize=thread"

# build_source PACKAGE MARKER_LIB TARGET [CMAKE_ARG...]: fetch Debian's source
# package PACKAGE, build TARGET with TSan and copy its shared libraries into
# $lib, unless $lib/MARKER_LIB is there already. No -DNDEBUG: Debian builds
# both packages without it, and a class layout must not differ from theirs.
build_source() {
  local package=$1 marker=$2 target=$3
  shift 3
  [ -f "$lib/$marker" ] && return 0
  local src=$cache/$package-src
  rm -rf "$src"
  mkdir -p "$src/lists/partial"
  echo "deb-src http://deb.debian.org/debian bookworm main" >"$src/sources.list"
  local apt_src=(-o Dir::Etc::SourceList="$src/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State::Lists="$src/lists")
  log "fetching Debian's $package source"
  apt-get "${apt_src[@]}" update -qq
  (cd "$src" && apt-get "${apt_src[@]}" source --download-only "$package" >/dev/null 2>&1 &&
    dpkg-source -x "${package}"_*.dsc tree >/dev/null)
  log "building $package with -fsanitize=thread (log: $src/build.log)"
  cmake -S "$src/tree" -B "$src/build" -DCMAKE_CXX_STANDARD=17 -DBUILD_SHARED_LIBS=ON \
    -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="$tsan_flags" -DCMAKE_C_FLAGS="$tsan_flags" \
    -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread "$@" >"$src/configure.log" 2>&1 ||
    { tail -20 "$src/configure.log"; exit 1; }
  cmake --build "$src/build" --target "$target" -j"$(nproc)" >"$src/build.log" 2>&1 ||
    { tail -20 "$src/build.log"; exit 1; }
  mkdir -p "$lib"
  find "$src/build" -maxdepth 1 -name '*.so*' -exec cp -P {} "$lib/" \;
  find "$src/build" -name 'libabsl_*.so*' -exec cp -P {} "$lib/" \;
  [ -f "$lib/$marker" ] || { log "$package: $marker was not built"; exit 1; }
  rm -rf "$src"
}

build_source abseil libabsl_synchronization.so.20220623 all
# gRPC against the system abseil, protobuf, c-ares, re2, OpenSSL and zlib,
# like Debian's own build; without codegen (libprotoc-dev is not needed).
build_source grpc libgrpc++.so.1.51 grpc++ \
  -DgRPC_BUILD_TESTS=OFF -DgRPC_BUILD_CODEGEN=OFF -DProtobuf_PROTOC_LIBRARY=unused \
  -DgRPC_ABSL_PROVIDER=package -DgRPC_CARES_PROVIDER=package -DgRPC_PROTOBUF_PROVIDER=package \
  -DgRPC_RE2_PROVIDER=package -DgRPC_SSL_PROVIDER=package -DgRPC_ZLIB_PROVIDER=package \
  -DgRPC_BENCHMARK_PROVIDER=none -DgRPC_BACKWARDS_COMPATIBILITY_MODE=OFF

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(//tests/...)
exec bash scripts/test.sh --config=tsan --test_env=LD_LIBRARY_PATH="$lib" \
  --test_env=TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp" "${targets[@]}"
