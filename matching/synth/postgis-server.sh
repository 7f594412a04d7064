#!/bin/sh
# postgis-server.sh starts a throwaway PostgreSQL + PostGIS server for the
# matching benchmark's PostGIS comparison and prints its URL:
#
#	export REFKIT_BENCH_POSTGRES_URL=$(matching/synth/postgis-server.sh)
#	REFKIT_BENCH_REPORT=1 go test ./matching/synth/harness -run TestReport -v
#
# "postgis-server.sh stop" stops it. It is .ci/postgres-server.sh with PostGIS
# and its own directory, port and database; see there for the details.
# Ordinary go test runs do not need it.
set -eu
here=$(dirname "$0")
export REFKIT_PG_DIR=${REFKIT_PG_DIR:-/tmp/refkit-postgis}
export REFKIT_PG_PORT=${REFKIT_PG_PORT:-55432}
export REFKIT_PG_DB=${REFKIT_PG_DB:-refkit_bench}
export REFKIT_PG_EXTENSIONS=postgis
exec "$here/../../.ci/postgres-server.sh" "$@"
