package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// committed is the file the demo embeds, relative to this package.
const committed = "../../sample/directory.json"

// sample generates the directory and reads it back as the demo does.
func sample(t *testing.T) (directory, []byte) {
	t.Helper()
	d, err := generate()
	require.NoError(t, err)
	data, err := encode(d)
	require.NoError(t, err)
	var back directory
	require.NoError(t, json.Unmarshal(data, &back))
	return back, data
}

func TestCommittedFileIsCurrent(t *testing.T) {
	_, want := sample(t)
	got, err := os.ReadFile(committed)
	require.NoError(t, err, "demo/sample/directory.json is missing: run `go generate ./demo` (or `go run ./demo/internal/gensample -out demo/sample/directory.json` from the module root)")
	if !bytes.Equal(got, want) {
		line := 1
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				break
			}
			if got[i] == '\n' {
				line++
			}
		}
		t.Fatalf("demo/sample/directory.json differs from the generator's output from line %d: run `go generate ./demo` (or `go run ./demo/internal/gensample -out demo/sample/directory.json` from the module root) and commit the file", line)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	_, first := sample(t)
	_, second := sample(t)
	require.True(t, bytes.Equal(first, second), "two runs produced different output")
	require.True(t, bytes.HasSuffix(first, []byte("}\n")), "output ends with a newline")
	require.True(t, bytes.HasPrefix(first, []byte("{\n  \"network\": {\n")), "output is 2-space indented, network first")
	require.NotContains(t, string(first), `\u003e`, "rules are written without HTML escaping")
}

func TestRun(t *testing.T) {
	_, want := sample(t)
	tests := []struct {
		name    string
		args    func(dir string) []string
		file    string
		stdout  bool
		help    bool
		wantErr string
	}{
		{name: "writes the file, creating its directory", args: func(dir string) []string { return []string{"-out", filepath.Join(dir, "sample", "directory.json")} }, file: "sample/directory.json"},
		{name: "writes stdout without -out", args: func(string) []string { return nil }, stdout: true},
		{name: "asks for help", args: func(string) []string { return []string{"-h"} }, help: true},
		{name: "rejects stray arguments", args: func(string) []string { return []string{"extra"} }, wantErr: "unexpected arguments"},
		{name: "rejects unknown flags", args: func(string) []string { return []string{"-bogus"} }, wantErr: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var out, errOut bytes.Buffer
			err := run(tt.args(dir), &out, &errOut)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if tt.help {
				require.Zero(t, out.Len(), "help goes to stderr, not into a file or stdout")
				require.Contains(t, errOut.String(), "-out")
				return
			}
			if tt.stdout {
				require.True(t, bytes.Equal(want, out.Bytes()), "stdout holds the directory")
				return
			}
			require.Zero(t, out.Len())
			got, err := os.ReadFile(filepath.Join(dir, tt.file))
			require.NoError(t, err)
			require.True(t, bytes.Equal(want, got), "the file holds the directory")
		})
	}
}

func TestRecordsValidateAndReferToEachOther(t *testing.T) {
	d, _ := sample(t)
	require.NoError(t, d.Network.Validate())
	ids := map[referral.ID]string{d.Network.ID: "network"}
	unique := func(id referral.ID, what string) {
		t.Helper()
		prev, dup := ids[id]
		require.False(t, dup, "%s id %s already used by a %s", what, id, prev)
		ids[id] = what
	}
	orgs := map[referral.ID]bool{}
	for _, o := range d.Organizations {
		require.NoError(t, o.Validate(), o.ID.String())
		require.Equal(t, d.Network.ID, o.Network)
		unique(o.ID, "organization")
		orgs[o.ID] = true
	}
	offers := map[referral.ID]int{}
	for _, s := range d.Services {
		require.NoError(t, s.Validate(), s.ID.String())
		require.Equal(t, d.Network.ID, s.Network, s.ID.String())
		require.True(t, orgs[s.Organization], "service %s names an organization not in the file", s.ID)
		offers[s.Organization]++
		unique(s.ID, "service")
		for _, l := range s.Locations {
			unique(l.ID, "location")
		}
		if s.Eligibility != "" {
			require.NoError(t, matching.CheckRule(s.Eligibility), "rule of %s", s.ID)
			require.NotEmpty(t, s.EligibilityDescription, "a rule comes with a description: %s", s.ID)
		}
	}
	for _, o := range d.Organizations {
		require.Positive(t, offers[o.ID], "organization %s offers no service", o.ID)
	}
	_, err := matching.New(context.Background(), d.Services, matching.Options{})
	require.NoError(t, err)
}

// TestShape checks the counts and shares the brief sets for the sample.
func TestShape(t *testing.T) {
	d, _ := sample(t)
	n := len(d.Services)
	count := func(keep func(referral.Service) bool) int {
		c := 0
		for _, s := range d.Services {
			if keep(s) {
				c++
			}
		}
		return c
	}
	speaks := func(lang string) func(referral.Service) bool {
		return func(s referral.Service) bool { return slices.Contains(s.Languages, lang) }
	}
	tracked := count(func(s referral.Service) bool { return s.Capacity != nil })
	tests := []struct {
		name   string
		got    int
		lo, hi int
	}{
		{"organizations", len(d.Organizations), 100, 120},
		{"services", n, 260, 340},
		{"services with a rule (~40%)", count(func(s referral.Service) bool { return s.Eligibility != "" }), n * 30 / 100, n * 50 / 100},
		{"services with no location (~10%)", count(func(s referral.Service) bool { return len(s.Locations) == 0 }), n * 6 / 100, n * 14 / 100},
		{"located services with a county area too", count(func(s referral.Service) bool { return len(s.Locations) > 0 && len(s.ServiceAreas) > 0 }), 10, n / 4},
		{"services tracking capacity (~50%)", tracked, n * 40 / 100, n * 60 / 100},
		{"tracked services that are full (~10%)", count(func(s referral.Service) bool { return s.Capacity != nil && s.Capacity.Available == 0 }), tracked * 5 / 100, tracked * 15 / 100},
		{"full services with a waitlist", count(func(s referral.Service) bool {
			return s.Capacity != nil && s.Capacity.Available == 0 && s.Capacity.Waitlist > 0
		}), 1, n},
		{"inactive services (~3%)", count(func(s referral.Service) bool { return s.Status == referral.ServiceInactive }), n * 2 / 100, n * 4 / 100},
		{"services with HSDS age limits", count(func(s referral.Service) bool { return s.MinimumAge > 0 || s.MaximumAge > 0 }), 10, n / 3},
		{"services covering 2 or 3 domains", count(func(s referral.Service) bool { return len(s.Domains) >= 2 }), n / 5, n},
		{"services with a schedule (most)", count(func(s referral.Service) bool { return len(s.Schedules) > 0 }), n * 80 / 100, n},
		{"virtual services", count(func(s referral.Service) bool {
			return slices.ContainsFunc(s.ServiceAreas, func(a referral.ServiceArea) bool { return a.Kind == referral.AreaVirtual })
		}), 3, n / 10},
		{"zip-area services", count(func(s referral.Service) bool {
			return slices.ContainsFunc(s.ServiceAreas, func(a referral.ServiceArea) bool { return a.Kind == referral.AreaZip })
		}), 3, n / 10},
		{"Spanish (many)", count(speaks("es")), n / 4, n * 3 / 4},
		{"Somali", count(speaks("so")), 3, n / 4},
		{"Nepali", count(speaks("ne")), 3, n / 4},
		{"Arabic", count(speaks("ar")), 3, n / 4},
		{"French", count(speaks("fr")), 1, n / 4},
		{"Chinese", count(speaks("zh")), 1, n / 4},
		{"Swahili", count(speaks("sw")), 1, n / 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.GreaterOrEqual(t, tt.got, tt.lo)
			require.LessOrEqual(t, tt.got, tt.hi)
		})
	}
}

func TestDomainsAreTheBriefsAndFoodLeads(t *testing.T) {
	d, _ := sample(t)
	want := []referral.Domain{food, housing, homeless, repair, utility, transit, money, jobs, safety, ipv, mental, sud, child, legal, insure, social, educ, digital}
	per := map[referral.Domain]int{}
	for _, s := range d.Services {
		require.LessOrEqual(t, len(s.Domains), 3, s.ID.String())
		for _, dom := range s.Domains {
			require.Contains(t, want, dom, s.ID.String())
			per[dom]++
		}
	}
	for _, dom := range want {
		require.GreaterOrEqual(t, per[dom], 5, "domain %s is too thin", dom)
		if dom != food {
			require.Greater(t, per[food], per[dom], "food is the most common need in 211 listings")
		}
	}
}

func TestPlacesAndHours(t *testing.T) {
	d, _ := sample(t)
	cities := map[string]bool{}
	for _, p := range places {
		cities[p.city] = true
	}
	for _, s := range d.Services {
		require.Equal(t, "en", s.Languages[0], s.ID.String())
		require.LessOrEqual(t, len(s.Locations), 3, s.ID.String())
		for _, l := range s.Locations {
			require.True(t, l.Latitude >= minLat && l.Latitude <= maxLat, "latitude of %s", l.ID)
			require.True(t, l.Longitude >= minLon && l.Longitude <= maxLon, "longitude of %s", l.ID)
			require.NotNil(t, l.Address)
			require.NotEmpty(t, l.Address.Address1)
			require.Equal(t, "OH", l.Address.StateProvince)
			require.True(t, cities[l.Address.City], l.Address.City)
			require.Len(t, l.Address.PostalCode, 5)
		}
		for _, sc := range s.Schedules {
			require.Equal(t, "America/New_York", sc.Timezone)
		}
	}
}

func TestOrganizationsAreFictional(t *testing.T) {
	d, _ := sample(t)
	// Fragments of the names of real central Ohio agencies and national brands:
	// the generator's name parts must never produce one.
	real := []string{"mid-ohio", "faith mission", "huckleberry", "netcare", "maryhaven", "gladden", "st. stephen",
		"homeport", "equitas", "primaryone", "lower lights", "godman", "impact community", "choices", "ymca", "ywca",
		"salvation army", "goodwill", "star house", "cota", "lss", "legal aid society", "metropolitan housing"}
	names, phones := map[string]bool{}, map[string]bool{}
	for _, o := range d.Organizations {
		require.False(t, names[o.Name], "organization name %q repeated", o.Name)
		names[o.Name] = true
		require.False(t, phones[o.Phone], "phone %s repeated", o.Phone)
		phones[o.Phone] = true
		require.Regexp(t, `^(614|380)-555-01\d\d$`, o.Phone)
		require.True(t, strings.HasSuffix(o.Website, ".example.org"), o.Website)
		require.NotEmpty(t, o.Description)
		for _, r := range real {
			require.NotContains(t, strings.ToLower(o.Name), r)
		}
	}
}

// downtown is the point the demo searches from.
var downtown = referral.Point{Latitude: 39.9612, Longitude: -82.9988}

// person is the demo's person with no special facts; languages vary by case.
func person(langs ...string) referral.Person {
	income := 24000.0
	return referral.Person{
		Languages: langs, HouseholdSize: 3, IncomeAnnual: &income, State: "OH", County: "Franklin", Zip: "43205",
		BirthDate: referral.Date{Year: 1985, Month: time.April, Day: 12},
	}
}

// TestCoverageNearDowntown holds the guarantees the demo depends on: within 8 km
// of downtown, an ordinary person finds located services, many with room.
func TestCoverageNearDowntown(t *testing.T) {
	d, _ := sample(t)
	ix, err := matching.New(context.Background(), d.Services, matching.Options{})
	require.NoError(t, err)
	byID := map[referral.ID]referral.Service{}
	for _, s := range d.Services {
		byID[s.ID] = s
	}
	tests := []struct {
		domain     referral.Domain
		langs      []string
		located    int // matches at a location within 8 km
		withRoom   int // of those, services with more than 2 open slots
		speaksLang string
	}{
		{domain: food, langs: []string{"en"}, located: 3, withRoom: 3},
		{domain: housing, langs: []string{"en"}, located: 3, withRoom: 3},
		{domain: utility, langs: []string{"en"}, located: 3, withRoom: 3},
		{domain: transit, langs: []string{"en"}, located: 3, withRoom: 3},
		{domain: safety, langs: []string{"en"}, located: 3, withRoom: 3},
		{domain: mental, langs: []string{"en"}, located: 3, withRoom: 3},
		{domain: repair, langs: []string{"en"}, located: 3, withRoom: 3},
		{domain: jobs, langs: []string{"en"}, located: 3, withRoom: 3},
		{domain: food, langs: []string{"es"}, located: 1, speaksLang: "es"},
		{domain: food, langs: []string{"so"}, located: 1, speaksLang: "so"},
	}
	for _, tt := range tests {
		t.Run(string(tt.domain)+"/"+strings.Join(tt.langs, ","), func(t *testing.T) {
			res, err := ix.Match(context.Background(), matching.Request{
				Person:  person(tt.langs...),
				Needs:   []referral.Need{{Domain: tt.domain, Urgency: referral.Routine}},
				Near:    &downtown,
				RadiusM: 8000,
				Limit:   100,
				AsOf:    time.Date(2026, time.March, 2, 15, 0, 0, 0, time.UTC),
			})
			require.NoError(t, err)
			located, withRoom, speaking := 0, 0, 0
			for _, m := range res.Matches {
				s := byID[m.Service]
				if m.DistanceM == nil {
					continue
				}
				require.LessOrEqual(t, *m.DistanceM, 8000.0)
				require.Equal(t, referral.ServiceActive, s.Status)
				located++
				if s.Capacity != nil && s.Capacity.Available > 2 {
					withRoom++
				}
				if slices.Contains(s.Languages, tt.speaksLang) {
					speaking++
				}
			}
			t.Logf("%d located matches, %d with room, %d speaking %q", located, withRoom, speaking, tt.speaksLang)
			require.GreaterOrEqual(t, located, tt.located)
			require.GreaterOrEqual(t, withRoom, tt.withRoom)
			if tt.speaksLang != "" {
				require.Positive(t, speaking, "no nearby service speaks %s", tt.speaksLang)
			}
		})
	}
}
