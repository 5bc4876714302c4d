#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests and benchmarks (Debian's `postgresql`).
#
#   test/pg.sh start DIR   creates a cluster in DIR (initdb as the `postgres` user), starts
#                          it on a free localhost port and prints its URL
#                          (postgresql://postgres@127.0.0.1:PORT/postgres)
#   test/pg.sh stop DIR    stops it and removes DIR
#   test/pg.sh available   exits 0 when PostgreSQL's server programs are installed
#
# Run as root (or as `postgres`). Nothing is left behind after `stop`.
set -euo pipefail

bindir() {
    for d in "${PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
        [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
    done
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 &&
        { dirname "$(command -v initdb)"; return 0; }
    return 1
}

as_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

free_port() {
    python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

cmd=${1:-}
case "$cmd" in
available)
    bindir >/dev/null
    ;;
start)
    dir=${2:?usage: test/pg.sh start DIR}
    bin=$(bindir) || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 2; }
    mkdir -p "$dir"
    chown postgres "$dir" 2>/dev/null || true
    chmod 0700 "$dir"
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
        --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port)
    mkdir -p "$dir/sock"
    chown postgres "$dir/sock" 2>/dev/null || true
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=${PG_FSYNC:-on}" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    dir=${2:?usage: test/pg.sh stop DIR}
    if bin=$(bindir) && [ -d "$dir/data" ]; then
        as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
