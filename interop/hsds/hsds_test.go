package hsds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

var network = referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ab")

func readSampleJSON(t testing.TB, opts hsds.Options) *hsds.Dataset {
	t.Helper()
	f, err := os.Open("testdata/json/services.json")
	require.NoError(t, err)
	defer f.Close()
	ds, err := hsds.ReadJSON(context.Background(), f, opts)
	require.NoError(t, err)
	return ds
}

func readSampleCSV(t testing.TB, opts hsds.Options) *hsds.Dataset {
	t.Helper()
	ds, err := hsds.ReadDatapackage(context.Background(), os.DirFS("testdata/csv"), opts)
	require.NoError(t, err)
	return ds
}

func byName(t *testing.T, ds *hsds.Dataset, name string) referral.Service {
	t.Helper()
	for _, s := range ds.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("service %q not imported", name)
	return referral.Service{}
}

// The sample's deliberately unmappable records, as (record, reason).
var sampleProblems = [][2]string{
	{"location", "latitude and longitude are required for a physical location"},
	{"schedule", "only weekly schedules are supported"},
	{"location", "a postal location is not a place of service"},
	{"service_area", "a free-text service area cannot be mapped: give a geojson extent or a text extent such as county:NAME"},
	{"language", "code is required"},
	{"attribute", "taxonomy term maps to no SDOH domain"},
	{"service", "no attribute maps to an SDOH domain"},
	{"attribute", "taxonomy term maps to no SDOH domain"},
	{"service", "status is required"},
	{"service", "maximum_age is below minimum_age"},
	{"location", "latitude must be between -90 and 90"},
	{"service", "no location or service area could be mapped"},
	{"service", "organization_id refers to no organization in the dataset"},
}

func TestSampleImport(t *testing.T) {
	shapes := map[string]*hsds.Dataset{
		"json": readSampleJSON(t, hsds.Options{Network: network}),
		"csv":  readSampleCSV(t, hsds.Options{Network: network}),
	}
	for shape, ds := range shapes {
		t.Run(shape, func(t *testing.T) {
			require.Len(t, ds.Organizations, 7)
			require.Len(t, ds.Services, 18)
			var got [][2]string
			for _, p := range ds.Problems {
				require.NotEmpty(t, p.ID, "every sample record has an id")
				got = append(got, [2]string{p.Record, p.Reason})
			}
			require.Equal(t, sampleProblems, got)
			for _, s := range ds.Services {
				require.NoError(t, s.Validate())
				require.Equal(t, network, s.Network)
			}
			// Every HSDS id in the sample is a UUIDv5, so every ID was derived.
			require.Equal(t, 7+18+8, len(ds.Sources))

			pantry := byName(t, ds, "Weekly Grocery Pantry")
			require.Equal(t, []referral.Domain{referral.FoodInsecurity}, pantry.Domains)
			require.Len(t, pantry.Locations, 2)
			require.Equal(t, "Travis", pantry.Locations[0].Address.Region)
			require.Equal(t, []string{"en", "es"}, pantry.Languages)
			require.Equal(t, []referral.Schedule{{ByDay: []string{"MO", "TU", "WE", "TH", "FR"}, OpensAt: "09:00", ClosesAt: "17:00", Timezone: "Etc/GMT+6"}}, pantry.Schedules)
			require.Equal(t, ds.Sources[pantry.ID], "3adb1b9a-8aa3-58fb-9b26-73145d746eff")

			meals := byName(t, ds, "Community Hot Meals")
			require.Equal(t, []referral.Domain{referral.FoodInsecurity}, meals.Domains, "Soup Kitchen maps through its parent Emergency Food")
			require.Equal(t, "11:00", meals.Schedules[0].OpensAt)

			snap := byName(t, ds, "SNAP Application Help")
			require.Len(t, snap.Locations, 1, "the location without coordinates is left out")
			require.Equal(t, 18, snap.MinimumAge)
			require.Equal(t, "Etc/GMT+6", snap.Schedules[0].Timezone, "offset taken from opens_at")

			delivery := byName(t, ds, "Home Grocery Delivery")
			require.Equal(t, []referral.ServiceArea{{Kind: referral.AreaCounty, Values: []string{"Travis"}}}, delivery.ServiceAreas)
			require.Empty(t, delivery.Schedules)

			ged := byName(t, ds, "GED Preparation Classes")
			require.Equal(t, []referral.ServiceArea{{Kind: referral.AreaVirtual}}, ged.ServiceAreas)
			require.Equal(t, []string{"TU", "TH"}, ged.Schedules[0].ByDay, "schedule of the service_at_location")

			rides := byName(t, ds, "Rides to Medical Appointments")
			require.Equal(t, referral.AreaPolygon, rides.ServiceAreas[0].Kind)
			require.Len(t, rides.ServiceAreas[0].Polygon, 4, "the closing point is dropped")

			require.Equal(t, `insurance == "medicaid" || fpl_percent <= 200`, byName(t, ds, "Outpatient Detox Support").Eligibility)
			require.Equal(t, []referral.Domain{referral.SubstanceUse}, byName(t, ds, "Outpatient Detox Support").Domains)
			require.Equal(t, referral.ServiceTemporarilyClosed, byName(t, ds, "Free Tax Preparation").Status)
			bus := byName(t, ds, "Reduced Fare Bus Passes")
			require.Equal(t, [2]int{18, 64}, [2]int{bus.MinimumAge, bus.MaximumAge})
			require.Equal(t, []referral.ServiceArea{{Kind: referral.AreaState, Values: []string{"TX"}}}, byName(t, ds, "Tenant Legal Clinic").ServiceAreas)
		})
	}
	require.Equal(t, shapes["json"].Services, shapes["csv"].Services, "both shapes of the sample import alike")
	require.Equal(t, shapes["json"].Organizations, shapes["csv"].Organizations)
}

func TestAgeRuleOption(t *testing.T) {
	ds := readSampleJSON(t, hsds.Options{Network: network, AgeRule: true})
	for _, s := range ds.Services {
		require.Zero(t, s.MinimumAge)
		require.Zero(t, s.MaximumAge)
	}
	require.Equal(t, "age >= 18 && age <= 64", byName(t, ds, "Reduced Fare Bus Passes").Eligibility)
	require.Equal(t, `(insurance == "medicaid" || fpl_percent <= 200) && (age >= 18)`, byName(t, ds, "Outpatient Detox Support").Eligibility)
	require.Equal(t, "", byName(t, ds, "Housing Search Assistance").Eligibility)
}

func TestAgeRule(t *testing.T) {
	tests := []struct {
		min, max int
		want     string
	}{
		{0, 0, ""}, {18, 0, "age >= 18"}, {0, 12, "age <= 12"}, {18, 64, "age >= 18 && age <= 64"},
	}
	for _, tc := range tests {
		got := hsds.AgeRule(tc.min, tc.max)
		require.Equal(t, tc.want, got)
		if got != "" {
			require.NoError(t, matching.CheckRule(got))
		}
	}
}

// exportImport writes ds in one shape and reads it back.
func exportImport(t *testing.T, shape string, ds *hsds.Dataset, opts hsds.Options) *hsds.Dataset {
	t.Helper()
	ctx := context.Background()
	if shape == "json" {
		var buf bytes.Buffer
		require.NoError(t, hsds.WriteJSON(ctx, &buf, ds))
		back, err := hsds.ReadJSON(ctx, &buf, opts)
		require.NoError(t, err)
		return back
	}
	dir := t.TempDir()
	require.NoError(t, hsds.WriteDatapackage(ctx, dir, ds))
	back, err := hsds.ReadDatapackage(ctx, os.DirFS(dir), opts)
	require.NoError(t, err)
	return back
}

func TestRoundTrip(t *testing.T) {
	for _, from := range []string{"json", "csv"} {
		for _, to := range []string{"json", "csv"} {
			for _, ageRule := range []bool{false, true} {
				name := from + "→" + to
				if ageRule {
					name += "/age-rule"
				}
				t.Run(name, func(t *testing.T) {
					opts := hsds.Options{Network: network, AgeRule: ageRule}
					var first *hsds.Dataset
					if from == "json" {
						first = readSampleJSON(t, opts)
					} else {
						first = readSampleCSV(t, opts)
					}
					second := exportImport(t, to, first, opts)
					require.Empty(t, second.Problems, "an export imports without problems")
					require.Equal(t, first.Services, second.Services)
					require.Equal(t, first.Organizations, second.Organizations)
					require.Equal(t, first.Sources, second.Sources, "original ids are written back and derive the same IDs")

					second.Sources = nil // export refkit IDs this time
					third := exportImport(t, to, second, opts)
					require.Empty(t, third.Problems)
					require.Equal(t, first.Services, third.Services)
					require.Zero(t, len(third.Sources), "UUIDv7 ids are kept as they are")
				})
			}
		}
	}
}

func TestWriteJSONShape(t *testing.T) {
	ds := readSampleJSON(t, hsds.Options{Network: network})
	var buf bytes.Buffer
	require.NoError(t, hsds.WriteJSON(context.Background(), &buf, ds))
	var page struct {
		TotalItems int              `json:"total_items"`
		Contents   []map[string]any `json:"contents"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &page))
	require.Equal(t, 18, page.TotalItems)
	first := page.Contents[0]
	require.Equal(t, "3adb1b9a-8aa3-58fb-9b26-73145d746eff", first["id"])
	require.Equal(t, "active", first["status"])
	for _, key := range []string{"organization", "service_at_locations", "languages", "schedules", "attributes"} {
		require.Contains(t, first, key)
	}
	attr := first["attributes"].([]any)[0].(map[string]any)["taxonomy_term"].(map[string]any)
	require.Equal(t, referral.SystemSDOHCC, attr["taxonomy"])
	require.Equal(t, "food-insecurity", attr["code"])
	sched := first["schedules"].([]any)[0].(map[string]any)
	require.Equal(t, "WEEKLY", sched["freq"])
	require.Equal(t, -6.0, sched["timezone"])
}

func TestWriteDatapackageFiles(t *testing.T) {
	ds := readSampleCSV(t, hsds.Options{Network: network})
	dir := t.TempDir()
	require.NoError(t, hsds.WriteDatapackage(context.Background(), dir, ds))
	b, err := os.ReadFile(filepath.Join(dir, "datapackage.json"))
	require.NoError(t, err)
	var dp struct {
		Resources []struct{ Name, Path string }
	}
	require.NoError(t, json.Unmarshal(b, &dp))
	require.Len(t, dp.Resources, 11)
	for _, r := range dp.Resources {
		_, err := os.Stat(filepath.Join(dir, r.Path))
		require.NoError(t, err, r.Path)
	}
	services, err := os.ReadFile(filepath.Join(dir, "services.csv"))
	require.NoError(t, err)
	require.Equal(t, 1+18, strings.Count(string(services), "\n"))
	locations, err := os.ReadFile(filepath.Join(dir, "locations.csv"))
	require.NoError(t, err)
	require.Equal(t, 1+8, strings.Count(string(locations), "\n"), "a location shared by services is written once")
}

func TestWriteRejectsInvalidDatasets(t *testing.T) {
	ctx := context.Background()
	good := readSampleJSON(t, hsds.Options{Network: network})
	tests := map[string]func(ds *hsds.Dataset){
		"nil":               nil,
		"invalid service":   func(ds *hsds.Dataset) { ds.Services[0].Name = "" },
		"missing org":       func(ds *hsds.Dataset) { ds.Organizations = ds.Organizations[1:] },
		"invalid org":       func(ds *hsds.Dataset) { ds.Organizations[0].Name = "" },
		"duplicate org":     func(ds *hsds.Dataset) { ds.Organizations = append(ds.Organizations, ds.Organizations[0]) },
		"unknown domain":    func(ds *hsds.Dataset) { ds.Services[0].Domains = []referral.Domain{"no-such-domain"} },
		"service needs org": func(ds *hsds.Dataset) { ds.Services[0].Organization = referral.NilID },
	}
	// Services sharing a location must agree on it; the JSON shape nests a copy in
	// each service, so only the data package rejects the disagreement.
	t.Run("shared location differs", func(t *testing.T) {
		c := *good
		c.Services = append([]referral.Service(nil), good.Services...)
		c.Services[1] = c.Services[1].Clone()
		c.Services[1].Locations[0].Name = "Renamed"
		require.Equal(t, c.Services[0].Locations[0].ID, c.Services[1].Locations[0].ID)
		require.NoError(t, hsds.WriteJSON(ctx, &bytes.Buffer{}, &c))
		require.ErrorIs(t, hsds.WriteDatapackage(ctx, t.TempDir(), &c), referral.ErrInvalid)
	})
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			var ds *hsds.Dataset
			if mutate != nil {
				c := *good
				c.Services = append([]referral.Service(nil), good.Services...)
				c.Organizations = append([]referral.Organization(nil), good.Organizations...)
				mutate(&c)
				ds = &c
			}
			require.ErrorIs(t, hsds.WriteJSON(ctx, &bytes.Buffer{}, ds), referral.ErrInvalid)
			require.ErrorIs(t, hsds.WriteDatapackage(ctx, t.TempDir(), ds), referral.ErrInvalid)
		})
	}
}

func TestStrict(t *testing.T) {
	f, err := os.Open("testdata/json/services.json")
	require.NoError(t, err)
	defer f.Close()
	_, err = hsds.ReadJSON(context.Background(), f, hsds.Options{Network: network, Strict: true})
	require.ErrorIs(t, err, referral.ErrInvalid)
	var p *hsds.Problem
	require.True(t, errors.As(err, &p))
	require.Equal(t, "location", p.Record)
	require.Equal(t, "93f5ff0d-e64a-5f7d-ba12-db0f61277ea8", p.ID)

	_, err = hsds.ReadDatapackage(context.Background(), os.DirFS("testdata/csv"), hsds.Options{Network: network, Strict: true})
	require.True(t, errors.As(err, &p))

	clean := readSampleJSON(t, hsds.Options{Network: network})
	var buf bytes.Buffer
	require.NoError(t, hsds.WriteJSON(context.Background(), &buf, clean))
	ds, err := hsds.ReadJSON(context.Background(), &buf, hsds.Options{Network: network, Strict: true})
	require.NoError(t, err, "a clean dataset imports in strict mode")
	require.Len(t, ds.Services, 18)
}

func TestOptionsNeedNetwork(t *testing.T) {
	_, err := hsds.ReadJSON(context.Background(), strings.NewReader("[]"), hsds.Options{})
	require.ErrorIs(t, err, referral.ErrInvalid)
	_, err = hsds.ReadDatapackage(context.Background(), os.DirFS("testdata/csv"), hsds.Options{})
	require.ErrorIs(t, err, referral.ErrInvalid)
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f, err := os.Open("testdata/json/services.json")
	require.NoError(t, err)
	defer f.Close()
	_, err = hsds.ReadJSON(ctx, f, hsds.Options{Network: network})
	require.ErrorIs(t, err, context.Canceled)
	_, err = hsds.ReadDatapackage(ctx, os.DirFS("testdata/csv"), hsds.Options{Network: network})
	require.ErrorIs(t, err, context.Canceled)
}

// A service whose parts are all well-formed, to break one part at a time.
const goodService = `{
  "id": "svc-1", "name": "Food Pantry", "status": "active",
  "organization": {"id": "org-1", "name": "Pantry Org"},
  "service_at_locations": [{"id": "sal-1", "location": {"id": "loc-1", "location_type": "physical", "latitude": 30.1, "longitude": -97.1}}],
  "attributes": [{"id": "attr-1", "taxonomy_term": {"id": "term-1", "name": "Food Pantry", "description": "d", "taxonomy": "Open Eligibility"}}]
}`

func TestMalformedJSON(t *testing.T) {
	edit := func(old, new string) string {
		require.Contains(t, goodService, old)
		return strings.Replace(goodService, old, new, 1)
	}
	tests := []struct {
		name  string
		doc   string
		fatal bool
		// problem is the expected (record, reason) when the record is reported.
		problem  [2]string
		services int
	}{
		{name: "good", doc: goodService, services: 1},
		{name: "bare array", doc: "[" + goodService + "," + strings.Replace(goodService, `"svc-1"`, `"svc-2"`, 1) + "]", services: 2},
		{name: "page", doc: `{"total_items": 1, "contents": [` + goodService + `]}`, services: 1},
		{name: "empty", doc: "  ", fatal: true},
		{name: "truncated", doc: goodService[:len(goodService)/2], fatal: true},
		{name: "not JSON", doc: "id,name\n1,x", fatal: true},
		{name: "a number", doc: "42", fatal: true},
		{name: "contents not an array", doc: `{"contents": {"id": "x"}}`, fatal: true},
		{name: "wrong type", doc: edit(`"status": "active"`, `"status": "active", "minimum_age": "twelve"`),
			problem: [2]string{"service", "minimum_age must be a number, not a JSON string"}},
		{name: "wrong nested type", doc: edit(`"latitude": 30.1`, `"latitude": "30.1"`),
			problem: [2]string{"service", "service_at_locations.location.latitude must be a number, not a JSON string"}},
		{name: "fractional age", doc: edit(`"status": "active"`, `"status": "active", "minimum_age": 12.5`),
			problem: [2]string{"service", "minimum_age must be a whole number of years between 0 and 150"}},
		{name: "missing service id", doc: edit(`"id": "svc-1"`, `"id": ""`), problem: [2]string{"service", "id is required"}},
		{name: "missing organization id", doc: edit(`"id": "org-1", `, ``), problem: [2]string{"organization", "id is required"}},
		{name: "missing organization", doc: edit(`"organization": {"id": "org-1", "name": "Pantry Org"},`, ``),
			problem: [2]string{"service", "organization_id is required"}},
		{name: "dangling organization", doc: edit(`"organization": {"id": "org-1", "name": "Pantry Org"},`, `"organization_id": "org-9",`),
			problem: [2]string{"service", "organization_id refers to no organization in the dataset"}},
		{name: "organization without name", doc: edit(`"name": "Pantry Org"`, `"name": ""`),
			problem: [2]string{"organization", "name is required"}},
		{name: "latitude out of range", doc: edit(`"latitude": 30.1`, `"latitude": 91`),
			problem: [2]string{"location", "latitude must be between -90 and 90"}},
		{name: "longitude out of range", doc: edit(`"longitude": -97.1`, `"longitude": -181`),
			problem: [2]string{"location", "longitude must be between -180 and 180"}},
		{name: "dangling location", doc: edit(`"location": {"id": "loc-1", "location_type": "physical", "latitude": 30.1, "longitude": -97.1}`, `"location_id": "loc-9"`),
			problem: [2]string{"service_at_location", "location_id refers to no location in the dataset"}},
		{name: "dangling term", doc: edit(`"taxonomy_term": {"id": "term-1", "name": "Food Pantry", "description": "d", "taxonomy": "Open Eligibility"}`, `"taxonomy_term_id": "term-9"`),
			problem: [2]string{"attribute", "taxonomy_term_id refers to no taxonomy term in the dataset"}},
		{name: "bad status", doc: edit(`"status": "active"`, `"status": "open"`),
			problem: [2]string{"service", "status must be active, inactive, defunct or temporarily closed"}},
		{name: "bad rule", doc: edit(`"attributes": [`, `"attributes": [{"id": "attr-r", "value": "age >", "taxonomy_term": {"id": "r", "code": "eligibility-rule", "name": "Eligibility rule", "description": "d", "taxonomy": "https://refkit.dev/hsds/taxonomy"}},`),
			problem: [2]string{"service", "eligibility rule does not compile"}},
		{name: "bad location type", doc: edit(`"location_type": "physical"`, `"location_type": "mobile"`),
			problem: [2]string{"location", "location_type must be physical, postal or virtual"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := hsds.ReadJSON(context.Background(), strings.NewReader(tc.doc), hsds.Options{Network: network})
			if tc.fatal {
				require.ErrorIs(t, err, referral.ErrInvalid)
				return
			}
			require.NoError(t, err)
			require.Len(t, ds.Services, tc.services)
			if tc.problem == [2]string{} {
				require.Empty(t, ds.Problems)
				return
			}
			require.NotEmpty(t, ds.Problems)
			require.Equal(t, tc.problem[0], ds.Problems[0].Record)
			require.Contains(t, ds.Problems[0].Reason, tc.problem[1])
		})
	}
}

// samplePackage loads the sample data package into memory so tests can break it.
func samplePackage(t testing.TB) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	entries, err := os.ReadDir("testdata/csv")
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata/csv", e.Name()))
		require.NoError(t, err)
		m[e.Name()] = &fstest.MapFile{Data: b}
	}
	return m
}

func TestMalformedDatapackage(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(m fstest.MapFS)
		fatal   bool
		problem [2]string // the extra problem reported, beyond the sample's own
	}{
		{name: "missing datapackage.json", mutate: func(m fstest.MapFS) { delete(m, "datapackage.json") }, fatal: true},
		{name: "truncated datapackage.json", mutate: func(m fstest.MapFS) {
			m["datapackage.json"].Data = m["datapackage.json"].Data[:40]
		}, fatal: true},
		{name: "no services resource", mutate: func(m fstest.MapFS) {
			m["datapackage.json"].Data = []byte(`{"resources": [{"name": "organization", "path": "organizations.csv"}]}`)
		}, fatal: true},
		{name: "path outside the package", mutate: func(m fstest.MapFS) {
			m["datapackage.json"].Data = []byte(`{"resources": [{"name": "service", "path": "../services.csv"}]}`)
		}, fatal: true},
		{name: "missing services file", mutate: func(m fstest.MapFS) { delete(m, "services.csv") }, fatal: true},
		{name: "bad quoting", mutate: func(m fstest.MapFS) {
			m["services.csv"].Data = append(m["services.csv"].Data, []byte("x,\"unterminated\n")...)
		}, fatal: true},
		{name: "no id column", mutate: func(m fstest.MapFS) {
			m["languages.csv"].Data = []byte("code\nen\n")
		}, fatal: true},
		{name: "short row", mutate: func(m fstest.MapFS) {
			m["languages.csv"].Data = append(m["languages.csv"].Data, []byte("lang-x,svc\n")...)
		}, problem: [2]string{"language", "row at line 12 has 2 fields, the header 7"}},
		{name: "row without id", mutate: func(m fstest.MapFS) {
			m["languages.csv"].Data = append(m["languages.csv"].Data, []byte(",,,,English,en,\n")...)
		}, problem: [2]string{"language", "row at line 12 has no id"}},
		{name: "latitude not a number", mutate: func(m fstest.MapFS) {
			m["locations.csv"].Data = append(m["locations.csv"].Data, []byte("loc-x,physical,,,X,,,,north,-97\n")...)
		}, problem: [2]string{"location", "latitude and longitude must be numbers"}},
		{name: "age not a number", mutate: func(m fstest.MapFS) {
			m["services.csv"].Data = append(m["services.csv"].Data, []byte("svc-x,org,,X,,,,,active,,twelve,,\n")...)
		}, problem: [2]string{"service", "minimum_age and maximum_age must be numbers"}},
		{name: "dangling service_at_location", mutate: func(m fstest.MapFS) {
			m["service_at_locations.csv"].Data = append(m["service_at_locations.csv"].Data, []byte("sal-x,svc-9,loc-9,\n")...)
		}, problem: [2]string{"service_at_location", "service_id refers to no service in the dataset"}},
		{name: "dangling attribute", mutate: func(m fstest.MapFS) {
			m["attributes.csv"].Data = append(m["attributes.csv"].Data, []byte("attr-x,svc-9,term-9,,service,,\n")...)
		}, problem: [2]string{"attribute", "link_id refers to no service in the dataset"}},
		{name: "attribute of an organization", mutate: func(m fstest.MapFS) {
			m["attributes.csv"].Data = append(m["attributes.csv"].Data, []byte("attr-x,org-1,term-9,,organization,,\n")...)
		}, problem: [2]string{"attribute", "only attributes of services are mapped"}},
		{name: "dangling address", mutate: func(m fstest.MapFS) {
			m["addresses.csv"].Data = append(m["addresses.csv"].Data, []byte("addr-x,loc-9,,1 Main,,City,,TX,78701,US,physical\n")...)
		}, problem: [2]string{"address", "location_id refers to no location in the dataset"}},
		{name: "dangling schedule", mutate: func(m fstest.MapFS) {
			m["schedules.csv"].Data = append(m["schedules.csv"].Data, []byte("sch-x,svc-9,,,WEEKLY,1,MO,09:00,10:00,,\n")...)
		}, problem: [2]string{"schedule", "refers to no service, service_at_location or location in the dataset"}},
		{name: "duplicate service", mutate: func(m fstest.MapFS) {
			lines := strings.SplitAfter(string(m["services.csv"].Data), "\n")
			m["services.csv"].Data = append(m["services.csv"].Data, []byte(lines[1])...)
		}, problem: [2]string{"service", "id is a duplicate"}},
		{name: "optional tables missing", mutate: func(m fstest.MapFS) {
			m["datapackage.json"].Data = []byte(`{"resources": [{"name": "services", "path": "services.csv"}]}`)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := samplePackage(t)
			tc.mutate(m)
			ds, err := hsds.ReadDatapackage(context.Background(), m, hsds.Options{Network: network})
			if tc.fatal {
				require.ErrorIs(t, err, referral.ErrInvalid)
				return
			}
			require.NoError(t, err)
			if tc.problem == [2]string{} {
				require.NotEmpty(t, ds.Problems)
				return
			}
			var found bool
			for _, p := range ds.Problems {
				found = found || (p.Record == tc.problem[0] && p.Reason == tc.problem[1])
			}
			require.True(t, found, "want problem %v in %v", tc.problem, ds.Problems)
		})
	}
}

func TestTaxonomyMap(t *testing.T) {
	custom, err := hsds.ReadTaxonomyMap(strings.NewReader("taxonomy,term,domain\nAIRS,BD-1800.2000,food-insecurity\nAIRS,BD-1800.2000,material-hardship\n"))
	require.NoError(t, err)
	require.Equal(t, []referral.Domain{referral.FoodInsecurity, referral.MaterialHardship}, custom.Domains("airs", "BD-1800.2000", ""))
	require.Nil(t, custom.Domains("AIRS", "", "Food Pantries"))
	require.Nil(t, custom.Domains("", "BD-1800.2000", ""))

	oe := hsds.OpenEligibility()
	require.Equal(t, []referral.Domain{referral.FoodInsecurity}, oe.Domains("Open Eligibility", "", "Food Pantry"))
	require.Equal(t, []referral.Domain{referral.FoodInsecurity}, oe.Domains("openeligibility", "", "food-pantry"))
	require.Equal(t, []referral.Domain{referral.Homelessness}, oe.Domains("Open Eligibility", "", "Emergency Shelter"))
	require.Nil(t, oe.Domains("Open Eligibility", "", "Dental Care"))

	bad := map[string]string{
		"empty":          "",
		"wrong header":   "a,b,c\n",
		"unknown domain": "taxonomy,term,domain\nX,Y,no-such-domain\n",
		"missing term":   "taxonomy,term,domain\nX,,food-insecurity\n",
		"missing tax":    "taxonomy,term,domain\n,Y,food-insecurity\n",
		"ragged":         "taxonomy,term,domain\nX,Y\n",
	}
	for name, in := range bad {
		_, err := hsds.ReadTaxonomyMap(strings.NewReader(in))
		require.ErrorIs(t, err, referral.ErrInvalid, name)
	}

	// A host map replaces the default: the sample's Open Eligibility terms then map
	// to nothing, and the sample's SDOHCC-coded service still maps on its own.
	ds := readSampleJSON(t, hsds.Options{Network: network, Taxonomy: custom})
	require.Len(t, ds.Services, 1)
	require.Equal(t, "Home Grocery Delivery", ds.Services[0].Name)
}

func TestImportedDirectoryMatches(t *testing.T) {
	ds := readSampleJSON(t, hsds.Options{Network: network})
	ix, err := matching.New(context.Background(), ds.Services, matching.Options{})
	require.NoError(t, err)
	birth := referral.Date{Year: 1990, Month: time.March, Day: 1}
	res, err := ix.Match(context.Background(), matching.Request{
		Person: referral.Person{ID: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ac"), Network: network,
			BirthDate: birth, Location: &referral.Point{Latitude: 30.27, Longitude: -97.74}, County: "Travis", State: "TX"},
		Needs:   []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}},
		RadiusM: 10_000,
		AsOf:    time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC),
	})
	require.NoError(t, err)
	name := map[referral.ID]string{}
	for _, s := range ds.Services {
		name[s.ID] = s.Name
	}
	var names []string
	for _, m := range res.Matches {
		names = append(names, name[m.Service])
	}
	require.Contains(t, names, "Weekly Grocery Pantry")
	require.Contains(t, names, "SNAP Application Help")
	require.NotContains(t, names, "Home Grocery Delivery", "minimum age 60")
}

func TestMappingDetails(t *testing.T) {
	const v7 = "0190a6f0-8a4b-7c3d-9e2f-0000000000f1"
	doc := `[{"id": "` + v7 + `", "name": "Clinic", "status": "active",
	  "organization": {"id": "org-1", "name": "Org", "phones": [{"id": "p0", "number": " "}, {"id": "p1", "number": "+1 512 555 0100"}]},
	  "service_at_locations": [
	    {"id": "sal-1", "location": {"id": "loc-1", "location_type": "physical", "latitude": 30.1, "longitude": -97.1,
	      "languages": [{"id": "l1", "code": "es"}, {"id": "l2", "code": "ES"}],
	      "schedules": [{"id": "s1", "byday": "SA", "opens_at": "08:00", "closes_at": "10:00"}],
	      "addresses": [{"id": "a0", "address_1": "PO Box 9", "address_type": "postal"}, {"id": "a1", "address_1": "1 Main St", "city": "Town", "address_type": "physical"}]}},
	    {"id": "sal-2", "location_id": "loc-1"},
	    {"id": "sal-3", "location": {"id": "loc-3", "location_type": "virtual"}}],
	  "service_areas": [{"id": "sa-1", "extent": "virtual", "extent_type": "text"}],
	  "attributes": [
	    {"id": "at-1", "taxonomy_term": {"id": "t-1", "code": "stress", "name": "Stress", "description": "", "taxonomy": "` + referral.SystemSDOHCC + `"}},
	    {"id": "at-2", "taxonomy_term": {"id": "t-2", "name": "Individual Counseling", "description": "", "taxonomy_detail": {"name": "Open Eligibility"}}}]}]`
	ds, err := hsds.ReadJSON(context.Background(), strings.NewReader(doc), hsds.Options{Network: network})
	require.NoError(t, err)
	require.Empty(t, ds.Problems)
	require.Len(t, ds.Services, 1)
	s := ds.Services[0]
	require.Equal(t, referral.MustParseID(v7), s.ID, "a UUIDv7 id is kept")
	require.NotContains(t, ds.Sources, s.ID)
	require.Equal(t, []referral.Domain{referral.Stress, referral.MentalHealth}, s.Domains)
	require.Equal(t, []string{"es"}, s.Languages, "languages come from the location, case-insensitively once")
	require.Equal(t, []string{"SA"}, s.Schedules[0].ByDay, "open hours come from the location")
	require.Len(t, s.Locations, 1, "one location reached twice is listed once")
	require.Equal(t, "1 Main St", s.Locations[0].Address.Address1, "the physical address, not the postal one")
	require.Equal(t, []referral.ServiceArea{{Kind: referral.AreaVirtual}}, s.ServiceAreas, "a virtual location and a virtual area are one area")
	require.Equal(t, "+1 512 555 0100", ds.Organizations[0].Phone)
}
