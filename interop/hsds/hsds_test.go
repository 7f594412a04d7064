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

// The sample's deliberately broken records: (record, kept, the reason's start).
type want struct {
	record string
	kept   bool
	reason string
}

var sampleProblems = []want{
	{"location", true, "latitude and longitude are required for a physical location"},
	{"service_area", true, "a free-text service area cannot be mapped"},
	{"language", true, "code is required"},
	{"attribute", true, "taxonomy term maps to no SDOH domain"},
	{"service", true, "no attribute maps to an SDOH domain"},
	{"attribute", true, "taxonomy term maps to no SDOH domain"},
	{"service", false, "status is required"},
	{"service", false, "maximum_age is below minimum_age"},
	{"location", true, "latitude and longitude must be numbers within range"},
	{"service", true, "no location with usable coordinates and no service area"},
	{"service", false, "organization_id refers to no organization in the dataset"},
}

func requireProblems(t *testing.T, want []want, got []hsds.Problem) {
	t.Helper()
	require.Len(t, got, len(want), "%v", got)
	for i, p := range got {
		require.Equal(t, want[i].record, p.Record, "problem %d: %v", i, p)
		require.Equal(t, want[i].kept, p.Kept, "problem %d: %v", i, p)
		require.True(t, strings.HasPrefix(p.Reason, want[i].reason), "problem %d: %q", i, p.Reason)
	}
}

func TestSampleImport(t *testing.T) {
	shapes := map[string]*hsds.Dataset{
		"json": readSampleJSON(t, hsds.Options{Network: network}),
		"csv":  readSampleCSV(t, hsds.Options{Network: network}),
	}
	for shape, ds := range shapes {
		t.Run(shape, func(t *testing.T) {
			require.Equal(t, hsds.Version30, ds.Version)
			require.Len(t, ds.Organizations, 7)
			require.Len(t, ds.Services, 20, "services with bad coordinates or unmapped terms are kept")
			requireProblems(t, sampleProblems, ds.Problems)
			for _, p := range ds.Problems {
				require.NotEmpty(t, p.ID, "every sample record has an id")
			}
			for _, s := range ds.Services {
				require.NoError(t, s.Validate())
				require.Equal(t, network, s.Network)
				require.NotEmpty(t, s.SourceID, "every HSDS id in the sample is a UUIDv5, so every ID was derived")
				require.Equal(t, s.SourceID, ds.Sources[s.ID])
			}

			pantry := byName(t, ds, "Weekly Grocery Pantry")
			require.Equal(t, []referral.Domain{referral.FoodInsecurity}, pantry.Domains)
			require.Len(t, pantry.Locations, 2)
			require.Equal(t, "Travis", pantry.Locations[0].Address.Region)
			require.Equal(t, []string{"en", "es"}, pantry.Languages)
			require.Equal(t, []referral.Schedule{{
				ID: "1cc2ac43-10c8-515d-839b-a197bfbfb73c", Freq: referral.Weekly, Interval: 1, ByDay: []string{"MO", "TU", "WE", "TH", "FR"},
				OpensAt: "09:00", ClosesAt: "17:00", Timezone: "Etc/GMT+6",
			}}, pantry.Schedules)
			require.Equal(t, "3adb1b9a-8aa3-58fb-9b26-73145d746eff", pantry.SourceID)

			meals := byName(t, ds, "Community Hot Meals")
			require.Equal(t, []referral.Domain{referral.FoodInsecurity}, meals.Domains, "Soup Kitchen maps through its parent Emergency Food")
			require.Equal(t, "11:00:00", meals.Schedules[0].OpensAt, "times are kept as written")

			snap := byName(t, ds, "SNAP Application Help")
			require.Len(t, snap.Locations, 2, "the location without coordinates is kept")
			require.True(t, snap.Locations[1].Unplaced)
			require.Empty(t, snap.Unmatchable(), "its other location is placed")
			require.Equal(t, 18, snap.MinimumAge)
			require.Equal(t, "10:00-06:00", snap.Schedules[0].OpensAt)
			require.True(t, snap.Schedules[0].OpenAt(time.Date(2026, 3, 3, 16, 0, 0, 0, time.UTC)), "10:00 at UTC-6 on a Tuesday")

			delivery := byName(t, ds, "Home Grocery Delivery")
			require.Equal(t, []referral.ServiceArea{{ID: "8b1aadb0-5bb8-5721-b9de-0d680a5bda58", Name: "Travis County", Kind: referral.AreaCounty,
				Values: []string{"Travis"}, Extent: "county:Travis", ExtentType: "text"}}, delivery.ServiceAreas)
			require.Equal(t, []string{"1MO"}, delivery.Schedules[0].ByDay, "a monthly schedule is read")
			_, err := delivery.Schedules[0].Compile()
			require.NoError(t, err)

			ged := byName(t, ds, "GED Preparation Classes")
			require.Equal(t, referral.LocationVirtual, ged.Locations[1].Type, "the virtual location is kept as a location")
			require.Equal(t, []string{"TU", "TH"}, ged.Locations[0].ServiceSchedules[0].ByDay, "schedule of the service_at_location")

			rides := byName(t, ds, "Rides to Medical Appointments")
			require.Equal(t, referral.AreaPolygon, rides.ServiceAreas[0].Kind)
			require.Len(t, rides.ServiceAreas[0].Polygon, 4, "the closing point is dropped")

			require.Equal(t, `insurance == "medicaid" || fpl_percent <= 200`, byName(t, ds, "Outpatient Detox Support").Eligibility)
			require.Equal(t, referral.ServiceTemporarilyClosed, byName(t, ds, "Free Tax Preparation").Status)
			bus := byName(t, ds, "Reduced Fare Bus Passes")
			require.Equal(t, [2]int{18, 64}, [2]int{bus.MinimumAge, bus.MaximumAge})
			require.Equal(t, []string{referral.UnmatchableNoDomain}, byName(t, ds, "Dental Cleanings").Unmatchable())
			require.Equal(t, []string{referral.UnmatchableNoPlace}, byName(t, ds, "Service At A Mistyped Site").Unmatchable())
			require.Equal(t, referral.AreaState, byName(t, ds, "Tenant Legal Clinic").ServiceAreas[0].Kind)
			require.Equal(t, referral.ServiceArea{ID: "23e1531d-b03d-5e67-9390-7048460a196f", Name: "Residents of the greater Riverbend area"},
				byName(t, ds, "Utility Bill Assistance").ServiceAreas[0], "the free-text area is kept, unread")
		})
	}
	// The sample's tabular form gives its taxonomy terms a language and its
	// phones a type the JSON form does not: what the records keep, and the
	// organizations' phones, differ by that, nothing else.
	json, csv := shapes["json"], shapes["csv"]
	require.Equal(t, typedOnly(json.Services), typedOnly(csv.Services), "both shapes of the sample import to the same refkit fields")
	require.Equal(t, json.Problems, csv.Problems)
}

// typedOnly drops what records kept of their source, which carries the tabular
// form's link columns beside the JSON form's nesting.
func typedOnly(services []referral.Service) []referral.Service {
	out := make([]referral.Service, len(services))
	for i, s := range services {
		out[i] = s.Clone()
		out[i].HSDS = nil
	}
	return out
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

// keptProblems are the sample's problems with records that were kept: an
// export writes those records again, with the same problems.
func keptProblems() []want {
	var out []want
	for _, p := range sampleProblems {
		if p.kept {
			out = append(out, p)
		}
	}
	return out
}

// inSampleOrder lists the problems of a re-import in the order the first
// import found them: an export writes records in its own order.
func inSampleOrder(first, again []hsds.Problem) []hsds.Problem {
	var out []hsds.Problem
	for _, p := range first {
		for _, q := range again {
			if p == q {
				out = append(out, q)
			}
		}
	}
	if len(out) != len(again) {
		return again
	}
	return out
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
					requireProblems(t, keptProblems(), inSampleOrder(first.Problems, second.Problems))
					require.Equal(t, first.Services, second.Services, "a re-import is the same records, kept parts included")
					require.Equal(t, first.Organizations, second.Organizations)
					require.Equal(t, first.Sources, second.Sources, "original ids are written back and derive the same IDs")

					// Without Sources, the records' own source ids still win.
					second.Sources = nil
					third := exportImport(t, to, second, opts)
					require.Equal(t, second.Services, third.Services)
				})
			}
		}
	}
}

// TestExportedRecordsAreCurrent edits typed fields after import: exports write
// the edits, and what the record kept of its source does not bring the old
// values back.
func TestExportedRecordsAreCurrent(t *testing.T) {
	ds := readSampleJSON(t, hsds.Options{Network: network})
	for i := range ds.Services {
		s := &ds.Services[i]
		if s.Name != "Weekly Grocery Pantry" {
			continue
		}
		s.Name = "Weekly Grocery Pantry (renamed)"
		s.Locations[0].Name = "New Hall"
		s.Languages = []string{"es"}
		s.Schedules[0].ClosesAt = "18:00"
		s.Domains = append(s.Domains, referral.FinancialInsecurity)
	}
	back := exportImport(t, "json", ds, hsds.Options{Network: network})
	got := byName(t, back, "Weekly Grocery Pantry (renamed)")
	require.Equal(t, "New Hall", got.Locations[0].Name)
	require.Equal(t, []string{"es"}, got.Languages, "the removed language does not come back")
	require.Equal(t, "18:00", got.Schedules[0].ClosesAt)
	require.Equal(t, []referral.Domain{referral.FoodInsecurity, referral.FinancialInsecurity}, got.Domains)

	var buf bytes.Buffer
	require.NoError(t, hsds.WriteJSON(context.Background(), &buf, ds))
	var page struct{ Contents []json.RawMessage }
	require.NoError(t, json.Unmarshal(buf.Bytes(), &page))
	first := leaves(page.Contents[0])
	require.Equal(t, "s:Spanish", first[".languages[id=a4d11121-bb61-58fd-bfc6-d6cfcbe6c95f].name"], "the kept language keeps its name")
	require.NotContains(t, first, ".languages[id=ef8e1892-aa26-58c5-ae88-e19c5f4fb00c].name", "the removed one is gone")
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
	require.Equal(t, 20, page.TotalItems)
	first := page.Contents[0]
	require.Equal(t, "3adb1b9a-8aa3-58fb-9b26-73145d746eff", first["id"])
	require.Equal(t, "active", first["status"])
	for _, key := range []string{"organization", "service_at_locations", "languages", "schedules", "attributes"} {
		require.Contains(t, first, key)
	}
	var refkitTerm map[string]any
	for _, a := range first["attributes"].([]any) {
		if term := a.(map[string]any)["taxonomy_term"].(map[string]any); term["taxonomy"] == referral.SystemSDOHCC {
			refkitTerm = term
		}
	}
	require.Equal(t, "food-insecurity", refkitTerm["code"], "refkit writes the domain beside the source's own term")
	sched := first["schedules"].([]any)[0].(map[string]any)
	require.Equal(t, "WEEKLY", sched["freq"])
	require.Equal(t, -6.0, sched["timezone"])
	require.True(t, strings.Index(buf.String(), `"id"`) < strings.Index(buf.String(), `"name"`), "keys in the specification's order")

	for _, shape := range []hsds.Shape{hsds.OrganizationPage, hsds.ServiceAtLocationPage} {
		var out bytes.Buffer
		require.NoError(t, hsds.WriteJSONAs(context.Background(), &out, ds, shape))
		back, err := hsds.ReadJSON(context.Background(), &out, hsds.Options{Network: network})
		require.NoError(t, err)
		if shape == hsds.OrganizationPage {
			require.ElementsMatch(t, ds.Services, back.Services, "an organization page holds the same records")
		} else {
			// A service_at_location page cannot hold a service without locations.
			var sited []referral.Service
			for _, s := range ds.Services {
				if len(s.Locations) > 0 {
					sited = append(sited, s)
				}
			}
			require.Equal(t, typedOnly(sited), typedOnly(back.Services))
		}
	}
	require.Error(t, hsds.WriteJSONAs(context.Background(), &bytes.Buffer{}, ds, hsds.Shape(9)))
}

func TestWriteDatapackageFiles(t *testing.T) {
	for _, v := range []hsds.Version{"", hsds.Version30, hsds.Version31} {
		t.Run(string(v), func(t *testing.T) {
			ds := readSampleCSV(t, hsds.Options{Network: network})
			ds.Version = v
			dir := t.TempDir()
			require.NoError(t, hsds.WriteDatapackage(context.Background(), dir, ds))
			b, err := os.ReadFile(filepath.Join(dir, "datapackage.json"))
			require.NoError(t, err)
			var dp struct {
				Version   string
				Resources []struct {
					Name, Path string
					Schema     struct{ Fields []struct{ Name, Type string } }
				}
			}
			require.NoError(t, json.Unmarshal(b, &dp))
			want := 21 // the 3.0 tables
			if v == hsds.Version31 {
				want = 24 // service_capacity, unit, url
			}
			require.Len(t, dp.Resources, want)
			for _, r := range dp.Resources {
				data, err := os.ReadFile(filepath.Join(dir, r.Path))
				require.NoError(t, err, r.Path)
				header, _, _ := strings.Cut(string(data), "\r\n")
				var names []string
				for _, f := range r.Schema.Fields {
					names = append(names, f.Name)
				}
				require.Equal(t, strings.Join(names, ","), header, r.Path)
			}
			require.FileExists(t, filepath.Join(dir, "service_at_location.csv"), "the specification's file name")
			services, err := os.ReadFile(filepath.Join(dir, "services.csv"))
			require.NoError(t, err)
			require.Equal(t, 1+20, strings.Count(string(services), "\n"))
			areas, err := os.ReadFile(filepath.Join(dir, "service_areas.csv"))
			require.NoError(t, err)
			header, _, _ := strings.Cut(string(areas), "\r\n")
			require.Equal(t, v == hsds.Version31, strings.Contains(header, "service_at_location_id"), "3.0 has no such column")
		})
	}
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
		"unknown version":   func(ds *hsds.Dataset) { ds.Version = "2.0" },
		"kept part broken":  func(ds *hsds.Dataset) { ds.Services[0].HSDS = json.RawMessage(`{"a":`) },
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
		err := hsds.WriteDatapackage(ctx, t.TempDir(), &c)
		require.ErrorIs(t, err, referral.ErrInvalid)
		require.ErrorContains(t, err, "appears more than once with different name")
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
	require.True(t, p.Kept)
	require.Contains(t, p.Error(), "imported with a problem")

	_, err = hsds.ReadDatapackage(context.Background(), os.DirFS("testdata/csv"), hsds.Options{Network: network, Strict: true})
	require.True(t, errors.As(err, &p))

	clean, err := hsds.ReadJSON(context.Background(), strings.NewReader(goodService), hsds.Options{Network: network, Strict: true})
	require.NoError(t, err, "a clean dataset imports in strict mode")
	var buf bytes.Buffer
	require.NoError(t, hsds.WriteJSON(context.Background(), &buf, clean))
	_, err = hsds.ReadJSON(context.Background(), &buf, hsds.Options{Network: network, Strict: true})
	require.NoError(t, err, "so does its export")
}

func TestOptions(t *testing.T) {
	for _, opts := range []hsds.Options{{}, {Network: network, MaxBytes: -1}} {
		_, err := hsds.ReadJSON(context.Background(), strings.NewReader("[]"), opts)
		require.ErrorIs(t, err, referral.ErrInvalid)
		_, err = hsds.ReadDatapackage(context.Background(), os.DirFS("testdata/csv"), opts)
		require.ErrorIs(t, err, referral.ErrInvalid)
	}
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
	ds := readSampleJSON(t, hsds.Options{Network: network})
	require.ErrorIs(t, hsds.WriteJSON(ctx, &bytes.Buffer{}, ds), context.Canceled)
}

// A service whose parts are all well-formed, to break one part at a time.
const goodService = `{
  "id": "svc-1", "name": "Food Pantry", "status": "active",
  "organization": {"id": "org-1", "name": "Pantry Org", "description": "d"},
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
		// problem is the first problem reported, when there is one.
		problem  want
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
		{name: "record not an object", doc: `[42]`, problem: want{"service", false, "must be an object"}},
		{name: "age not a number", doc: edit(`"status": "active"`, `"status": "active", "minimum_age": "twelve"`),
			problem: want{"service", false, "minimum_age must be a number"}},
		{name: "fractional age", doc: edit(`"status": "active"`, `"status": "active", "minimum_age": 12.5`),
			problem: want{"service", false, "minimum_age must be a whole number of years between 0 and 150"}},
		{name: "name not a string", doc: edit(`"name": "Food Pantry"`, `"name": 7`),
			problem: want{"service", true, "name must be a string"}},
		{name: "latitude not a number", doc: edit(`"latitude": 30.1`, `"latitude": "30.1"`),
			problem: want{"location", true, "latitude and longitude must be numbers within range"}, services: 1},
		{name: "missing service id", doc: edit(`"id": "svc-1"`, `"id": ""`), problem: want{"service", false, "id is required"}},
		{name: "missing organization id", doc: edit(`"id": "org-1", `, ``), problem: want{"organization", false, "id is required"}},
		{name: "missing organization", doc: edit(`"organization": {"id": "org-1", "name": "Pantry Org", "description": "d"},`, ``),
			problem: want{"service", false, "organization_id is required"}},
		{name: "dangling organization", doc: edit(`"organization": {"id": "org-1", "name": "Pantry Org", "description": "d"},`, `"organization_id": "org-9",`),
			problem: want{"service", false, "organization_id refers to no organization in the dataset"}},
		{name: "organization without name", doc: edit(`"name": "Pantry Org"`, `"name": ""`),
			problem: want{"organization", false, "name is required"}},
		{name: "latitude out of range", doc: edit(`"latitude": 30.1`, `"latitude": 91`),
			problem: want{"location", true, "latitude and longitude must be numbers within range"}, services: 1},
		{name: "dangling location", doc: edit(`"location": {"id": "loc-1", "location_type": "physical", "latitude": 30.1, "longitude": -97.1}`, `"location_id": "loc-9"`),
			problem: want{"service_at_location", true, "location_id refers to no location in the dataset"}, services: 1},
		{name: "dangling term", doc: edit(`"taxonomy_term": {"id": "term-1", "name": "Food Pantry", "description": "d", "taxonomy": "Open Eligibility"}`, `"taxonomy_term_id": "term-9"`),
			problem: want{"attribute", true, "taxonomy_term_id refers to no taxonomy term in the dataset"}, services: 1},
		{name: "bad status", doc: edit(`"status": "active"`, `"status": "open"`),
			problem: want{"service", false, "status must be active, inactive, defunct or temporarily closed"}},
		{name: "bad rule", doc: edit(`"attributes": [`, `"attributes": [{"id": "attr-r", "value": "age >", "taxonomy_term": {"id": "r", "code": "eligibility-rule", "name": "Eligibility rule", "description": "d", "taxonomy": "https://refkit.dev/hsds/taxonomy"}},`),
			problem: want{"service", false, "eligibility rule does not compile"}},
		{name: "bad location type", doc: edit(`"location_type": "physical"`, `"location_type": "mobile"`),
			problem: want{"location", true, "location_type must be physical, postal or virtual"}, services: 1},
		{name: "unreadable schedule", doc: edit(`"status": "active"`, `"status": "active", "schedules": [{"id": "s1", "interval": 1.5}]`),
			problem: want{"schedule", true, "cannot be read (interval must be a whole number)"}, services: 1},
		{name: "schedule not evaluated", doc: edit(`"status": "active"`, `"status": "active", "schedules": [{"id": "s1", "freq": "HOURLY"}]`),
			problem: want{"schedule", true, "cannot be evaluated (freq is not evaluated"}, services: 1},
		{name: "odd time zone", doc: edit(`"status": "active"`, `"status": "active", "schedules": [{"id": "s1", "timezone": 3.3333}]`),
			problem: want{"schedule", true, "cannot be read (timezone must be a UTC offset in hours, to the minute)"}, services: 1},
		{name: "phone without number", doc: edit(`"status": "active"`, `"status": "active", "phones": [{"id": "p1"}]`),
			problem: want{"phone", true, "number is required"}, services: 1},
		{name: "capacity not whole", doc: edit(`"status": "active"`, `"status": "active", "capacities": [{"id": "c1", "available": 2.5}]`),
			problem: want{"service_capacity", true, "available must be a whole number"}, services: 1},
		{name: "organization copies differ", doc: "[" + goodService + "," + strings.Replace(strings.Replace(goodService, `"svc-1"`, `"svc-2"`, 1), `"Pantry Org"`, `"Other Org"`, 1) + "]",
			problem: want{"organization", true, "appears more than once with different fields"}, services: 2},
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
			if tc.problem == (want{}) {
				require.Empty(t, ds.Problems)
				return
			}
			require.NotEmpty(t, ds.Problems)
			requireProblems(t, []want{tc.problem}, ds.Problems[:1])
			// Whatever was kept as given is written back as given.
			var buf bytes.Buffer
			require.NoError(t, hsds.WriteJSON(context.Background(), &buf, ds))
			if tc.services == 1 {
				var page struct{ Contents []json.RawMessage }
				require.NoError(t, json.Unmarshal(buf.Bytes(), &page))
				_, lost := retention(leaves([]byte(tc.doc)), leaves(page.Contents[0]))
				require.Empty(t, lost)
			}
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
		problem want // the extra problem reported, beyond the sample's own
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
		}, problem: want{"language", false, "row at line 12 has 2 fields, the header 7"}},
		{name: "row without id", mutate: func(m fstest.MapFS) {
			m["languages.csv"].Data = append(m["languages.csv"].Data, []byte(",,,,English,en,\n")...)
		}, problem: want{"language", false, "row at line 12 has no id"}},
		{name: "latitude not a number", mutate: func(m fstest.MapFS) {
			m["locations.csv"].Data = append(m["locations.csv"].Data, []byte("loc-x,physical,,,X,,,,north,-97\n")...)
			m["service_at_locations.csv"].Data = append(m["service_at_locations.csv"].Data, []byte("sal-x,3adb1b9a-8aa3-58fb-9b26-73145d746eff,loc-x,\n")...)
		}, problem: want{"location", true, "latitude and longitude must be numbers within range"}},
		{name: "NaN latitude", mutate: func(m fstest.MapFS) {
			m["locations.csv"].Data = append(m["locations.csv"].Data, []byte("loc-x,physical,,,X,,,,NaN,-97\n")...)
			m["service_at_locations.csv"].Data = append(m["service_at_locations.csv"].Data, []byte("sal-x,3adb1b9a-8aa3-58fb-9b26-73145d746eff,loc-x,\n")...)
		}, problem: want{"location", true, "latitude and longitude must be numbers within range"}},
		{name: "age not a number", mutate: func(m fstest.MapFS) {
			m["services.csv"].Data = append(m["services.csv"].Data, []byte("svc-x,fc930162-b007-5860-9ccf-5a74ef39204f,,X,,,,,active,,twelve,,\n")...)
		}, problem: want{"service", false, "minimum_age must be a number"}},
		{name: "unlinked service_at_location", mutate: func(m fstest.MapFS) {
			m["service_at_locations.csv"].Data = append(m["service_at_locations.csv"].Data, []byte("sal-x,svc-9,loc-9,\n")...)
		}, problem: want{"service_at_location", false, "is linked to no service or organization in the package"}},
		{name: "unlinked attribute", mutate: func(m fstest.MapFS) {
			m["attributes.csv"].Data = append(m["attributes.csv"].Data, []byte("attr-x,svc-9,term-9,,service,,\n")...)
		}, problem: want{"attribute", false, "is linked to no service or organization in the package"}},
		{name: "attribute of an organization is kept", mutate: func(m fstest.MapFS) {
			m["attributes.csv"].Data = append(m["attributes.csv"].Data, []byte("attr-x,fc930162-b007-5860-9ccf-5a74ef39204f,abf6c715-75f2-5bd2-852e-6f5199d509c6,,organization,,\n")...)
		}},
		{name: "unlinked address", mutate: func(m fstest.MapFS) {
			m["addresses.csv"].Data = append(m["addresses.csv"].Data, []byte("addr-x,loc-9,,1 Main,,City,,TX,78701,US,physical\n")...)
		}, problem: want{"address", false, "is linked to no service or organization in the package"}},
		{name: "duplicate service", mutate: func(m fstest.MapFS) {
			lines := strings.SplitAfter(string(m["services.csv"].Data), "\n")
			m["services.csv"].Data = append(m["services.csv"].Data, []byte(lines[1])...)
		}, problem: want{"service", false, "id is a duplicate"}},
		{name: "optional tables missing", mutate: func(m fstest.MapFS) {
			m["datapackage.json"].Data = []byte(`{"resources": [{"name": "services", "path": "services.csv"}]}`)
		}, problem: want{"service", false, "organization_id refers to no organization in the dataset"}},
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
			if tc.problem == (want{}) {
				requireProblems(t, sampleProblems, ds.Problems)
				return
			}
			var found bool
			for _, p := range ds.Problems {
				found = found || (p.Record == tc.problem.record && p.Kept == tc.problem.kept && strings.HasPrefix(p.Reason, tc.problem.reason))
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
	// to nothing (the services are kept, unmatchable), and the sample's
	// SDOHCC-coded service still maps on its own.
	ds := readSampleJSON(t, hsds.Options{Network: network, Taxonomy: custom})
	var matchable []string
	for _, s := range ds.Services {
		if len(s.Domains) > 0 {
			matchable = append(matchable, s.Name)
		}
	}
	require.Equal(t, []string{"Home Grocery Delivery"}, matchable)
}

func TestImportedDirectoryMatches(t *testing.T) {
	ds := readSampleJSON(t, hsds.Options{Network: network})
	ix, err := matching.New(context.Background(), ds.Services, matching.Options{})
	require.NoError(t, err, "unmatchable services load")
	birth := referral.Date{Year: 1990, Month: time.March, Day: 1}
	res, err := ix.Match(context.Background(), matching.Request{
		Person: referral.Person{ID: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0123456789ac"), Network: network,
			BirthDate: birth, Location: &referral.Point{Latitude: 30.27, Longitude: -97.74}, County: "Travis", State: "TX"},
		Needs:   []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}},
		RadiusM: 10_000,
		Explain: true,
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
	require.NotContains(t, names, "Service At A Mistyped Site")
	var why []matching.Reason
	for _, x := range res.Excluded {
		if name[x.Service] == "Service At A Mistyped Site" {
			why = x.Reasons
		}
	}
	require.Equal(t, []matching.Reason{{Code: matching.ReasonUnmatchable, Detail: "no location with coordinates and no service area"}}, why,
		"a human sees why a food service is never offered")
}

func TestMappingDetails(t *testing.T) {
	const v7 = "0190a6f0-8a4b-7c3d-9e2f-0000000000f1"
	doc := `[{"id": "` + v7 + `", "name": "Clinic", "status": "active",
	  "organization": {"id": "org-1", "name": "Org", "description": "d", "phones": [{"id": "p0", "number": " "}, {"id": "p1", "number": "+1 512 555 0100"}],
	    "organization_identifiers": [{"id": "oi1", "identifier_scheme": "US-EIN", "identifier_type": "Tax ID", "identifier": "00-0000002"}]},
	  "service_at_locations": [
	    {"id": "sal-1", "location": {"id": "loc-1", "location_type": "physical", "latitude": 30.1, "longitude": -97.1,
	      "languages": [{"id": "l1", "code": "es"}, {"id": "l2", "code": "ES"}],
	      "schedules": [{"id": "s1", "byday": "SA", "opens_at": "08:00", "closes_at": "10:00"}],
	      "addresses": [{"id": "a0", "address_1": "PO Box 9", "address_type": "postal"}, {"id": "a1", "address_1": "1 Main St", "city": "Town", "address_type": "physical"}]}},
	    {"id": "sal-2", "location_id": "loc-1"},
	    {"id": "sal-3", "location": {"id": "loc-3", "location_type": "virtual", "url": "https://example.org/chat"}}],
	  "service_areas": [{"id": "sa-1", "extent": "virtual", "extent_type": "text"}],
	  "capacities": [{"id": "cap-1", "available": 4, "maximum": 10, "updated": "2026-03-01T08:30:00.5+01:00", "unit": {"id": "u1", "name": "Bed"}}],
	  "attributes": [
	    {"id": "at-1", "taxonomy_term": {"id": "t-1", "code": "stress", "name": "Stress", "description": "", "taxonomy": "` + referral.SystemSDOHCC + `"}},
	    {"id": "at-2", "taxonomy_term": {"id": "t-2", "name": "Individual Counseling", "description": "", "taxonomy_detail": {"id": "tx", "name": "Open Eligibility", "description": ""}}}]}]`
	ds, err := hsds.ReadJSON(context.Background(), strings.NewReader(doc), hsds.Options{Network: network})
	require.NoError(t, err)
	requireProblems(t, []want{{"phone", true, "number is required"}, {"service_at_location", true, "joins the service to a location it is already at"}}, ds.Problems)
	require.Equal(t, hsds.Version31, ds.Version, "a capacity is 3.1")
	require.Len(t, ds.Services, 1)
	s := ds.Services[0]
	require.Equal(t, referral.MustParseID(v7), s.ID, "a UUIDv7 id is kept")
	require.Empty(t, s.SourceID)
	require.NotContains(t, ds.Sources, s.ID)
	require.Equal(t, []referral.Domain{referral.Stress, referral.MentalHealth}, s.Domains)
	require.Empty(t, s.Languages, "the location's languages stay the location's")
	require.Equal(t, []string{"es", "ES"}, s.Locations[0].Languages)
	require.Equal(t, []string{"SA"}, s.Locations[0].Schedules[0].ByDay, "the location's own hours")
	require.Len(t, s.Locations, 2, "one location reached twice is listed once")
	require.Equal(t, "1 Main St", s.Locations[0].Address.Address1)
	require.Equal(t, "PO Box 9", s.Locations[0].PostalAddress.Address1)
	require.Equal(t, "sal-1", s.Locations[0].ServiceAtLocation)
	require.Equal(t, referral.Location{ID: s.Locations[1].ID, SourceID: "loc-3", Type: referral.LocationVirtual, URL: "https://example.org/chat",
		Unplaced: true, ServiceAtLocation: "sal-3"}, s.Locations[1])
	require.Equal(t, &referral.Capacity{Available: 4, Maximum: 10, ID: "cap-1", Unit: &referral.Unit{ID: "u1", Name: "Bed"},
		Updated: time.Date(2026, 3, 1, 7, 30, 0, 5e8, time.UTC).In(time.FixedZone("", 3600))}, s.Capacity)
	org := ds.Organizations[0]
	require.Equal(t, "+1 512 555 0100", org.Phone)
	require.Len(t, org.Phones, 1, "the phone without a number is kept as given, not typed")
	require.Equal(t, []referral.Identifier{{System: "US-EIN", Type: "Tax ID", Value: "00-0000002"}}, org.Identifiers)

	// Every leaf comes back.
	var buf bytes.Buffer
	require.NoError(t, hsds.WriteJSON(context.Background(), &buf, ds))
	var in []json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(doc), &in))
	var page struct{ Contents []json.RawMessage }
	require.NoError(t, json.Unmarshal(buf.Bytes(), &page))
	_, lost := retention(leaves(in[0]), leaves(page.Contents[0]))
	require.Empty(t, lost)
}

// TestRefkitRecordsRoundTrip writes records made in refkit (no HSDS source):
// what HSDS has no field for travels in refkit's own taxonomy (the eligibility
// rule, closures, the waitlist), sub-records get ids, and a second export is
// the same document as the first.
func TestRefkitRecordsRoundTrip(t *testing.T) {
	ctx := context.Background()
	org := referral.Organization{
		ID: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000a1"), Network: network, Name: "Night Shelter Alliance",
		Phone:       "+1 512 555 0199",
		Identifiers: []referral.Identifier{{System: "US-EIN", Type: "Tax ID", Value: "00-0000009"}},
		Contacts:    []referral.Contact{{Name: "Intake desk", Phones: []referral.Phone{{Number: "+1 512 555 0198", Languages: []string{"es"}}}}},
	}
	svc := referral.Service{
		ID: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000b1"), Network: network, Organization: org.ID,
		Name: "Winter beds", Status: referral.ServiceActive, Domains: []referral.Domain{referral.Homelessness},
		Eligibility: "age >= 18", Languages: []string{"en", "es"},
		Capacity: &referral.Capacity{Available: 2, Waitlist: 5, Maximum: 30, Unit: &referral.Unit{Name: "Bed"}},
		Locations: []referral.Location{{ID: referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-0000000000c1"), Latitude: 30.26, Longitude: -97.74,
			Address: &referral.Address{Address1: "1 Shelter Way", City: "Austin", StateProvince: "TX", PostalCode: "78701", Country: "US"}}},
		Schedules: []referral.Schedule{
			{ByDay: []string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}, OpensAt: "19:00", ClosesAt: "07:00", Timezone: "America/Chicago"},
			{Closed: true, ValidFrom: "2026-12-25", ValidTo: "2026-12-25", Description: "Closed on Christmas Day"},
		},
	}
	ds := &hsds.Dataset{Version: hsds.Version31, Organizations: []referral.Organization{org}, Services: []referral.Service{svc}}
	for _, form := range []string{"json", "csv"} {
		t.Run(form, func(t *testing.T) {
			back := exportImport(t, form, ds, hsds.Options{Network: network})
			require.Empty(t, back.Problems)
			got := back.Services[0]
			require.Equal(t, "age >= 18", got.Eligibility)
			require.Equal(t, 5, got.Capacity.Waitlist, "the waitlist comes back from refkit's attribute")
			require.True(t, got.Schedules[1].Closed, "the closure comes back from refkit's attribute")
			require.Equal(t, "Closed on Christmas Day", got.Schedules[1].Description)
			require.Equal(t, "19:00", got.Schedules[0].OpensAt)
			require.Equal(t, "Etc/GMT+6", got.Schedules[0].Timezone, "HSDS 3.x carries the standard offset only")
			require.Equal(t, referral.ClosedNow, referral.CompileHours(got.Schedules).At(time.Date(2026, 12, 25, 22, 0, 0, 0, time.UTC)))
			require.Equal(t, []string{"en", "es"}, got.Languages)
			require.Equal(t, org.Identifiers, back.Organizations[0].Identifiers)
			require.Equal(t, "+1 512 555 0199", back.Organizations[0].Phone)

			// A record read back writes the same document again.
			var first, second bytes.Buffer
			require.NoError(t, hsds.WriteJSON(ctx, &first, back))
			again := exportImport(t, form, back, hsds.Options{Network: network})
			require.Equal(t, back.Services, again.Services)
			require.NoError(t, hsds.WriteJSON(ctx, &second, again))
			require.Equal(t, first.String(), second.String())
		})
	}
}
