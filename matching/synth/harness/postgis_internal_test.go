package harness

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/matching/synth"
	"github.com/refkit/refkit/matching/synth/internal/rulemix"
	"github.com/refkit/refkit/referral"
)

func postgresURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("REFKIT_BENCH_POSTGRES_URL")
	if url == "" {
		t.Skip("set REFKIT_BENCH_POSTGRES_URL (see matching/synth/postgis-server.sh) to compare with PostGIS")
	}
	return url
}

// idGenerator returns a reproducible id generator for test directories.
func idGenerator(seed uint64) *referral.IDGenerator {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	t := time.Date(2025, time.June, 1, 0, 0, 0, 0, time.UTC)
	return referral.NewIDGenerator(func() time.Time { return t }, rand.NewChaCha8(key))
}

func TestTemplatesCompileInBothForms(t *testing.T) {
	for i, tmpl := range rulemix.Templates {
		text := tmpl.Text("Cook")
		if text != "" {
			require.NoError(t, matching.CheckRule(text), "template %d", i)
		}
		for _, ref := range factRef.FindAllString(tmpl.SQL, -1) {
			require.Contains(t, paramTypes, ref[1:], "template %d names an unknown fact", i)
		}
	}
	q, params, err := eligibleQuery()
	require.NoError(t, err)
	require.NotContains(t, q, "@")
	require.Contains(t, params, "fpl_percent")
	require.Contains(t, q, "ST_DWithin(geog,")
	require.Contains(t, q, "$"+"1::")
}

// SQL's NULL logic is the engine's three-valued logic, so rules need no guards.
func TestSQLRuleKeepsUnknownFactsNull(t *testing.T) {
	sql := sqlRule()
	require.Contains(t, sql, "WHEN 6 THEN (@age < 18 OR @pregnant)")
	require.Contains(t, sql, "WHEN 10 THEN (@fpl_percent <= 200 AND @household_size >= 2)")
	require.NotContains(t, sql, "IS NOT NULL")
}

func TestCompareEligible(t *testing.T) {
	ids := idGenerator(5)
	a, b, la, lb := ids.MustNew(), ids.MustNew(), ids.MustNew(), ids.MustNew()
	d := 1234.5
	index := matching.Result{Matches: []matching.Match{
		{Service: a, Location: la, DistanceM: &d},
		{Service: b, Area: referral.AreaState},
	}}
	same := []Eligible{{Service: b, Area: referral.AreaState}, {Service: a, Location: la, DistanceM: 1234.53}}
	for _, tc := range []struct {
		name string
		pg   []Eligible
		ok   bool
	}{
		{"identical", same, true},
		{"missing", same[:1], false},
		{"extra", append([]Eligible{{Service: ids.MustNew(), Area: referral.AreaVirtual}}, same...), false},
		{"other location", []Eligible{same[0], {Service: a, Location: lb, DistanceM: 1234.5}}, false},
		{"other area", []Eligible{{Service: b, Area: referral.AreaVirtual}, same[1]}, false},
		{"distance off", []Eligible{same[0], {Service: a, Location: la, DistanceM: 1234.6}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := compareEligible(index, tc.pg)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, errDiffer)
			}
		})
	}
}

func TestSiteRowsRejectsForeignDirectories(t *testing.T) {
	dir := synth.Directory(2, 50)
	dir[3].Eligibility = "income_annual < 1"
	_, err := siteRows(dir)
	require.ErrorIs(t, err, referral.ErrInvalid)
	dir = synth.Directory(2, 50)
	dir[1].ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaPolygon}}
	_, err = siteRows(dir)
	require.ErrorIs(t, err, referral.ErrInvalid)
}

// samplePersons are people chosen to sit on every template's edges: ages and
// poverty levels at the thresholds, unknown facts, states outside the poverty
// tables, language tags with regions, counties in other cases.
func samplePersons(asOf time.Time) []referral.Person {
	born := func(age int) referral.Date {
		return referral.Date{Year: asOf.Year() - age, Month: asOf.Month(), Day: asOf.Day()}
	}
	// income at pct percent of the 2026 contiguous guideline for a household of size.
	income := func(pct float64, size int) *float64 {
		v := pct / 100 * (15960 + float64(size-1)*5680)
		return &v
	}
	base := referral.Person{BirthDate: born(40), HouseholdSize: 2, IncomeAnnual: income(150, 2), State: "IL", County: "Cook", Languages: []string{"en"}}
	var out []referral.Person
	with := func(f func(p *referral.Person)) {
		p := base
		f(&p)
		out = append(out, p)
	}
	for _, age := range []int{0, 17, 18, 24, 25, 59, 60, 64, 65, 90} {
		with(func(p *referral.Person) { p.BirthDate = born(age) })
		with(func(p *referral.Person) {
			p.BirthDate = born(age)
			p.Pregnant = referral.Known(true)
			p.IncomeAnnual = income(130, 2)
		})
	}
	with(func(p *referral.Person) { p.BirthDate = born(18); p.BirthDate.Day++ }) // turns 18 tomorrow
	for _, pct := range []float64{0, 100, 137.9, 138, 138.1, 185, 199.99, 200, 200.01, 399, 400, 401, 1000} {
		for _, size := range []int{1, 2, 5} {
			with(func(p *referral.Person) { p.IncomeAnnual = income(pct, size); p.HouseholdSize = size })
		}
	}
	with(func(p *referral.Person) { p.BirthDate = referral.Date{} })
	with(func(p *referral.Person) {
		p.BirthDate = referral.Date{}
		p.Pregnant = referral.Known(true)
		p.Disabled = referral.Known(true)
	})
	with(func(p *referral.Person) { p.IncomeAnnual = nil })
	with(func(p *referral.Person) { p.HouseholdSize = 0 })
	with(func(p *referral.Person) { p.State = "PR" }) // outside the poverty tables
	with(func(p *referral.Person) { p.State = "AK"; p.IncomeAnnual = income(160, 2) })
	with(func(p *referral.Person) { p.Veteran = referral.Known(true) })
	with(func(p *referral.Person) { p.Disabled = referral.Known(true); p.BirthDate = born(30) })
	for _, langs := range [][]string{{"es"}, {"ES-mx"}, {"en", "es-US"}, {"est"}, {"fr"}, nil} {
		with(func(p *referral.Person) { p.Languages = langs })
	}
	for _, county := range []string{"cook", "Miami-Dade", "St. Louis City", "", "Cook "} {
		with(func(p *referral.Person) { p.County = county })
	}
	return out
}

// TestRuleTemplatesAgree checks, for every rule template, that the engine's expr
// rule and the SQL predicate accept exactly the same sample persons. Each
// template (with three counties for the per-county one) is a service at one
// point; each person asks for services there, with and without the need
// has_need tests.
func TestRuleTemplatesAgree(t *testing.T) {
	url := postgresURL(t)
	ctx := context.Background()
	ids := idGenerator(99)
	type svcRule struct {
		template int
		text     string
	}
	rules := map[referral.ID]svcRule{}
	var dir []referral.Service
	for i, tmpl := range rulemix.Templates {
		counties := []string{""}
		if tmpl.PerCounty {
			counties = []string{"Cook", "Miami-Dade", "St. Louis City"}
		}
		for _, c := range counties {
			s := referral.Service{
				ID: ids.MustNew(), Organization: ids.MustNew(), Name: "rule", Status: referral.ServiceActive,
				Domains: synth.Domains, Eligibility: tmpl.Text(c),
				Locations: []referral.Location{{ID: ids.MustNew(), Latitude: 41.88, Longitude: -87.63}},
			}
			rules[s.ID] = svcRule{i, s.Eligibility}
			dir = append(dir, s)
		}
	}
	ix, err := matching.New(ctx, dir, matching.Options{})
	require.NoError(t, err)
	pg, err := LoadPostGIS(ctx, url, dir)
	require.NoError(t, err)
	defer func() { require.NoError(t, pg.Close(ctx)) }()

	asOf := time.Date(2026, time.March, 4, 17, 0, 0, 0, time.UTC)
	passed, failed := map[int]bool{}, map[int]bool{}
	for i, p := range samplePersons(asOf) {
		for _, need := range []referral.Domain{referral.FoodInsecurity, referral.HousingInstability} {
			req := matching.Request{
				Person: p, Needs: []referral.Need{{Domain: need, Urgency: referral.Routine}},
				Near: &referral.Point{Latitude: 41.881, Longitude: -87.631}, RadiusM: 1000,
				Limit: matching.MaxLimit, AsOf: asOf,
			}
			res, err := ix.Match(ctx, req)
			require.NoError(t, err)
			viaExpr := map[referral.ID]bool{}
			for _, m := range res.Matches {
				viaExpr[m.Service] = true
			}
			found, err := pg.Eligible(ctx, req)
			require.NoError(t, err)
			viaSQL := map[referral.ID]bool{}
			for _, e := range found {
				viaSQL[e.Service] = true
			}
			for id, r := range rules {
				require.Equal(t, viaExpr[id], viaSQL[id], "template %d %q, person %d, need %s: expr %v, SQL %v",
					r.template, r.text, i, need, viaExpr[id], viaSQL[id])
				if viaExpr[id] {
					passed[r.template] = true
				} else {
					failed[r.template] = true
				}
			}
		}
	}
	for i := range rulemix.Templates {
		require.True(t, passed[i], "template %d never passes on the sample persons", i)
		require.True(t, failed[i] || rulemix.Templates[i].Expr == "", "template %d never fails on the sample persons", i)
	}
}

// TestPostGISAgreesOnEveryPolicy compares PostGIS with the index on a small
// directory, for both capacity policies and with unknown facts, beyond the
// harness's query mix.
func TestPostGISAgreesOnEveryPolicy(t *testing.T) {
	url := postgresURL(t)
	ctx := context.Background()
	dir := synth.Directory(21, 4000)
	ix, err := matching.New(ctx, dir, matching.Options{})
	require.NoError(t, err)
	pg, err := LoadPostGIS(ctx, url, dir)
	require.NoError(t, err)
	defer func() { require.NoError(t, pg.Close(ctx)) }()
	compared, nonEmpty := 0, 0
	for i, req := range synth.Requests(22, 300, false) {
		req.Limit = matching.MaxLimit
		switch i % 4 {
		case 1:
			req.Full = matching.Exclude
		case 2:
			req.Person.BirthDate = referral.Date{}
			req.Person.IncomeAnnual = nil
		case 3:
			req.Person.Zip = "60601"
			req.RadiusM = 30000
			req.Full = matching.Exclude
		}
		res, err := ix.Match(ctx, req)
		require.NoError(t, err)
		found, err := pg.Eligible(ctx, req)
		require.NoError(t, err)
		require.NoError(t, compareEligible(res, found), "request %d", i)
		compared++
		if len(found) > 0 {
			nonEmpty++
		}
	}
	require.Equal(t, 300, compared)
	require.Greater(t, nonEmpty, 150)
}

func TestEligibleRejectsBadRequests(t *testing.T) {
	url := postgresURL(t)
	ctx := context.Background()
	pg, err := LoadPostGIS(ctx, url, synth.Directory(3, 100))
	require.NoError(t, err)
	defer func() { require.NoError(t, pg.Close(ctx)) }()
	req := synth.Requests(4, 1, false)[0]
	noAsOf := req
	noAsOf.AsOf = time.Time{}
	noNeeds := req
	noNeeds.Needs = nil
	for _, bad := range []matching.Request{noAsOf, noNeeds} {
		_, err := pg.Eligible(ctx, bad)
		require.ErrorIs(t, err, referral.ErrInvalid)
	}
	_, err = LoadPostGIS(ctx, strings.Replace(url, "postgres://", "postgres://nobody-at-all@", 1)+"&connect_timeout=2", nil)
	require.Error(t, err)
	require.False(t, errors.Is(err, referral.ErrInvalid))
}
