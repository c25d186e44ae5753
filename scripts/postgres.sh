#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the Postgres tests and a local prod-like profile.
#
#   scripts/postgres.sh start   initdb (once) and start on 127.0.0.1:$PGPORT; prints the URL
#   scripts/postgres.sh stop
#
# PGPORT (default 55432) and PGDATA (default /tmp/mlops-postgres) may be set. Installs Debian's
# postgresql package when no server binaries are found (needs root, as in CI). Trust
# authentication on loopback only: a test server, not a production one.
set -euo pipefail
PGPORT="${PGPORT:-55432}"
PGDATA="${PGDATA:-/tmp/mlops-postgres}"

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

as_owner() {  # initdb and postgres refuse to run as root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  if [ -z "$(bindir)" ]; then
    echo "postgres.sh: installing Debian's postgresql package" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local bin
  bin="$(bindir)"
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    [ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
    as_owner "$bin/initdb" -D "$PGDATA" -U postgres -A trust --no-sync >/dev/null
  fi
  if ! as_owner "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_owner "$bin/pg_ctl" -D "$PGDATA" -w -l "$PGDATA/server.log" \
      -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDATA -c fsync=off" start >/dev/null
  fi
  echo "postgresql://postgres@127.0.0.1:$PGPORT/postgres"
}

stop() {
  local bin
  bin="$(bindir)"
  [ -n "$bin" ] && [ -f "$PGDATA/PG_VERSION" ] && as_owner "$bin/pg_ctl" -D "$PGDATA" -m fast stop
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
