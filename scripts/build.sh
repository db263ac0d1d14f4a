#!/usr/bin/env bash
# Configures and builds ScaiGrid IAM into ./build (Release with debug info, ccache, ninja).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${SCAIGRID_JOBS:-2}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
