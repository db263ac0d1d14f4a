#!/usr/bin/env bash
# Installs every dependency, builds, and starts the server on its embedded default: SQLite
# in ./data, listening on 127.0.0.1:8080. On the very first start it prints the first
# super_admin API key (shown once). With arguments, runs `scaigrid-iam ARGS…` instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
bin=./build/src/cli/scaigrid-iam
if [ "$#" -gt 0 ]; then exec "$bin" "$@"; fi
"$bin" bootstrap 2>/dev/null || echo "(already bootstrapped: the first key was shown at the first start)"
exec "$bin" serve
