#!/usr/bin/env bash
# Installs every dependency, builds, and runs `scaigrid-iam` with the given arguments.
# With no arguments it decides a sample check offline, from the shipped manifests and
# examples/policy.yaml, and explains the decision.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
if [ "$#" -eq 0 ]; then
  set -- check --policy examples/policy.yaml --subject user:alice \
    --permission scaiecho:transcribe --scope tenant:acme --explain
fi
exec ./build/src/cli/scaigrid-iam "$@"
