#!/usr/bin/env bash
# Installs every dependency, builds, and runs the whole test suite (ctest: unit and
# integration labels). Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
ctest --test-dir build -j"${SCAIGRID_JOBS:-2}" --output-on-failure --timeout 600
