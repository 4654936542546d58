#!/usr/bin/env bash
# Builds the whole tree (tests included, benchmarks not) with clang into
# ./build-clang, where berth_warnings adds -Wthread-safety to -Werror: the
# check that every lock annotation (berth/thread_annotations.h) holds.
# Builds only; the tests run from ./build (scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${BERTH_CLANG_BUILD_DIR:-build-clang}
if ! command -v clang++ >/dev/null; then
  echo "clang_check: clang++ not found (apt-get install clang)" >&2
  exit 1
fi
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja \
  -DBERTH_BUILD_BENCH=OFF -DBERTH_BUILD_TESTS=ON
ninja -C "$build_dir" "$@"
