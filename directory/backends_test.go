package directory_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
	"github.com/refkit/refkit/storage/postgres"
	"github.com/refkit/refkit/storage/sqlite"
)

// store is what the tests need of a backend: everything refkit's have.
type store interface {
	storage.Store
	storage.DirectoryFeed
}

// backend opens an empty store of one kind, closed when the test ends. path,
// when set, is where a second store on the same database opens (as another
// process would); reopen opens it.
type backend struct {
	name   string
	open   func(t testing.TB) (store, string)
	reopen func(t testing.TB, where string) store
}

// postgresURL returns the test server's URL, or skips t.
func postgresURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("REFKIT_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("PostgreSQL tests need REFKIT_TEST_POSTGRES_URL; start a throwaway server with " +
			"`export REFKIT_TEST_POSTGRES_URL=$(.ci/postgres-server.sh)`")
	}
	return url
}

func openSQLite(t testing.TB, path string, opts sqlite.Options) store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func openPostgres(t testing.TB, schema string) store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgresURL(t), postgres.Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// newSchema names a fresh PostgreSQL schema, dropped when the test ends.
func newSchema(t testing.TB) string {
	t.Helper()
	url := postgresURL(t)
	schema := "refkit_dir_" + strings.ReplaceAll(referral.NewID().String(), "-", "")[16:]
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

// backends are every store refkit ships; PostgreSQL needs
// REFKIT_TEST_POSTGRES_URL and skips without it.
var backends = []backend{
	{
		name: "memory",
		open: func(t testing.TB) (store, string) {
			s := memory.New()
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			return s, ""
		},
	},
	{
		name: "sqlite",
		open: func(t testing.TB) (store, string) {
			path := filepath.Join(t.TempDir(), "refkit.db")
			return openSQLite(t, path, sqlite.Options{PollInterval: 5 * time.Millisecond}), path
		},
		reopen: func(t testing.TB, path string) store {
			return openSQLite(t, path, sqlite.Options{PollInterval: 5 * time.Millisecond})
		},
	},
	{
		name: "postgres",
		open: func(t testing.TB) (store, string) {
			schema := newSchema(t)
			return openPostgres(t, schema), schema
		},
		reopen: openPostgres,
	},
}

// network is the network every test loads into.
var network = referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000aa")

// epoch is the test clock's start.
var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// putNetwork stores the test network.
func putNetwork(t testing.TB, s storage.Store) {
	t.Helper()
	require.NoError(t, s.PutNetwork(context.Background(), referral.Network{ID: network, Name: "County Care Network", Created: epoch}))
}

// id returns a fixed UUIDv7 for small n, so records sort in n order.
func id(n int) referral.ID {
	v := referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-000000000000")
	v[14], v[15] = byte(n>>8), byte(n)
	return v
}

func org(n int, name string) referral.Organization {
	return referral.Organization{ID: id(n), Network: network, Name: name}
}

// service returns a food service of organization o at a point near the test
// request, n metres or so north for n below 100.
func service(n int, o referral.ID, name string) referral.Service {
	return referral.Service{
		ID: id(n), Network: network, Organization: o, Name: name, Status: referral.ServiceActive,
		Domains:   []referral.Domain{referral.FoodInsecurity},
		Locations: []referral.Location{{ID: id(n + 1000), Latitude: 39.96 + float64(n)/10000, Longitude: -83.0}},
		HSDS:      []byte(`{"program":{"id":"prog-` + name + `","name":"Food","funding":[{"source":"County"}]}}`),
	}
}

// sample is a small directory: two organizations, three services.
func sample() directory.Records {
	pantry, clinic := org(1, "Eastside Pantry"), org(2, "Riverside Clinic")
	return directory.Records{
		Organizations: []referral.Organization{pantry, clinic},
		Services: []referral.Service{
			service(10, pantry.ID, "groceries"), service(11, pantry.ID, "meals"), service(12, clinic.ID, "vouchers"),
		},
	}
}
