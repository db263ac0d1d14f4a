#!/usr/bin/env bash
# End-to-end test of the scaigrid-iam offline subcommands: runs the built binary against the
# shipped manifests and a temporary policy file, asserting exit codes and output.
# Usage: cli_test.sh PATH/TO/scaigrid-iam PATH/TO/manifests
set -u

BIN=${1:?usage: cli_test.sh BINARY MANIFEST_DIR}
MANIFESTS=${2:?usage: cli_test.sh BINARY MANIFEST_DIR}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILURES=0

# run ARGS…: runs the binary, keeping stdout, stderr and the exit code.
run() {
  "$BIN" "$@" >"$TMP/out" 2>"$TMP/err"
  RC=$?
  LAST="scaigrid-iam $*"
}
fail() {
  echo "FAIL: $LAST: $1" >&2
  echo "  stdout: $(head -c 2000 "$TMP/out")" >&2
  echo "  stderr: $(head -c 2000 "$TMP/err")" >&2
  FAILURES=$((FAILURES + 1))
}
expect_rc() { [ "$RC" -eq "$1" ] || fail "exit code $RC, expected $1"; }
# expect_out / expect_err REGEX: the stream has a line matching REGEX (grep -E).
expect_out() { grep -Eq -- "$1" "$TMP/out" || fail "stdout lacks /$1/"; }
expect_err() { grep -Eq -- "$1" "$TMP/err" || fail "stderr lacks /$1/"; }
expect_no_out() { grep -Eq -- "$1" "$TMP/out" && fail "stdout has /$1/"; }

cat >"$TMP/policy.yaml" <<'YAML'
scopes:
  - {id: "partner:p1"}
  - {id: "tenant:acme", parent: "partner:p1"}
  - {id: "tenant:other"}
  - {id: "project:web", parent: "tenant:acme"}
groups:
  "group:eng": ["user:alice", "service_account:ci"]
custom_roles:
  - {id: transcribers, name: Transcription users, scope: "tenant:acme",
     permissions: [scaiecho:transcribe, scaiecho:diarize]}
bindings:
  - {id: 1, subject: "group:eng", role: transcribers, scope: "tenant:acme"}
  - {id: 2, subject: "user:tom", role: tenant_admin, scope: "tenant:acme",
     expires_at: "2027-01-01T00:00:00Z"}
  - {id: 3, subject: "user:dana", role: tiers.admin, scope: "project:web"}
YAML
COMMON=(--manifests "$MANIFESTS" --policy "$TMP/policy.yaml")

# --- version and usage
run --version
expect_rc 0
expect_out '^scaigrid-iam [0-9]+\.[0-9]+\.[0-9]+$'
run check --subject user:alice
expect_rc 2
expect_err 'required'

# --- manifest lint
run manifest lint "$MANIFESTS"/*.yaml
expect_rc 0
expect_out '^ok: 6 manifest\(s\), [0-9]+ key\(s\)$'
run manifest lint "$MANIFESTS/scaibot.yaml" --with "$MANIFESTS"
expect_rc 0
expect_out '^ok: 1 manifest\(s\)'

cat >"$TMP/bad.yaml" <<'YAML'
module: demo
title: Demo
permissions:
  - key: demo:read
    description: Read.
  - key: demo:Bad
    description: Malformed.
YAML
run manifest lint "$TMP/bad.yaml"
expect_rc 1
expect_err "^$TMP/bad.yaml:6: malformed permission key 'demo:Bad'"
cat >"$TMP/refs.yaml" <<'YAML'
module: demo
title: Demo
permissions:
  - key: demo:read
    description: Read.
implies:
  demo:read: [scaibot:bots:read, demo:nope]
YAML
run manifest lint "$TMP/refs.yaml" --with "$MANIFESTS"
expect_rc 1
expect_err "^$TMP/refs.yaml:7: .*'demo:nope'"
grep -q "scaibot:bots:read" "$TMP/err" && fail "a key of --with DIR was reported unknown"
run manifest lint "$TMP/missing.yaml"
expect_rc 1
expect_err "cannot read manifest file"

# --- check
run check "${COMMON[@]}" --subject user:alice --permission scaiecho:transcribe \
  --scope project:web --explain
expect_rc 0
expect_out '^allowed$'
expect_out 'binding 1 gives group group:eng'
expect_out 'via group: +group:eng'
expect_out 'role: +transcribers \(custom, "Transcription users"\)'

run check "${COMMON[@]}" --subject user:alice --permission scaiecho:enroll --scope tenant:acme
expect_rc 3
expect_out '^denied$'
expect_out 'no active binding gives user:alice scaiecho:enroll'

run check "${COMMON[@]}" --subject user:alice --permission scaiecho:transcribe --scope tenant:other
expect_rc 3

run check "${COMMON[@]}" --subject user:tom --permission scaibunker:read --scope project:web \
  --at 2026-06-01 --explain
expect_rc 0
expect_out 'catch-all'
expect_out 'expires: +2027-01-01T00:00:00Z'
run check "${COMMON[@]}" --subject user:tom --permission scaibunker:read --scope project:web \
  --at 2027-01-01
expect_rc 3

run check "${COMMON[@]}" --subject user:tom --permission scaibunker:admin:platform --scope tenant:acme
expect_rc 3
expect_out 'platform-level key'

run check "${COMMON[@]}" --subject user:dana --permission project:read --scope project:web --json
expect_rc 0
expect_out '^\{"allowed":true,"decision":"allowed",.*"role":"tiers.admin".*\}$'

run check "${COMMON[@]}" --subject user:alice --permission scaiecho:nope --scope tenant:acme
expect_rc 1
expect_err "unknown permission key 'scaiecho:nope'"
expect_no_out 'denied'

run check "${COMMON[@]}" --subject user:alice --permission scaiecho:transcribe --scope tenant:nope
expect_rc 1
expect_err "no scope 'tenant:nope'"
run check "${COMMON[@]}" --subject alice --permission scaiecho:transcribe --scope tenant:acme
expect_rc 1
expect_err "invalid principal 'alice'"
run check "${COMMON[@]}" --subject user:alice --permission scaiecho:transcribe --scope tenant:acme \
  --at 2026-02-30
expect_rc 1
expect_err "invalid time '2026-02-30'"
run check --manifests "$TMP/nowhere" --subject user:a --permission scaiecho:transcribe --scope platform
expect_rc 1
expect_err "cannot read manifest directory"

# --- a bad policy file names file:line
cat >"$TMP/badpolicy.yaml" <<'YAML'
scopes:
  - {id: "tenant:acme"}
bindings:
  - {subject: "user:a", role: tenant_admin, scope: "tenant:acme"}
  - {subject: "user:b", role: no_such_role, scope: "tenant:acme"}
YAML
run check --manifests "$MANIFESTS" --policy "$TMP/badpolicy.yaml" --subject user:a \
  --permission scaiecho:transcribe --scope tenant:acme
expect_rc 1
expect_err "$TMP/badpolicy.yaml:5: no role 'no_such_role'"
printf 'scopes:\n  - {id: "tenant:acme", colour: blue}\n' >"$TMP/shape.yaml"
run check --manifests "$MANIFESTS" --policy "$TMP/shape.yaml" --subject user:a \
  --permission scaiecho:transcribe --scope tenant:acme
expect_rc 1
expect_err "$TMP/shape.yaml:2: unknown field 'colour' in scope"

# --- permissions, who-can, roles
run permissions "${COMMON[@]}" --subject service_account:ci --scope project:web
expect_rc 0
expect_out '^scaiecho:diarize +binding 1 role transcribers at tenant:acme via group group:eng$'
expect_out '^scaiecho:transcribe +binding 1 role transcribers at tenant:acme via group group:eng$'

run who-can "${COMMON[@]}" --permission scaiecho:diarize --scope project:web
expect_rc 0
expect_out '^service_account:ci +binding 1 role transcribers at tenant:acme via group group:eng$'
expect_out '^user:alice '
expect_out '^user:tom +binding 2 role tenant_admin at tenant:acme$'
run who-can "${COMMON[@]}" --permission scaiecho:diarize --scope project:web --limit 1
expect_rc 0
expect_err 'more: pass --cursor service_account:ci'
run who-can "${COMMON[@]}" --permission scaiecho:diarize --scope project:web --limit 1 \
  --cursor service_account:ci
expect_out '^user:alice '
expect_no_out '^service_account:ci'
run who-can "${COMMON[@]}" --permission scaiecho:nope --scope project:web
expect_rc 1
expect_err "unknown permission key 'scaiecho:nope'"

run roles "${COMMON[@]}" --scope project:web
expect_rc 0
expect_out '^tiers.admin \(module, "admin"\): 24 key\(s\)$'
expect_out '^transcribers \(custom at tenant:acme, "Transcription users"\): 2 key\(s\)$'
expect_out '^  members:write:kick$'
run roles "${COMMON[@]}" --scope tenant:acme
expect_out '^tenant_admin \(built-in, "Tenant admin"\): catch-all'

# serve --config: unknown keys and malformed lines are errors naming FILE:LINE; nothing starts.
printf '# comment\nlisten = "127.0.0.1:0"\nlisen = "oops"\n' >"$TMP/bad.toml"
run serve --data "$TMP/data" --manifests "$MANIFESTS" --config "$TMP/bad.toml"
expect_rc 1
expect_err "bad.toml:3: unknown key 'lisen'"
printf 'just words\n' >"$TMP/bad2.toml"
run serve --data "$TMP/data" --manifests "$MANIFESTS" --config "$TMP/bad2.toml"
expect_rc 1
expect_err "bad2.toml:1: expected key = value"
run serve --data "$TMP/data" --manifests "$MANIFESTS" --listen nonsense
expect_rc 1
expect_err "--listen must be ADDRESS:PORT"

# bootstrap: the key is printed once; a second bootstrap refuses.
run bootstrap --data "$TMP/boot" --manifests "$MANIFESTS" --user user:root
expect_rc 0
expect_out '^export SCAIGRID_API_KEY=sgk_'
run bootstrap --data "$TMP/boot" --manifests "$MANIFESTS" --user user:root
expect_rc 1
expect_err 'already bootstrapped'

if [ "$FAILURES" -ne 0 ]; then
  echo "$FAILURES failure(s)" >&2
  exit 1
fi
echo "cli_test: all passed"
