#!/usr/bin/env bash
# Load test of POST /v1/iam/check (audit off, then audited with durable events) against
# nginx serving a 20-byte static JSON, in one run.
#
# Both servers listen on 127.0.0.1 only; wrk drives each with the same keep-alive load for a
# bounded time, one after the other. Prints requests/s, the ratio, p50 and p99.
# Usage: bench/http_check_bench.sh [BUILD_DIR] [DURATION_S] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
duration="${2:-10}"
connections="${3:-32}"
threads=2
bin="$build/src/cli/scaigrid-iam"
[ -x "$bin" ] || { echo "build first: bash scripts/build.sh" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: bash scripts/setup.sh" >&2; exit 1; }
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
server_pid=""
nginx_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# ---- scaigrid-iam with a tenant, a custom role and a binding.
key=$("$bin" bootstrap --data "$work/data" --manifests manifests | sed -n 's/^export SCAIGRID_API_KEY=//p')
port=$(free_port)
"$bin" serve --data "$work/data" --manifests manifests --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
api() { curl -fs -X "$1" "http://127.0.0.1:$port$2" -H "Authorization: Bearer $key" -d "${3:-}"; }
api POST /v1/iam/tenants '{"id":"acme"}' >/dev/null
role=$(api POST /v1/iam/custom-roles '{"name":"Transcription users","scope":"tenant:acme","module_permissions":["scaiecho:transcribe","scaiecho:diarize"]}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
api POST /v1/iam/bindings "{\"subject\":\"user:alice\",\"role\":\"$role\",\"scope\":\"tenant:acme\"}" >/dev/null
body='{"subject":"user:alice","permission":"scaiecho:transcribe","scope":"tenant:acme"}'
api POST /v1/iam/check "$body" | grep -q '"allowed":true' || { echo "sanity check failed" >&2; exit 1; }

audited_body='{"subject":"user:alice","permission":"scaiecho:transcribe","scope":"tenant:acme","audit":true}'
for name in check audited; do
  b=$body; [ "$name" = audited ] && b=$audited_body
  cat >"$work/$name.lua" <<LUA
wrk.method = "POST"
wrk.body = '$b'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
LUA
done

# ---- nginx serving 20 bytes of JSON.
nport=$(free_port)
mkdir -p "$work/nginx/logs"
printf '{"allowed":true}\n\n\n' >"$work/nginx/static.json"  # 20 bytes
chmod a+rx "$work" "$work/nginx" && chmod a+r "$work/nginx/static.json"  # nginx workers drop root
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
error_log $work/nginx/logs/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nport;
    root $work/nginx;
    default_type application/json;
    location / { try_files /static.json =404; }
  }
}
CONF
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
nginx_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$nport/" >/dev/null && break; sleep 0.1; done

run() {  # name url [script]
  local args=(-t"$threads" -c"$connections" -d"${duration}s" --latency)
  [ -n "${3:-}" ] && args+=(-s "$3")
  wrk "${args[@]}" "$2" >"$work/$1.txt"
}
run scaigrid "http://127.0.0.1:$port/v1/iam/check" "$work/check.lua"
run audited "http://127.0.0.1:$port/v1/iam/check" "$work/audited.lua"
run nginx "http://127.0.0.1:$nport/"

python3 - "$work/scaigrid.txt" "$work/nginx.txt" "$duration" "$connections" "$work/audited.txt" <<'PY'
import re, sys
def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, pct(50), pct(99), int(errors.group(1)) if errors else 0
s, n, a = parse(sys.argv[1]), parse(sys.argv[2]), parse(sys.argv[5])
print(f"load: wrk, 2 threads, {sys.argv[4]} keep-alive connections, {sys.argv[3]} s each, 127.0.0.1")
print(f"{'server':28} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
print(f"{'scaigrid-iam POST check':28} {s[0]:10.0f} {s[1]:8.3f} {s[2]:8.3f} {s[3]:8d}")
print(f"{'scaigrid-iam audited check':28} {a[0]:10.0f} {a[1]:8.3f} {a[2]:8.3f} {a[3]:8d}")
print(f"{'nginx 20-byte static JSON':28} {n[0]:10.0f} {n[1]:8.3f} {n[2]:8.3f} {n[3]:8d}")
print(f"ratio scaigrid/nginx: {s[0] / n[0]:.2f}  (target >= 0.50, p99 <= 2 ms)")
print(f"ratio audited (durable, waits for its group commit) / audit off: {a[0] / s[0]:.2f}  (target >= 0.50)")
PY
