#!/usr/bin/env bash
# Builds berth (scripts/setup.sh) and runs every test: unit tests and the
# integration tests (label "integration"; they start real daemons as root).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
ctest --test-dir build --output-on-failure -j2 "$@"
