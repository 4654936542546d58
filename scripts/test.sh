#!/usr/bin/env bash
# Builds berth (scripts/setup.sh) and runs every test: unit tests and the
# integration tests (label "integration"; they start real daemons as root),
# then the clang build with -Wthread-safety -Werror (scripts/clang_check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
ctest --test-dir build --output-on-failure -j2 "$@"
./scripts/clang_check.sh
