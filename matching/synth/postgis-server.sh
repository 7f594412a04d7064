#!/bin/sh
# postgis-server.sh starts a throwaway PostgreSQL 15 + PostGIS 3 server for the
# matching benchmark's PostGIS comparison and prints its URL:
#
#	export REFKIT_BENCH_POSTGRES_URL=$(matching/synth/postgis-server.sh)
#	REFKIT_BENCH_REPORT=1 go test ./matching/synth -run TestReport -v
#
# It is idempotent: run it again and it reuses the cluster (and starts it if it
# stopped). "postgis-server.sh stop" stops the server; delete $DIR to start over.
# Trust authentication on 127.0.0.1 only: never use this cluster for real data.
# Ordinary go test runs do not need it.
#
# Environment: REFKIT_PG_DIR (default /tmp/refkit-postgis), REFKIT_PG_PORT
# (default 55432), REFKIT_PG_DB (default refkit_bench).
set -eu

DIR=${REFKIT_PG_DIR:-/tmp/refkit-postgis}
PORT=${REFKIT_PG_PORT:-55432}
DB=${REFKIT_PG_DB:-refkit_bench}
BIN=/usr/lib/postgresql/15/bin

log() { echo "postgis-server: $*" >&2; }

# The cluster runs as the postgres user when started by root (initdb refuses
# root), and as the caller otherwise.
if [ "$(id -u)" = 0 ]; then
	as() { runuser -u postgres -- "$@"; }
else
	as() { "$@"; }
fi

if [ ! -x "$BIN/initdb" ] || [ ! -f /usr/share/postgresql/15/extension/postgis.control ]; then
	if [ "$(id -u)" != 0 ]; then
		log "PostgreSQL 15 with PostGIS 3 is not installed; as root run: apt-get install -y postgresql-15 postgresql-15-postgis-3"
		exit 1
	fi
	log "installing postgresql-15 and postgresql-15-postgis-3"
	apt-get update >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15 postgresql-15-postgis-3 >&2
fi

if [ "${1:-}" = stop ]; then
	if [ -f "$DIR/data/postmaster.pid" ]; then
		as "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >&2
	fi
	exit 0
fi

if [ ! -f "$DIR/data/PG_VERSION" ]; then
	mkdir -p "$DIR"
	[ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
	log "initdb in $DIR/data"
	as "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >&2
fi

if ! as "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
	log "starting on 127.0.0.1:$PORT"
	as "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
		-o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DIR" start >&2
fi

psql() { as /usr/bin/psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }
if [ "$(psql -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
	psql -d postgres -c "CREATE DATABASE $DB" >&2
fi
psql -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS postgis" >&2

echo "postgres://postgres@127.0.0.1:$PORT/$DB?sslmode=disable"
