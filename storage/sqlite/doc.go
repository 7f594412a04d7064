// Package sqlite is refkit's embedded default storage backend: a
// storage.Store on one SQLite file, in pure Go (modernc.org/sqlite, no cgo).
//
// Open configures every connection through the DSN's _pragma parameters, so
// each pooled connection gets the same settings: foreign keys on, a busy
// timeout, synchronous NORMAL (or FULL, see Options) and a larger page cache.
// The WAL journal mode is a property of the file, kept in its header: Open sets
// it once, after checking that the file is a refkit database, so that a file it
// refuses is never modified. The store keeps two *sql.DB
// handles on the file: a writer limited to one connection, whose transactions
// begin IMMEDIATE, and a pool of query-only readers. All writes therefore queue
// in this process instead of meeting SQLITE_BUSY, a read-then-write never has to
// upgrade its lock, and readers run beside the writer as WAL allows.
//
// Durability: a transition the store has returned from is committed. In WAL
// mode with synchronous NORMAL a committed transaction survives the process
// being killed, but the last ones may be lost if the machine loses power; with
// FULL they survive that too, at the cost of an fsync per commit.
//
// Records are stored whole as JSON beside typed columns for the fields that
// queries filter and sort on (see migrations/0001_init.sql). Times in those
// columns are Unix nanoseconds, so filters on times outside 1678–2262 compare
// them as the nearest representable instant. Events are kept in columns (a
// follower catching up on the feed decodes no JSON), with their time exact to
// the nanosecond and returned in UTC, as the storage contract asks; other
// records come back with their times as written, which refkit writes in UTC.
//
// The schema is migrated by the shared runner in internal/migrate from the
// embedded migrations/NNNN_name.sql files, numbered as in storage/postgres:
// each migration runs in one transaction with its record in
// refkit_schema_migrations. The transactions begin IMMEDIATE, so SQLite's
// write lock serialises processes that open one file together: no separate
// migration lock is taken. A shared few-line runner was preferred to a
// migration library because the two backends speak different driver APIs
// (database/sql here, pgx there), which the libraries would force into one.
//
// Feed followers are woken through FeedChanged (storage.FeedNotifier): by an
// append through the same Store as it commits, and, within
// Options.PollInterval, by an append another process (or another Store on the
// same file) commits, because while anyone waits the store reads the
// waited-on networks' feed heads at that interval (see notify.go for why the
// head and not PRAGMA data_version).
//
// The directory feed (storage.DirectoryFeed) works the same way: every
// directory write appends a row to directory_changes in its own transaction
// (migrations/0002_directory_feed.sql), positions are rowids handed out under
// the write lock, and DirectoryChanged wakes at once for this Store's changes
// and within Options.PollInterval for another process's, by watching the
// directory feed's head.
//
// Errors: a write lock another process holds past the busy timeout
// (SQLITE_BUSY, SQLITE_LOCKED), a full disk, an I/O error or a closed handle
// wrap referral.ErrUnavailable; a file that is not a usable database
// ErrNotDatabase and one that cannot be written ErrReadOnly (both
// referral.ErrInvalid); every call after Close storage.ErrClosed. A commit
// either happens or not, so a write that failed with ErrUnavailable wrote
// nothing, unless the process lost the file during the commit itself (an I/O
// error); a retry with the same idempotency key or version is safe either way.
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
// Every call of the storage interfaces (and Migrate) is a client span named
// "sqlite <operation>" ("sqlite update referral"), with db.system.name
// "sqlite", db.operation.name the operation, and, for a call returning a
// list, db.response.returned_rows. No SQL text and no parameter is ever an
// attribute: a parameter is a record's content.
//
//	metric                 unit     kind       attributes
//	refkit.store.duration  s        histogram  db.system.name, db.operation.name, error.type
//	refkit.store.errors    {error}  counter    db.system.name, db.operation.name, error.type
//
// # Dependencies
//
// Outside the standard library, sqlite imports modernc.org/sqlite (the pure-Go
// SQLite engine, with the modernc.org runtime libraries it brings) and
// the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace), and through referral github.com/google/uuid. It
// needs no cgo.
package sqlite
