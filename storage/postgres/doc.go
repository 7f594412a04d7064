// Package postgres is a storage.Store on PostgreSQL through pgx v5 (pgxpool):
// the backend for hosts that run several processes against one database.
//
//	s, err := postgres.Open(ctx, "postgres://refkit@db/refkit", postgres.Options{})
//
// Open connects (failing with ErrConnect after Options.ConnectTimeout when the
// server does not answer), applies the embedded migrations (recorded in
// refkit_schema_migrations; Options.NoMigrate only checks them), and owns its
// pool. New does the same on a pool the host built; Close leaves that pool
// open. Options.Schema puts the tables in their own schema, which the tests use
// to isolate every store.
//
// # Start-up
//
// Processes that start together on one empty schema are safe: each takes the
// schema's migration lock before it creates anything (the schema, the record
// table, the tables), and the first to get it migrates while the others wait
// and then find the work done. The lock is a session-level advisory lock,
// pg_advisory_lock(class, hashtext(search_path)), keyed by the search_path the
// store's connections use, so stores on different schemas never wait for one
// another; it is taken on one pooled connection and the migrations run on that
// same connection (a pool of one works), and a process that dies holding it
// loses its session and the lock with it. Checking the schema with NoMigrate
// waits for the lock too, so it never reads a half-migrated schema. In
// portable mode (Options.Portable) the lock is a lease row instead (see
// Distributed engines).
//
// # Layout
//
// Each table keeps the whole record as JSONB (doc), so a new field needs no
// migration, and copies into typed columns only what a query filters, joins or
// sorts on: ids (UUID), network, sender, receiver, person, status, created,
// next deadline, version, idempotency key, consent validity, feed position.
// Every listing the lifecycle and directory make has an index (see
// migrations/0001_init.sql). All SQL is static text or assembled from fixed
// fragments; every value is a parameter.
//
// # Writes
//
// A referral write is a single statement (data-modifying CTEs), so one round
// trip and one commit: the referral row is inserted, or updated only where its
// version is the one the caller read, the network's feed head is incremented,
// and the event is inserted at the new position. When the referral part matches
// nothing, nothing is written and a second query tells why: ErrNotFound,
// ErrConflict (a concurrent writer won), an idempotent retry, or ErrInvalid for
// an event whose From is not the stored status.
//
// # Feed positions
//
// Positions are strictly increasing per network and become visible in that
// order, so a follower that resumes after the last position it saw never skips
// an event. A plain sequence or identity column cannot promise this:
// transaction A takes 10, B takes 11 and commits first, a reader sees 11 and
// resumes after it, and 10 appears later below its cursor. Instead each network
// has a row in feed_heads, incremented (UPDATE ... RETURNING) inside the writing
// transaction. Its row lock is held until commit, so the next writer to the
// same network reads the head only after the previous one is visible: positions
// are handed out in commit order. TestFeedTailUnderConcurrentWriters checks it
// by tailing the feed while eight writers append.
//
// The cost: writers to one network serialise for the length of their
// transaction, commit (the WAL flush) included, so one network's write rate is
// at most one per commit latency; group commit cannot batch them. Writers to
// different networks do not wait for one another. The alternatives were worse
// for portability: reading only below the oldest in-flight transaction
// (pg_snapshot_xmin) is PostgreSQL-only, advisory locks do nothing on CockroachDB,
// and SERIALIZABLE with max(position)+1 trades the wait for retries.
//
// # The directory feed
//
// The directory feed (storage.DirectoryFeed) reuses the mechanism: every write
// of an organization or service, a deletion and a capacity write is one
// statement that writes the record, increments the network's row in
// directory_heads (an upsert, so the row is made by the first change) and
// inserts the change at the new position into directory_changes
// (migrations/0002_directory_feed.sql). AdjustCapacity is one transaction: it
// locks the service row, takes its cause by a conditional upsert of the
// network's row in directory_cursors (a second adjuster with the same cause
// waits for the first and then finds it taken), and writes the capacity with
// its change. Changes notify their own channel, refkit_directory
// (refkit_directory_<schema>), listened to on a second connection opened by
// the first DirectoryChanged.
//
// # Notifications
//
// Stores implement storage.FeedNotifier. A write also runs pg_notify on the
// channel refkit_feed (refkit_feed_<schema> with Options.Schema), delivered at
// commit, with the network id and the writing store's token as payload. Each
// Store opens, on the first FeedChanged, one connection outside the pool that
// LISTENs and wakes that network's followers; notifications a store sent itself
// are ignored, since its writes wake its own followers as they return. If the
// listener connection breaks, every follower is woken (a notification may have
// been lost) and again once it listens anew. NOTIFY has a cost: PostgreSQL
// serialises the commits of notifying transactions on its notification queue.
// Options.NoNotify leaves it out; FeedChanged channels then also close after
// Options.PollInterval, so followers in other processes poll.
//
// # High availability
//
// The store runs on PostgreSQL streaming replication managed by Patroni and
// rides out its failovers; docs/operations-ha.md is the operator's guide.
// Open accepts a multi-host URL, and with target_session_attrs=read-write pgx
// connects only to the host that takes writes, so the pool follows the leader:
//
//	postgres://refkit@db1,db2,db3/refkit?target_session_attrs=read-write&connect_timeout=2
//
// Every call retries by itself when the server cannot be reached or the
// connection breaks under it (refused, reset, unexpected EOF, the server
// shutting down, a standby refusing a write): it drops the pool's connections,
// waits a jittered backoff of at most a second, and tries again, until
// Options.RetryTimeout (35 s by default) has passed since the first such
// failure. A failover of a few seconds is then only a slower call. A write
// whose connection broke after it was sent may have committed; the next
// attempt first finds out: a created referral by its id (minted for this
// call alone), an update by its event at the new version (compared whole with
// the one this call wrote), a screening by its document, a deleted service by
// its absence; upserts of the directory, persons, consents and leases are
// idempotent as they stand. Only a write not found is applied again, so no
// retry writes twice. What outlasts RetryTimeout fails with
// referral.ErrUnavailable (nothing was written) or referral.ErrOutcomeUnknown
// (a write was interrupted after it was sent and the store could not tell in
// time; it wraps ErrUnavailable), whose safe retries the referral package
// documents.
//
// LISTEN/NOTIFY followers survive failovers too: the listener connection
// breaks with the old leader, wakes every follower (a notification may have
// been lost), reconnects through the same URL to the new leader, and wakes
// them again once it listens, so each re-reads the feed from its cursor.
// lifecycle.Engine.Follow itself waits and retries while the feed is
// unavailable, so a host never restarts it.
//
// Checked on a real cluster by TestChaosFailover (etcd and three PostgreSQL
// 15 nodes under Patroni 3.0, synchronous_mode_strict, from
// .ci/patroni-cluster.sh): four workers drive referral lifecycles through the
// lifecycle engine while the leader is killed ten times and frozen once past
// Patroni's TTL; every acknowledged transition is stored exactly once, every
// history replays to its referral, feed positions strictly increase, and a
// follower running throughout sees every event once. BENCHMARKS.md has the
// figures.
//
// # Leases
//
// Store implements storage.Leaser: Lease takes or renews a named lease in
// the table refkit_leases, timed by the database's clock, which the processes
// sharing the database agree on. lifecycle.Engine.SweepLeased uses it so that
// one process sweeps deadlines at a time. The table is created with the
// migration record table, not by a numbered migration, because portable mode
// takes its migration lock there before any migration runs.
//
// # Distributed engines
//
// Options.Portable restricts the store to what CockroachDB and YugabyteDB
// document support for. It uses no LISTEN/NOTIFY (FeedChanged channels close
// every PollInterval and followers re-read the feed: polling is the
// correctness floor), serialises migrations with a lease row in
// refkit_leases (renewed while the migrations run, expiring 30 s after a
// holder dies) instead of an advisory lock, and runs every call in an
// explicit transaction that is retried as a whole on SQLSTATE 40001
// (serialization failure, the normal contention signal of those engines,
// which run SERIALIZABLE and may report it at any statement or at commit) and
// 40P01 (deadlock), with full-jitter exponential backoff from 2 ms to at most
// 500 ms, Options.MaxRetries times (then ErrConflict); the jitter comes from
// Options.Rand. Processes that start together create the schema and the lease
// table together: a creation that loses the race on the catalog is taken as
// done.
//
// Tested, on PostgreSQL 15 only: the whole conformance suite in portable mode
// with serialization failures injected into one statement in ten (half before
// the server runs it, half after, inside the transaction), concurrent first
// starts creating the lease table together, and a lease held or expired. Not
// tested, for want of a server, so designed for but unproven: CockroachDB and
// YugabyteDB themselves. Known gaps there: CockroachDB has no LISTEN/NOTIFY
// and accepts advisory-lock calls without locking (portable mode uses
// neither); YugabyteDB has LISTEN/NOTIFY only in recent releases and off by
// default (portable mode does not rely on it); whether CockroachDB accepts a
// CTE that reads another mutating CTE's RETURNING rows and the transactional
// DDL of the migration is unchecked; and on both the feed head row is a
// contention point that shows up as retries rather than waits. The SQL uses
// UUID and JSONB columns, INSERT ... ON CONFLICT, data-modifying CTEs, partial
// indexes, no sequences or SERIAL, no triggers.
//
// Outside portable mode calls are retried on 40001 and 40P01 the same way,
// each statement being its own transaction (on PostgreSQL at READ COMMITTED
// they arise only from deadlocks).
//
// # Errors
//
// A call whose connection cannot be made or is lost (refused, reset,
// unexpected EOF, SQLSTATE class 08), that meets a server shutting down or not
// yet accepting connections (57P01, 57P02, 57P03), too many connections or too
// few resources (class 53), a lock or statement timeout, or a deadline that
// passes while the server works, fails with referral.ErrUnavailable, as does
// any server failure the store cannot attribute to the input; the first kinds
// only after the retries above. A write interrupted after it was sent whose
// outcome the store could not settle is referral.ErrOutcomeUnknown. A pool its
// owner closed (New) is storage.ErrClosed, like the store after Close.
//
// # Tests
//
// Tests run against the server named by REFKIT_TEST_POSTGRES_URL and skip,
// saying so, when it is unset; .ci/postgres-server.sh starts a throwaway one.
// The Patroni tests need the cluster .ci/patroni-cluster.sh starts (its
// directory in REFKIT_TEST_PATRONI), and the chaos test, which runs for
// minutes, REFKIT_CHAOS=1 as well:
//
//	export REFKIT_TEST_POSTGRES_URL=$(.ci/postgres-server.sh)
//	export REFKIT_TEST_PATRONI=$(.ci/patroni-cluster.sh)
//	go test -race ./storage/postgres/
//	REFKIT_CHAOS=1 go test -race -run TestChaosFailover -v ./storage/postgres/
//
// # Telemetry
//
// The package instruments itself through the OpenTelemetry API (no SDK: the
// host chooses and installs one). A Store reports to Options.TracerProvider and
// Options.MeterProvider;
// nil means the OpenTelemetry global providers, which record nothing until
// the host installs an SDK; with nothing installed, or a no-op provider, an
// instrumented call costs an atomic load and a comparison more and allocates
// nothing more (BENCHMARKS.md). Failures are marked with error.type, the name
// of the refkit sentinel the error wraps (not_found, conflict, invalid,
// unavailable, ...), never with the error's text.
//
// Every call of the storage interfaces (and Migrate and Lease) is a client
// span named "postgres <operation>" ("postgres update referral"), with
// db.system.name "postgresql", db.operation.name the operation, and, for a
// call returning a list, db.response.returned_rows; each retry of the call is
// an event "retry" with refkit.postgres.retry (contention: a serialization
// failure or deadlock; reconnect: the server unreachable or the connection
// lost). No SQL text and no parameter is ever an attribute, and a server
// error's message, which may quote a value, is never recorded.
//
//	metric                   unit     kind       attributes
//	refkit.store.duration    s        histogram  db.system.name, db.operation.name, error.type
//	refkit.store.errors      {error}  counter    db.system.name, db.operation.name, error.type
//	refkit.postgres.retries  {retry}  counter    db.system.name, refkit.postgres.retry
//
// # Dependencies
//
// Outside the standard library, postgres imports github.com/jackc/pgx/v5 (the
// driver and its pool) and github.com/jackc/puddle/v2 (the pool pgx builds on,
// only to recognise a closed pool) and the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace), and
// through referral github.com/google/uuid.
package postgres
