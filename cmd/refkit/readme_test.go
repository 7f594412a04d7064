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

// TestReadmeCommands runs the shell examples README.md shows, so they cannot rot.
func TestReadmeCommands(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		check func(t *testing.T, out []byte)
	}{
		{"screen hunger vital sign", []string{"screen", "--instrument", "hunger-vital-sign"},
			`{"answers":{"88122-7":"Often true","88123-5":"Never true"}}`,
			func(t *testing.T, out []byte) {
				var got struct {
					PositiveDomains []string `json:"positive_domains"`
				}
				require.NoError(t, json.Unmarshal(out, &got))
				require.Equal(t, []string{"food-insecurity"}, got.PositiveDomains)
			}},
		{"list instruments", []string{"screen", "--list"}, "", func(t *testing.T, out []byte) {
			require.Contains(t, string(out), `"ahc-hrsn"`)
		}},
		{"match the sample directory", []string{"match", "--directory", "testdata/directory.json", "--request", "testdata/request.json"}, "",
			func(t *testing.T, out []byte) {
				var got matchOutput
				require.NoError(t, json.Unmarshal(out, &got))
				var ids []string
				for _, m := range got.Matches {
					ids = append(ids, m.ServiceID)
				}
				require.ElementsMatch(t, []string{"0190a6f0-8a4b-7c3d-9e2f-000000000001", "0190a6f0-8a4b-7c3d-9e2f-000000000002"}, ids)
				var excluded []string
				for _, e := range got.Excluded {
					excluded = append(excluded, e.ServiceID)
				}
				require.ElementsMatch(t, []string{"0190a6f0-8a4b-7c3d-9e2f-000000000003", "0190a6f0-8a4b-7c3d-9e2f-000000000004"}, excluded,
					"the veterans desk fails its rule, the closed pantry is inactive")
			}},
		{"simulate the example scenario", []string{"simulate", "--scenario", "../../examples/simulation/scenario.json",
			"--seed", "1", "--replications", "4", "--plots"}, "",
			func(t *testing.T, out []byte) {
				require.Contains(t, string(out), "4 replication(s)")
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if tc.args[0] == "simulate" {
				tc.args = append(tc.args, "--out", t.TempDir())
			}
			code := run(context.Background(), tc.args, strings.NewReader(tc.stdin), &out, &errOut)
			require.Equal(t, 0, code, errOut.String())
			tc.check(t, out.Bytes())
		})
	}
}

// TestReadmeDirectoryExchange runs the README's import-then-match example.
func TestReadmeDirectoryExchange(t *testing.T) {
	code, directory, errOut := runCmd(t, "", "hsds", "import", "--network", "0190a6f0-8a4b-7c3d-9e2f-0000000000aa",
		"../../interop/hsds/testdata/json/services.json")
	require.Equal(t, 0, code, errOut)
	file := filepath.Join(t.TempDir(), "directory.json")
	require.NoError(t, os.WriteFile(file, []byte(directory), 0o600))

	code, out, errOut := runCmd(t, "", "match", "--directory", file, "--request", "testdata/request-austin.json")
	require.Equal(t, 0, code, errOut)
	var got matchOutput
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.NotEmpty(t, got.Matches, "the Austin sample has food and shelter services near the request")
	for _, m := range got.Matches {
		require.NotEmpty(t, m.ServiceID)
	}
}
