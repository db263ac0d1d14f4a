#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, from Debian's server binaries
# (/usr/lib/postgresql/<version>/bin; the newest installed version).
#
#   pg_cluster.sh start DIR PORT   stops and removes whatever cluster DIR held (a stale one of an
#                                  aborted run too), creates a fresh one in DIR/data (or under
#                                  /tmp, below) and starts it on 127.0.0.1:PORT only (PORT 0: a
#                                  free port, picked here), with trust authentication for
#                                  loopback connections, fsync and synchronous_commit on.
#                                  Writes the connection URL to DIR/url when it accepts
#                                  connections: postgresql://postgres@127.0.0.1:PORT/postgres
#   pg_cluster.sh stop DIR         stops it (immediate shutdown) and removes its data and DIR/url.
#                                  Nothing running is fine.
#   pg_cluster.sh pause DIR        stops the server (fast shutdown) and keeps its data: a database
#                                  outage for the several-nodes tests
#   pg_cluster.sh resume DIR       starts the paused server again, on the same port
#
# Run as root, the server runs as the `postgres` system user (initdb refuses root): DIR is
# chowned to it; when DIR's parents do not let that user through, the server's files go to a
# directory under /tmp instead (DIR/server_dir names it; `stop` removes it). ctest runs `start` as the fixture
# postgres_cluster_start and `stop` as postgres_cluster_stop (tests/store/CMakeLists.txt).
set -euo pipefail

usage() {
  echo "usage: $0 start DIR PORT | stop DIR" >&2
  exit 2
}

[ "$#" -ge 2 ] || usage
command="$1"
dir="$2"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
# The server's own files (data, log, socket) live in DIR, or — when the postgres user cannot
# reach DIR (a checkout in a private home or a mktemp directory) or DIR's path is too long for
# a unix socket — in a directory under /tmp that DIR/server_dir names.
server_dir_file="$dir/server_dir"
srv="$dir"
[ -f "$server_dir_file" ] && srv="$(cat "$server_dir_file")"
data="$srv/data"
log="$srv/server.log"

# The server binaries: the newest /usr/lib/postgresql/<version>/bin with initdb and pg_ctl.
bindir=""
for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
  if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then bindir="$candidate"; fi
done
if [ -z "$bindir" ]; then
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    bindir="$(dirname "$(command -v pg_ctl)")"
  else
    echo "pg_cluster: no PostgreSQL server binaries (initdb, pg_ctl) found; run scripts/setup.sh" >&2
    exit 1
  fi
fi

# Commands run as the cluster's owner: `postgres` when we are root, else ourselves.
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    echo "pg_cluster: running as root needs the postgres system user (package postgresql)" >&2
    exit 1
  fi
  as_owner=(runuser -u postgres --)
fi
run() { (cd "$srv" && "${as_owner[@]}" "$@"); }

stop_cluster() {
  if [ -f "$data/postmaster.pid" ]; then
    # Immediate: the data is removed right after, so the shutdown checkpoint (an fsync of
    # every file the tests wrote, seconds) would be wasted.
    run "$bindir/pg_ctl" -D "$data" stop -m immediate -w -t 60 >/dev/null 2>&1 || true
    # A server that pg_ctl could not stop (its pid file says which) is killed outright.
    pid="$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
      [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "postgres" ]; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf -- "$data" "$dir/url" "$dir/url.tmp"
  if [ "$srv" != "$dir" ]; then
    rm -rf -- "$srv"
    rm -f -- "$server_dir_file"
    srv="$dir"
  fi
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
  else
    while :; do
      p=$((20000 + RANDOM % 40000))
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        echo "$p"
        return
      fi
    done
  fi
}

case "$command" in
  start)
    [ "$#" -eq 3 ] || usage
    port="$3"
    stop_cluster
    reachable=yes
    if [ "${#as_owner[@]}" -gt 0 ]; then
      chown postgres: "$dir"
      runuser -u postgres -- test -w "$dir" 2>/dev/null || reachable=no
    fi
    # A unix socket path must fit in 107 bytes: ".s.PGSQL.NNNNN" after the directory.
    if [ "$reachable" = no ] || [ "${#dir}" -gt 80 ]; then
      srv="$(mktemp -d /tmp/scaigrid_pg_XXXXXX)"
      [ "${#as_owner[@]}" -eq 0 ] || chown postgres: "$srv"
      echo "$srv" >"$server_dir_file"
      data="$srv/data"
      log="$srv/server.log"
    fi
    socket_dir="$srv"
    : >"$log"
    [ "${#as_owner[@]}" -eq 0 ] || chown postgres: "$log"
    if ! run "$bindir/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=trust \
      -E UTF8 --locale=C --no-instructions >"$dir/initdb.log" 2>&1; then
      cat "$dir/initdb.log" >&2
      exit 1
    fi
    # Loopback only, trust (pg_hba.conf from --auth-host) and durable commits, as in production.
    cat >>"$data/postgresql.conf" <<EOF

# pg_cluster.sh: a throwaway test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$socket_dir'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 200
logging_collector = off
log_min_messages = warning
EOF
    # PORT 0: pick a free port; another process may take it first, so retry with a new one.
    attempts=1
    [ "$port" != "0" ] || attempts=5
    started=""
    for ((i = 0; i < attempts; i++)); do
      p="$port"
      [ "$p" != "0" ] || p="$(free_port)"
      if run "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "-p $p" start >/dev/null 2>&1; then
        started="$p"
        break
      fi
    done
    if [ -z "$started" ]; then
      echo "pg_cluster: the server did not start (port $port); its log, $log:" >&2
      tail -n 30 "$log" >&2 || true
      exit 1
    fi
    echo "postgresql://postgres@127.0.0.1:$started/postgres" >"$dir/url.tmp"
    mv "$dir/url.tmp" "$dir/url"
    echo "pg_cluster: started $("$bindir/postgres" --version) on 127.0.0.1:$started in $data; url in $dir/url"
    ;;
  stop)
    [ "$#" -eq 2 ] || usage
    stop_cluster
    echo "pg_cluster: stopped the cluster in $dir"
    ;;
  pause)
    [ "$#" -eq 2 ] || usage
    [ -f "$dir/url" ] || { echo "pg_cluster: no cluster in $dir" >&2; exit 1; }
    run "$bindir/pg_ctl" -D "$data" stop -m fast -w -t 60 >/dev/null
    echo "pg_cluster: paused the cluster in $dir"
    ;;
  resume)
    [ "$#" -eq 2 ] || usage
    [ -f "$dir/url" ] || { echo "pg_cluster: no cluster in $dir" >&2; exit 1; }
    url="$(cat "$dir/url")"
    p="${url##*:}"
    p="${p%%/*}"
    if ! run "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "-p $p" start >/dev/null 2>&1; then
      echo "pg_cluster: the server did not start again on port $p; its log, $log:" >&2
      tail -n 30 "$log" >&2 || true
      exit 1
    fi
    echo "pg_cluster: resumed the cluster in $dir on port $p"
    ;;
  *)
    usage
    ;;
esac
