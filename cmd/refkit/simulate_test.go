package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/gctune"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/simulation"
	"github.com/refkit/refkit/simulation/calibrate"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/postgres"
)

func TestSimulate(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"simulate", "--scenario", "testdata/simulate-small.json", "--seed", "3",
		"--out", out, "--replications", "3", "--plots"}, nil, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	require.Contains(t, stdout.String(), "3 replication(s)")
	require.Empty(t, stderr.String(), "no progress bar when stderr is not a terminal")

	data, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	for _, key := range []string{"referrals_total", "by_status", "loop_closure_rate", "time_to_accept", "time_to_complete", "services", "unmet_by_domain"} {
		require.Contains(t, m, key)
	}
	svc := m["services"].([]any)[0].(map[string]any)
	require.Contains(t, svc, "utilisation")
	require.Contains(t, svc, "mean_wait")
	for _, f := range []string{"summary.csv", "services.csv", "by_status.csv", "unmet_by_domain.csv", "closure_over_time.png", "utilisation.png", "unmet_by_domain.png"} {
		_, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err, f)
	}

	// The same seed writes the same bytes.
	again := t.TempDir()
	code = run(context.Background(), []string{"simulate", "--scenario", "testdata/simulate-small.json", "--seed", "3",
		"--out", again, "--replications", "3"}, nil, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	second, err := os.ReadFile(filepath.Join(again, "metrics.json"))
	require.NoError(t, err)
	require.Equal(t, data, second)
}

func TestSimulateRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"invalid scenario names the field", []string{"--scenario", "testdata/simulate-invalid.json", "--out", "OUT"}, "services[0].capacity.slots"},
		{"missing scenario", []string{"--out", "OUT"}, "--scenario is required"},
		{"missing out", []string{"--scenario", "testdata/simulate-small.json"}, "--out is required"},
		{"no replications", []string{"--scenario", "testdata/simulate-small.json", "--out", "OUT", "--replications", "0"}, "replications"},
		{"absent file", []string{"--scenario", "testdata/none.json", "--out", "OUT"}, "scenario"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			args := []string{"simulate"}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "OUT", out))
			}
			var stdout, stderr bytes.Buffer
			require.Equal(t, 1, run(context.Background(), args, nil, &stdout, &stderr))
			require.Contains(t, stderr.String(), tc.want)
			_, err := os.Stat(filepath.Join(out, "metrics.json"))
			require.True(t, os.IsNotExist(err))
		})
	}
}

func TestMemTotal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		meminfo string
		want    uint64
	}{
		{"linux", "MemTotal:       24589840 kB\nMemFree:        22000000 kB\n", 24589840 << 10},
		{"not first", "MemFree: 1 kB\nMemTotal: 2048 kB\n", 2048 << 10},
		{"missing", "MemFree: 1 kB\n", 0},
		{"no unit", "MemTotal: 2048\n", 0},
		{"not a number", "MemTotal: lots kB\n", 0},
		{"absurd", "MemTotal: 99999999999999999 kB\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, memTotal(tc.meminfo))
		})
	}
}

func TestTuneGC(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		name               string
		env                map[string]string
		memory             uint64
		tuned              bool
		wantLimit, wantPct int64
	}{
		{"tunes on a known machine", nil, 16 * gib, true, gctune.Floor, gctune.Percent},
		{"tunes a small machine to half its memory", nil, 4 * gib, true, 2 * gib, gctune.Percent},
		{"GOGC wins", map[string]string{"GOGC": "100"}, 16 * gib, false, 0, 0},
		{"GOMEMLIMIT wins", map[string]string{"GOMEMLIMIT": "4GiB"}, 16 * gib, false, 0, 0},
		{"unknown memory", nil, 0, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prevPct := debug.SetGCPercent(100)
			prevLimit := debug.SetMemoryLimit(math.MaxInt64)
			defer debug.SetGCPercent(prevPct)
			defer debug.SetMemoryLimit(prevLimit)

			restore := tuneGC(func(k string) string { return tc.env[k] }, tc.memory)
			limit, pct := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1)
			debug.SetGCPercent(pct)
			if tc.tuned {
				require.Equal(t, tc.wantLimit, limit)
				require.Equal(t, tc.wantPct, int64(pct))
			} else {
				require.Equal(t, int64(math.MaxInt64), limit)
				require.Equal(t, 100, pct)
			}
			restore()
			require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))
			require.Equal(t, 100, debug.SetGCPercent(100))
		})
	}
}

// TestSimulateHistoryCalibrateAndRunTheTwin is the digital twin's round trip
// from the shell: simulate with overrides, keep the first replication's
// history in SQLite, calibrate a scenario from it, and simulate that.
func TestSimulateHistoryCalibrateAndRunTheTwin(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "history.db")
	code, out, errOut := runCmd(t, "", "simulate", "--scenario", "testdata/simulate-small.json", "--out", filepath.Join(dir, "sim"),
		"--replications", "2", "--set", "duration=20d", "--set", "services[name=pantry].capacity.slots=4", "--events", "--history", db)
	require.Equal(t, 0, code, errOut)
	network := regexp.MustCompile(`network ([0-9a-f-]{36})`).FindStringSubmatch(out)
	require.Len(t, network, 2, out)

	for i := range 2 {
		events, err := os.ReadFile(filepath.Join(dir, "sim", "events", fmt.Sprintf("replication-%04d.csv", i)))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(events), "run,arm,replication,referral,"))
	}
	var m struct {
		Services []struct {
			Slots int `json:"slots"`
		} `json:"services"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "sim", "metrics.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &m))
	require.Equal(t, 4, m.Services[0].Slots, "--set reached the scenario")

	twin := filepath.Join(dir, "twin.json")
	code, out, errOut = runCmd(t, "", "simulate", "calibrate", "--db", db, "--network", network[1], "--out", twin, "--min-sample", "10")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "calibrated from ")
	sc, err := simulation.Load(twin)
	require.NoError(t, err)
	require.Len(t, sc.Sites, 1)
	require.Equal(t, "clinic", sc.Sites[0].Name)
	require.NotEmpty(t, sc.Calibration.Estimates)

	code, out, errOut = runCmd(t, "", "simulate", "--scenario", twin, "--out", filepath.Join(dir, "twin"), "--set", "duration=5d", "--set", "warmup=0s")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "1 replication(s)")
}

// TestCalibrateFromPostgres reads a history from PostgreSQL (the server CI
// starts), through --postgres with the schema on the URL's search_path.
func TestCalibrateFromPostgres(t *testing.T) {
	url := os.Getenv("REFKIT_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("REFKIT_TEST_POSTGRES_URL is not set: start a server with .ci/postgres-server.sh")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("calibrate_%d", time.Now().UnixNano())
	sc, err := simulation.Load("testdata/simulate-small.json")
	require.NoError(t, err)
	var network referral.ID
	_, err = simulation.Run(ctx, sc, simulation.Options{Seed: 1, Replications: 1, Inspect: func(_ int, st storage.Store, id referral.ID) error {
		pg, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
		if err != nil {
			return err
		}
		defer pg.Close()
		network = id
		return calibrate.CopyHistory(ctx, pg, st, id)
	}})
	require.NoError(t, err)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	twin := filepath.Join(t.TempDir(), "twin.json")
	code, out, errOut := runCmd(t, "", "simulate", "calibrate", "--postgres", url+sep+"search_path="+schema, "--network", network.String(), "--out", twin)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "calibrated from ")
	_, err = simulation.Load(twin)
	require.NoError(t, err)
}

func TestSimulateCalibrateRejects(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "exists.db")
	require.NoError(t, os.WriteFile(existing, nil, 0o600))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"an unknown override names its path", []string{"simulate", "--scenario", "testdata/simulate-small.json", "--out", dir, "--set", "policy.radius=5"}, "policy.radius is not a scenario field"},
		{"an override of the wrong type", []string{"simulate", "--scenario", "testdata/simulate-small.json", "--out", dir, "--set", "policy.radius_km=far"}, "policy.radius_km must be a number"},
		{"history into an existing file", []string{"simulate", "--scenario", "testdata/simulate-small.json", "--out", dir, "--history", existing}, "exists: give a new file"},
		{"no store", []string{"simulate", "calibrate", "--network", "0190a6f0-8a4b-7c3d-9e2f-0000000000aa", "--out", "x.json"}, "give one of --db and --postgres"},
		{"two stores", []string{"simulate", "calibrate", "--db", "a.db", "--postgres", "postgres://x", "--network", "n", "--out", "x.json"}, "give one of --db and --postgres"},
		{"no network", []string{"simulate", "calibrate", "--db", existing, "--out", "x.json"}, "--network is required"},
		{"a bad network", []string{"simulate", "calibrate", "--db", existing, "--network", "nope", "--out", "x.json"}, "--network"},
		{"no database file", []string{"simulate", "calibrate", "--db", filepath.Join(dir, "none.db"), "--network", "0190a6f0-8a4b-7c3d-9e2f-0000000000aa", "--out", "x.json"}, "--db"},
		{"a bad date", []string{"simulate", "calibrate", "--db", existing, "--network", "0190a6f0-8a4b-7c3d-9e2f-0000000000aa", "--out", "x.json", "--from", "yesterday"}, "--from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCmd(t, "", tc.args...)
			require.Equal(t, 1, code)
			require.Contains(t, errOut, tc.want)
		})
	}
}

func TestExperiment(t *testing.T) {
	out := t.TempDir()
	code, stdout, errOut := runCmd(t, "", "experiment", "--design", "../../examples/experiment/design.json", "--out", out, "--replications", "2", "--plots")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, stdout, "3 arms × 2 replications, common random numbers")
	require.Contains(t, stdout, "vs today")
	for _, f := range []string{"experiment.json", "differences.csv", "summary.csv", "arms.png", "differences.png", "arms/00-today/metrics.json"} {
		_, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err, f)
	}
	scenario, err := filepath.Abs("../../examples/experiment/scenario.json")
	require.NoError(t, err)
	bad := filepath.Join(t.TempDir(), "design.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"name": "x", "scenario": "`+scenario+`", "replications": 2,
		"arms": [{"name": "a"}, {"name": "b", "set": {"policy.radius": 3}}]}`), 0o600))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"experiment", "--out", out}, "--design is required"},
		{[]string{"experiment", "--design", bad}, "--out is required"},
		{[]string{"experiment", "--design", bad, "--out", out}, "arms[1] (b)"},
		{[]string{"experiment", "--design", "none.json", "--out", out}, "design"},
	} {
		code, _, errOut := runCmd(t, "", tc.args...)
		require.Equal(t, 1, code)
		require.Contains(t, errOut, tc.want)
	}
}
