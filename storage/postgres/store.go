package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"net"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/internal/migrate"
	"github.com/refkit/refkit/internal/storetel"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrConnect reports that Open could not reach or log in to the server within
// the connect timeout. It wraps referral.ErrUnavailable.
var ErrConnect = fmt.Errorf("postgres: cannot connect to the server: %w", referral.ErrUnavailable)

// Defaults for the zero Options.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultPollInterval   = time.Second
	DefaultMaxRetries     = 10
	// DefaultRetryTimeout is how long a call keeps trying to reach the server
	// after it first failed to: a little longer than a Patroni failover with
	// Patroni's default ttl of 30 seconds.
	DefaultRetryTimeout = 35 * time.Second
)

// Retry backoff bounds: the first retry waits up to retryBase, each further one
// up to twice as long, never more than retryCap.
const (
	retryBase = 2 * time.Millisecond
	retryCap  = 500 * time.Millisecond
)

// feedChannel and directoryChannel are the LISTEN/NOTIFY channels of the
// referral feed and the directory feed of a store in the default schema.
const (
	feedChannel      = "refkit_feed"
	directoryChannel = "refkit_directory"
)

// schemaName is what Options.Schema accepts: a plain lowercase identifier short
// enough that the notification channel named after it stays under PostgreSQL's
// 63-byte identifier limit.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,39}$`)

// Options configures a Store. The zero value is usable: it migrates on open,
// uses LISTEN/NOTIFY, and retries serialization failures.
type Options struct {
	// NoMigrate makes Open only check the schema instead of migrating it: a
	// newer schema still fails Open (storage.ErrNewerSchema), an older one
	// opens, but every call fails with storage.ErrSchemaBehind until the host
	// runs Migrate.
	NoMigrate bool
	// Schema, if set, is the PostgreSQL schema the store's tables live in: Open
	// puts it on every connection's search_path and creates it when migrating.
	// Tests use a fresh schema per store to stay isolated. It must be a lowercase
	// identifier of at most 40 characters. Only Open honours it: with New, set
	// search_path in the pool's configuration instead.
	Schema string
	// ConnectTimeout bounds each connection attempt, so an unreachable server
	// fails Open quickly; zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// MaxConns caps the pool Open creates; zero keeps pgxpool's default.
	MaxConns int32
	// NoNotify turns LISTEN/NOTIFY off (Portable implies it), for
	// PostgreSQL-compatible engines that lack it (CockroachDB, and YugabyteDB
	// unless it is turned on there). FeedChanged then wakes at appends made
	// through this Store and, for appends by other processes, after PollInterval.
	NoNotify bool
	// PollInterval is how long a FeedChanged channel waits at most when
	// notifications from other processes cannot arrive (NoNotify); zero means
	// DefaultPollInterval.
	PollInterval time.Duration
	// MaxRetries is how often a transaction that failed with a serialization
	// failure (SQLSTATE 40001) or a deadlock (40P01) is retried, with jittered
	// exponential backoff; zero means DefaultMaxRetries, negative never retries.
	MaxRetries int
	// Rand is the source of the retry jitter; nil seeds one from crypto/rand.
	// Its calls are serialised by the store.
	Rand mrand.Source
	// RetryTimeout is how long a call keeps retrying after it first found the
	// server unreachable or lost its connection (a failover, a restart),
	// waiting a jittered backoff of at most a second between attempts, before
	// it fails with referral.ErrUnavailable (or referral.ErrOutcomeUnknown,
	// for a write that may have been applied). The caller's context bounds it
	// too. Zero means DefaultRetryTimeout; negative fails at the first such
	// error. Set it above the time your cluster takes to fail over (Patroni:
	// about ttl + loop_wait for a lost machine).
	RetryTimeout time.Duration
	// Portable restricts the store to what PostgreSQL-compatible distributed
	// engines (CockroachDB, YugabyteDB) are documented to support: no
	// LISTEN/NOTIFY (followers poll every PollInterval, as with NoNotify),
	// migrations serialised by a lease row in the table refkit_leases
	// instead of an advisory lock, and every call run
	// in an explicit transaction retried as a whole on SQLSTATE 40001 and
	// 40P01, which those engines may report at any statement or at commit.
	Portable bool
	// TracerProvider receives a span per store call, with an event per retry
	// (see the package doc's Telemetry); nil means the OpenTelemetry global
	// provider, which records nothing until the host installs one.
	TracerProvider trace.TracerProvider
	// MeterProvider receives the store call and retry metrics; nil means
	// the OpenTelemetry global provider.
	MeterProvider metric.MeterProvider
}

func (o Options) validate() error {
	switch {
	case o.Schema != "" && !schemaName.MatchString(o.Schema):
		return referral.Invalid("schema", "must be a lowercase identifier of at most 40 characters")
	case o.ConnectTimeout < 0:
		return referral.Invalid("connect_timeout", "must not be negative")
	case o.PollInterval < 0:
		return referral.Invalid("poll_interval", "must not be negative")
	case o.MaxConns < 0:
		return referral.Invalid("max_conns", "must not be negative")
	}
	return nil
}

// Store is a storage.Store on PostgreSQL through a pgx connection pool. It is
// safe for concurrent use, also by several processes on one database.
type Store struct {
	pool       *pgxpool.Pool
	owned      bool
	opts       Options
	migrations []migrate.Migration
	retry      *retrier
	closed     atomic.Bool
	// current is set once the schema is at the latest version.
	current atomic.Bool

	// channel is the NOTIFY channel; token marks this store's own notifications,
	// which it has already delivered to its waiters in-process.
	channel string
	token   string
	notify  *notifier
	// directoryChannel and directory do the same for the directory feed.
	directoryChannel string
	directory        *notifier

	// createSQL and updateSQL are the referral writes, with or without pg_notify.
	createSQL, updateSQL string

	// hook, if set, wraps every querier a call runs its statements through:
	// the tests' fault injection. Nil in production.
	hook func(querier) querier
	tel  *tel
}

var (
	_ storage.Store          = (*Store)(nil)
	_ storage.FeedNotifier   = (*Store)(nil)
	_ storage.DirectoryFeed  = (*Store)(nil)
	_ storage.DirectoryBatch = (*Store)(nil)
)

// Open connects to the database at url (a PostgreSQL URL or key=value string),
// waiting at most the connect timeout, migrates it (or checks it, with
// NoMigrate), and returns a Store that owns its pool.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parser's message may quote the URL, password included: leave it out.
		return nil, fmt.Errorf("postgres: open: %w", referral.Invalid("url", "is not a PostgreSQL connection string"))
	}
	timeout := opts.ConnectTimeout
	if timeout == 0 {
		timeout = DefaultConnectTimeout
	}
	cfg.ConnConfig.ConnectTimeout = timeout
	// A leader whose machine died without closing its connections would
	// leave a statement, or the LISTEN connection, waiting on a socket that
	// never answers; probing an idle connection after 5 s, every 2 s, and
	// giving up after 3 unanswered probes ends such a connection within about
	// 11 s (the operating system's defaults take over two hours), and the
	// store's retries take it from there.
	dialer := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 2 * time.Second, Count: 3}}
	cfg.ConnConfig.DialFunc = dialer.DialContext
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		// Only a configuration the pool refuses fails here: no connection is made yet.
		return nil, fmt.Errorf("postgres: open: %w", referral.Invalid("url", "sets pool options the pool refuses"))
	}
	pingCtx, cancel := context.WithTimeout(ctx, timeout)
	err = pool.Ping(pingCtx)
	cancel()
	if err != nil {
		pool.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("postgres: open: %w", ctx.Err())
		}
		return nil, fmt.Errorf("%w (%s:%d, within %s): %w", ErrConnect, cfg.ConnConfig.Host, cfg.ConnConfig.Port, timeout, err)
	}
	s, err := newStore(ctx, pool, true, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// New returns a Store on the caller's pool, migrated (or checked, with
// NoMigrate). Close leaves the pool open. Options.Schema must be empty: the
// pool's own search_path decides the schema.
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("postgres: new: %w", err)
	}
	if pool == nil {
		return nil, fmt.Errorf("postgres: new: %w", referral.Invalid("pool", "is required"))
	}
	if opts.Schema != "" {
		return nil, fmt.Errorf("postgres: new: %w", referral.Invalid("schema", "is set through the pool's search_path with New"))
	}
	return newStore(ctx, pool, false, opts)
}

func newStore(ctx context.Context, pool *pgxpool.Pool, owned bool, opts Options) (*Store, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	ms, err := migrate.Load(sub)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// The embedded migrations are part of this build: one that does not load
	// is a broken build, caught by every test, never a host's input.
	src := opts.Rand
	if src == nil {
		var seed [16]byte
		if _, err := rand.Read(seed[:]); err != nil {
			return nil, fmt.Errorf("postgres: seed retry jitter: %w", err)
		}
		src = mrand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))
	}
	maxRetries := opts.MaxRetries
	switch {
	case maxRetries == 0:
		maxRetries = DefaultMaxRetries
	case maxRetries < 0:
		maxRetries = 0
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	timeout := opts.RetryTimeout
	if timeout == 0 {
		timeout = DefaultRetryTimeout
	}
	if opts.Portable {
		opts.NoNotify = true
	}
	s := &Store{
		pool:       pool,
		owned:      owned,
		opts:       opts,
		migrations: ms,
		retry:      newRetrier(maxRetries, timeout, src),
		channel:    feedChannel,
		token:      referral.NewID().String(),
		tel:        newTel(opts),
	}
	s.directoryChannel = directoryChannel
	if opts.Schema != "" {
		s.channel = feedChannel + "_" + opts.Schema
		s.directoryChannel = directoryChannel + "_" + opts.Schema
	}
	s.notify = newNotifier(s)
	s.directory = newChannelNotifier(s, s.directoryChannel)
	s.createSQL, s.updateSQL = createReferralSQL, updateReferralSQL
	if !opts.NoNotify {
		s.createSQL, s.updateSQL = createReferralNotifySQL, updateReferralNotifySQL
	}
	var st migrate.Status
	if opts.NoMigrate {
		st, err = migrate.Check(ctx, s.locker(), ms)
	} else {
		st, err = migrate.Run(ctx, s.locker(), ms)
	}
	if err != nil {
		return nil, s.fail("migrate", err)
	}
	// Opened with NoMigrate on an older schema, every call but Migrate and
	// Close fails with storage.ErrSchemaBehind until Migrate has run.
	s.current.Store(!st.Pending())
	return s, nil
}

// Migrate applies the migrations this version has that the database lacks,
// under the schema's migration lock (see doc.go). It fails with
// storage.ErrNewerSchema on a database written by a newer refkit.
func (s *Store) Migrate(ctx context.Context) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpMigrate)
	defer obs.End(ctx, &err)
	if err := s.open(ctx); err != nil {
		return err
	}
	if _, err := migrate.Run(ctx, s.locker(), s.migrations); err != nil {
		return s.fail("migrate", err)
	}
	s.current.Store(true)
	return nil
}

// Close stops the notification listener, wakes every waiting follower, and
// closes the pool if Open created it. Later calls fail with storage.ErrClosed;
// closing twice is not an error.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.notify.close()
	s.directory.close()
	if s.owned {
		s.pool.Close()
	}
	return nil
}

// lockClass is the first key of refkit's advisory lock: the four bytes "rkmg"
// ("refkit migrate"), so the lock does not collide with a host's own advisory
// locks, which conventionally use one bigint key.
const lockClass int32 = 0x726b6d67

// lockSQL and unlockSQL take and release the migration lock of the schema
// the connection's search_path names (Options.Schema with Open, the pool's
// own setting with New): stores on one schema wait for one another, stores on
// different schemas do not. The schema is read from the setting, not from
// current_schema(), which is NULL until the schema exists.
const (
	lockSQL   = `SELECT pg_advisory_lock($1, hashtext(current_setting('search_path')))`
	unlockSQL = `SELECT pg_advisory_unlock($1, hashtext(current_setting('search_path')))`
)

// unlockTimeout bounds releasing the lock; past it the connection is closed,
// which releases a session lock too.
const unlockTimeout = 10 * time.Second

// advisoryLock is the migration lock (migrate.Locker): a session-level
// advisory lock, taken on one connection from the pool, through which the
// migrations then run, so that it works with a pool of one connection. A
// process that dies holding it loses its session and with it the lock.
type advisoryLock struct{ s *Store }

func (l advisoryLock) Lock(ctx context.Context) (migrate.Target, func() error, error) {
	conn, err := l.s.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.Exec(ctx, lockSQL, lockClass); err != nil {
		// The lock may have been granted as the call failed (a cancelled wait):
		// closing the session is the one way to be sure it is not left held on a
		// pooled connection.
		discard(conn)
		return nil, nil, err
	}
	unlock := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
		defer cancel()
		var released bool
		err := conn.QueryRow(ctx, unlockSQL, lockClass).Scan(&released)
		if err != nil || !released {
			discard(conn)
			if err == nil {
				err = errors.New("the migration lock was not held by this session")
			}
			return err
		}
		conn.Release()
		return nil
	}
	return migrator{s: l.s, db: conn}, unlock, nil
}

// discard takes conn out of the pool and closes it, ending its session.
func discard(conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	_ = conn.Hijack().Close(ctx)
}

// migrationDB is what the migrations run through: the connection holding the
// advisory lock, or in portable mode the pool.
type migrationDB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Begin(ctx context.Context) (pgx.Tx, error)
}

// migrator adapts the store to migrate.Target, on the locked connection (or
// the pool, in portable mode).
type migrator struct {
	s  *Store
	db migrationDB
}

var (
	_ migrate.Target = migrator{}
	_ migrate.Locker = advisoryLock{}
)

// Prepare creates the schema, the table recording migrations and the lease
// table (see Lease), each if missing.
func (m migrator) Prepare(ctx context.Context) error {
	if err := createSchema(ctx, m.s, m.db); err != nil {
		return err
	}
	return m.s.retry.do(ctx, func() error {
		_, err := m.db.Exec(ctx, `CREATE TABLE IF NOT EXISTS refkit_schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TIMESTAMPTZ NOT NULL)`)
		if err != nil && !createdMeanwhile(err) {
			return err
		}
		return createLeases(ctx, m.db)
	})
}

// createSchema creates Options.Schema if it is set and missing.
func createSchema(ctx context.Context, s *Store, db migrationDB) error {
	if s.opts.Schema == "" {
		return nil
	}
	return s.retry.do(ctx, func() error {
		// An identifier, validated against schemaName: it cannot be a parameter.
		_, err := db.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{s.opts.Schema}.Sanitize())
		if err != nil && !createdMeanwhile(err) {
			return err
		}
		return nil
	})
}

// createdMeanwhile reports an IF NOT EXISTS that lost a race with another
// session creating the same object: PostgreSQL then fails on its catalog's
// unique indexes instead of skipping. Every refkit store creates under the
// migration lock, so only a session that does not take it (an older refkit,
// a host's own script) can race; the object exists, which is all Prepare needs.
func createdMeanwhile(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "23505", "42P06", "42P07", "42710":
		return true
	}
	return false
}

func (m migrator) Applied(ctx context.Context) ([]migrate.Record, error) {
	var recs []migrate.Record
	err := m.s.retry.do(ctx, func() error {
		rows, err := m.db.Query(ctx, `SELECT version, name FROM refkit_schema_migrations`)
		if err != nil {
			return err
		}
		recs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (migrate.Record, error) {
			var r migrate.Record
			err := row.Scan(&r.Version, &r.Name)
			return r, err
		})
		return err
	})
	return recs, err
}

func (m migrator) Apply(ctx context.Context, mg migrate.Migration) error {
	return m.s.retry.do(ctx, func() error {
		return pgx.BeginFunc(ctx, m.db, func(tx pgx.Tx) error {
			// Without arguments pgx uses the simple protocol, which runs a file of
			// several statements in one call.
			if _, err := tx.Exec(ctx, mg.SQL); err != nil {
				return err
			}
			// applied_at is the server's clock: a record of when, not domain data.
			_, err := tx.Exec(ctx, `INSERT INTO refkit_schema_migrations (version, name, applied_at) VALUES ($1, $2, now())`,
				mg.Version, mg.Name)
			return err
		})
	})
}

// live checks the context, the store and its schema before any work.
func (s *Store) live(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	if !s.current.Load() {
		return fmt.Errorf("postgres: opened with NoMigrate; run Migrate first: %w", storage.ErrSchemaBehind)
	}
	return nil
}

// open checks the context and that the store is open.
func (s *Store) open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if s.closed.Load() {
		return storage.ErrClosed
	}
	return nil
}

// fail wraps an error of op so that it carries a sentinel: errors already
// carrying one pass through with the op prefixed, a call that lost a race with
// Close is storage.ErrClosed, and driver and server errors are classified.
func (s *Store) fail(op string, err error) error {
	switch {
	case errors.Is(err, referral.ErrNotFound), errors.Is(err, referral.ErrConflict), errors.Is(err, referral.ErrInvalid),
		errors.Is(err, referral.ErrUnavailable), errors.Is(err, storage.ErrClosed):
		return fmt.Errorf("postgres: %s: %w", op, err)
	case s.closed.Load() && !errors.Is(err, context.Canceled):
		return fmt.Errorf("postgres: %s: %w", op, storage.ErrClosed)
	}
	return fmt.Errorf("postgres: %s: %w", op, classify(err))
}

// classify gives a driver or server error the sentinel it stands for.
//
// Transient failures are referral.ErrUnavailable: the connection could not be
// made, broke, or was closed (network errors, unexpected EOF, SQLSTATE class
// 08), the server is shutting down, restarting or not yet accepting
// connections (57P01, 57P02, 57P03), it has too many connections or too few
// resources (class 53), a lock or statement timeout fired (55P03, 57014), or
// the caller's deadline passed while the backend worked. So is any failure
// this function does not recognise, such as an internal server error: it is
// not the input's fault, and a host can only retry it and, if it persists,
// treat it as an outage. A pool its owner closed is storage.ErrClosed.
//
// Input the server refuses is referral.ErrInvalid without the server's
// message, which may quote the value; a violated unique index is ErrConflict
// and a missing referenced row ErrNotFound. A context the caller cancelled
// stays context.Canceled.
func classify(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, puddle.ErrClosedPool):
		return fmt.Errorf("the store's connection pool is closed: %w", storage.ErrClosed)
	case errors.As(err, &pgErr):
		return classifyState(pgErr, err)
	case pgconn.SafeToRetry(err):
		return fmt.Errorf("nothing was sent to the server, so nothing was written: %w: %w", referral.ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %w", referral.ErrUnavailable, err)
}

// classifyState classifies an error the server reported, by its SQLSTATE.
func classifyState(pgErr *pgconn.PgError, err error) error {
	code, class := pgErr.Code, pgErr.Code[:min(2, len(pgErr.Code))]
	switch {
	case code == "23505":
		return fmt.Errorf("a unique index refused the write: %w", referral.ErrConflict)
	case code == "23503":
		return fmt.Errorf("a referenced record is missing: %w", referral.ErrNotFound)
	case code == "22P05" || code == "22021":
		// JSONB cannot hold a NUL character (\u0000); the record's own validation
		// does not reject it in every field.
		return referral.Invalid("text", "must not contain NUL characters")
	case class == "22" || class == "23":
		return referral.Invalid("record", "holds a value the database refuses")
	case class == "54":
		return referral.Invalid("record", "is too large or too complex for the database")
	case class == "08", code == "57P01", code == "57P02", code == "57P03", class == "53",
		code == "55P03", code == "57014":
		return fmt.Errorf("%w: %w", referral.ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %w", referral.ErrUnavailable, err)
}

func notFound(kind string, id referral.ID) error {
	return fmt.Errorf("%s %s: %w", kind, id, referral.ErrNotFound)
}

func conflict(kind string, id referral.ID, why string) error {
	return fmt.Errorf("%s %s %s: %w", kind, id, why, referral.ErrConflict)
}

// uid is an id as pgx encodes a uuid parameter.
func uid(id referral.ID) [16]byte { return id }

// nullTime is t as a nullable timestamptz parameter: the zero time is NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// nullText is s as a nullable text parameter: "" is NULL.
func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// encode is the JSON document a record is stored as.
func encode(kind string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		// Validated records encode; what does not (a NaN, say) is bad input.
		return nil, fmt.Errorf("postgres: encode %s: %w", kind,
			referral.Invalid("record", "has a value that cannot be stored, such as a number that is not finite"))
	}
	return b, nil
}

// decode reads a stored JSON document. One that does not decode was written by
// something other than this version of refkit: like a newer schema, the
// database and the code disagree, so it is a conflict (and the JSON error,
// which may quote the document, is left out).
func decode[T any](kind string, doc []byte) (T, error) {
	var v T
	if err := json.Unmarshal(doc, &v); err != nil {
		return v, fmt.Errorf("stored %s does not decode: %w", kind, referral.ErrConflict)
	}
	return v, nil
}
