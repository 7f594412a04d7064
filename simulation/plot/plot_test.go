package plot_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/simulation"
	"github.com/refkit/refkit/simulation/plot"
)

func stat(mean float64) simulation.Stat {
	return simulation.Stat{Mean: mean, Low: mean, High: mean, N: 2}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, time.January, 5, 0, 0, 0, 0, time.UTC)
	full := &simulation.Report{
		Start: start,
		ClosureOverTime: []simulation.BucketStat{
			{Start: start, Created: stat(10), ClosureRate: stat(0.5)},
			{Start: start.AddDate(0, 0, 7), Created: stat(12), ClosureRate: stat(0.6)},
			{Start: start.AddDate(0, 0, 14)}, // nothing created: left out of the line
		},
		Services: []simulation.ServiceStats{
			{Name: "pantry", Slots: 4, Utilisation: &simulation.Stat{Mean: 0.9, N: 2}},
			{Name: "hotline"}, // unlimited capacity: no bar
		},
		UnmetByDomain: map[string]simulation.Stat{"food-insecurity": stat(3), "housing-instability": stat(1)},
	}
	many := &simulation.Report{Start: start}
	for i := range 100 {
		many.Services = append(many.Services, simulation.ServiceStats{Name: fmt.Sprint("service ", i), Utilisation: &simulation.Stat{Mean: 0.5}})
	}
	tests := []struct {
		name   string
		report *simulation.Report
		// twice draws the report again, to check the bytes are the same.
		twice bool
	}{
		{"every chart has data", full, true},
		{"no data: axes only", &simulation.Report{Start: start}, false},
		{"more services than labels", many, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "out", "charts")
			require.NoError(t, plot.Write(dir, tc.report))
			for _, f := range []struct {
				name          string
				width, height int
			}{{plot.ClosureFile, 2, 1}, {plot.UtilisationFile, 2, 1}, {plot.UnmetFile, 2, 1}} {
				data, err := os.ReadFile(filepath.Join(dir, f.name))
				require.NoError(t, err)
				img, err := png.Decode(bytes.NewReader(data))
				require.NoError(t, err, f.name)
				b := img.Bounds()
				require.Equal(t, b.Dx()*f.height, b.Dy()*f.width, "%s is %dx%d", f.name, b.Dx(), b.Dy())
			}
			if !tc.twice {
				return
			}
			again := t.TempDir()
			require.NoError(t, plot.Write(again, tc.report))
			for _, name := range []string{plot.ClosureFile, plot.UtilisationFile, plot.UnmetFile} {
				first, err := os.ReadFile(filepath.Join(dir, name))
				require.NoError(t, err)
				second, err := os.ReadFile(filepath.Join(again, name))
				require.NoError(t, err)
				require.True(t, bytes.Equal(first, second), "%s: the same report draws the same bytes", name)
			}
		})
	}
}

func TestWriteReportsUnwritableDirectory(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	err := plot.Write(filepath.Join(file, "charts"), &simulation.Report{})
	require.Error(t, err)
	_, statErr := os.Stat(filepath.Join(file, "charts", plot.ClosureFile))
	require.Error(t, statErr)
}

func ExampleWrite() {
	sc, err := simulation.Load("../../examples/simulation/scenario.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	sc.Duration = simulation.Duration(14 * 24 * time.Hour)
	sc.Warmup = simulation.Duration(2 * 24 * time.Hour)
	sc.Population.Size = 2000
	report, err := simulation.Run(context.Background(), sc, simulation.Options{Seed: 1, Replications: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "charts")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	// The tables and the charts, as refkit simulate --plots writes them.
	if err := report.Write(dir); err != nil {
		fmt.Println(err)
		return
	}
	if err := plot.Write(dir, report); err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{simulation.MetricsFile, plot.ClosureFile, plot.UtilisationFile, plot.UnmetFile} {
		_, err := os.Stat(filepath.Join(dir, name))
		fmt.Println(name, err == nil)
	}
	// Output:
	// metrics.json true
	// closure_over_time.png true
	// utilisation.png true
	// unmet_by_domain.png true
}
