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
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refkit/refkit/internal/migrate"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrClosed is returned by every call on a store after Close.
var ErrClosed = errors.New("postgres: store is closed")

// ErrConnect reports that Open could not reach or log in to the server within
// the connect timeout.
var ErrConnect = errors.New("postgres: cannot connect to the server")

// Defaults for the zero Options.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultPollInterval   = time.Second
	DefaultMaxRetries     = 10
)

// Retry backoff bounds: the first retry waits up to retryBase, each further one
// up to twice as long, never more than retryCap.
const (
	retryBase = 2 * time.Millisecond
	retryCap  = 500 * time.Millisecond
)

// feedChannel is the LISTEN/NOTIFY channel of a store in the default schema.
const feedChannel = "refkit_feed"

// schemaName is what Options.Schema accepts: a plain lowercase identifier short
// enough that the notification channel named after it stays under PostgreSQL's
// 63-byte identifier limit.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,39}$`)

// Options configures a Store. The zero value is usable: it migrates on open,
// uses LISTEN/NOTIFY, and retries serialization failures.
type Options struct {
	// NoMigrate makes Open only check the schema instead of migrating it: a
	// newer schema still fails Open (migrate.ErrNewerSchema), an older one
	// opens, but every call fails with migrate.ErrSchemaBehind until the host
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
	// NoNotify turns LISTEN/NOTIFY off, for PostgreSQL-compatible engines that
	// lack it (CockroachDB, YugabyteDB). FeedChanged then wakes at appends made
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

	// createSQL and updateSQL are the referral writes, with or without pg_notify.
	createSQL, updateSQL string
}

var (
	_ storage.Store        = (*Store)(nil)
	_ storage.FeedNotifier = (*Store)(nil)
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
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
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
	s := &Store{
		pool:       pool,
		owned:      owned,
		opts:       opts,
		migrations: ms,
		retry:      newRetrier(maxRetries, src),
		channel:    feedChannel,
		token:      referral.NewID().String(),
	}
	if opts.Schema != "" {
		s.channel = feedChannel + "_" + opts.Schema
	}
	s.notify = newNotifier(s)
	s.createSQL, s.updateSQL = createReferralSQL, updateReferralSQL
	if !opts.NoNotify {
		s.createSQL, s.updateSQL = createReferralNotifySQL, updateReferralNotifySQL
	}
	t := migrator{s}
	var st migrate.Status
	if opts.NoMigrate {
		st, err = migrate.Check(ctx, t, ms)
	} else {
		st, err = migrate.Run(ctx, t, ms)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// Opened with NoMigrate on an older schema, every call but Migrate and
	// Close fails with migrate.ErrSchemaBehind until Migrate has run.
	s.current.Store(!st.Pending())
	return s, nil
}

// Migrate applies the migrations this version has that the database lacks. It
// fails with migrate.ErrNewerSchema on a database written by a newer refkit.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	if _, err := migrate.Run(ctx, migrator{s}, s.migrations); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	s.current.Store(true)
	return nil
}

// Close stops the notification listener, wakes every waiting follower, and
// closes the pool if Open created it. Later calls fail with ErrClosed; closing
// twice is not an error.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.notify.close()
	if s.owned {
		s.pool.Close()
	}
	return nil
}

// migrator adapts the store to migrate.Target.
type migrator struct{ s *Store }

func (m migrator) Prepare(ctx context.Context) error {
	if m.s.opts.Schema != "" {
		// An identifier, validated against schemaName: it cannot be a parameter.
		if _, err := m.s.pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{m.s.opts.Schema}.Sanitize()); err != nil && !createdMeanwhile(err) {
			return err
		}
	}
	_, err := m.s.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS refkit_schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL)`)
	if err != nil && !createdMeanwhile(err) {
		return err
	}
	return nil
}

// createdMeanwhile reports an IF NOT EXISTS that lost a race with another
// process creating the same object: PostgreSQL then fails on its catalog's
// unique index instead of skipping. The object exists, which is all Prepare
// needs.
func createdMeanwhile(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P06" || pgErr.Code == "42P07")
}

func (m migrator) Applied(ctx context.Context) ([]migrate.Record, error) {
	rows, err := m.s.pool.Query(ctx, `SELECT version, name FROM refkit_schema_migrations`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (migrate.Record, error) {
		var r migrate.Record
		err := row.Scan(&r.Version, &r.Name)
		return r, err
	})
}

func (m migrator) Apply(ctx context.Context, mg migrate.Migration) error {
	return pgx.BeginFunc(ctx, m.s.pool, func(tx pgx.Tx) error {
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
}

// live checks the context, the store and its schema before any work.
func (s *Store) live(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	if !s.current.Load() {
		return fmt.Errorf("postgres: opened with NoMigrate; run Migrate first: %w", migrate.ErrSchemaBehind)
	}
	return nil
}

// open checks the context and that the store is open.
func (s *Store) open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// do runs fn, retrying serialization failures and deadlocks, after checking the
// context and the store; op names the call in errors.
func (s *Store) do(ctx context.Context, op string, fn func() error) error {
	if err := s.live(ctx); err != nil {
		return err
	}
	if err := s.retry.do(ctx, fn); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// fail wraps a database error for op. Errors already carrying a referral
// sentinel pass through with the op prefixed.
func (s *Store) fail(op string, err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, referral.ErrNotFound), errors.Is(err, referral.ErrConflict), errors.Is(err, referral.ErrInvalid):
		return fmt.Errorf("postgres: %s: %w", op, err)
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		// A unique index refused the write: the id or key is taken.
		return fmt.Errorf("postgres: %s: %w", op, referral.ErrConflict)
	case errors.As(err, &pgErr) && (pgErr.Code == "22P05" || pgErr.Code == "22021"):
		// JSONB cannot hold a NUL character (\u0000); the record's own validation
		// does not reject it in every field.
		return fmt.Errorf("postgres: %s: %w", op, referral.Invalid("text", "must not contain NUL characters"))
	case errors.As(err, &pgErr) && pgErr.Code == "23503":
		return fmt.Errorf("postgres: %s: a referenced record is missing: %w", op, referral.ErrNotFound)
	case s.closed.Load():
		return fmt.Errorf("postgres: %s: %w", op, ErrClosed)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
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
		return nil, fmt.Errorf("encode %s: %w", kind, err)
	}
	return b, nil
}

// decode reads a stored JSON document.
func decode[T any](kind string, doc []byte) (T, error) {
	var v T
	if err := json.Unmarshal(doc, &v); err != nil {
		return v, fmt.Errorf("decode stored %s: %w", kind, err)
	}
	return v, nil
}

// retrier retries a function while it fails with a retryable SQLSTATE.
type retrier struct {
	max   int
	mu    sync.Mutex
	rng   *mrand.Rand
	sleep func(ctx context.Context, d time.Duration) error
}

func newRetrier(limit int, src mrand.Source) *retrier {
	return &retrier{max: limit, rng: mrand.New(src), sleep: sleepCtx}
}

// retryable reports whether err is a transient failure that a fresh attempt of
// the whole transaction can clear: a serialization failure (PostgreSQL under
// SERIALIZABLE or REPEATABLE READ, and the normal contention signal of
// CockroachDB and YugabyteDB) or a deadlock.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

func (r *retrier) do(ctx context.Context, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !retryable(err) {
			return err
		}
		if attempt >= r.max {
			return fmt.Errorf("still failing after %d retries: %w: %w", attempt, referral.ErrConflict, err)
		}
		if serr := r.sleep(ctx, r.delay(attempt)); serr != nil {
			return serr
		}
	}
}

// delay is the wait before retry number attempt (from 0): uniformly random in
// (0, min(retryCap, retryBase·2^attempt)], "full jitter", so that writers that
// collided once do not collide again in step.
func (r *retrier) delay(attempt int) time.Duration {
	ceiling := retryCap
	if attempt < 16 {
		ceiling = min(retryCap, retryBase<<attempt)
	}
	r.mu.Lock()
	d := r.rng.Int64N(int64(ceiling)) + 1
	r.mu.Unlock()
	return time.Duration(d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
