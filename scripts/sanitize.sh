#!/usr/bin/env bash
# Runs the tests under sanitizers (docs/testing.md, "Sanitizers"):
#   address  the whole ctest suite — unit, store, HTTP and the Python integration tests, whose
#            server is the instrumented binary — under AddressSanitizer + UBSan (build-asan);
#   thread   the concurrent parts — the HTTP server, the audit writer, the follower, the
#            verified-token cache and the service — under ThreadSanitizer (build-tsan), and one
#            integration file against the instrumented server.
# Usage: scripts/sanitize.sh [address|thread|all]   (default: all)
# Every report fails the run: sanitizers write to $report_dir, and a non-empty report is an
# error even when the process that wrote it exited 0 (a server stopped by a test, say).
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
jobs="${SCAIGRID_JOBS:-2}"
case "$which" in address|thread|all) ;; *) echo "usage: $0 [address|thread|all]" >&2; exit 2 ;; esac

configure() {  # configure DIR MODE
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCAIGRID_SANITIZE="$2" >/dev/null
}

# Fails when a sanitizer wrote any report into $1; prints the first ones.
check_reports() {
  local dir="$1" found
  found=$(find "$dir" -type f -size +0 | sort)
  if [ -n "$found" ]; then
    echo "sanitize: reports in $dir:" >&2
    for f in $(echo "$found" | head -5); do echo "== $f" >&2; head -60 "$f" >&2; done
    return 1
  fi
}

run_address() {
  local start=$SECONDS report_dir
  configure build-asan address || return 1
  cmake --build build-asan -j"$jobs" || return 1
  report_dir="$(pwd)/build-asan/sanitizer-reports"
  rm -rf "$report_dir" && mkdir -p "$report_dir"
  # detect_leaks: LeakSanitizer runs at every normal exit (the server's too, on SIGTERM).
  export ASAN_OPTIONS="log_path=$report_dir/asan:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
  export UBSAN_OPTIONS="log_path=$report_dir/ubsan:print_stacktrace=1:halt_on_error=1"
  local rc=0
  ctest --test-dir build-asan -j"$jobs" --output-on-failure --timeout 900 || rc=$?
  check_reports "$report_dir" || rc=1
  echo "sanitize: address: $((SECONDS - start)) s, exit $rc"
  return $rc
}

run_thread() {
  local start=$SECONDS report_dir
  configure build-tsan thread || return 1
  local targets=(http_test http_server_test audit_test auth_test service_follow_test api_test scaigrid-iam)
  cmake --build build-tsan -j"$jobs" --target "${targets[@]}" || return 1
  report_dir="$(pwd)/build-tsan/sanitizer-reports"
  rm -rf "$report_dir" && mkdir -p "$report_dir"
  export TSAN_OPTIONS="log_path=$report_dir/tsan:halt_on_error=1:second_deadlock_stack=1"
  local rc=0
  # Linux with 32-bit mmap randomization puts memory where TSan does not expect it: run it
  # without address-space randomization (setarch -R; children, the servers the Python tests
  # start, inherit it).
  local run=(setarch "$(uname -m)" -R)
  for t in src/http/http_test tests/http/http_server_test src/audit/audit_test src/auth/auth_test \
           tests/service/service_follow_test src/api/api_test; do
    echo "sanitize: thread: $t"
    "${run[@]}" "build-tsan/$t" --gtest_brief=1 || rc=$?
  done
  echo "sanitize: thread: integration_test_endpoints against the instrumented server"
  (cd tests/integration && SCAIGRID_BIN="$(pwd)/../../build-tsan/src/cli/scaigrid-iam" \
     PYTHONDONTWRITEBYTECODE=1 \
     "${run[@]}" python3 -m unittest test_endpoints test_security) || rc=$?
  check_reports "$report_dir" || rc=1
  echo "sanitize: thread: $((SECONDS - start)) s, exit $rc"
  return $rc
}

rc=0
if [ "$which" = address ] || [ "$which" = all ]; then run_address || rc=1; fi
if [ "$which" = thread ] || [ "$which" = all ]; then run_thread || rc=1; fi
exit $rc
