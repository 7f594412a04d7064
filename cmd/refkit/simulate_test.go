package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
		{"tunes on a known machine", nil, 16 * gib, true, 8 * gib, simGCPercent},
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
