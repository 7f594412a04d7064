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
// waits for the lock too, so it never reads a half-migrated schema.
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
// (pg_snapshot_xmin) is PostgreSQL-only, advisory locks are missing on CockroachDB,
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
// # Distributed engines
//
// The SQL is meant to run on CockroachDB and YugabyteDB as well, and uses only
// what they document support for: UUID and JSONB columns, INSERT ... ON
// CONFLICT, data-modifying CTEs, partial indexes, no sequences or SERIAL, no
// triggers. Two things are PostgreSQL's alone: LISTEN/NOTIFY (set NoNotify
// there) and the advisory lock that serialises migrations at start-up, for
// which an engine without advisory locks needs a lease row in a lock table
// behind the same migration Locker interface (not written yet: until then,
// start one process first on such an engine). Every call runs under a retry loop for SQLSTATE 40001
// (serialization failure, the normal contention signal of those engines, which
// run SERIALIZABLE) and 40P01 (deadlock), with full-jitter exponential backoff
// from 2 ms to at most 500 ms, Options.MaxRetries times (then ErrConflict); the
// jitter comes from Options.Rand. Checked here, on PostgreSQL 15: the retry loop
// with injected errors and with a real serialization failure from the server,
// the whole conformance suite with and without NOTIFY. Not checked, for want of
// a server: running on CockroachDB or YugabyteDB at all, including whether
// CockroachDB accepts a CTE that reads another mutating CTE's RETURNING rows
// and transactional DDL in the migration; on them the feed head row is a
// contention point that shows up as retries rather than waits.
//
// # Errors
//
// A call whose connection cannot be made or is lost (refused, reset,
// unexpected EOF, SQLSTATE class 08), that meets a server shutting down or not
// yet accepting connections (57P01, 57P02, 57P03), too many connections or too
// few resources (class 53), a lock or statement timeout, or a deadline that
// passes while the server works, fails with referral.ErrUnavailable, as does
// any server failure the store cannot attribute to the input. A write whose
// connection is lost while it commits may have been written: retry
// CreateReferral with the same idempotency key, and UpdateReferral with the
// same version (which is ErrConflict if the first attempt took effect). A pool
// its owner closed (New) is storage.ErrClosed, like the store after Close.
//
// # Tests
//
// Tests run against the server named by REFKIT_TEST_POSTGRES_URL and skip,
// saying so, when it is unset; .ci/postgres-server.sh starts a throwaway one:
//
//	export REFKIT_TEST_POSTGRES_URL=$(.ci/postgres-server.sh)
//	go test -race ./storage/postgres/
//
// # Dependencies
//
// Outside the standard library, postgres imports github.com/jackc/pgx/v5 (the
// driver and its pool) and github.com/jackc/puddle/v2 (the pool pgx builds on,
// only to recognise a closed pool), and through referral github.com/google/uuid.
package postgres
