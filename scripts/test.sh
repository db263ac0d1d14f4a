#!/usr/bin/env bash
# Installs every dependency, builds, and runs the whole test suite: ctest (unit, store,
# HTTP, integration — the randomized attacker among them — and PostgreSQL), then a short pass
# of every fuzz target (scripts/fuzz.sh 15). Exits non-zero when anything fails.
#
#   bash scripts/test.sh              # what CI runs (.ci/run)
#   bash scripts/test.sh --sanitize   # the same, then the suite under ASan+UBSan and the
#                                     # concurrent parts under TSan (scripts/sanitize.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    *) echo "usage: $0 [--sanitize]" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh
bash scripts/build.sh
ctest --test-dir build -j"${SCAIGRID_JOBS:-2}" --output-on-failure --timeout 600
bash scripts/fuzz.sh 15
if [ "$sanitize" -eq 1 ]; then bash scripts/sanitize.sh all; fi
