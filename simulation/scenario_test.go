package simulation_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/simulation"
)

func exampleJSON(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile("../examples/simulation/scenario.json")
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}

func TestParseRejectsNamingTheField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(m map[string]any)
		field string
	}{
		{"zero slots", func(m map[string]any) {
			m["services"].([]any)[2].(map[string]any)["capacity"].(map[string]any)["slots"] = 0
		}, "services[2].capacity.slots"},
		{"negative waitlist", func(m map[string]any) {
			m["services"].([]any)[0].(map[string]any)["capacity"].(map[string]any)["waitlist"] = -1
		}, "services[0].capacity.waitlist"},
		{"unknown domain", func(m map[string]any) {
			m["services"].([]any)[1].(map[string]any)["domains"] = []any{"snacks"}
		}, "services[1].domains[0]"},
		{"bad rule", func(m map[string]any) {
			m["services"].([]any)[1].(map[string]any)["eligibility"] = "fpl_percent <="
		}, "services[1].eligibility"},
		{"bad service time", func(m map[string]any) {
			m["services"].([]any)[0].(map[string]any)["service_time"] = map[string]any{"kind": "exponential", "mean": 0}
		}, "services[0].service_time.mean"},
		{"unknown distribution", func(m map[string]any) {
			m["partners"].(map[string]any)["decide_after"] = map[string]any{"kind": "weibull"}
		}, "partners.decide_after.kind"},
		{"decline reason", func(m map[string]any) {
			m["partners"].(map[string]any)["decline"] = []any{map[string]any{"reason": "bored", "p": 0.1}}
		}, "partners.decline[0].reason"},
		{"reach above 1", func(m map[string]any) { m["partners"].(map[string]any)["reach"] = 1.5 }, "partners.reach"},
		{"no sites", func(m map[string]any) { m["sites"] = []any{} }, "sites"},
		{"hourly length", func(m map[string]any) {
			m["sites"].([]any)[1].(map[string]any)["hourly"] = []any{1, 2}
		}, "sites[1].hourly"},
		{"rate", func(m map[string]any) { m["sites"].([]any)[0].(map[string]any)["rate_per_day"] = 0 }, "sites[0].rate_per_day"},
		{"instrument", func(m map[string]any) { m["screening"].(map[string]any)["instrument"] = "nope" }, "screening.instrument"},
		{"prevalence domain", func(m map[string]any) {
			m["screening"].(map[string]any)["prevalence"] = []any{map[string]any{"domain": "elder-abuse", "p": 0.1}}
		}, "screening.prevalence[0].domain"},
		{"population size", func(m map[string]any) { m["population"].(map[string]any)["size"] = 0 }, "population.size"},
		{"radius", func(m map[string]any) { m["policy"].(map[string]any)["radius_km"] = 0 }, "policy.radius_km"},
		{"when full", func(m map[string]any) { m["policy"].(map[string]any)["when_full"] = "maybe" }, "policy.when_full"},
		{"sweep needed", func(m map[string]any) { delete(m["policy"].(map[string]any), "sweep_every") }, "policy.sweep_every"},
		{"rereferrals", func(m map[string]any) { m["policy"].(map[string]any)["max_rereferrals"] = 99 }, "policy.max_rereferrals"},
		{"duration", func(m map[string]any) { m["duration"] = "soon" }, "duration"},
		{"warmup", func(m map[string]any) { m["warmup"] = "365d" }, "warmup"},
		{"deadline", func(m map[string]any) { m["policy"].(map[string]any)["accept_within"] = "4 days" }, "policy.accept_within"},
		{"deadline type", func(m map[string]any) { m["policy"].(map[string]any)["expire_after"] = 24 }, "policy.expire_after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := exampleJSON(t)
			tc.edit(m)
			data, err := json.Marshal(m)
			require.NoError(t, err)
			_, err = simulation.Parse(data)
			require.ErrorIs(t, err, referral.ErrInvalid)
			var ve *referral.ValidationError
			require.True(t, errors.As(err, &ve), "%v", err)
			require.Equal(t, tc.field, ve.Field)
		})
	}
}

func TestParseIsStrict(t *testing.T) {
	m := exampleJSON(t)
	m["populaton"] = map[string]any{}
	data, err := json.Marshal(m)
	require.NoError(t, err)
	_, err = simulation.Parse(data)
	require.ErrorIs(t, err, referral.ErrInvalid)
	require.ErrorContains(t, err, "populaton")

	good, err := os.ReadFile("../examples/simulation/scenario.json")
	require.NoError(t, err)
	_, err = simulation.Parse(append(good, []byte(" {}")...))
	require.ErrorIs(t, err, referral.ErrInvalid)
	_, err = simulation.Parse(good)
	require.NoError(t, err)
}

func TestLoadReadsPointsFile(t *testing.T) {
	dir := t.TempDir()
	m := exampleJSON(t)
	pop := m["population"].(map[string]any)
	delete(pop, "centres")
	pop["points_file"] = "people.csv"
	data, err := json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dir+"/s.json", data, 0o644))
	require.NoError(t, os.WriteFile(dir+"/people.csv", []byte("latitude,longitude,state,county\n42.36,-87.84,IL,Lake\n42.30,-87.85,IL,Lake\n"), 0o644))
	sc, err := simulation.Load(dir + "/s.json")
	require.NoError(t, err)
	require.Equal(t, "people.csv", sc.Population.PointsFile)

	require.NoError(t, os.WriteFile(dir+"/people.csv", []byte("42.36,-87.84\n95.0,-87.84\n"), 0o644))
	_, err = simulation.Load(dir + "/s.json")
	var ve *referral.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "population.points_file[1]", ve.Field)

	_, err = simulation.Parse(data)
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "population.points_file", ve.Field)
}

func FuzzParse(f *testing.F) {
	good, err := os.ReadFile("../examples/simulation/scenario.json")
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"duration": "3d", "sites": [{"name": "a", "rate_per_day": 1e308}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := simulation.Parse(data)
		if err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		require.NoError(t, sc.Validate())
	})
}
