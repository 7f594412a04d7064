package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/migrate"
	"github.com/refkit/refkit/referral"
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
			want: migrate.Status{Current: 2, Latest: 1}, wantErr: migrate.ErrNewerSchema},
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
			st, err := migrate.Run(ctx, tt.db, migrations(tt.known))
			switch {
			case tt.wantErr == nil:
				require.NoError(t, err)
			case errors.Is(tt.wantErr, referral.ErrConflict) || tt.wantErr == migrate.ErrNewerSchema:
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
	st, err := migrate.Check(ctx, db, migrations(2))
	require.NoError(t, err)
	require.Equal(t, migrate.Status{Current: 1, Latest: 2}, st)
	require.True(t, st.Pending())
	require.Empty(t, db.executed, "Check must not migrate")

	st, err = migrate.Run(ctx, db, migrations(2))
	require.NoError(t, err)
	require.False(t, st.Pending())
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
