#!/usr/bin/env bash
# Several nodes on PostgreSQL (docs/storage.md, "Several nodes"), in one run, on a throwaway
# cluster (scripts/pg_cluster.sh) and servers on 127.0.0.1 only:
#   1. propagation: COUNT times, create a tenant on node A and poll node B's /readyz until its
#      revision reaches the change's; p50 / p99 of the delay, from the request to A (and from
#      A's answer), for COUNT changes;
#   2. check throughput: POST /v1/iam/check on a node on PostgreSQL vs a node on SQLite, same
#      state, ROUNDS rounds of DURATION_S each in turn (checks never touch the database);
#   3. audit append events/s on PostgreSQL: audit_append_bench with SCAIGRID_BENCH_BACKEND=postgres.
# Bounded: COUNT changes, 2 x ROUNDS x DURATION_S of load, one append bench.
# Usage: bench/nodes_bench.sh [BUILD_DIR] [COUNT] [DURATION_S] [ROUNDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
count="${2:-300}"
duration="${3:-5}"
rounds="${4:-3}"
connections="${5:-16}"
bin="$build/src/cli/scaigrid-iam"
[ -x "$bin" ] || { echo "build first: bash scripts/build.sh" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: bash scripts/setup.sh" >&2; exit 1; }

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  bash scripts/pg_cluster.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

bash scripts/pg_cluster.sh start "$work/pg" 0 >/dev/null
url=$(cat "$work/pg/url")
"$bin" bootstrap --data "$work/sqlite" --manifests manifests >"$work/boot-sqlite.txt"
"$bin" bootstrap --database "$url" --manifests manifests >"$work/boot-pg.txt"
key_sqlite=$(sed -n 's/^export SCAIGRID_API_KEY=//p' "$work/boot-sqlite.txt")
key_pg=$(sed -n 's/^export SCAIGRID_API_KEY=//p' "$work/boot-pg.txt")

start() {  # name store-flag store-value -> port
  local port
  port=$(free_port)
  "$bin" serve "$2" "$3" --manifests manifests --listen "127.0.0.1:$port" --log-level warn >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  echo "$port"
}
port_a=$(start node-a --database "$url")
port_b=$(start node-b --database "$url")
port_s=$(start node-sqlite --data "$work/sqlite")

# The same policy on both stores: a tenant, a role, a binding.
for target in "$port_a:$key_pg" "$port_s:$key_sqlite"; do
  port=${target%%:*}; key=${target#*:}
  api() { curl -fs -X "$1" "http://127.0.0.1:$port$2" -H "Authorization: Bearer $key" -d "${3:-}"; }
  api POST /v1/iam/tenants '{"id":"acme"}' >/dev/null
  role=$(api POST /v1/iam/custom-roles '{"name":"Transcribers","scope":"tenant:acme","module_permissions":["scaiecho:transcribe"]}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  api POST /v1/iam/bindings "{\"subject\":\"user:alice\",\"role\":\"$role\",\"scope\":\"tenant:acme\"}" >/dev/null
done

echo "== propagation: a change on node A, visible on node B ($count changes)"
python3 - "$port_a" "$port_b" "$key_pg" "$count" <<'PY'
import http.client, json, statistics, sys, time
port_a, port_b, key, count = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
a = http.client.HTTPConnection("127.0.0.1", port_a)
b = http.client.HTTPConnection("127.0.0.1", port_b)
def revision_b():
    b.request("GET", "/readyz")
    return json.loads(b.getresponse().read())["revision"]
from_request, from_answer, answer = [], [], []
for i in range(count):
    t0 = time.perf_counter()
    a.request("POST", "/v1/iam/tenants", body=json.dumps({"id": f"prop-{i}"}),
              headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    r = a.getresponse()
    body = json.loads(r.read())
    t1 = time.perf_counter()
    assert r.status == 201, body
    while revision_b() < body["revision"]:
        if time.perf_counter() - t0 > 10:
            raise SystemExit(f"node B did not reach revision {body['revision']} in 10 s")
    t2 = time.perf_counter()
    from_request.append((t2 - t0) * 1000)
    from_answer.append(max(0.0, t2 - t1) * 1000)
    answer.append((t1 - t0) * 1000)
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
for name, xs in (("A's answer to the change (commit + audit)", answer),
                 ("visible on B, from the request to A", from_request),
                 ("visible on B, after A's answer", from_answer)):
    print(f"{name:44} p50 {pct(xs, 50):7.2f} ms   p99 {pct(xs, 99):7.2f} ms   max {max(xs):7.2f} ms")
PY

echo "== check throughput: one node on PostgreSQL vs one on SQLite ($rounds rounds of ${duration} s, $connections connections)"
body='{"subject":"user:alice","permission":"scaiecho:transcribe","scope":"tenant:acme"}'
for name in pg sqlite; do
  key=$key_pg; [ "$name" = sqlite ] && key=$key_sqlite
  port=$port_a; [ "$name" = sqlite ] && port=$port_s
  curl -fs -X POST "http://127.0.0.1:$port/v1/iam/check" -H "Authorization: Bearer $key" -d "$body" | grep -q '"allowed":true' \
    || { echo "sanity check failed ($name)" >&2; exit 1; }
  cat >"$work/$name.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
LUA
done
for r in $(seq "$rounds"); do
  wrk -t2 -c"$connections" -d"${duration}s" -s "$work/pg.lua" "http://127.0.0.1:$port_a/v1/iam/check" >"$work/pg.$r.txt"
  wrk -t2 -c"$connections" -d"${duration}s" -s "$work/sqlite.lua" "http://127.0.0.1:$port_s/v1/iam/check" >"$work/sqlite.$r.txt"
done
python3 - "$work" "$rounds" <<'PY'
import re, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def rps(path):
    text = open(path).read()
    if "Non-2xx" in text:
        raise SystemExit(f"errors in {path}:\n{text}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
pg = [rps(f"{work}/pg.{r}.txt") for r in range(1, rounds + 1)]
sq = [rps(f"{work}/sqlite.{r}.txt") for r in range(1, rounds + 1)]
for r in range(rounds):
    print(f"round {r + 1}: PostgreSQL node {pg[r]:9.0f} req/s   SQLite node {sq[r]:9.0f} req/s   ratio {pg[r] / sq[r]:.2f}")
print(f"median: PostgreSQL {statistics.median(pg):.0f} req/s, SQLite {statistics.median(sq):.0f} req/s, "
      f"median ratio {statistics.median(p / s for p, s in zip(pg, sq)):.2f}  (target 0.90 to 1.10)")
PY

echo "== audit append on PostgreSQL"
SCAIGRID_BENCH_BACKEND=postgres SCAIGRID_PG_URL="$url" "$build/bench/audit_append_bench" 2>&1 | grep -E "BM_|backend"
