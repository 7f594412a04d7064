package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/migrate"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/storagetest"
)

// openTemp opens a store on a fresh file in t's temporary directory and closes
// it when t ends.
func openTemp(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "refkit.db")
	s, err := Open(context.Background(), path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s, path
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, _ := openTemp(t, Options{})
		return s
	})
}

// TestCallerHandle runs a store made by New on the caller's pool of several
// connections: writes and reads work, and Close leaves the handle open.
func TestCallerHandle(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "refkit.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_txlock=immediate")
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(4)
	s, err := New(ctx, db, Options{})
	require.NoError(t, err)

	f := storagetest.NewFixture(t, s, 1)
	refs := make([]referral.Referral, 8)
	for i := range refs {
		refs[i] = f.Create(t, s, f.NewReferral(referral.StatusRequested))
	}
	var wg sync.WaitGroup
	for i := range refs {
		wg.Go(func() {
			n, e := storagetest.Next(refs[i], referral.StatusAccepted, referral.EventAccepted)
			_, err := s.UpdateReferral(ctx, n, e)
			assert.NoError(t, err)
			refs[i] = n
		})
	}
	wg.Wait()
	for _, r := range refs {
		got, err := s.GetReferral(ctx, f.Network.ID, r.ID)
		require.NoError(t, err)
		require.Equal(t, r, got)
	}
	require.Len(t, storagetest.FeedAll(t, s, f.Network.ID, nil), 2*len(refs))
	var mode string
	require.NoError(t, db.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	require.Equal(t, "wal", mode, "New switches the file to WAL")

	require.NoError(t, s.Close())
	require.NoError(t, db.PingContext(ctx), "the caller's handle stays open")
	_, err = s.GetReferral(ctx, f.Network.ID, refs[0].ID)
	require.ErrorIs(t, err, storage.ErrClosed)
}

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "refkit.db")
	s, err := Open(ctx, path, Options{Synchronous: SyncFull})
	require.NoError(t, err)
	f := storagetest.NewFixture(t, s, 1)
	r := f.Create(t, s, f.NewReferral(referral.StatusRequested))
	r, _ = f.Move(t, s, r, referral.StatusAccepted, referral.EventAccepted)
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Close(), nil, "closing twice is not an error")
	_, err = s.GetReferral(ctx, f.Network.ID, r.ID)
	require.ErrorIs(t, err, storage.ErrClosed)

	s, err = Open(ctx, path, Options{NoMigrate: true})
	require.NoError(t, err)
	defer s.Close()
	got, err := s.GetReferral(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	require.Equal(t, r, got)
	require.NoError(t, s.Migrate(ctx), "migrating a current database does nothing")
}

func TestNoMigrateWaitsForMigrate(t *testing.T) {
	ctx := context.Background()
	network := referral.Network{ID: referral.NewID(), Name: "Example County"}
	s, err := Open(ctx, filepath.Join(t.TempDir(), "new.db"), Options{NoMigrate: true})
	require.NoError(t, err, "an older schema opens without migrating")
	defer s.Close()
	require.ErrorIs(t, s.PutNetwork(ctx, network), storage.ErrSchemaBehind)
	_, err = s.GetNetwork(ctx, network.ID)
	require.ErrorIs(t, err, storage.ErrSchemaBehind)

	require.NoError(t, s.Migrate(ctx))
	require.NoError(t, s.PutNetwork(ctx, network))
	got, err := s.GetNetwork(ctx, network.ID)
	require.NoError(t, err)
	require.Equal(t, network, got)
}

func TestPragmas(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		sync int
	}{
		{"default is NORMAL", Options{}, 1},
		{"FULL", Options{Synchronous: "full"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTemp(t, tc.opts)
			for _, db := range []*sql.DB{s.write, s.read} {
				var mode string
				var fk, sync int
				require.NoError(t, db.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
				require.NoError(t, db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk))
				require.NoError(t, db.QueryRow(`PRAGMA synchronous`).Scan(&sync))
				require.Equal(t, "wal", mode)
				require.Equal(t, 1, fk)
				require.Equal(t, tc.sync, sync)
			}
			_, err := s.read.Exec(`CREATE TABLE scratch (x)`)
			require.Error(t, err, "the reader pool is query-only")
		})
	}
}

func TestOpenRejects(t *testing.T) {
	ctx := t.Context()
	valid := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "refkit.db")
		s, err := Open(ctx, path, Options{})
		require.NoError(t, err)
		f := storagetest.NewFixture(t, s, 1)
		for range 20 {
			f.Create(t, s, f.NewReferral(referral.StatusRequested))
		}
		require.NoError(t, s.Close())
		return path
	}
	write := func(t *testing.T, data []byte) string {
		path := filepath.Join(t.TempDir(), "refkit.db")
		require.NoError(t, os.WriteFile(path, data, 0o600))
		return path
	}
	tests := []struct {
		name string
		path func(t *testing.T) string
		opts Options
		want error
	}{
		{"a text file", func(t *testing.T) string {
			return write(t, []byte("name,phone\nnot,a database\n"))
		}, Options{}, ErrNotDatabase},
		{"random bytes", func(t *testing.T) string {
			data := make([]byte, 8192)
			for i := range data {
				data[i] = byte(i*7 + i/13)
			}
			return write(t, data)
		}, Options{}, ErrNotDatabase},
		{"a database with a damaged schema page", func(t *testing.T) string {
			path := valid(t)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			// Page 1 holds the schema after the 100-byte header.
			for i := 100; i < 4096 && i < len(data); i++ {
				data[i] = 0xA5
			}
			return write(t, data)
		}, Options{}, ErrNotDatabase},
		{"a database with damaged data pages, quick check on", func(t *testing.T) string {
			path := valid(t)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			for i := 4096 * 2; i < len(data); i++ {
				data[i] = byte(i)
			}
			return write(t, data)
		}, Options{QuickCheck: true}, ErrNotDatabase},
		{"another application's SQLite database", func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "other.db")
			db, err := sql.Open("sqlite", path)
			require.NoError(t, err)
			_, err = db.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)`)
			require.NoError(t, err)
			require.NoError(t, db.Close())
			return path
		}, Options{}, ErrNotDatabase},
		{"a schema from a newer refkit", func(t *testing.T) string {
			path := valid(t)
			db, err := sql.Open("sqlite", path)
			require.NoError(t, err)
			_, err = db.Exec(`INSERT INTO refkit_schema_migrations (version, name, applied_at) VALUES (99, 'future', '2030-01-01T00:00:00Z')`)
			require.NoError(t, err)
			require.NoError(t, db.Close())
			return path
		}, Options{}, storage.ErrNewerSchema},
		{"a read-only file", func(t *testing.T) string {
			path := valid(t)
			readOnly(t, path)
			return path
		}, Options{}, ErrReadOnly},
		{"a read-only directory", func(t *testing.T) string {
			path := valid(t)
			readOnly(t, filepath.Dir(path))
			return path
		}, Options{}, ErrReadOnly},
		{"a directory", func(t *testing.T) string { return t.TempDir() }, Options{}, referral.ErrInvalid},
		{"no path", func(*testing.T) string { return "" }, Options{}, referral.ErrInvalid},
		{"an in-memory name", func(*testing.T) string { return ":memory:" }, Options{}, referral.ErrInvalid},
		{"a missing directory", func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "missing", "refkit.db")
		}, Options{}, referral.ErrInvalid},
		{"an unknown synchronous mode", func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "new.db")
		}, Options{Synchronous: "OFF"}, referral.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path(t)
			before, statErr := fileSum(path)
			s, err := Open(ctx, path, tc.opts)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, s)
			if statErr == nil {
				after, err := fileSum(path)
				require.NoError(t, err)
				require.Equal(t, before, after, "a refused file is left as it was")
			}
		})
	}
	t.Run("a nil handle", func(t *testing.T) {
		_, err := New(ctx, nil, Options{})
		require.ErrorIs(t, err, referral.ErrInvalid)
	})
}

// fileSum is a digest of the file's bytes.
func fileSum(path string) ([32]byte, error) {
	data, err := os.ReadFile(path)
	return sha256.Sum256(data), err
}

// readOnly makes path unwritable for the rest of t. Permission bits do not bind
// root, which CI runs as, so root also marks it immutable.
func readOnly(t *testing.T, path string) {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err)
	mode := os.FileMode(0o444)
	if info.IsDir() {
		mode = 0o555
	}
	require.NoError(t, os.Chmod(path, mode))
	t.Cleanup(func() { os.Chmod(path, info.Mode().Perm()) })
	if os.Geteuid() != 0 {
		return
	}
	chattr, err := exec.LookPath("chattr")
	if err != nil {
		t.Skip("running as root without chattr: cannot make a file read-only")
	}
	out, err := exec.Command(chattr, "+i", path).CombinedOutput()
	if err != nil {
		t.Skipf("running as root and chattr +i failed (%s): cannot make a file read-only", out)
	}
	t.Cleanup(func() { exec.Command(chattr, "-i", path).Run() })
}

// TestMigrations checks the runner's target: every embedded migration is
// recorded once, and applying a recorded version again fails and leaves
// nothing behind.
func TestMigrations(t *testing.T) {
	ctx := t.Context()
	s, _ := openTemp(t, Options{})
	recs, err := target{s}.Applied(ctx)
	require.NoError(t, err)
	require.Len(t, recs, len(s.migrations))
	for i, r := range recs {
		require.Equal(t, s.migrations[i].Version, r.Version)
		require.Equal(t, s.migrations[i].Name, r.Name)
	}

	again := migrate.Migration{Version: 1, Name: "init", SQL: `CREATE TABLE leftover (x INTEGER)`}
	require.Error(t, target{s}.Apply(ctx, again))
	var n int
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'leftover'`).Scan(&n))
	require.Zero(t, n, "the failed migration's SQL was rolled back")
	require.NoError(t, s.Migrate(ctx))
}

// TestUpdateTakenKey: an update may not take an idempotency key another
// referral of the same sender holds; it conflicts and writes nothing.
func TestUpdateTakenKey(t *testing.T) {
	ctx := t.Context()
	s, _ := openTemp(t, Options{})
	f := storagetest.NewFixture(t, s, 1)
	first := f.NewReferral(referral.StatusRequested)
	first.IdempotencyKey = "intake-1"
	f.Create(t, s, first)
	second := f.Create(t, s, f.NewReferral(referral.StatusRequested))

	next, e := storagetest.Next(second, referral.StatusAccepted, referral.EventAccepted)
	next.IdempotencyKey = first.IdempotencyKey
	_, err := s.UpdateReferral(ctx, next, e)
	require.ErrorIs(t, err, referral.ErrConflict)
	got, err := s.GetReferral(ctx, f.Network.ID, second.ID)
	require.NoError(t, err)
	require.Equal(t, second, got)
	events, err := s.ReferralEvents(ctx, f.Network.ID, second.ID)
	require.NoError(t, err)
	require.Len(t, events, 1)
}

// TestOwnersCacheIsBounded: the cache of screening owners never holds more
// than maxOwners entries, and what it holds is exactly what was added.
func TestOwnersCacheIsBounded(t *testing.T) {
	var o owners
	network, person, other := referral.NewID(), referral.NewID(), referral.NewID()
	first := referral.NewID()
	o.add(first, network, person)
	require.True(t, o.holds(first, network, person))
	require.False(t, o.holds(first, network, other), "another person's")
	require.False(t, o.holds(first, other, person), "another network's")
	var last referral.ID
	for range maxOwners {
		last = referral.NewID()
		o.add(last, network, person)
		require.LessOrEqual(t, len(o.m), maxOwners)
	}
	require.True(t, o.holds(last, network, person))
	require.False(t, o.holds(first, network, person), "the cache started again when full")
}

// TestMigrationRetiresReceived: a database written before referral statuses
// followed the SDOH Clinical Care IG holds acknowledged referrals as
// "received"; migration 3 makes them requested with business status
// acknowledged, and their history still replays.
func TestMigrationRetiresReceived(t *testing.T) {
	ctx := t.Context()
	s, _ := openTemp(t, Options{})
	f := storagetest.NewFixture(t, s, 1)
	r := f.Create(t, s, f.NewReferral(referral.StatusRequested))
	r, _ = f.Move(t, s, r, referral.StatusRequested, referral.EventAcknowledged)
	untouched := f.Create(t, s, f.NewReferral(referral.StatusRequested))

	// Write r as the schema before migration 3 held it, and forget migration 3
	// (the latest: forgetting an earlier one would leave a gap the runner refuses).
	for _, q := range []string{
		`UPDATE referrals SET status = 'received', data = json_set(data, '$.status', 'received') WHERE id = ?`,
		`UPDATE events SET to_status = 'received' WHERE referral_id = ? AND sequence = 2`,
	} {
		_, err := s.write.ExecContext(ctx, q, blob(r.ID))
		require.NoError(t, err)
	}
	_, err := s.write.ExecContext(ctx, `DELETE FROM refkit_schema_migrations WHERE version = 3`)
	require.NoError(t, err)

	require.NoError(t, s.Migrate(ctx))
	got, err := s.GetReferral(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	want := r
	want.BusinessStatus = referral.BusinessAcknowledged
	require.Equal(t, want, got)
	events, err := s.ReferralEvents(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	status, version, err := referral.Replay(events)
	require.NoError(t, err)
	require.Equal(t, referral.StatusRequested, status)
	require.Equal(t, r.Version, version)
	other, err := s.GetReferral(ctx, f.Network.ID, untouched.ID)
	require.NoError(t, err)
	require.Equal(t, untouched, other, "referrals in other statuses are left alone")
}
