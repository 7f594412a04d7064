package plot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/simulation"
	"github.com/refkit/refkit/simulation/experiment"
	"github.com/refkit/refkit/simulation/plot"
)

func stat(mean float64) simulation.Stat {
	return simulation.Stat{Mean: mean, Low: mean * 0.9, High: mean * 1.1, N: 2}
}

var reportFiles = []string{plot.ClosureFile, plot.OccupancyFile, plot.UtilisationFile, plot.WaitingFile, plot.UnmetFile}

// decodes checks every file is a PNG of a sensible size.
func decodes(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		img, err := png.Decode(bytes.NewReader(data))
		require.NoError(t, err, name)
		b := img.Bounds()
		require.Greater(t, b.Dx(), 400, name)
		require.Greater(t, b.Dy(), 200, name)
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, time.January, 5, 0, 0, 0, 0, time.UTC)
	full := &simulation.Report{
		Start: start, DurationHours: 21 * 24, WarmupHours: 3 * 24,
		ClosureOverTime: []simulation.BucketStat{
			{Start: start, Created: stat(10), ClosureRate: stat(0.5)},
			{Start: start.AddDate(0, 0, 7), Created: stat(12), ClosureRate: stat(0.6)},
			{Start: start.AddDate(0, 0, 14)}, // nothing created: left out of the line
		},
		Occupancy: []simulation.OccupancyStat{{Buckets: []simulation.OccupancyBucket{
			{Start: start, Busy: stat(3), Queue: stat(1)}, {Start: start.AddDate(0, 0, 7), Busy: stat(5), Queue: stat(4)},
		}}},
		Services: []simulation.ServiceStats{
			{Name: "pantry", Slots: 4, Utilisation: &simulation.Stat{Mean: 0.9, Low: 0.85, High: 0.95, N: 2}, PWait: new(stat(0.4))},
			{Name: "hotline"}, // unlimited capacity: no bar
		},
		UnmetByDomain: map[string]simulation.Stat{"food-insecurity": stat(3), "housing-instability": stat(1)},
	}
	many := &simulation.Report{Start: start, DurationHours: 24}
	for i := range 100 {
		many.Services = append(many.Services, simulation.ServiceStats{Name: fmt.Sprint("service ", i), Utilisation: &simulation.Stat{Mean: float64(i) / 100}})
	}
	tests := []struct {
		name   string
		report *simulation.Report
		// twice draws the report again, to check the bytes are the same.
		twice bool
	}{
		{"every chart has data", full, true},
		{"no data: axes only", &simulation.Report{Start: start, DurationHours: 24}, false},
		{"more services than the chart shows", many, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "out", "charts")
			require.NoError(t, plot.Write(dir, tc.report))
			decodes(t, dir, reportFiles...)
			if !tc.twice {
				return
			}
			again := t.TempDir()
			require.NoError(t, plot.Write(again, tc.report))
			for _, name := range reportFiles {
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
	require.Error(t, plot.WriteExperiment(filepath.Join(file, "charts"), &experiment.Result{}))
}

const small = `{
  "name": "one pantry", "start": "2026-01-05T00:00:00Z", "duration": "20d", "warmup": "2d",
  "population": {"size": 500, "centres": [{"latitude": 41.88, "longitude": -87.63, "sd_km": 3, "weight": 1}],
                 "age": {"kind": "fixed", "value": 40}, "household_size": {"kind": "fixed", "value": 2}},
  "screening": {"instrument": "hunger-vital-sign", "coverage": 1, "prevalence": [{"domain": "food-insecurity", "p": 0.5}]},
  "sites": [{"name": "clinic", "latitude": 41.88, "longitude": -87.63, "rate_per_day": 20}],
  "services": [{"name": "pantry", "latitude": 41.89, "longitude": -87.62, "domains": ["food-insecurity"],
                "capacity": {"slots": 3, "waitlist": 10}, "service_time": {"kind": "exponential", "mean": 24}}],
  "partners": {"acknowledge_after": {"kind": "exponential", "mean": 4}, "decide_after": {"kind": "exponential", "mean": 8},
               "contact_after": {"kind": "exponential", "mean": 12}, "reach": 0.9},
  "policy": {"radius_km": 10, "when_full": "rank"}
}`

func TestWriteExperiment(t *testing.T) {
	t.Parallel()
	d := &experiment.Design{Name: "slots", Scenario: "inline", Seed: 1, Replications: 2, Arms: []experiment.Arm{
		{Name: "three slots"},
		{Name: "five slots", Set: map[string]json.RawMessage{"services[0].capacity.slots": json.RawMessage("5")}},
	}}
	plan, err := experiment.PlanWith(d, []byte(small))
	require.NoError(t, err)
	res, err := experiment.Run(context.Background(), plan, experiment.Options{})
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, plot.WriteExperiment(dir, res))
	decodes(t, dir, plot.ArmsFile, plot.DifferencesFile)
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
	for _, name := range append([]string{simulation.MetricsFile}, reportFiles...) {
		_, err := os.Stat(filepath.Join(dir, name))
		fmt.Println(name, err == nil)
	}
	// Output:
	// metrics.json true
	// closure_over_time.png true
	// occupancy_over_time.png true
	// utilisation.png true
	// waiting.png true
	// unmet_by_domain.png true
}

func ExampleWriteExperiment() {
	plan, err := experiment.Load("../../examples/experiment/design.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range plan.Arms { // a month of arrivals, to run quickly
		a.Scenario.Duration = simulation.Duration(30 * 24 * time.Hour)
		a.Scenario.Warmup = simulation.Duration(7 * 24 * time.Hour)
	}
	res, err := experiment.Run(context.Background(), plan, experiment.Options{Replications: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "experiment")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	// The tables and the comparison charts, as refkit experiment --plots writes them.
	if err := res.Write(dir); err != nil {
		fmt.Println(err)
		return
	}
	if err := plot.WriteExperiment(dir, res); err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{experiment.ResultFile, experiment.DifferencesFile, plot.ArmsFile, plot.DifferencesFile} {
		_, err := os.Stat(filepath.Join(dir, name))
		fmt.Println(name, err == nil)
	}
	// Output:
	// experiment.json true
	// differences.csv true
	// arms.png true
	// differences.png true
}
