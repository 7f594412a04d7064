package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const hsdsNetwork = "0190a6f0-8a4b-7c3d-9e2f-0123456789ab"

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHSDSImportExport(t *testing.T) {
	sample := filepath.Join("..", "..", "interop", "hsds", "testdata")
	for _, tc := range []struct{ name, path string }{
		{"json", filepath.Join(sample, "json", "services.json")},
		{"csv", filepath.Join(sample, "csv")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			orgs := filepath.Join(tmp, "orgs.json")
			code, out, errOut := runCmd(t, "", "hsds", "import", "--network", hsdsNetwork, "--organizations", orgs, tc.path)
			require.Equal(t, 0, code, errOut)
			var dir struct {
				Services []map[string]any `json:"services"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &dir))
			require.Len(t, dir.Services, 20)
			require.Contains(t, errOut, "imported 20 services and 7 organizations (HSDS 3.0); 8 records kept with a problem; 3 records not imported")
			require.Contains(t, errOut, "hsds service_area 23e1531d-b03d-5e67-9390-7048460a196f imported with a problem")
			dirFile := filepath.Join(tmp, "dir.json")
			require.NoError(t, os.WriteFile(dirFile, []byte(out), 0o600))

			// The services feed refkit match as they are.
			req := `{"person":{"birth_date":"1980-05-02","county":"Travis","state":"TX"},"needs":[{"domain":"food-insecurity","urgency":"urgent"}],"near":{"latitude":30.27,"longitude":-97.74},"radius_m":10000,"as_of":"2026-03-02T15:00:00Z"}`
			code, out, errOut = runCmd(t, req, "match", "--directory", dirFile)
			require.Equal(t, 0, code, errOut)
			var res matchOutput
			require.NoError(t, json.Unmarshal([]byte(out), &res))
			require.NotEmpty(t, res.Matches)

			// Export as JSON with the original ids, import again: same services.
			code, exported, errOut := runCmd(t, "", "hsds", "export", "--directory", dirFile, "--organizations", orgs)
			require.Equal(t, 0, code, errOut)
			require.Contains(t, exported, `"3adb1b9a-8aa3-58fb-9b26-73145d746eff"`, "original HSDS ids are written back")
			code, again, errOut := runCmd(t, exported, "hsds", "import", "--network", hsdsNetwork, "-")
			require.Equal(t, 0, code, errOut)
			require.JSONEq(t, string(mustRead(t, dirFile)), again)
			require.Contains(t, errOut, "8 records kept with a problem; 0 records not imported", "the kept records' problems, again")

			// Export as a data package, import it again: same services.
			pkg := filepath.Join(tmp, "pkg")
			code, _, errOut = runCmd(t, string(mustRead(t, dirFile)), "hsds", "export", "--format", "csv", "--out", pkg, "--organizations", orgs)
			require.Equal(t, 0, code, errOut)
			code, again, errOut = runCmd(t, "", "hsds", "import", "--network", hsdsNetwork, "--format", "csv", pkg)
			require.Equal(t, 0, code, errOut)
			require.JSONEq(t, string(mustRead(t, dirFile)), again)
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestHSDSErrors(t *testing.T) {
	sample := filepath.Join("..", "..", "interop", "hsds", "testdata", "json", "services.json")
	tmp := t.TempDir()
	orgs := filepath.Join(tmp, "orgs.json")
	require.NoError(t, os.WriteFile(orgs, []byte(`{"organizations": []}`), 0o600))
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no subcommand", "", []string{"hsds"}, "usage: refkit hsds import|export"},
		{"unknown subcommand", "", []string{"hsds", "convert"}, "usage: refkit hsds import|export"},
		{"no path", "", []string{"hsds", "import", "--network", hsdsNetwork}, "one PATH is required"},
		{"no network", "", []string{"hsds", "import", sample}, "--network: refkit: invalid input: id must be a UUID"},
		{"bad format", "", []string{"hsds", "import", "--network", hsdsNetwork, "--format", "xml", sample}, "--format must be json or csv"},
		{"strict", "", []string{"hsds", "import", "--network", hsdsNetwork, "--strict", sample}, "hsds location 93f5ff0d-e64a-5f7d-ba12-db0f61277ea8 imported with a problem"},
		{"truncated", `{"contents": [`, []string{"hsds", "import", "--network", hsdsNetwork, "-"}, "refkit: invalid input: json is not valid JSON"},
		{"missing file", "", []string{"hsds", "import", "--network", hsdsNetwork, filepath.Join(tmp, "nope.json")}, "no such file"},
		{"missing package", "", []string{"hsds", "import", "--network", hsdsNetwork, "--format", "csv", tmp}, "datapackage.json cannot be read"},
		{"bad taxonomy", "", []string{"hsds", "import", "--network", hsdsNetwork, "--taxonomy", orgs, sample}, "--taxonomy: refkit: invalid input"},
		{"export without organizations", `{"services": []}`, []string{"hsds", "export"}, "--organizations is required without a database"},
		{"export to another version", `{"services": []}`, []string{"hsds", "export", "--organizations", orgs, "--version", "2.0"}, "--version must be 3.0 or 3.1"},
		{"export in another shape", `{"services": []}`, []string{"hsds", "export", "--organizations", orgs, "--shape", "programs"}, "--shape must be services"},
		{"export from two databases", "", []string{"hsds", "export", "--db", "a.db", "--postgres", "postgres://x", "--network", hsdsNetwork}, "--db and --postgres are mutually exclusive"},
		{"export from a database and files", "", []string{"hsds", "export", "--db", filepath.Join(tmp, "x.db"), "--network", hsdsNetwork, "--organizations", orgs}, "--directory and --organizations are for an export without a database"},
		{"export from a database without network", "", []string{"hsds", "export", "--db", filepath.Join(tmp, "x.db")}, "--network: refkit: invalid input"},
		{"import into two databases", "", []string{"hsds", "import", "--network", hsdsNetwork, "--db", "a.db", "--postgres", "postgres://x", sample}, "--db and --postgres are mutually exclusive"},
		{"import organizations file into a database", "", []string{"hsds", "import", "--network", hsdsNetwork, "--db", filepath.Join(tmp, "x.db"), "--organizations", orgs, sample}, "--organizations is for an import without a database"},
		{"partial without a database", "", []string{"hsds", "import", "--network", hsdsNetwork, "--partial", sample}, "--partial and --replace-capacity need --db or --postgres"},
		{"import into a database that is not one", "", []string{"hsds", "import", "--network", hsdsNetwork, "--db", orgs, sample}, "--db: sqlite"},
		{"export unknown field", `{"servces": []}`, []string{"hsds", "export", "--organizations", orgs}, "directory: refkit: invalid input: servces is not a known field"},
		{"export dangling organization", `{"services": [{"id":"0190a6f0-8a4b-7c3d-9e2f-000000000001","network_id":"` + hsdsNetwork + `","organization_id":"0190a6f0-8a4b-7c3d-9e2f-0000000000a1","name":"P","status":"active","domains":["food-insecurity"],"service_areas":[{"kind":"virtual"}]}]}`,
			[]string{"hsds", "export", "--organizations", orgs}, "services[0].organization_id refers to no organization in the dataset"},
		{"export csv without out", `{"services": []}`, []string{"hsds", "export", "--organizations", orgs, "--format", "csv"}, "--out DIR is required for csv"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tc.stdin, tc.args...)
			require.Equal(t, 1, code)
			require.Empty(t, out)
			require.Contains(t, errOut, tc.want)
		})
	}
}
