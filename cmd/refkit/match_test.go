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

const matchDirectory = `{"services":[
{"id":"0190a6f0-8a4b-7c3d-9e2f-000000000001","organization_id":"0190a6f0-8a4b-7c3d-9e2f-0000000000a1","name":"Pantry","status":"active","domains":["food-insecurity"],"eligibility":"fpl_percent <= 200","languages":["es"],"capacity":{"available":3},"locations":[{"id":"0190a6f0-8a4b-7c3d-9e2f-0000000000b1","name":"Main","latitude":37.8044,"longitude":-122.2712,"address":{"city":"Oakland","state_province":"CA"}}]},
{"id":"0190a6f0-8a4b-7c3d-9e2f-000000000002","organization_id":"0190a6f0-8a4b-7c3d-9e2f-0000000000a2","name":"County line","status":"active","domains":["food-insecurity"],"service_areas":[{"kind":"county","values":["Alameda"]}]},
{"id":"0190a6f0-8a4b-7c3d-9e2f-000000000003","organization_id":"0190a6f0-8a4b-7c3d-9e2f-0000000000a3","name":"Closed","status":"inactive","domains":["food-insecurity"],"locations":[{"id":"0190a6f0-8a4b-7c3d-9e2f-0000000000b3","latitude":37.81,"longitude":-122.27}]}
]}`

const matchRequest = `{"person":{"birth_date":"1980-05-02","household_size":3,"income_annual":30000,"state":"CA","county":"Alameda","languages":["es"]},"needs":[{"domain":"food-insecurity","urgency":"urgent"}],"near":{"latitude":37.8,"longitude":-122.27},"radius_m":10000,"limit":20,"order":"score","explain":true,"as_of":"2026-01-15T00:00:00Z"}`

type matchOutput struct {
	Matches []struct {
		ServiceID  string             `json:"service_id"`
		LocationID string             `json:"location_id"`
		DistanceM  *float64           `json:"distance_m"`
		Score      float64            `json:"score"`
		Breakdown  map[string]float64 `json:"score_breakdown"`
		Reasons    []map[string]any   `json:"reasons"`
	} `json:"matches"`
	Excluded []struct {
		ServiceID string           `json:"service_id"`
		Reasons   []map[string]any `json:"reasons"`
	} `json:"excluded"`
}

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestMatchCommand(t *testing.T) {
	dir := writeTemp(t, "dir.json", matchDirectory)
	reqFile := writeTemp(t, "req.json", matchRequest)
	noExplain := strings.Replace(matchRequest, `"explain":true`, `"explain":false`, 1)
	reqs := writeTemp(t, "reqs.jsonl", matchRequest+"\n\n"+noExplain+"\n")
	tests := []struct {
		name     string
		args     []string
		stdin    string
		lines    int
		explains []bool
	}{
		{"request on stdin", []string{"match", "--directory", dir}, matchRequest, 1, []bool{true}},
		{"request file", []string{"match", "--directory", dir, "--request", reqFile}, "", 1, []bool{true}},
		{"requests jsonl", []string{"match", "--directory", dir, "--requests", reqs}, "", 2, []bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, strings.NewReader(tt.stdin), &out, &errOut)
			require.Equal(t, 0, code, errOut.String())
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			require.Len(t, lines, tt.lines)
			for i, l := range lines {
				var got matchOutput
				require.NoError(t, json.Unmarshal([]byte(l), &got))
				require.Len(t, got.Matches, 2)
				require.Equal(t, "0190a6f0-8a4b-7c3d-9e2f-000000000001", got.Matches[0].ServiceID)
				require.Equal(t, "0190a6f0-8a4b-7c3d-9e2f-0000000000b1", got.Matches[0].LocationID)
				require.NotNil(t, got.Matches[0].DistanceM)
				require.InDelta(t, got.Matches[0].Score, sum(got.Matches[0].Breakdown), 1e-9)
				require.Nil(t, got.Matches[1].DistanceM, "a county match has no point distance")
				if tt.explains[i] {
					require.Len(t, got.Excluded, 1)
					require.Equal(t, "inactive", got.Excluded[0].Reasons[0]["code"])
				} else {
					require.Nil(t, got.Excluded)
					require.NotContains(t, l, `"excluded"`)
				}
			}
		})
	}
}

func sum(m map[string]float64) float64 {
	t := 0.0
	for _, v := range m {
		t += v
	}
	return t
}

func TestMatchCommandErrors(t *testing.T) {
	dir := writeTemp(t, "dir.json", matchDirectory)
	badDir := writeTemp(t, "bad.json", strings.Replace(matchDirectory, `"fpl_percent <= 200"`, `"fpl_percent <= "`, 1))
	reqs := writeTemp(t, "reqs.jsonl", matchRequest+"\n"+strings.Replace(matchRequest, `"radius_m":10000`, `"radius_m":-5`, 1)+"\n")
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"no directory flag", []string{"match"}, matchRequest, "exactly one of --directory, --db and --postgres is required"},
		{"missing directory", []string{"match", "--directory", filepath.Join(t.TempDir(), "none.json")}, matchRequest, "directory:"},
		{"bad rule", []string{"match", "--directory", badDir}, matchRequest, "service 0190a6f0-8a4b-7c3d-9e2f-000000000001: eligibility rule"},
		{"no needs", []string{"match", "--directory", dir}, `{"near":{"latitude":1,"longitude":1},"radius_m":5}`, "needs"},
		{"latitude", []string{"match", "--directory", dir}, strings.Replace(matchRequest, `"latitude":37.8`, `"latitude":97.8`, 1), "near.latitude"},
		{"unknown domain", []string{"match", "--directory", dir}, strings.Replace(matchRequest, `"domain":"food-insecurity"`, `"domain":"nope"`, 1), "needs[0].domain"},
		{"unknown field", []string{"match", "--directory", dir}, strings.Replace(matchRequest, `"radius_m"`, `"radius"`, 1), `radius is not a known field`},
		{"bad line, nothing printed", []string{"match", "--directory", dir, "--requests", reqs}, "", "requests line 2: refkit: invalid input: radius_m must not be negative"},
		{"both request flags", []string{"match", "--directory", dir, "--request", "a", "--requests", "b"}, "", "mutually exclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, strings.NewReader(tt.stdin), &out, &errOut)
			require.Equal(t, 1, code)
			require.Empty(t, out.String())
			require.Contains(t, errOut.String(), tt.want)
			require.Equal(t, 1, strings.Count(errOut.String(), "\n"), "one line: %q", errOut.String())
		})
	}
}
