package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/simulation"
	"github.com/refkit/refkit/simulation/experiment"
	"github.com/refkit/refkit/simulation/plot"
)

// TestRun runs the documented three-arm experiment, shortened to 40 days of
// arrivals with two replications per arm, and checks the summary and the
// files a researcher gets.
func TestRun(t *testing.T) {
	plan, err := experiment.Load("design.json")
	require.NoError(t, err)
	require.Len(t, plan.Arms, 3)
	for _, a := range plan.Arms {
		a.Scenario.Duration = simulation.Duration(40 * 24 * time.Hour)
		a.Scenario.Warmup = simulation.Duration(7 * 24 * time.Hour)
	}
	out := t.TempDir()
	var buf bytes.Buffer
	require.NoError(t, run(context.Background(), plan, 2, out, &buf))
	for _, want := range []string{"3 arms, 2 replications each, common random numbers", "double the housing desk", "accept within 48h",
		`difference from "today"`, "loop closure, points", "desk wait, hours"} {
		require.Contains(t, buf.String(), want)
	}
	for _, f := range []string{experiment.ResultFile, experiment.DifferencesFile, "summary.csv", plot.ArmsFile, plot.DifferencesFile} {
		info, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err)
		require.Positive(t, info.Size())
	}
}
