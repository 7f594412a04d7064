package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/refkit/refkit/internal/migrate"
	"github.com/refkit/refkit/internal/storetel"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Errors Open returns for a file it will not use. Both wrap referral.ErrInvalid:
// the path given is bad input, and the file is left exactly as it was found.
var (
	// ErrNotDatabase: the file is not an SQLite database, is corrupt, or is an
	// SQLite database that refkit did not create (it has tables but no refkit
	// migration record).
	ErrNotDatabase = fmt.Errorf("sqlite: not a usable refkit database: %w", referral.ErrInvalid)
	// ErrReadOnly: the file, or the directory it is in, cannot be written. WAL
	// mode needs to create files beside the database, so a writable file in a
	// read-only directory is refused too.
	ErrReadOnly = fmt.Errorf("sqlite: database file or its directory is read-only: %w", referral.ErrInvalid)
)

// DefaultPollInterval is how often, while anyone waits on FeedChanged, the
// store looks for appends made by other processes, when Options.PollInterval
// is zero.
const DefaultPollInterval = 250 * time.Millisecond

// Synchronous settings Options accepts.
const (
	// SyncNormal commits without an fsync of the WAL: committed transactions
	// survive a process crash but the latest may be lost on power failure.
	SyncNormal = "NORMAL"
	// SyncFull fsyncs the WAL at every commit: committed transactions survive
	// power failure too.
	SyncFull = "FULL"
)

// Options configures a Store. The zero value is the default.
type Options struct {
	// Synchronous is SyncNormal (the default when empty) or SyncFull.
	Synchronous string
	// BusyTimeout is how long a connection waits for another process's lock
	// before failing; 0 means 5 seconds.
	BusyTimeout time.Duration
	// Readers is the size of the reader pool; 0 means 4.
	Readers int
	// NoMigrate makes Open only check the schema instead of migrating it: a
	// newer schema still fails Open (storage.ErrNewerSchema), an older one
	// opens, but every call fails with storage.ErrSchemaBehind until the host
	// runs Migrate.
	NoMigrate bool
	// QuickCheck makes Open run PRAGMA quick_check, which reads the whole file:
	// a corrupt page anywhere is then found at Open rather than when a query
	// reaches it. Open always reads the schema, which finds a file that is not a
	// database or whose header or schema is damaged.
	QuickCheck bool
	// PollInterval bounds how long a feed follower waits to be woken for an
	// append another process (or another Store on the same file) committed:
	// while anyone waits on FeedChanged, the store reads each waited-on
	// network's feed head this often. Appends through this Store wake at once.
	// Zero means DefaultPollInterval.
	PollInterval time.Duration
	// TracerProvider receives a span per store call (see the package doc's
	// Telemetry); nil means the OpenTelemetry global provider, which records
	// nothing until the host installs one.
	TracerProvider trace.TracerProvider
	// MeterProvider receives the store call metrics; nil means the
	// OpenTelemetry global provider.
	MeterProvider metric.MeterProvider
}

// Store is a storage.Store on an SQLite file. It is safe for concurrent use.
type Store struct {
	write *sql.DB
	read  *sql.DB
	// own is set when Open made the handles, which Close then closes.
	own bool
	// writeMu serialises this store's write transactions, so that on a caller's
	// handle (New) two of them never race for SQLite's write lock.
	writeMu sync.Mutex
	closed  atomic.Bool
	// current is set once the schema is at the latest version; migrateMu
	// serialises Migrate calls.
	current   atomic.Bool
	migrateMu sync.Mutex

	// feed wakes referral feed followers (see notify.go); poll is how often
	// its watcher, and the directory feed's, read the heads of waited-on
	// networks for other processes' appends.
	feed *headWatch
	poll time.Duration
	// stop ends the watchers when the store closes.
	stop chan struct{}

	migrations []migrate.Migration
	// rq and wq cache prepared statements on the reader and writer handles.
	rq, wq *stmts
	// owners caches the owners of screenings that referrals cite.
	owners owners
	// directory wakes directory feed followers (see directoryfeed.go).
	directory *headWatch
	tel       *tel
}

var (
	_ storage.Store          = (*Store)(nil)
	_ storage.FeedNotifier   = (*Store)(nil)
	_ storage.DirectoryFeed  = (*Store)(nil)
	_ storage.DirectoryBatch = (*Store)(nil)
	_ migrate.Target         = target{}
)

// Open opens (creating if missing) the refkit database at path and migrates it
// unless opts.NoMigrate is set. A file that is not a refkit SQLite database or
// is corrupt gives ErrNotDatabase, a read-only file or directory ErrReadOnly,
// and a database written by a newer refkit storage.ErrNewerSchema; in every
// such case the file is left untouched.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(path) == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, referral.Invalid("path", "must be the path of a database file")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", referral.Invalid("path", "cannot be made absolute"))
	}
	if info, err := os.Stat(abs); err == nil && info.IsDir() {
		return nil, fmt.Errorf("sqlite: open: %w", referral.Invalid("path", "is a directory"))
	}
	if err := checkWritable(abs); err != nil {
		return nil, err
	}

	write, err := sql.Open("sqlite", dsn(abs, opts, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", classify(err))
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	read, err := sql.Open("sqlite", dsn(abs, opts, false))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open: %w", classify(err))
	}
	read.SetMaxOpenConns(opts.Readers)
	read.SetMaxIdleConns(opts.Readers)
	read.SetConnMaxLifetime(0)

	s, err := newStore(ctx, write, read, opts)
	if err != nil {
		read.Close()
		write.Close()
		return nil, err
	}
	s.own = true
	return s, nil
}

// New returns a store on the caller's handle, used for both reads and writes,
// and migrates it unless opts.NoMigrate is set (opts.Synchronous, BusyTimeout
// and Readers are ignored: they belong to the caller's DSN and pool; a busy
// timeout of a few seconds is what makes a lock another process holds wait
// rather than fail at once with referral.ErrUnavailable). The caller
// owns the handle: Close leaves it open. Open the handle with the settings Open
// uses, for example
//
//	file:/path/refkit.db?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_txlock=immediate
//
// and size its pool as the host needs; the store serialises its own writes, so
// they do not contend with each other whatever the pool size.
func New(ctx context.Context, db *sql.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, referral.Invalid("db", "is required")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	return newStore(ctx, db, db, opts)
}

// newStore checks the file and its schema through write, then migrates.
func newStore(ctx context.Context, write, read *sql.DB, opts Options) (*Store, error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	s := &Store{
		write: write, read: read, migrations: ms,
		rq: newStmts(read), wq: newStmts(write), poll: opts.PollInterval, stop: make(chan struct{}),
		tel: newTel(opts),
	}
	s.feed = newHeadWatch(s, "feed changed", qFeedHead)
	s.directory = newHeadWatch(s, "directory changed", qDirectoryHead)
	if err := s.inspect(ctx, opts.QuickCheck); err != nil {
		return nil, err
	}
	if err := s.walMode(ctx); err != nil {
		return nil, err
	}
	// Every migration step is an IMMEDIATE transaction, which SQLite's write
	// lock serialises across processes: no migration lock is needed.
	var st migrate.Status
	if opts.NoMigrate {
		st, err = migrate.Check(ctx, migrate.Unlocked(target{s}), ms)
	} else {
		st, err = migrate.Run(ctx, migrate.Unlocked(target{s}), ms)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", classify(err))
	}
	if st.Pending() {
		// Opened with NoMigrate on an older schema: every call but Migrate and
		// Close fails with storage.ErrSchemaBehind until Migrate has run.
		return s, nil
	}
	if err := s.ready(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	return s, nil
}

// ready prepares the write statements, which needs the current schema, and
// lets calls through.
func (s *Store) ready(ctx context.Context) error {
	if err := s.wq.prepare(ctx, writeQueries); err != nil {
		s.wq.close()
		return fmt.Errorf("prepare statements: %w", classify(err))
	}
	s.current.Store(true)
	return nil
}

func loadMigrations() ([]migrate.Migration, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	return migrate.Load(sub)
}

// normalize checks o and fills in defaults.
func (o *Options) normalize() error {
	switch strings.ToUpper(o.Synchronous) {
	case "", SyncNormal:
		o.Synchronous = SyncNormal
	case SyncFull:
		o.Synchronous = SyncFull
	default:
		return referral.Invalid("synchronous", "must be NORMAL or FULL")
	}
	switch {
	case o.BusyTimeout < 0:
		return referral.Invalid("busy_timeout", "must not be negative")
	case o.BusyTimeout == 0:
		o.BusyTimeout = 5 * time.Second
	}
	switch {
	case o.Readers < 0:
		return referral.Invalid("readers", "must not be negative")
	case o.Readers == 0:
		o.Readers = 4
	}
	switch {
	case o.PollInterval < 0:
		return referral.Invalid("poll_interval", "must not be negative")
	case o.PollInterval == 0:
		o.PollInterval = DefaultPollInterval
	}
	return nil
}

// dsn builds the connection string for path: a file: URI whose _pragma
// parameters the driver runs on every new connection of the pool.
func dsn(path string, o Options, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous("+o.Synchronous+")")
	// 32 MiB of page cache per connection: a transition touches a handful of
	// index pages, which then stay cached between transactions.
	q.Add("_pragma", "cache_size(-32768)")
	if writer {
		// IMMEDIATE transactions take the write lock at BEGIN. The journal mode
		// is not set here: it is a property of the file, written into its
		// header, so newStore sets it once, after checking the file is ours.
		q.Set("_txlock", "immediate")
		// Checkpoint every 10,000 WAL pages (~40 MiB) rather than SQLite's 1,000:
		// pages rewritten by many transitions are copied back once, and the
		// checkpoint's fsyncs come ten times less often. With the larger page
		// cache above, a closed loop through the lifecycle went from about 2,500 to 4,000–6,000
		// transitions/s on the shared 2-core test machine.
		q.Add("_pragma", "wal_autocheckpoint(10000)")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	return u.String()
}

// checkWritable refuses a path SQLite could only open read-only: SQLite itself
// would silently fall back to read-only and fail later, at the first write.
// Opening for writing, and creating a file beside it, asks the kernel exactly
// the questions SQLite's writes will.
func checkWritable(path string) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("sqlite: open: %w", referral.Invalid("path", "is in a directory that does not exist"))
	}
	if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %v", ErrReadOnly, errors.Unwrap(err))
	}
	probe, err := os.CreateTemp(dir, ".refkit-probe-*")
	if err != nil {
		return fmt.Errorf("%w: cannot create files in the directory", ErrReadOnly)
	}
	name := probe.Name()
	probe.Close()
	os.Remove(name)
	return nil
}

// inspect reads the schema, which finds a file that is not a database, and
// refuses a database refkit did not create, before anything is written to it.
func (s *Store) inspect(ctx context.Context, quick bool) error {
	var tables, ours int
	err := s.write.QueryRowContext(ctx,
		`SELECT count(*), coalesce(sum(name = 'refkit_schema_migrations'), 0) FROM sqlite_master WHERE type = 'table'`).
		Scan(&tables, &ours)
	if err != nil {
		return fmt.Errorf("sqlite: open: %w", classify(err))
	}
	if tables > 0 && ours == 0 {
		return fmt.Errorf("%w: it has tables but no refkit migration record", ErrNotDatabase)
	}
	if !quick {
		return nil
	}
	rows, err := s.write.QueryContext(ctx, `PRAGMA quick_check`)
	if err != nil {
		return fmt.Errorf("sqlite: open: quick check: %w", classify(err))
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("sqlite: open: quick check: %w", classify(err))
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: open: quick check: %w", classify(err))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: quick_check found %d problems", ErrNotDatabase, len(problems))
	}
	return nil
}

// walMode switches the file to WAL journaling; the setting persists in the file,
// so every later connection, in any process, uses WAL too.
func (s *Store) walMode(ctx context.Context) error {
	var mode string
	if err := s.write.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil {
		return fmt.Errorf("sqlite: open: set WAL mode: %w", classify(err))
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlite: open: journal mode is %q, not wal: %w", mode, ErrReadOnly)
	}
	return nil
}

// classify gives a driver error the sentinel it stands for: a file that is
// not a usable database is ErrNotDatabase, one that cannot be written
// ErrReadOnly, a constraint the store's own checks should have caught the
// matching referral sentinel, and everything else referral.ErrUnavailable (a
// lock another process held past the busy timeout, a full disk, an I/O error,
// a closed handle): the work could not be done now, for no fault of the input.
// Errors that already carry a sentinel pass as they are.
func classify(err error) error {
	if err == nil || carriesSentinel(err) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", referral.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("%w: %w", referral.ErrUnavailable, err)
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w: %w", referral.ErrConflict, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("a referenced record is missing: %w", referral.ErrNotFound)
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("%w: %v", ErrNotDatabase, err)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
		return fmt.Errorf("%w: %v", ErrReadOnly, err)
	case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE, sqlite3.SQLITE_MISMATCH:
		return fmt.Errorf("%w: %v", referral.ErrInvalid, err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("another connection holds the database past the busy timeout: %w: %w", referral.ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %w", referral.ErrUnavailable, err)
}

// carriesSentinel reports whether err already says what kind of failure it is.
func carriesSentinel(err error) bool {
	for _, sentinel := range []error{
		referral.ErrNotFound, referral.ErrConflict, referral.ErrInvalid, referral.ErrUnavailable,
		storage.ErrClosed,
	} {
		if errors.Is(err, sentinel) {
			return true
		}
	}
	return false
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY constraint violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code()
	return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// Migrate applies pending schema migrations, for hosts that open with
// NoMigrate and migrate explicitly (for example from one instance while
// others wait). It is safe to call on a current database.
func (s *Store) Migrate(ctx context.Context) (err error) {
	ctx, obs := s.tel.begin(ctx, storetel.OpMigrate)
	defer obs.End(ctx, &err)
	if err := s.open(ctx); err != nil {
		return err
	}
	s.migrateMu.Lock()
	defer s.migrateMu.Unlock()
	if _, err := migrate.Run(ctx, migrate.Unlocked(target{s}), s.migrations); err != nil {
		return fmt.Errorf("sqlite: %w", classify(err))
	}
	if s.current.Load() {
		return nil
	}
	if err := s.ready(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// target adapts the store to the migration runner (migrate.Target).
type target struct{ s *Store }

// Prepare creates the migration record table.
func (t target) Prepare(ctx context.Context) error {
	return t.s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS refkit_schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TEXT NOT NULL
		)`)
		return err
	})
}

// Applied lists the recorded migrations.
func (t target) Applied(ctx context.Context) ([]migrate.Record, error) {
	rows, err := t.s.write.QueryContext(ctx, `SELECT version, name FROM refkit_schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []migrate.Record
	for rows.Next() {
		var r migrate.Record
		if err := rows.Scan(&r.Version, &r.Name); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Apply runs one migration and records it in the same transaction. The
// record's primary key makes a second Apply of a version fail and roll back.
func (t target) Apply(ctx context.Context, m migrate.Migration) error {
	return t.s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO refkit_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, time.Now().UTC().Format(time.RFC3339Nano))
		return err
	})
}

// Close closes the handles Open made (not a caller's, see New) and wakes feed
// followers. Later calls fail with storage.ErrClosed; closing twice is not an
// error.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	// The watchers read through the handles closed below: close waits for them.
	s.feed.close()
	s.directory.close()
	err := errors.Join(s.rq.close(), s.wq.close())
	if s.own {
		// The writer closes last, so its connection checkpoints the WAL into the file.
		err = errors.Join(err, s.read.Close(), s.write.Close())
	}
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", classify(err))
	}
	return nil
}

// live checks the context, that the store is open and that its schema is
// current, before any work.
func (s *Store) live(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	if !s.current.Load() {
		return fmt.Errorf("sqlite: opened with NoMigrate; run Migrate first: %w", storage.ErrSchemaBehind)
	}
	return nil
}

// open checks the context and that the store is open.
func (s *Store) open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if s.closed.Load() {
		return storage.ErrClosed
	}
	return nil
}

// tx runs fn in one write transaction, committing if it returns nil.
func (s *Store) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func notFound(kind string, id referral.ID) error {
	return fmt.Errorf("sqlite: %s %s: %w", kind, id, referral.ErrNotFound)
}

func conflict(kind string, id referral.ID, why string) error {
	return fmt.Errorf("sqlite: %s %s %s: %w", kind, id, why, referral.ErrConflict)
}

// failed wraps an error of op so that it carries a sentinel (see classify).
// Errors this package built already say what failed and pass as they are; a
// call that lost a race with Close is storage.ErrClosed.
func (s *Store) failed(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, referral.ErrNotFound) || errors.Is(err, referral.ErrConflict) || errors.Is(err, referral.ErrInvalid):
		return err
	case s.closed.Load() && !errors.Is(err, context.Canceled):
		return fmt.Errorf("sqlite: %s: %w", op, storage.ErrClosed)
	}
	return fmt.Errorf("sqlite: %s: %w", op, classify(err))
}
