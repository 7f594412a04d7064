package experiment_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/simulation"
	"github.com/refkit/refkit/simulation/experiment"
)

// base is a small network: one clinic, a pantry with a waitlist and a food bank.
const base = `{
  "name": "two pantries",
  "start": "2026-01-05T00:00:00Z",
  "duration": "40d",
  "warmup": "5d",
  "population": {
    "size": 2000,
    "centres": [{"latitude": 41.88, "longitude": -87.63, "sd_km": 3, "weight": 1, "state": "IL"}],
    "age": {"kind": "uniform", "min": 18, "max": 80},
    "household_size": {"kind": "fixed", "value": 3}
  },
  "screening": {"instrument": "hunger-vital-sign", "coverage": 1,
                "prevalence": [{"domain": "food-insecurity", "p": 0.5}]},
  "sites": [{"name": "clinic", "latitude": 41.88, "longitude": -87.63, "rate_per_day": 24}],
  "services": [
    {"name": "pantry", "latitude": 41.89, "longitude": -87.62, "domains": ["food-insecurity"],
     "capacity": {"slots": 4, "waitlist": 10}, "service_time": {"kind": "exponential", "mean": 30}},
    {"name": "food bank", "latitude": 41.86, "longitude": -87.64, "domains": ["food-insecurity"],
     "capacity": {"slots": 2, "waitlist": 5}, "service_time": {"kind": "exponential", "mean": 30}}
  ],
  "partners": {"acknowledge_after": {"kind": "exponential", "mean": 4},
               "decide_after": {"kind": "exponential", "mean": 8},
               "decline": [{"reason": "not-eligible", "p": 0.1}],
               "contact_after": {"kind": "exponential", "mean": 12}, "reach": 0.85, "no_show": 0.1,
               "patience": {"kind": "exponential", "mean": 96}},
  "policy": {"radius_km": 10, "when_full": "exclude", "max_rereferrals": 1}
}`

func design(streams string, reps int) *experiment.Design {
	return &experiment.Design{
		Name: "more pantry slots", Scenario: "inline", Seed: 3, Replications: reps, Streams: streams,
		Arms: []experiment.Arm{
			{Name: "today"},
			{Name: "six slots", Set: map[string]json.RawMessage{"services[name=pantry].capacity.slots": json.RawMessage("6")}},
		},
	}
}

// TestCommonRandomNumbersNarrowTheInterval: the same two arms, run with
// common random numbers and with independent streams, estimate the same
// effect of more slots on loop closure; the paired (common) interval of the
// difference is much narrower. The comparison is deterministic (fixed seeds).
func TestCommonRandomNumbersNarrowTheInterval(t *testing.T) {
	width := map[string]float64{}
	for _, streams := range []string{experiment.Common, experiment.Independent} {
		plan, err := experiment.PlanWith(design(streams, 10), []byte(base))
		require.NoError(t, err)
		res, err := experiment.Run(context.Background(), plan, experiment.Options{})
		require.NoError(t, err)
		d, ok := res.Find("six slots", "loop_closure_rate", "")
		require.True(t, ok)
		width[streams] = d.Diff.High - d.Diff.Low
		t.Logf("%s streams: loop closure %+.4f [%+.4f, %+.4f]", streams, d.Diff.Mean, d.Diff.Low, d.Diff.High)
		require.Equal(t, 10, d.Diff.N)
		if streams == experiment.Common {
			a, b := res.Arms[0].Report, res.Arms[1].Report
			require.Equal(t, a.Arrivals, b.Arrivals, "common numbers: the same arrivals in both arms")
			require.Equal(t, a.Needs, b.Needs)
			require.Positive(t, d.Diff.Low, "more slots close more loops")
		}
	}
	require.Less(t, width[experiment.Common], 0.5*width[experiment.Independent],
		"common random numbers narrow the interval of a difference")
}

func TestFactorialGrid(t *testing.T) {
	d := &experiment.Design{
		Name: "grid", Scenario: "inline", Seed: 1, Replications: 2,
		Factors: []experiment.Factor{
			{Name: "slots", Path: "services[name=pantry].capacity.slots", Levels: []json.RawMessage{json.RawMessage("4"), json.RawMessage("8")}},
			{Name: "radius", Path: "policy.radius_km", Levels: []json.RawMessage{json.RawMessage("10"), json.RawMessage("5"), json.RawMessage("2")}},
		},
	}
	plan, err := experiment.PlanWith(d, []byte(base))
	require.NoError(t, err)
	var names []string
	for _, a := range plan.Arms {
		names = append(names, a.Name)
	}
	require.Equal(t, []string{
		"slots=4, radius=10", "slots=4, radius=5", "slots=4, radius=2",
		"slots=8, radius=10", "slots=8, radius=5", "slots=8, radius=2",
	}, names)
	require.Equal(t, 8, plan.Arms[4].Scenario.Services[0].Capacity.Slots)
	require.Equal(t, 5.0, plan.Arms[4].Scenario.Policy.RadiusKM)
}

func TestDesignRejects(t *testing.T) {
	good := func() map[string]any {
		return map[string]any{
			"name": "x", "scenario": "s.json", "seed": 1, "replications": 4,
			"arms": []any{map[string]any{"name": "a"}, map[string]any{"name": "b", "set": map[string]any{"policy.radius_km": 5}}},
		}
	}
	for _, tc := range []struct {
		name  string
		edit  func(m map[string]any)
		field string
	}{
		{"no name", func(m map[string]any) { delete(m, "name") }, "name"},
		{"one replication", func(m map[string]any) { m["replications"] = 1 }, "replications"},
		{"streams", func(m map[string]any) { m["streams"] = "shared" }, "streams"},
		{"one arm", func(m map[string]any) { m["arms"] = m["arms"].([]any)[:1] }, "arms"},
		{"arm without a name", func(m map[string]any) { delete(m["arms"].([]any)[1].(map[string]any), "name") }, "arms[1].name"},
		{"two arms of one name", func(m map[string]any) { m["arms"].([]any)[1].(map[string]any)["name"] = "a" }, "arms[1].name"},
		{"overlapping paths", func(m map[string]any) {
			m["arms"].([]any)[1].(map[string]any)["set"] = map[string]any{"policy": map[string]any{}, "policy.radius_km": 5}
		}, "arms[1].set"},
		{"arms and factors", func(m map[string]any) {
			m["factors"] = []any{map[string]any{"name": "r", "path": "policy.radius_km", "levels": []any{1, 2}}}
		}, "factors"},
		{"one level", func(m map[string]any) {
			delete(m, "arms")
			m["factors"] = []any{map[string]any{"name": "r", "path": "policy.radius_km", "levels": []any{1}}}
		}, "factors[0].levels"},
		{"too many arms", func(m map[string]any) {
			delete(m, "arms")
			levels := []any{1, 2, 3, 4, 5, 6, 7, 8, 9}
			m["factors"] = []any{
				map[string]any{"name": "a", "path": "policy.radius_km", "levels": levels},
				map[string]any{"name": "b", "path": "policy.limit", "levels": levels},
			}
		}, "factors"},
		{"unknown field", func(m map[string]any) { m["arm"] = []any{} }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.edit(m)
			data, err := json.Marshal(m)
			require.NoError(t, err)
			_, err = experiment.Parse(data)
			require.ErrorIs(t, err, referral.ErrInvalid)
			if tc.field != "" {
				var ve *referral.ValidationError
				require.True(t, errors.As(err, &ve), "%v", err)
				require.Equal(t, tc.field, ve.Field)
			}
		})
	}
	// An arm whose override the scenario format refuses is named.
	d := design(experiment.Common, 2)
	d.Arms[1].Set = map[string]json.RawMessage{"services[name=bakery].capacity.slots": json.RawMessage("6")}
	_, err := experiment.PlanWith(d, []byte(base))
	require.ErrorIs(t, err, referral.ErrInvalid)
	require.ErrorContains(t, err, `arms[1] (six slots)`)
	require.ErrorContains(t, err, "services[name=bakery].capacity.slots")
}

// TestDesignFileBound: a design file over 1 MiB is refused, reading no more.
func TestDesignFileBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "design.json")
	require.NoError(t, os.WriteFile(path, append([]byte(`{"name": "x"}`), make([]byte, experiment.MaxDesignBytes)...), 0o600))
	_, err := experiment.Load(path)
	require.ErrorIs(t, err, referral.ErrInvalid)
	require.ErrorContains(t, err, "larger than 1 MiB")
}

// TestWrite: the experiment's tables stack every arm's rows, each naming its
// arm; the differences file has one row per measure and arm.
func TestWrite(t *testing.T) {
	plan, err := experiment.PlanWith(design(experiment.Common, 2), []byte(base))
	require.NoError(t, err)
	res, err := experiment.Run(context.Background(), plan, experiment.Options{})
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, res.Write(dir))
	read := func(name string) [][]string {
		f, err := os.Open(filepath.Join(dir, name))
		require.NoError(t, err)
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		require.NoError(t, err)
		return rows
	}
	summary := read("summary.csv")
	require.Equal(t, []string{"run", "arm", "metric", "mean", "ci95_low", "ci95_high", "n"}, summary[0])
	arms := map[string]int{}
	for _, row := range summary[1:] {
		require.Equal(t, "more pantry slots", row[0])
		arms[row[1]]++
	}
	require.Equal(t, map[string]int{"today": (len(summary) - 1) / 2, "six slots": (len(summary) - 1) / 2}, arms)
	diffs := read(experiment.DifferencesFile)
	require.Equal(t, experiment.DifferencesHeader, diffs[0])
	require.Len(t, diffs, len(res.Differences)+1)
	for _, name := range []string{experiment.ResultFile, "arms/00-today/metrics.json", "arms/01-six-slots/services.csv", "services_by_replication.csv"} {
		_, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, name)
	}
}

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("../../examples/experiment/design.json")
	require.NoError(f, err)
	f.Add(data)
	f.Add([]byte(`{"name": "g", "scenario": "s.json", "replications": 2, "factors": [{"name": "a", "path": "policy.limit", "levels": [1, 2]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := experiment.Parse(data)
		if err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		require.NoError(t, d.Validate())
	})
}

// Example runs the documented three-arm experiment of examples/experiment,
// shortened, with fewer replications, and shows how many paired replications
// each arm's difference from the baseline rests on.
func Example() {
	plan, err := experiment.Load("../../examples/experiment/design.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range plan.Arms { // a month of arrivals, to run quickly
		a.Scenario.Duration = simulation.Duration(30 * 24 * time.Hour)
		a.Scenario.Warmup = simulation.Duration(7 * 24 * time.Hour)
	}
	res, err := experiment.Run(context.Background(), plan, experiment.Options{Replications: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range res.Arms[1:] {
		d, _ := res.Find(a.Name, "loop_closure_rate", "")
		fmt.Printf("%s: %d paired replications\n", a.Name, d.Diff.N)
	}
	// Output:
	// double the housing desk: 3 paired replications
	// accept within 48h: 3 paired replications
}
