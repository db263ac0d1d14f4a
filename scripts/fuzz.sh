#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, in build-fuzz with clang-16) and runs each for SECONDS
# (default 60) on a temporary copy of its seed corpus, so fuzz/corpus never grows.
#
#   bash scripts/fuzz.sh [--no-build] [--build-dir DIR] [SECONDS] [TARGET...]
#
# Without TARGETs, every *_fuzzer of fuzz/. Prints, per target, the executions, the final
# coverage (cov:) and features (ft:). Exits non-zero when any target crashes, leaks, times out
# (one input > 10 s) or runs out of memory (> 2048 MB); the input that did it is kept in
# BUILD/fuzz-artifacts/TARGET/ and the log in BUILD/fuzz-logs/TARGET.log. Reproduce with
#   BUILD/fuzz/TARGET BUILD/fuzz-artifacts/TARGET/crash-…
# --no-build runs what is built already (the ctest entry fuzz_short uses it). Needs root or
# sudo the first time (scripts/setup.sh installs clang-16).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

build=1
build_dir="$root/build-fuzz"
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0; shift ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
seconds=60
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then seconds="$1"; shift; fi
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  for f in fuzz/*_fuzzer.cc; do targets+=("$(basename "$f" .cc)"); done
fi

# The longest input each target gets (bytes): a little above what its format needs.
max_len() {
  case "$1" in
    query_fuzzer) echo 1024 ;;
    api_key_fuzzer) echo 512 ;;
    jwt_fuzzer|capability_token_fuzzer|audit_line_fuzzer) echo 4200 ;;
    change_codec_fuzzer|request_fuzzer) echo 8192 ;;
    *) echo 16384 ;;  # manifests, policy files, raw HTTP
  esac
}

if [ "$build" -eq 1 ]; then
  if ! command -v clang++-16 >/dev/null 2>&1 || ! dpkg-query -W -f='${Status}' libclang-rt-16-dev llvm-16 2>/dev/null | grep -q "install ok installed"; then
    bash scripts/setup.sh
  fi
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_COMPILER=clang++-16 -DSCAIGRID_FUZZ=ON
  fi
  cmake --build "$build_dir" --target fuzzers -j"${SCAIGRID_JOBS:-2}"
fi

if command -v llvm-symbolizer-16 >/dev/null 2>&1; then export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer-16)}"; fi
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
mkdir -p "$build_dir/fuzz-logs"
work_root="$(mktemp -d "${TMPDIR:-/tmp}/scaigrid-fuzz.XXXXXX")"
trap 'rm -rf "$work_root"' EXIT

failed=()
summary=()
for t in "${targets[@]}"; do
  bin="$build_dir/fuzz/$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz: no target $t (expected $bin)" >&2
    failed+=("$t")
    continue
  fi
  work="$work_root/$t"
  artifacts="$build_dir/fuzz-artifacts/$t"
  log="$build_dir/fuzz-logs/$t.log"
  mkdir -p "$work" "$artifacts"
  if [ -d "fuzz/corpus/$t" ]; then cp -r "fuzz/corpus/$t/." "$work/"; fi
  args=(-max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048
        -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$artifacts/")
  if [ -f "fuzz/$t.dict" ]; then args+=(-dict="fuzz/$t.dict"); fi
  echo "fuzz: $t for ${seconds}s (log $log)"
  status=0
  "$bin" "${args[@]}" "$work" >"$log" 2>&1 || status=$?
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)"
  last="$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -1 || true)"
  cov="$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")"
  result=ok
  if [ "$status" -ne 0 ]; then
    result="FAILED (exit $status)"
    failed+=("$t")
    found="$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/Test unit written to //' || true)"
    echo "fuzz: $t FAILED; last lines of $log:" >&2
    grep -E 'ERROR|invariant violated|SUMMARY|runtime error|==[0-9]+==' "$log" | head -20 >&2 || true
    if [ -n "$found" ]; then
      echo "fuzz: the input is $found; reproduce with: $bin $found" >&2
    fi
  fi
  summary+=("$(printf '%-26s %5ss %12s execs  cov %6s  ft %7s  %s' "$t" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result")")
done

echo
echo "fuzz summary:"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]} (inputs in $build_dir/fuzz-artifacts/)" >&2
  exit 1
fi
