#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the PostgreSQL part of the test suite and print
#   export COCKPIT_TEST_PG_URL=postgresql://cockpit@127.0.0.1:PORT/cockpit_test
# so CI can run:  eval "$(tests/pg/start_pg.sh)"  before pytest.
#
# Installs Debian's postgresql package when no server binaries are present (needs root), creates a
# cluster in a temporary directory owned by the `postgres` user, listens on 127.0.0.1 only (a free
# port), trusts local connections (test data only) and creates the database. Stop it with
#   tests/pg/start_pg.sh --stop   (uses the data directory recorded in $PG_STATE).
set -euo pipefail

PG_STATE=${PG_STATE:-/tmp/cockpit-test-pg.state}

log() { echo "start_pg: $*" >&2; }

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

if [ "${1:-}" = "--stop" ]; then
    [ -f "$PG_STATE" ] || { log "nothing to stop"; exit 0; }
    . "$PG_STATE"
    (cd / && su postgres -s /bin/sh -c "'$(bindir)/pg_ctl' -D '$PGDATA_DIR' -m fast stop") >&2 || true
    rm -rf "$(dirname "$PGDATA_DIR")" "$PG_STATE"
    exit 0
fi

if [ -z "$(bindir)" ]; then
    log "installing postgresql from the Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi
BIN=$(bindir)
[ -x "$BIN/initdb" ] || { log "no initdb under /usr/lib/postgresql/*/bin"; exit 1; }

# A free loopback port chosen by the kernel.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATA=$(mktemp -d /tmp/cockpit-pg.XXXXXX)
chown postgres: "$DATA"
chmod 700 "$DATA"
as_pg() { (cd / && su postgres -s /bin/sh -c "$1") >&2; }  # cd /: the postgres user may not read our cwd

as_pg "'$BIN/initdb' -D '$DATA/data' -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 -N >/dev/null"
# Tuned for a throwaway test server: no fsync, small memory, loopback only, socket in the temp dir.
cat >> "$DATA/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DATA'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 100
EOF
as_pg "'$BIN/pg_ctl' -D '$DATA/data' -l '$DATA/server.log' -w -t 60 start >/dev/null"
as_pg "'$BIN/psql' -h 127.0.0.1 -p $PORT -U postgres -qAt -c \"CREATE ROLE cockpit LOGIN SUPERUSER\""
as_pg "'$BIN/createdb' -h 127.0.0.1 -p $PORT -U postgres -O cockpit cockpit_test"
printf 'PGDATA_DIR=%q\n' "$DATA/data" > "$PG_STATE"
log "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (data $DATA/data)"
echo "export COCKPIT_TEST_PG_URL=postgresql://cockpit@127.0.0.1:$PORT/cockpit_test"
