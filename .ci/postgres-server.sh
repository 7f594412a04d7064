#!/bin/sh
# postgres-server.sh starts a throwaway PostgreSQL server on loopback and prints
# its URL. CI uses it for the PostgreSQL backend's tests; developers use it the
# same way:
#
#	export REFKIT_TEST_POSTGRES_URL=$(.ci/postgres-server.sh)
#	go test -race ./storage/postgres/...
#	.ci/postgres-server.sh stop
#
# It installs Debian's postgresql package when the server is missing (as root),
# runs initdb into a temporary directory as a non-root user, listens on
# 127.0.0.1 only with trust authentication: never put real data in it. It is
# idempotent: run it again and it reuses (and if needed restarts) the cluster.
#
# Environment: REFKIT_PG_DIR (default /tmp/refkit-pg), REFKIT_PG_PORT (default
# 55433), REFKIT_PG_DB (default refkit_test), REFKIT_PG_EXTENSIONS (space-separated
# extensions to create, with their Debian packages installed when missing, e.g.
# "postgis"), REFKIT_PG_OPTIONS (extra server -c settings).
set -eu

DIR=${REFKIT_PG_DIR:-/tmp/refkit-pg}
PORT=${REFKIT_PG_PORT:-55433}
DB=${REFKIT_PG_DB:-refkit_test}
EXTENSIONS=${REFKIT_PG_EXTENSIONS:-}

log() { echo "postgres-server: $*" >&2; }

bindir() {
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
	done
	return 1
}

# initdb refuses to run as root: the cluster belongs to the postgres user when
# root starts it, and to the caller otherwise.
if [ "$(id -u)" = 0 ]; then
	as() { runuser -u postgres -- "$@"; }
else
	as() { "$@"; }
fi

need_install() {
	BIN=$(bindir) || return 0
	ver=$(basename "$(dirname "$BIN")")
	for ext in $EXTENSIONS; do
		[ -f "/usr/share/postgresql/$ver/extension/$ext.control" ] || return 0
	done
	return 1
}

if [ "${1:-}" = stop ]; then
	if BIN=$(bindir) && [ -f "$DIR/data/postmaster.pid" ]; then
		as "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >&2 || true
	fi
	exit 0
fi

if need_install; then
	if [ "$(id -u)" != 0 ]; then
		log "PostgreSQL (with: ${EXTENSIONS:-no extensions}) is not installed; as root run: apt-get install -y postgresql"
		exit 1
	fi
	pkgs=postgresql
	for ext in $EXTENSIONS; do
		[ "$ext" = postgis ] && pkgs="$pkgs postgresql-15-postgis-3"
	done
	log "installing $pkgs"
	apt-get update >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs >&2
fi
BIN=$(bindir)


if [ ! -f "$DIR/data/PG_VERSION" ]; then
	mkdir -p "$DIR"
	[ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
	log "initdb in $DIR/data"
	as "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >&2
fi

if ! as "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
	log "starting on 127.0.0.1:$PORT"
	as "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
		-o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DIR -c max_connections=200 ${REFKIT_PG_OPTIONS:-}" start >&2
fi

psql() { as "$BIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }
if [ "$(psql -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
	psql -d postgres -c "CREATE DATABASE $DB" >&2
fi
for ext in $EXTENSIONS; do
	psql -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS $ext" >&2
done

echo "postgres://postgres@127.0.0.1:$PORT/$DB?sslmode=disable"
