#!/usr/bin/env bash
# Starts (or reuses) a throwaway PostgreSQL cluster on loopback for the test suite and prints its URL.
#   scripts/test-postgres.sh start     start it if needed, print the URL
#   scripts/test-postgres.sh stop      stop it
#   scripts/test-postgres.sh install   apt-get install postgresql when its binaries are missing (root)
# The cluster lives in $COSELL_PG_DIR (default /tmp/cosell-sync-pg), listens on 127.0.0.1:$COSELL_PG_PORT
# (default 54329) and trusts local connections: it is for tests only.
set -euo pipefail

DIR="${COSELL_PG_DIR:-/tmp/cosell-sync-pg}"
PORT="${COSELL_PG_PORT:-54329}"

pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$found" ] && command -v initdb >/dev/null 2>&1; then found=$(dirname "$(command -v initdb)"); fi
  printf '%s' "$found"
}

as_pg() {
  # initdb and postgres refuse to run as root; use the postgres system user then.
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  install)
    if [ -z "$(pg_bin)" ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq postgresql >&2
    fi
    ;;
  start)
    BIN=$(pg_bin)
    if [ -z "$BIN" ]; then echo "PostgreSQL binaries not found; run: $0 install" >&2; exit 3; fi
    if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    if [ ! -s "$DIR/PG_VERSION" ]; then
      mkdir -p "$DIR"
      [ "$(id -u)" = "0" ] && chown postgres "$DIR"
      as_pg "$BIN/initdb" -D "$DIR" -A trust -U postgres --no-sync >/dev/null
    fi
    if ! as_pg "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
      # fsync off: a test cluster trades durability for speed; the crash suites run on SQLite and on
      # the real settings elsewhere.
      as_pg "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 \
        -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null
    fi
    echo "postgres://postgres@127.0.0.1:$PORT/postgres"
    ;;
  stop)
    BIN=$(pg_bin)
    [ -n "$BIN" ] && as_pg "$BIN/pg_ctl" -D "$DIR" -m fast stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start|stop|install" >&2; exit 2 ;;
esac
