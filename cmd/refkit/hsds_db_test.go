package main

import (
	"context"
	"encoding/json"
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
)

// databases are the --db and --postgres a test runs the database flow on;
// PostgreSQL needs REFKIT_TEST_POSTGRES_URL and is skipped without it.
func databases(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{"sqlite": {"--db", filepath.Join(t.TempDir(), "refkit.db")}}
	if url := os.Getenv("REFKIT_TEST_POSTGRES_URL"); url != "" {
		// A schema of its own, named on the URL like a host would.
		schema := "refkit_cli_" + strings.ReplaceAll(referral.NewID().String(), "-", "")[16:]
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
		require.NoError(t, err)
		conn.Close(ctx)
		t.Cleanup(func() {
			conn, err := pgx.Connect(ctx, url)
			require.NoError(t, err)
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			require.NoError(t, err)
		})
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		out["postgres"] = []string{"--postgres", url + sep + "search_path=" + schema}
	}
	return out
}

// TestHSDSDatabase: an import fills a database that match reads without any
// other step; a second import of the same feed changes nothing; export reads
// the database back, in either version and shape, leaving out what the
// directory keeps confidential unless asked.
func TestHSDSDatabase(t *testing.T) {
	sample := filepath.Join("..", "..", "interop", "hsds", "testdata", "json", "services.json")
	shelter := filepath.Join("..", "..", "interop", "hsds", "testdata", "confidential", "services.json")
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			args := func(more ...string) []string { return append(append([]string{}, db...), more...) }
			code, out, errOut := runCmd(t, "", append([]string{"hsds", "import", "--network", hsdsNetwork}, args(sample)...)...)
			require.Equal(t, 0, code, errOut)
			var rep directory.Report
			require.NoError(t, json.Unmarshal([]byte(out), &rep))
			require.Len(t, rep.Services.Added, 20)
			require.Len(t, rep.Organizations.Added, 7)
			require.Contains(t, errOut, "imported 20 services and 7 organizations (HSDS 3.0); 8 records kept with a problem; 3 records not imported")
			require.Contains(t, errOut, "services 20 added, 0 updated, 0 unchanged, 0 removed")

			code, out, errOut = runCmd(t, "", append([]string{"hsds", "import", "--network", hsdsNetwork}, args(sample)...)...)
			require.Equal(t, 0, code, errOut)
			rep = directory.Report{}
			require.NoError(t, json.Unmarshal([]byte(out), &rep))
			require.Empty(t, rep.Services.Added)
			require.Len(t, rep.Services.Unchanged, 20, "the same feed again changes nothing")

			// Match against the database: no directory file, no loop.
			code, out, errOut = runCmd(t, "", append([]string{"match", "--network", hsdsNetwork, "--request", "testdata/request-austin.json"}, db...)...)
			require.Equal(t, 0, code, errOut)
			var res matchOutput
			require.NoError(t, json.Unmarshal([]byte(out), &res))
			require.NotEmpty(t, res.Matches)

			// The shelter, as a feed of changes: nothing else is removed.
			code, out, errOut = runCmd(t, "", append([]string{"hsds", "import", "--network", hsdsNetwork, "--partial"}, args(shelter)...)...)
			require.Equal(t, 0, code, errOut)
			rep = directory.Report{}
			require.NoError(t, json.Unmarshal([]byte(out), &rep))
			require.Len(t, rep.Services.Added, 2)
			require.Empty(t, rep.Services.Removed)

			for _, shape := range []string{"services", "organizations", "service_at_locations"} {
				for _, version := range []string{"3.0", "3.1"} {
					code, public, errOut := runCmd(t, "", append([]string{"hsds", "export", "--network", hsdsNetwork, "--shape", shape, "--version", version}, db...)...)
					require.Equal(t, 0, code, errOut)
					require.Contains(t, public, `"3adb1b9a-8aa3-58fb-9b26-73145d746eff"`, "original HSDS ids are written back")
					require.Contains(t, public, "Safe Harbor House")
					require.NotContains(t, public, "Hidden Lane", "%s %s: the shelter's address is not exported", shape, version)
					require.NotContains(t, public, "39.98765")
					require.NotContains(t, public, "555 0177")
					code, backup, errOut := runCmd(t, "", append([]string{"hsds", "export", "--network", hsdsNetwork, "--shape", shape,
						"--version", version, "--include-confidential"}, db...)...)
					require.Equal(t, 0, code, errOut)
					require.Contains(t, backup, "Hidden Lane", "a backup keeps everything")
				}
			}
			pkg := filepath.Join(t.TempDir(), "pkg")
			code, _, errOut = runCmd(t, "", append([]string{"hsds", "export", "--network", hsdsNetwork, "--format", "csv", "--out", pkg}, db...)...)
			require.Equal(t, 0, code, errOut)
			addresses, err := os.ReadFile(filepath.Join(pkg, "addresses.csv"))
			require.NoError(t, err)
			require.Contains(t, string(addresses), "80 Court Street")
			require.NotContains(t, string(addresses), "Hidden Lane")
		})
	}
}

// TestHSDSImportStampsRecords: records an import writes carry its time.
func TestHSDSImportStampsRecords(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	defer func(was func() time.Time) { timeNow = was }(timeNow)
	timeNow = func() time.Time { return at }
	db := filepath.Join(t.TempDir(), "refkit.db")
	sample := filepath.Join("..", "..", "interop", "hsds", "testdata", "json", "services.json")
	code, _, errOut := runCmd(t, "", "hsds", "import", "--network", hsdsNetwork, "--network-name", "Austin test network", "--db", db, sample)
	require.Equal(t, 0, code, errOut)
	code, out, errOut := runCmd(t, "", "hsds", "export", "--db", db, "--network", hsdsNetwork, "--include-confidential")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Riverbend Community Pantry")
	d := &database{db: db}
	s, err := d.open(context.Background())
	require.NoError(t, err)
	defer s.Close()
	n, err := s.GetNetwork(context.Background(), referral.MustParseID(hsdsNetwork))
	require.NoError(t, err)
	require.Equal(t, "Austin test network", n.Name)
	svc, _, err := s.ListServices(context.Background(), n.ID, storage.Page{Limit: 1})
	require.NoError(t, err)
	require.True(t, at.Equal(svc[0].Updated))
}

func TestMatchSources(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"none", []string{"match"}, "exactly one of --directory, --db and --postgres is required"},
		{"two", []string{"match", "--directory", "testdata/directory.json", "--db", "x.db"}, "exactly one of --directory, --db and --postgres is required"},
		{"no network", []string{"match", "--db", filepath.Join(t.TempDir(), "x.db")}, "--network: refkit: invalid input"},
		{"unknown network", []string{"match", "--db", filepath.Join(t.TempDir(), "x.db"), "--network", hsdsNetwork}, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, "{}", tc.args...)
			require.Equal(t, 1, code)
			require.Empty(t, out)
			require.Contains(t, errOut, tc.want)
		})
	}
}

// TestReadmeDatabaseExchange runs the README's import, match and export on a
// database, so the commands it shows cannot rot.
func TestReadmeDatabaseExchange(t *testing.T) {
	commands := [][]string{
		{"hsds", "import", "--network", "0190a6f0-8a4b-7c3d-9e2f-0000000000aa", "--db", "/tmp/refkit.db", "interop/hsds/testdata/json/services.json"},
		{"match", "--db", "/tmp/refkit.db", "--network", "0190a6f0-8a4b-7c3d-9e2f-0000000000aa", "--request", "cmd/refkit/testdata/request-austin.json"},
		{"hsds", "export", "--db", "/tmp/refkit.db", "--network", "0190a6f0-8a4b-7c3d-9e2f-0000000000aa", "--version", "3.1"},
	}
	db := filepath.Join(t.TempDir(), "refkit.db")
	var outs []string
	for _, args := range commands {
		requireSays(t, "go run ./cmd/refkit "+strings.Join(args, " "))
		run := make([]string, len(args))
		for i, a := range args {
			switch {
			case a == "/tmp/refkit.db":
				a = db
			case strings.HasPrefix(a, "cmd/refkit/"):
				a = strings.TrimPrefix(a, "cmd/refkit/")
			case strings.HasPrefix(a, "interop/"):
				a = filepath.Join("..", "..", a)
			}
			run[i] = a
		}
		code, out, errOut := runCmd(t, "", run...)
		require.Equal(t, 0, code, errOut)
		outs = append(outs, out)
	}
	var res matchOutput
	require.NoError(t, json.Unmarshal([]byte(outs[1]), &res))
	require.NotEmpty(t, res.Matches, "the Austin sample has food and shelter services near the request")
	require.Contains(t, outs[2], `"total_items"`)
}
