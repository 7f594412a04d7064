package hsds_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/referral"
)

// The full-coverage fixtures (testdata/full-3.0 and full-3.1) are one fictional
// directory, in the JSON and the tabular form, that fills every field of the
// HSDS tables (but meta_table_description, which belongs to no record) at least
// once: see TestFixturesCoverTheSpecification.

var versions = []hsds.Version{hsds.Version30, hsds.Version31}

func fixture(v hsds.Version, form string) string {
	if form == "json" {
		return filepath.Join("testdata", "full-"+string(v), "services.json")
	}
	return filepath.Join("testdata", "full-"+string(v), "csv")
}

func readFixture(t testing.TB, v hsds.Version, form string) *hsds.Dataset {
	t.Helper()
	ctx := context.Background()
	opts := hsds.Options{Network: network}
	if form == "json" {
		b, err := os.ReadFile(fixture(v, form))
		require.NoError(t, err)
		ds, err := hsds.ReadJSON(ctx, bytes.NewReader(b), opts)
		require.NoError(t, err)
		return ds
	}
	ds, err := hsds.ReadDatapackage(ctx, os.DirFS(fixture(v, form)), opts)
	require.NoError(t, err)
	return ds
}

// The fixture's deliberately unusable records, kept with their problems: two
// schedules with byweekno and byyearday (iCalendar defines them for YEARLY
// rules only, a frequency HSDS 3.0 does not allow) and a service whose term
// maps to no domain at a location without coordinates.
var fixtureProblems = []want{
	{"schedule", true, "cannot be evaluated (byweekno is only defined for yearly rules)"},
	{"schedule", true, "cannot be evaluated (byyearday is only defined for yearly rules)"},
	{"attribute", true, "taxonomy term maps to no SDOH domain"},
	{"location", true, "latitude and longitude are required for a physical location"},
	{"service", true, "no attribute maps to an SDOH domain"},
	{"service", true, "no location with usable coordinates and no service area"},
}

// cells reads a data package as table → row id → column → value (empty cells
// left out).
func cells(t testing.TB, dir string) map[string]map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]map[string]string{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".csv") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		require.NoError(t, err)
		table := map[string]map[string]string{}
		for _, rec := range recs[1:] {
			row := map[string]string{}
			for i, v := range rec {
				if v != "" {
					row[recs[0][i]] = v
				}
			}
			table[row["id"]] = row
		}
		out[e.Name()] = table
	}
	return out
}

// ownRow reports whether an exported row is refkit's own addition: its
// attribute naming an SDOH domain, and that term.
func ownRow(file string, row map[string]string) bool {
	switch file {
	case "attributes.csv":
		return row["link_type"] == "" && row["value"] == "" && row["label"] == ""
	case "taxonomy_terms.csv":
		return strings.HasSuffix(row["description"], "(SDOH domain)")
	}
	return false
}

func TestFullFixtureRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			doc, err := os.ReadFile(fixture(v, "json"))
			require.NoError(t, err)
			want := cells(t, fixture(v, "csv"))
			for _, from := range []string{"json", "csv"} {
				ds := readFixture(t, v, from)
				require.Equal(t, v, ds.Version, "the version is read from what the feed holds")
				requireProblems(t, fixtureProblems, ds.Problems)

				// Every leaf of the JSON form comes back, whichever form was read.
				var buf bytes.Buffer
				require.NoError(t, hsds.WriteJSON(ctx, &buf, ds))
				kept, lost := retention(leaves(doc), leaves(buf.Bytes()))
				require.Empty(t, lost, "%s → json kept %d", from, kept)

				// Every cell of the tabular form comes back, and nothing else
				// but refkit's own attributes.
				dir := t.TempDir()
				require.NoError(t, hsds.WriteDatapackage(ctx, dir, ds))
				got := cells(t, dir)
				for file, rows := range want {
					require.Contains(t, got, file)
					for id, row := range rows {
						require.Equal(t, row, got[file][id], "%s → csv: %s row %s", from, file, id)
					}
					for id, row := range got[file] {
						if _, ok := rows[id]; !ok {
							require.True(t, ownRow(file, row), "%s → csv: %s has an extra row %s", from, file, id)
						}
					}
				}
				require.Len(t, got, len(want), "exactly the tables of the version")
			}
		})
	}
}

func TestFullFixtureTypedFields(t *testing.T) {
	ds := readFixture(t, hsds.Version31, "json")
	require.Len(t, ds.Organizations, 1)
	org := ds.Organizations[0]
	require.Equal(t, referral.MustParseID("0190a6f0-8a4b-7c3d-9e2f-00000000a001"), org.ID, "a UUIDv7 id is the refkit ID")
	require.Empty(t, org.SourceID)
	require.Equal(t, "HVFA", org.AlternateName)
	require.Equal(t, []referral.Identifier{{System: "US-EIN", Type: "Tax ID", Value: "00-0000001"}}, org.Identifiers)
	require.Equal(t, "+1 512 555 0100", org.Phone)
	require.Equal(t, "Pantry coordinator", org.Contacts[0].Name)

	svc := map[string]referral.Service{}
	for _, s := range ds.Services {
		svc[s.Name] = s
	}
	pantry := svc["Harbor Street Food Pantry"]
	require.Equal(t, "svc-pantry", pantry.SourceID)
	require.Equal(t, []referral.Domain{referral.FoodInsecurity}, pantry.Domains)
	require.Equal(t, [2]int{18, 120}, [2]int{pantry.MinimumAge, pantry.MaximumAge})
	require.Equal(t, "Walk in with an ID; no appointment needed.", pantry.ApplicationProcess)
	require.Equal(t, "Free of charge.", pantry.FeesDescription)
	require.Contains(t, pantry.InterpretationServices, "Spanish-speaking")
	require.Contains(t, pantry.Alert, "inventory")
	require.Equal(t, []string{"en", "es"}, pantry.Languages)
	amount := 2.5
	require.Equal(t, []referral.CostOption{{ID: "cost-delivery", ValidFrom: "2025-01-01", ValidTo: "2025-12-31", Option: "Home delivery",
		Currency: "USD", Amount: &amount, AmountDescription: "per delivery"}}, pantry.CostOptions)
	require.Equal(t, "doc-id", pantry.RequiredDocuments[0].ID)
	require.Equal(t, []referral.Phone{
		{ID: "phone-main", Number: "+1 512 555 0100", Extension: "12", Type: "voice", Description: "Answered weekdays 9 to 5.", Languages: []string{"es"}},
		{ID: "phone-text", Number: "+1 512 555 0101", Type: "text", Description: "Text for this week's hours."},
	}, pantry.Phones)
	require.Equal(t, &referral.Capacity{Available: 12, Maximum: 40, ID: "cap-pantry", Description: "Households the pantry can still serve this week.",
		Updated: time.Date(2026, 3, 1, 14, 30, 0, 0, time.UTC).In(time.FixedZone("", -6*3600)),
		Unit:    &referral.Unit{ID: "unit-household", Name: "Household", Scheme: "refkit-example", Identifier: "household", URI: "https://refkit.example.org/units/household"}},
		pantry.Capacity)
	require.Len(t, pantry.Schedules, 2)
	weekly := pantry.Schedules[0]
	require.Equal(t, referral.Schedule{ID: "sch-pantry-weekly", Freq: referral.Weekly, Interval: 1, ByDay: []string{"TU", "TH"}, WeekStart: "MO",
		DTStart: "2025-01-07", ValidFrom: "2025-01-01", ValidTo: "2026-12-31", OpensAt: "09:00", ClosesAt: "13:00", Timezone: "Etc/GMT+6",
		Description: "Tuesdays and Thursdays, 9 to 1.", Notes: "Last entry 12:45.", AttendingType: "In person",
		Link: "https://hvfa.example.org/pantry/book"}, weekly)
	require.True(t, weekly.OpenAt(time.Date(2026, 3, 3, 16, 0, 0, 0, time.UTC)), "Tuesday 10:00 at UTC-6")
	require.Equal(t, []int{15, -1}, pantry.Schedules[1].ByMonthDay)

	harbor := pantry.Locations[0]
	require.Equal(t, "sal-pantry-harbor", harbor.ServiceAtLocation)
	require.Equal(t, "loc-harbor", harbor.SourceID)
	require.Equal(t, [2]float64{30.2711, -97.7437}, [2]float64{harbor.Latitude, harbor.Longitude})
	require.Equal(t, "The Hall", harbor.AlternateName)
	require.Equal(t, "Bus 7 stops at the door.", harbor.Transportation)
	require.Equal(t, "100 Harbor Street", harbor.Address.Address1)
	require.Equal(t, "Pantry desk", harbor.Address.Attention)
	require.Equal(t, "PO Box 1200", harbor.PostalAddress.Address1)
	require.Equal(t, "acc-harbor", harbor.Accessibility[0].ID)
	require.Equal(t, []string{"es"}, harbor.Languages)
	require.Equal(t, []int{10}, harbor.Schedules[0].ByWeekNo)
	require.Equal(t, 4, harbor.Schedules[0].Count)
	require.Equal(t, []int{1, -1}, harbor.Schedules[1].ByYearDay)
	require.Equal(t, []string{"1SA", "-1SA"}, harbor.ServiceSchedules[0].ByDay)
	require.Equal(t, []referral.ServiceArea{{Kind: referral.AreaZip, Values: []string{"78701", "78702"}, ID: "area-harbor-zips", Name: "Harbor zips",
		Extent: "zip:78701,78702", ExtentType: "text"}}, harbor.ServiceAreas, "3.1: the area of a service_at_location")
	for _, s := range append(pantry.Schedules, harbor.ServiceSchedules...) {
		_, err := s.Compile()
		require.NoError(t, err, s.ID)
	}
	for _, s := range harbor.Schedules {
		_, err := s.Compile()
		require.ErrorIs(t, err, referral.ErrInvalid, "%s is kept, not evaluated", s.ID)
	}

	rides := svc["Ride to Groceries Line"]
	require.Equal(t, referral.ServiceTemporarilyClosed, rides.Status)
	require.Equal(t, []referral.Domain{referral.FoodInsecurity, referral.TransportationInsecurity}, rides.Domains)
	require.Equal(t, referral.LocationVirtual, rides.Locations[0].Type)
	require.Equal(t, referral.AreaPolygon, rides.ServiceAreas[0].Kind)

	market := svc["Mobile Produce Market"]
	require.Equal(t, []string{referral.UnmatchableNoDomain, referral.UnmatchableNoPlace}, market.Unmatchable())
	require.True(t, market.Locations[0].Unplaced)

	// What a service keeps of its source is only what refkit does not type.
	var kept map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(pantry.HSDS, &kept))
	var scalars []string
	for k, v := range kept {
		if v[0] != '{' && v[0] != '[' {
			scalars = append(scalars, k)
		}
	}
	sort.Strings(scalars)
	require.Equal(t, []string{"accreditations", "assured_date", "assurer_email", "fees", "last_modified", "licenses", "program_id", "wait_time"}, scalars)
}

// TestVersionConversion writes the 3.1 fixture as 3.0 and back.
func TestVersionConversion(t *testing.T) {
	ctx := context.Background()
	ds := readFixture(t, hsds.Version31, "json")
	ds.Version = hsds.Version30
	var buf bytes.Buffer
	require.NoError(t, hsds.WriteJSON(ctx, &buf, ds))
	out := buf.String()
	for _, key := range []string{`"capacities"`, `"additional_urls"`, `"additional_websites"`, `"label"`} {
		require.NotContains(t, out, key, "3.0 has no such field")
	}
	back, err := hsds.ReadJSON(ctx, &buf, hsds.Options{Network: network})
	require.NoError(t, err)
	require.Equal(t, hsds.Version30, back.Version)
	var pantry referral.Service
	for _, s := range back.Services {
		if s.SourceID == "svc-pantry" {
			pantry = s
		}
	}
	require.Nil(t, pantry.Capacity)
	require.Empty(t, pantry.Locations[0].ServiceAreas)
	require.Contains(t, pantry.ServiceAreas, referral.ServiceArea{Kind: referral.AreaZip, Values: []string{"78701", "78702"}, ID: "area-harbor-zips",
		Name: "Harbor zips", Extent: "zip:78701,78702", ExtentType: "text"}, "3.0 holds the site's area as the service's")

	dir := t.TempDir()
	require.NoError(t, hsds.WriteDatapackage(ctx, dir, ds))
	_, err = os.Stat(filepath.Join(dir, "service_capacity.csv"))
	require.ErrorIs(t, err, fs.ErrNotExist)
}
