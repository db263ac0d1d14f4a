#!/usr/bin/env bash
# Runs the engine benchmarks at both sizes, one after the other, and prints the medians of
# 5 repetitions side by side. Usage: bench/run_engine_bench.sh [BUILD_DIR]  (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
cmake --build "$build" -j2 --target engine_bench >/dev/null
out=$(mktemp -d)
for size in small large; do
  "$build/bench/engine_bench" --size=$size --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true --benchmark_format=json >"$out/$size.json"
done
python3 - "$out/small.json" "$out/large.json" <<'PY'
import json, sys
def load(p):
    rows = {}
    for b in json.load(open(p))["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        rows[b["run_name"]] = b
    return rows
small, large = load(sys.argv[1]), load(sys.argv[2])
info = next(v for k, v in large.items() if k.startswith("BM_WorldInfo"))
sinfo = next(v for k, v in small.items() if k.startswith("BM_WorldInfo"))
for name, i in (("small", sinfo), ("large", info)):
    print(f"{name}: {int(i['tenants'])} tenants, {int(i['users'])} users, {int(i['bindings'])} bindings; "
          f"build {i['build_s']:.3g} s, RSS {int(i['rss_mb'])} MB (peak {int(i['peak_rss_mb'])} MB)")
print("time per operation, median of 5 repetitions; with threads:2, 'wall' is wall time per")
print("operation of both threads together (throughput) and 'cpu' the time one check takes a thread")
print(f"{'benchmark':44} {'small wall':>11} {'small cpu':>11} {'large wall':>11} {'large cpu':>11} {'large/small':>11}")
def fmt(v, unit):
    return f"{v:8.3g} {unit:2}"
for name, b in large.items():
    if name.startswith("BM_WorldInfo"):
        continue
    s = small.get(name)
    unit = b["time_unit"]
    print(f"{name:44} {fmt(s['real_time'], unit)} {fmt(s['cpu_time'], unit)} "
          f"{fmt(b['real_time'], unit)} {fmt(b['cpu_time'], unit)} {b['cpu_time'] / s['cpu_time']:10.2f}x")
PY
rm -rf "$out"
