#!/bin/sh
# patroni-cluster.sh starts a throwaway high-availability PostgreSQL cluster on
# loopback: one etcd member and three PostgreSQL 15 nodes managed by Patroni,
# with synchronous replication (synchronous_mode, strict), so a commit is acknowledged
# only once a standby has it and survives the loss of the leader. It prints the
# cluster's directory, which holds cluster.json (its URL and nodes) for the
# tests:
#
#	export REFKIT_TEST_PATRONI=$(.ci/patroni-cluster.sh)
#	REFKIT_CHAOS=1 go test -race -run Chaos -v ./storage/postgres/
#	.ci/patroni-cluster.sh stop
#
# Failover is tuned to take seconds: ttl 10 s, loop_wait 1 s, retry_timeout
# 3 s, and primary_start_timeout 0, so a crashed leader is failed over rather
# than restarted in place. Patroni talks to etcd through its v2 API: Debian
# 12's Patroni 3.0.2, through the v3 API, rewrites the leader key without
# checking who holds it when a leader that was frozen past the TTL resumes,
# and takes the lead back from the standby promoted meanwhile (seen in the
# chaos test); through v2 it writes the key only if it still holds it. Authentication is trust on 127.0.0.1 and fsync is
# off (the tests kill processes, not machines): never put real data in it.
#
# It installs Debian's patroni, etcd-server and postgresql packages when they
# are missing (as root), runs PostgreSQL and Patroni as the postgres user when
# started as root, and is idempotent: run it again and it reuses a healthy
# cluster, or replaces a broken one. "stop" ends every process it started (by
# the process ids it recorded, resuming stopped ones first) and removes the
# directory, whatever state the cluster is in.
#
# Environment: REFKIT_PATRONI_DIR (default /tmp/refkit-patroni),
# REFKIT_PATRONI_PORT (default 55500: PostgreSQL on +1..+3, the Patroni REST
# API on +11..+13, etcd on +20 and +21), REFKIT_PG_DB (default refkit_test),
# REFKIT_PATRONI_STRICT (default true: synchronous_mode_strict; false lets a
# leader commit alone while no standby is in sync, as after a failover).
set -eu

DIR=${REFKIT_PATRONI_DIR:-/tmp/refkit-patroni}
BASE=${REFKIT_PATRONI_PORT:-55500}
DB=${REFKIT_PG_DB:-refkit_test}
STRICT=${REFKIT_PATRONI_STRICT:-true}
NODES="1 2 3"
ETCD_CLIENT=$((BASE + 20))
ETCD_PEER=$((BASE + 21))
PY=/usr/bin/python3

log() { echo "patroni-cluster: $*" >&2; }

if [ "$(id -u)" = 0 ]; then
	OWNER=postgres
	as() { runuser -u postgres -- "$@"; }
else
	OWNER=$(id -un)
	as() { "$@"; }
fi

bindir() {
	for d in $(ls -d /usr/lib/postgresql/15/bin 2>/dev/null); do
		if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
	done
	return 1
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pidof_file() { [ -f "$1" ] && head -n 1 "$1" | tr -dc 0-9 || true; }

# stop_pid ends a process this script started: resumed first (a test may have
# stopped it with SIGSTOP), then asked to end, then killed after a grace period.
stop_pid() {
	pid=$1 grace=$2
	alive "$pid" || return 0
	kill -CONT "$pid" 2>/dev/null || true
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while alive "$pid" && [ $i -lt $((grace * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
}

stop_cluster() {
	[ -d "$DIR" ] || return 0
	for n in $NODES; do
		stop_pid "$(pidof_file "$DIR/node$n/patroni.pid")" 30
	done
	# Patroni stops its PostgreSQL as it ends; one it could not stop (killed,
	# or stopped by a test) is ended here, by the pid in its data directory.
	for n in $NODES; do
		pm=$(pidof_file "$DIR/node$n/data/postmaster.pid")
		if alive "$pm"; then
			for child in $(ps -o pid= --ppid "$pm" 2>/dev/null); do kill -CONT "$child" 2>/dev/null || true; done
			kill -CONT "$pm" 2>/dev/null || true
			kill -QUIT "$pm" 2>/dev/null || true
			i=0
			while alive "$pm" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
			if alive "$pm"; then kill -KILL "$pm" 2>/dev/null || true; fi
		fi
	done
	stop_pid "$(pidof_file "$DIR/etcd.pid")" 10
	rm -rf "$DIR"
}

if [ "${1:-}" = stop ]; then
	stop_cluster
	exit 0
fi

# http GET url: prints the body, fails unless the status is 200.
http() {
	"$PY" - "$1" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.stdout.write(r.read().decode())
except Exception:
    sys.exit(1)
EOF
}

# patch_config PATCHes the cluster's dynamic configuration with a JSON body.
patch_config() {
	"$PY" - "http://127.0.0.1:$((BASE + 11))/config" "$1" <<'EOF'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="PATCH",
                             headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=5) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

# diagnose prints what a failed start leaves behind, so that a CI log says
# why: the cluster as Patroni sees it and the end of every log.
diagnose() {
	log "the cluster as node1 sees it: $(http "http://127.0.0.1:$((BASE + 11))/cluster" || echo unavailable)"
	for f in "$DIR/etcd.log" "$DIR"/node*/patroni.out "$DIR"/node*/log/patroni.log; do
		[ -f "$f" ] || continue
		log "---- last lines of $f"
		tail -n 25 "$f" >&2 || true
	done
	for n in $NODES; do
		f=$(ls -t "$DIR/node$n/log"/postgresql-*.log 2>/dev/null | head -n 1)
		[ -n "$f" ] || continue
		log "---- last lines of $f"
		tail -n 25 "$f" >&2 || true
	done
}

# healthy: etcd answers, one node leads, and two replicas stream, one of them
# the synchronous standby.
healthy() {
	body=$(http "http://127.0.0.1:$((BASE + 11))/cluster") || return 1
	printf '%s' "$body" | "$PY" -c '
import json, sys
members = json.load(sys.stdin).get("members", [])
roles = sorted(m.get("role") for m in members)
streaming = [m for m in members if m.get("role") != "leader" and m.get("state") in ("streaming", "running")]
ok = roles.count("leader") == 1 and roles.count("sync_standby") == 1 and len(members) == 3 and len(streaming) == 2
sys.exit(0 if ok else 1)'
}

print_dir() { echo "$DIR"; }

if [ -f "$DIR/cluster.json" ] && healthy; then
	log "reusing the healthy cluster in $DIR"
	print_dir
	exit 0
fi
stop_cluster

if ! command -v patroni >/dev/null 2>&1 || ! command -v etcd >/dev/null 2>&1 || ! BIN=$(bindir); then
	if [ "$(id -u)" != 0 ]; then
		log "patroni, etcd-server and postgresql 15 are not all installed; as root run: apt-get install -y patroni etcd-server postgresql"
		exit 1
	fi
	log "installing patroni etcd-server postgresql"
	apt-get update >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends patroni etcd-server postgresql >&2
fi
BIN=$(bindir)
PATRONI=$(command -v patroni)
ETCD=$(command -v etcd)

mkdir -p "$DIR"
chown "$OWNER" "$DIR"
chmod 0755 "$DIR"

log "starting etcd on 127.0.0.1:$ETCD_CLIENT"
as mkdir -p "$DIR/etcd"
start-stop-daemon --start --background --make-pidfile --pidfile "$DIR/etcd.pid" \
	--chuid "$OWNER" --output "$DIR/etcd.log" --startas "$ETCD" -- \
	--name refkit-etcd --data-dir "$DIR/etcd/data" \
	--listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
	--listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
	--initial-cluster "refkit-etcd=http://127.0.0.1:$ETCD_PEER" --initial-cluster-state new \
	--heartbeat-interval 100 --election-timeout 500 --enable-v2=true
i=0
until http "http://127.0.0.1:$ETCD_CLIENT/health" >/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then log "etcd did not start; see $DIR/etcd.log"; diagnose; exit 1; fi
	sleep 0.2
done

for n in $NODES; do
	node=$DIR/node$n
	as mkdir -p "$node/data" "$node/log"
	chmod 0700 "$node/data"
	cat >"$node/patroni.yml" <<EOF
scope: refkit
namespace: /refkit/
name: node$n
log:
  dir: $node/log
  level: INFO
restapi:
  listen: 127.0.0.1:$((BASE + 10 + n))
  connect_address: 127.0.0.1:$((BASE + 10 + n))
etcd:
  hosts: 127.0.0.1:$ETCD_CLIENT
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 3
    maximum_lag_on_failover: 1048576
    primary_start_timeout: 0
    synchronous_mode: true
    synchronous_mode_strict: false
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_connections: 200
        max_wal_senders: 10
        max_replication_slots: 10
        fsync: "off"
        full_page_writes: "on"
        wal_keep_size: 128MB
  initdb:
    - encoding: UTF8
    - locale: C
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:$((BASE + n))
  connect_address: 127.0.0.1:$((BASE + n))
  data_dir: $node/data
  bin_dir: $BIN
  pgpass: $node/pgpass
  authentication:
    superuser:
      username: postgres
      password: refkit
    replication:
      username: replicator
      password: refkit
  parameters:
    unix_socket_directories: $node
    logging_collector: "on"
    log_directory: $node/log
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
EOF
	chown "$OWNER" "$node/patroni.yml"
	log "starting node$n: PostgreSQL on 127.0.0.1:$((BASE + n)), Patroni REST API on 127.0.0.1:$((BASE + 10 + n))"
	start-stop-daemon --start --background --make-pidfile --pidfile "$node/patroni.pid" \
		--chuid "$OWNER" --output "$node/patroni.out" --startas "$PATRONI" -- "$node/patroni.yml"
	# The first node bootstraps the cluster; the others then clone it.
	if [ "$n" = 1 ]; then
		i=0
		until http "http://127.0.0.1:$((BASE + 11))/leader" >/dev/null; do
			i=$((i + 1))
			if [ $i -gt 300 ]; then log "node1 did not become the leader; see $node/log"; diagnose; exit 1; fi
			sleep 0.2
		done
	fi
done

log "waiting for the replicas and the synchronous standby"
i=0
until healthy; do
	i=$((i + 1))
	if [ $i -gt 600 ]; then log "the cluster did not become healthy; see $DIR/node*/log"; diagnose; exit 1; fi
	sleep 0.2
done

# The cluster bootstraps without strict synchronous mode, so nothing the
# leader writes before its first standby streams (its own roles, the slots)
# can wait on a standby; strict mode, which the chaos test relies on, is
# switched on once a synchronous standby is there.
if [ "$STRICT" = true ]; then
	i=0
	until patch_config '{"synchronous_mode_strict": true}' &&
		http "http://127.0.0.1:$((BASE + 11))/config" | "$PY" -c '
import json, sys
sys.exit(0 if json.load(sys.stdin).get("synchronous_mode_strict") is True else 1)'; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then log "strict synchronous mode was not applied"; diagnose; exit 1; fi
		sleep 0.2
	done
	i=0
	until healthy; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then log "the cluster did not stay healthy in strict mode"; diagnose; exit 1; fi
		sleep 0.2
	done
fi

hosts=127.0.0.1:$((BASE + 1)),127.0.0.1:$((BASE + 2)),127.0.0.1:$((BASE + 3))
if [ "$(as "$BIN/psql" -X -q -tA "postgres://postgres@$hosts/postgres?target_session_attrs=read-write" \
	-c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
	as "$BIN/psql" -X -q "postgres://postgres@$hosts/postgres?target_session_attrs=read-write" -c "CREATE DATABASE $DB" >&2
fi

cat >"$DIR/cluster.json" <<EOF
{
  "url": "postgres://postgres@$hosts/$DB?sslmode=disable&target_session_attrs=read-write",
  "nodes": [
    {"name": "node1", "rest": "http://127.0.0.1:$((BASE + 11))", "port": $((BASE + 1)), "data_dir": "$DIR/node1/data", "patroni_pid_file": "$DIR/node1/patroni.pid"},
    {"name": "node2", "rest": "http://127.0.0.1:$((BASE + 12))", "port": $((BASE + 2)), "data_dir": "$DIR/node2/data", "patroni_pid_file": "$DIR/node2/patroni.pid"},
    {"name": "node3", "rest": "http://127.0.0.1:$((BASE + 13))", "port": $((BASE + 3)), "data_dir": "$DIR/node3/data", "patroni_pid_file": "$DIR/node3/patroni.pid"}
  ]
}
EOF
log "healthy: $(http "http://127.0.0.1:$((BASE + 11))/cluster" | "$PY" -c '
import json, sys
print(", ".join(m["name"] + " " + m["role"] for m in json.load(sys.stdin)["members"]))')"
print_dir
