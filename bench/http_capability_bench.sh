#!/usr/bin/env bash
# Load test of POST /v1/iam/check with a capability token as the bearer vs an API key as the
# bearer, same body and same server, in one run: ROUNDS rounds, each running both for
# DURATION_S seconds in turn, so that both see the same machine; prints each round and the
# medians. Listens on 127.0.0.1 only; bounded by ROUNDS x 2 x DURATION_S.
# Usage: bench/http_capability_bench.sh [BUILD_DIR] [DURATION_S] [CONNECTIONS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
duration="${2:-5}"
connections="${3:-32}"
rounds="${4:-5}"
bin="$build/src/cli/scaigrid-iam"
[ -x "$bin" ] || { echo "build first: bash scripts/build.sh" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: bash scripts/setup.sh" >&2; exit 1; }

work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

admin=$("$bin" bootstrap --data "$work/data" --manifests manifests | sed -n 's/^export SCAIGRID_API_KEY=//p')
port=$(free_port)
"$bin" serve --data "$work/data" --manifests manifests --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
api() { curl -fs -X "$1" "http://127.0.0.1:$port$2" -H "Authorization: Bearer $3" -d "${4:-}"; }
api POST /v1/iam/tenants "$admin" '{"id":"acme"}' >/dev/null
role=$(api POST /v1/iam/custom-roles "$admin" \
  '{"name":"Embedders","scope":"tenant:acme","module_permissions":["scaibot:embed:issue","scaibot:chat"]}' | field id)
api POST /v1/iam/bindings "$admin" "{\"subject\":\"user:alice\",\"role\":\"$role\",\"scope\":\"tenant:acme\"}" >/dev/null
alice=$(api POST /v1/iam/api-keys "$admin" '{"owner":"user:alice","name":"bench","scope":"tenant:acme"}' | field key)
token=$(api POST /v1/iam/capability-tokens "$alice" \
  '{"capability":"scaibot:chat","resource":"bot:b-42","visitor":"visitor:v-7","ttl_seconds":86400}' | field token)

body='{"permission":"scaibot:chat","resource":{"id":"bot:b-42"}}'
for name in api_key token; do
  bearer=$alice; [ "$name" = token ] && bearer=$token
  api POST /v1/iam/check "$bearer" "$body" | grep -q '"allowed":true' || { echo "sanity check failed ($name)" >&2; exit 1; }
  cat >"$work/$name.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $bearer"
LUA
done

for r in $(seq "$rounds"); do
  for name in api_key token; do
    wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$work/$name.lua" \
      "http://127.0.0.1:$port/v1/iam/check" >"$work/$name.$r.txt"
  done
done

python3 - "$work" "$rounds" "$duration" "$connections" <<'PY'
import re, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, p99, int(errors.group(1)) if errors else 0
print(f"load: wrk, 2 threads, {sys.argv[4]} keep-alive connections, {sys.argv[3]} s per run, {rounds} rounds, 127.0.0.1")
res = {n: [parse(f"{work}/{n}.{r}.txt") for r in range(1, rounds + 1)] for n in ("api_key", "token")}
for r in range(rounds):
    a, t = res["api_key"][r], res["token"][r]
    print(f"round {r + 1}: API key {a[0]:9.0f} req/s   capability token {t[0]:9.0f} req/s   ratio {t[0] / a[0]:.2f}")
for n, label in (("api_key", "API key bearer"), ("token", "capability token bearer")):
    rps = statistics.median(x[0] for x in res[n])
    p99 = statistics.median(x[1] for x in res[n])
    errs = sum(x[2] for x in res[n])
    print(f"{label:26} median {rps:9.0f} req/s   median p99 {p99:6.2f} ms   non-2xx {errs}")
ratios = [t[0] / a[0] for a, t in zip(res["api_key"], res["token"])]
print(f"median ratio capability token / API key: {statistics.median(ratios):.2f}  (target >= 0.80)")
PY
