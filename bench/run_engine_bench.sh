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
          f"build {i['build_s']:.2f} s, RSS {int(i['rss_mb'])} MB (peak {int(i['peak_rss_mb'])} MB)")
print(f"{'benchmark':48} {'small':>12} {'large':>12} {'large/small':>11}")
for name, b in large.items():
    if name.startswith("BM_WorldInfo"):
        continue
    s = small.get(name)
    unit = b["time_unit"]
    lt = b["real_time"]; st = s["real_time"] if s else float("nan")
    print(f"{name:48} {st:9.1f} {unit:2} {lt:9.1f} {unit:2} {lt / st:10.2f}x")
PY
rm -rf "$out"
