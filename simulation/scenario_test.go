package simulation_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

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
		{"time zone", func(m map[string]any) { m["time_zone"] = "Lake/County" }, "time_zone"},
		{"weekday length", func(m map[string]any) { m["sites"].([]any)[0].(map[string]any)["weekday"] = []any{1, 2, 3} }, "sites[0].weekday"},
		{"monthly value", func(m map[string]any) {
			months := make([]any, 12)
			for i := range months {
				months[i] = 1
			}
			months[3] = -1
			m["sites"].([]any)[0].(map[string]any)["monthly"] = months
		}, "sites[0].monthly[3]"},
		{"trend", func(m map[string]any) { m["sites"].([]any)[0].(map[string]any)["trend_per_year"] = 20 }, "sites[0].trend_per_year"},
		{"catchment", func(m map[string]any) { m["sites"].([]any)[1].(map[string]any)["catchment_km"] = 5000 }, "sites[1].catchment_km"},
		{"site name twice", func(m map[string]any) {
			m["sites"].([]any)[1].(map[string]any)["name"] = m["sites"].([]any)[0].(map[string]any)["name"]
		}, "sites[1].name"},
		{"service name twice", func(m map[string]any) {
			m["services"].([]any)[3].(map[string]any)["name"] = m["services"].([]any)[0].(map[string]any)["name"]
		}, "services[3].name"},
		{"needs with an instrument", func(m map[string]any) {
			m["screening"].(map[string]any)["needs"] = []any{map[string]any{"domain": "food-insecurity", "p": 0.2}}
		}, "screening.needs"},
		{"acceptance", func(m map[string]any) { m["policy"].(map[string]any)["acceptance"] = "maybe" }, "policy.acceptance"},
		{"patience", func(m map[string]any) {
			m["partners"].(map[string]any)["patience"] = map[string]any{"kind": "gamma", "shape": 0, "scale": 2}
		}, "partners.patience.shape"},
		{"service max wait", func(m map[string]any) {
			m["services"].([]any)[2].(map[string]any)["policy"] = map[string]any{"max_wait": "-2d"}
		}, "services[2].policy.max_wait"},
		{"pathway domain", func(m map[string]any) {
			m["pathways"] = []any{map[string]any{"from": "snacks", "to": "food-insecurity", "p": 0.1}}
		}, "pathways[0].from"},
		{"pathway service", func(m map[string]any) {
			m["pathways"] = []any{map[string]any{"from": "food-insecurity", "from_service": "Bakery", "to": "housing-instability", "p": 0.1}}
		}, "pathways[0].from_service"},
		{"pathway probability", func(m map[string]any) {
			m["pathways"] = []any{map[string]any{"from": "food-insecurity", "to": "housing-instability", "p": 2}}
		}, "pathways[0].p"},
		{"change before the start", func(m map[string]any) {
			m["changes"] = []any{map[string]any{"at": "2025-01-01T00:00:00Z", "policy": map[string]any{"radius_km": 10}}}
		}, "changes[0].at"},
		{"change of an unknown service", func(m map[string]any) {
			m["changes"] = []any{map[string]any{"at": "2026-02-01T00:00:00Z", "service": "Bakery", "closed": true}}
		}, "changes[0].service"},
		{"capacity of an unlimited service", func(m map[string]any) {
			m["changes"] = []any{map[string]any{"at": "2026-02-01T00:00:00Z", "service": "Ride Connect", "capacity": map[string]any{"slots": 3}}}
		}, "changes[0].capacity"},
		{"a change of nothing", func(m map[string]any) {
			m["changes"] = []any{map[string]any{"at": "2026-02-01T00:00:00Z", "service": "Waukegan Pantry"}}
		}, "changes[0]"},
		{"a service's radius", func(m map[string]any) {
			m["changes"] = []any{map[string]any{"at": "2026-02-01T00:00:00Z", "service": "Waukegan Pantry", "policy": map[string]any{"radius_km": 5}}}
		}, "changes[0].policy"},
		{"a site's rate missing", func(m map[string]any) {
			m["changes"] = []any{map[string]any{"at": "2026-02-01T00:00:00Z", "site": "Lakeside Family Clinic"}}
		}, "changes[0].rate_per_day"},
		{"a network change without policy", func(m map[string]any) {
			m["changes"] = []any{map[string]any{"at": "2026-02-01T00:00:00Z"}}
		}, "changes[0].policy"},
		{"a network deadline", func(m map[string]any) {
			m["changes"] = []any{map[string]any{"at": "2026-02-01T00:00:00Z", "policy": map[string]any{"accept_within": "soon"}}}
		}, "changes[0].policy.accept_within"},
		{"too many buckets", func(m map[string]any) { m["policy"].(map[string]any)["closure_bucket"] = "1h"; m["duration"] = "730d" }, "policy.closure_bucket"},
		{"empirical weights", func(m map[string]any) {
			m["services"].([]any)[3].(map[string]any)["service_time"] = map[string]any{"kind": "empirical", "values": []any{1, 2}, "weights": []any{1}}
		}, "services[3].service_time.weights"},
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
	for _, name := range []string{"../examples/experiment/scenario.json", "../cmd/refkit/testdata/simulate-small.json"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := simulation.Parse(data)
		if err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		require.NoError(t, sc.Validate())
	})
}

func TestSetOverridesByPath(t *testing.T) {
	good, err := os.ReadFile("../examples/simulation/scenario.json")
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		set   string
		check func(t *testing.T, sc *simulation.Scenario)
		field string // the ValidationError's field when the override is refused
	}{
		{"a number", "policy.radius_km=15", func(t *testing.T, sc *simulation.Scenario) { require.Equal(t, 15.0, sc.Policy.RadiusKM) }, ""},
		{"a duration", "policy.accept_within=2d", func(t *testing.T, sc *simulation.Scenario) {
			require.Equal(t, simulation.Duration(48*time.Hour), sc.Policy.AcceptWithin)
		}, ""},
		{"by index", "services[2].capacity.slots=20", func(t *testing.T, sc *simulation.Scenario) { require.Equal(t, 20, sc.Services[2].Capacity.Slots) }, ""},
		{"by name", "services[name=Housing Help Desk].capacity.slots=20", func(t *testing.T, sc *simulation.Scenario) {
			require.Equal(t, 20, sc.Services[2].Capacity.Slots)
		}, ""},
		{"an element of a list", "sites[1].hourly[3]=2.5", func(t *testing.T, sc *simulation.Scenario) { require.Equal(t, 2.5, sc.Sites[1].Hourly[3]) }, ""},
		{"a field the file leaves out", "services[name=Housing Help Desk].policy.max_wait=30d", func(t *testing.T, sc *simulation.Scenario) {
			require.Equal(t, simulation.Duration(30*24*time.Hour), *sc.Services[2].Policy.MaxWait)
		}, ""},
		{"an object", `partners.patience={"kind": "exponential", "mean": 72}`, func(t *testing.T, sc *simulation.Scenario) {
			require.Equal(t, 72.0, sc.Partners.Patience.Mean)
		}, ""},
		{"a string", "policy.when_full=rank", func(t *testing.T, sc *simulation.Scenario) { require.Equal(t, "rank", string(sc.Policy.WhenFull)) }, ""},
		{"null clears an optional field", "partners.follow_through=null", func(t *testing.T, sc *simulation.Scenario) { require.Nil(t, sc.Partners.FollowThrough) }, ""},
		{"an unknown field", "policy.radius=15", nil, "policy.radius"},
		{"an unknown top-level field", "populaton.size=3", nil, "populaton.size"},
		{"a field inside a number", "policy.radius_km.max=3", nil, "policy.radius_km.max"},
		{"no such element", "services[9].capacity.slots=3", nil, "services[9].capacity.slots"},
		{"no such name", "services[name=Bakery].capacity.slots=3", nil, "services[name=Bakery].capacity.slots"},
		{"a string for a number", "policy.radius_km=far", nil, "policy.radius_km"},
		{"a fraction for a whole number", "policy.max_rereferrals=1.5", nil, "policy.max_rereferrals"},
		{"a number for a string", "policy.when_full=3", nil, "policy.when_full"},
		{"a number for a duration", "policy.accept_within=48", nil, "policy.accept_within"},
		{"a list for an object", "partners=[1]", nil, "partners"},
		{"null for a number", "policy.radius_km=null", nil, "policy.radius_km"},
		{"an index into an object", "policy[0]=1", nil, "policy[0]"},
		{"a bad index", "services[x].name=a", nil, "services[x].name"},
		{"valid JSON, invalid scenario", "services[2].capacity.slots=0", nil, "services[2].capacity.slots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := simulation.ParseSet(tc.set)
			require.NoError(t, err)
			sc, err := simulation.Parse(good, set)
			if tc.field != "" {
				require.ErrorIs(t, err, referral.ErrInvalid)
				var ve *referral.ValidationError
				require.ErrorAs(t, err, &ve)
				require.Equal(t, tc.field, ve.Field)
				return
			}
			require.NoError(t, err)
			tc.check(t, sc)
		})
	}
	for _, bad := range []string{"", "=3", "policy", "services[2=1"} {
		_, err := simulation.ParseSet(bad)
		if err == nil {
			_, err = simulation.Parse(good, simulation.Set{Path: strings.Split(bad, "=")[0], Value: []byte("1")})
		}
		require.ErrorIs(t, err, referral.ErrInvalid, "%q", bad)
	}
}

func FuzzParseSet(f *testing.F) {
	good, err := os.ReadFile("../examples/simulation/scenario.json")
	require.NoError(f, err)
	for _, s := range []string{"policy.radius_km=15", "services[name=Housing Help Desk].capacity.slots=20", "sites[1].hourly[3]=2.5",
		`partners.patience={"kind": "exponential", "mean": 72}`, "services[0].policy.max_wait=30d", "changes=[]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := simulation.ParseSet(s)
		if err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		sc, err := simulation.Parse(good, set)
		if err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		require.NoError(t, sc.Validate())
	})
}
