// Package backendtest opens every store refkit ships, for the tests of the
// packages above storage (lifecycle, directory, interop, the CLI, the
// adversarial suite) that hold a behaviour to every backend: the access rules
// and feeds live in the stores' queries as much as in the code above them.
//
// PostgreSQL needs a server: its backend skips, saying how to start one, unless
// REFKIT_TEST_POSTGRES_URL names it. Each PostgreSQL store gets a schema of its
// own, dropped when the test ends.
//
// # Dependencies
//
// It links what the backends link (pgx, modernc sqlite, and what referral
// links) and testify; only tests import it.
package backendtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
	"github.com/refkit/refkit/storage/postgres"
	"github.com/refkit/refkit/storage/sqlite"
)

// URLVariable names the PostgreSQL server the tests use.
const URLVariable = "REFKIT_TEST_POSTGRES_URL"

// Store is what every refkit backend is: the storage contract and the
// directory feed.
type Store interface {
	storage.Store
	storage.DirectoryFeed
}

// Backend opens stores of one kind, closed when the test ends.
type Backend struct {
	Name string
	// Open opens an empty store, and returns where its database is (a file, a
	// schema; empty for memory) for Reopen.
	Open func(t testing.TB) (Store, string)
	// Reopen opens a second store on the database Open made, as another
	// process would; nil for memory, which has nothing to share.
	Reopen func(t testing.TB, where string) Store
}

// Options tune the stores All opens.
type Options struct {
	// PollInterval is how often a SQLite store looks for other processes'
	// appends; zero is the backend's default.
	PollInterval time.Duration
}

// All returns memory, SQLite and PostgreSQL.
func All(opts Options) []Backend {
	openSQLite := func(t testing.TB, path string) Store {
		t.Helper()
		s, err := sqlite.Open(context.Background(), path, sqlite.Options{PollInterval: opts.PollInterval})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	}
	openPostgres := func(t testing.TB, schema string) Store {
		t.Helper()
		s, err := postgres.Open(context.Background(), PostgresURL(t), postgres.Options{Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	}
	return []Backend{
		{Name: "memory", Open: func(t testing.TB) (Store, string) {
			s := memory.New()
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			return s, ""
		}},
		{Name: "sqlite", Open: func(t testing.TB) (Store, string) {
			path := filepath.Join(t.TempDir(), "refkit.db")
			return openSQLite(t, path), path
		}, Reopen: openSQLite},
		{Name: "postgres", Open: func(t testing.TB) (Store, string) {
			schema := NewSchema(t)
			return openPostgres(t, schema), schema
		}, Reopen: openPostgres},
	}
}

// PostgresURL returns the test server's URL, or skips t saying how to start one.
func PostgresURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(URLVariable)
	if url == "" {
		t.Skip("PostgreSQL tests need " + URLVariable + "; start a throwaway server with " +
			"`export " + URLVariable + "=$(.ci/postgres-server.sh)`")
	}
	return url
}

// NewSchema names a fresh PostgreSQL schema, dropped (with everything in it)
// when the test ends; it skips t without a server.
func NewSchema(t testing.TB) string {
	t.Helper()
	url := PostgresURL(t)
	schema := "refkit_t_" + strings.ReplaceAll(referral.NewID().String(), "-", "")[16:]
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		require.NoError(t, err)
	})
	return schema
}
