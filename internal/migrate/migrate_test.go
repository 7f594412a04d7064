package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/migrate"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// fakeDB records migrations in memory and can be told to fail one version.
type fakeDB struct {
	mu       sync.Mutex
	recs     []migrate.Record
	executed []string
	failOn   int
	raceOn   int // records this version "from another process" and then fails
}

func (f *fakeDB) Prepare(context.Context) error { return nil }

func (f *fakeDB) Applied(context.Context) ([]migrate.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.recs), nil
}

func (f *fakeDB) Apply(_ context.Context, m migrate.Migration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch m.Version {
	case f.failOn:
		return errors.New("syntax error")
	case f.raceOn:
		f.recs = append(f.recs, migrate.Record{Version: m.Version, Name: m.Name})
		return errors.New("duplicate key")
	}
	for _, r := range f.recs {
		if r.Version == m.Version {
			return errors.New("duplicate key")
		}
	}
	f.recs = append(f.recs, migrate.Record{Version: m.Version, Name: m.Name})
	f.executed = append(f.executed, m.SQL)
	return nil
}

func files(names ...string) fstest.MapFS {
	fs := fstest.MapFS{}
	for _, n := range names {
		fs[n] = &fstest.MapFile{Data: []byte("-- " + n)}
	}
	return fs
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		fs      fstest.MapFS
		want    []int
		wantErr bool
	}{
		{"ordered", files("0002_b.sql", "0001_a.sql", "README.md"), []int{1, 2}, false},
		{"empty", files(), nil, false},
		{"gap", files("0001_a.sql", "0003_c.sql"), nil, true},
		{"repeat", files("0001_a.sql", "001_b.sql"), nil, true},
		{"no name", files("0001.sql"), nil, true},
		{"not a number", files("one_a.sql"), nil, true},
		{"zero", files("0000_a.sql"), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := migrate.Load(tt.fs)
			if tt.wantErr {
				require.ErrorIs(t, err, referral.ErrInvalid)
				return
			}
			require.NoError(t, err)
			var got []int
			for _, m := range ms {
				got = append(got, m.Version)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func migrations(n int) []migrate.Migration {
	ms := make([]migrate.Migration, n)
	for i := range ms {
		ms[i] = migrate.Migration{Version: i + 1, Name: fmt.Sprintf("m%d", i+1), SQL: fmt.Sprintf("sql %d", i+1)}
	}
	return ms
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		db       *fakeDB
		known    int
		want     migrate.Status
		executed []string
		wantErr  error
	}{
		{name: "empty database", db: &fakeDB{}, known: 3, want: migrate.Status{Current: 3, Latest: 3},
			executed: []string{"sql 1", "sql 2", "sql 3"}},
		{name: "partly applied", db: &fakeDB{recs: []migrate.Record{{1, "m1"}}}, known: 3,
			want: migrate.Status{Current: 3, Latest: 3}, executed: []string{"sql 2", "sql 3"}},
		{name: "up to date", db: &fakeDB{recs: []migrate.Record{{2, "m2"}, {1, "m1"}}}, known: 2,
			want: migrate.Status{Current: 2, Latest: 2}},
		{name: "newer database", db: &fakeDB{recs: []migrate.Record{{1, "m1"}, {2, "m2"}}}, known: 1,
			want: migrate.Status{Current: 2, Latest: 1}, wantErr: storage.ErrNewerSchema},
		{name: "renamed migration", db: &fakeDB{recs: []migrate.Record{{1, "other"}}}, known: 2,
			want: migrate.Status{Latest: 2}, wantErr: referral.ErrConflict},
		{name: "gap in records", db: &fakeDB{recs: []migrate.Record{{2, "m2"}}}, known: 2,
			want: migrate.Status{Latest: 2}, wantErr: referral.ErrConflict},
		{name: "failure stops at the last good version", db: &fakeDB{failOn: 2}, known: 3,
			want: migrate.Status{Current: 1, Latest: 3}, executed: []string{"sql 1"}, wantErr: errors.New("any")},
		{name: "lost race moves on", db: &fakeDB{raceOn: 2}, known: 3,
			want: migrate.Status{Current: 3, Latest: 3}, executed: []string{"sql 1", "sql 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := migrate.Run(ctx, migrate.Unlocked(tt.db), migrations(tt.known))
			switch {
			case tt.wantErr == nil:
				require.NoError(t, err)
			case errors.Is(tt.wantErr, referral.ErrConflict):
				require.ErrorIs(t, err, tt.wantErr)
			default:
				require.Error(t, err)
			}
			require.Equal(t, tt.want, st)
			require.Equal(t, tt.executed, tt.db.executed)
		})
	}
}

func TestCheckChangesNothing(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{recs: []migrate.Record{{1, "m1"}}}
	st, err := migrate.Check(ctx, migrate.Unlocked(db), migrations(2))
	require.NoError(t, err)
	require.Equal(t, migrate.Status{Current: 1, Latest: 2}, st)
	require.True(t, st.Pending())
	require.Empty(t, db.executed, "Check must not migrate")

	st, err = migrate.Run(ctx, migrate.Unlocked(db), migrations(2))
	require.NoError(t, err)
	require.False(t, st.Pending())
}

// mutexLock is a Locker over an in-process mutex, standing in for a
// database's lock; it counts how often it was taken and can fail either way.
type mutexLock struct {
	mu        sync.Mutex
	db        *fakeDB
	held      atomic.Int32
	maxHeld   atomic.Int32
	takes     atomic.Int32
	lockErr   error
	unlockErr error
	unlocked  atomic.Int32
}

func (l *mutexLock) Lock(ctx context.Context) (migrate.Target, func() error, error) {
	if l.lockErr != nil {
		return nil, nil, l.lockErr
	}
	l.mu.Lock()
	l.takes.Add(1)
	if n := l.held.Add(1); n > l.maxHeld.Load() {
		l.maxHeld.Store(n)
	}
	return l.db, func() error {
		l.held.Add(-1)
		l.unlocked.Add(1)
		l.mu.Unlock()
		return l.unlockErr
	}, nil
}

func TestRunHoldsTheLock(t *testing.T) {
	ctx := context.Background()
	t.Run("processes starting together migrate once, one at a time", func(t *testing.T) {
		db := &fakeDB{}
		lock := &mutexLock{db: db}
		const processes = 8
		var wg sync.WaitGroup
		errs := make(chan error, processes)
		for range processes {
			wg.Go(func() {
				st, err := migrate.Run(ctx, lock, migrations(3))
				if err == nil && st.Pending() {
					err = fmt.Errorf("still pending: %+v", st)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, []string{"sql 1", "sql 2", "sql 3"}, db.executed, "each migration ran once, in order")
		require.EqualValues(t, processes, lock.takes.Load())
		require.EqualValues(t, processes, lock.unlocked.Load(), "every lock taken was released")
		require.EqualValues(t, 1, lock.maxHeld.Load())
	})
	t.Run("check takes the lock too", func(t *testing.T) {
		lock := &mutexLock{db: &fakeDB{}}
		_, err := migrate.Check(ctx, lock, migrations(1))
		require.NoError(t, err)
		require.EqualValues(t, 1, lock.takes.Load())
		require.EqualValues(t, 1, lock.unlocked.Load())
	})
	t.Run("a lock that cannot be taken migrates nothing", func(t *testing.T) {
		db := &fakeDB{}
		refused := errors.New("lock refused")
		_, err := migrate.Run(ctx, &mutexLock{db: db, lockErr: refused}, migrations(2))
		require.ErrorIs(t, err, refused)
		require.Empty(t, db.executed)
	})
	t.Run("a failed migration still releases the lock", func(t *testing.T) {
		lock := &mutexLock{db: &fakeDB{failOn: 1}}
		_, err := migrate.Run(ctx, lock, migrations(2))
		require.Error(t, err)
		require.EqualValues(t, 1, lock.unlocked.Load())
	})
	t.Run("a failed release is reported", func(t *testing.T) {
		stuck := errors.New("unlock failed")
		lock := &mutexLock{db: &fakeDB{}, unlockErr: stuck}
		st, err := migrate.Run(ctx, lock, migrations(2))
		require.ErrorIs(t, err, stuck)
		require.Equal(t, migrate.Status{Current: 2, Latest: 2}, st, "the migrations themselves were applied")
	})
}

func FuzzLoad(f *testing.F) {
	f.Add("0001_init.sql", "0002_more.sql")
	f.Add("1_a.sql", "x.sql")
	f.Fuzz(func(t *testing.T, a, b string) {
		fs := fstest.MapFS{a: &fstest.MapFile{Data: []byte("x")}, b: &fstest.MapFile{Data: []byte("y")}}
		ms, err := migrate.Load(fs)
		if err != nil {
			return
		}
		for i, m := range ms {
			require.Equal(t, i+1, m.Version)
		}
	})
}
