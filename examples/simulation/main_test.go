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
	"github.com/refkit/refkit/simulation/plot"
)

// TestRun runs the example scenario, shortened to two weeks, and checks the
// summary and the files a researcher gets.
func TestRun(t *testing.T) {
	sc, err := simulation.Load("scenario.json")
	require.NoError(t, err)
	sc.Duration = simulation.Duration(14 * 24 * time.Hour)
	sc.Warmup = simulation.Duration(2 * 24 * time.Hour)
	sc.Population.Size = 2000
	out := t.TempDir()
	var buf bytes.Buffer
	require.NoError(t, run(context.Background(), sc, 2, out, &buf))
	for _, want := range []string{"loop closure", "North Shore Food Bank", "Housing Help Desk", "P(wait)", "unmet needs by domain", "food-insecurity"} {
		require.Contains(t, buf.String(), want)
	}
	for _, f := range []string{simulation.MetricsFile, "services.csv", "occupancy_over_time.csv", plot.ClosureFile, plot.OccupancyFile,
		plot.UtilisationFile, plot.WaitingFile, plot.UnmetFile} {
		info, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err)
		require.Positive(t, info.Size())
	}
}
