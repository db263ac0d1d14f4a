#!/usr/bin/env bash
# Installs every package needed to build, run, test and benchmark ScaiGrid IAM on Debian 12.
# Idempotent: re-running it installs nothing new. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libyaml-cpp-dev libcli11-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev sqlite3 postgresql libpq-dev libsodium-dev libssl-dev libspdlog-dev libfmt-dev
  curl wrk nginx-light python3 openssl
  libgtest-dev libgmock-dev libbenchmark-dev
  nodejs npm
  clang-16 libclang-rt-16-dev llvm-16  # scripts/fuzz.sh: libFuzzer, ASan, UBSan, llvm-symbolizer
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  # A Node.js that bundles npm (e.g. NodeSource's nodejs, which conflicts with Debian's npm
  # package) already does the job: only install Debian's when the commands are missing.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The OpenAPI linter of ctest openapi_lint (tools/openapi): installed from the committed
# package-lock.json, again whenever the lockfile is newer than node_modules.
openapi_tools="$(cd "$(dirname "$0")/.." && pwd)/tools/openapi"
if [ ! -d "$openapi_tools/node_modules" ] || [ "$openapi_tools/package-lock.json" -nt "$openapi_tools/node_modules" ]; then
  echo "setup: installing the OpenAPI linter (npm ci in tools/openapi)"
  (cd "$openapi_tools" && npm ci --no-audit --no-fund)
  touch "$openapi_tools/node_modules"
fi
