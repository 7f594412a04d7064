package matching_test

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uber/h3-go/v4"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

var propertyRules = []string{
	"", "", "age >= 18", "age < 18 || pregnant", "fpl_percent <= 200", "fpl_percent <= 138 && household_size >= 2",
	"veteran", `county == "alameda"`, `speaks("es")`, `has_need("housing-instability") && age >= 62`,
	`insurance == "medicaid"`, `attributes["tribal"] == "yes"`, "disabled || age >= 65",
	// Three-valued logic: parts over unknown facts, negations, conditionals.
	"veteran || fpl_percent <= 138", `!(veteran && disabled) && zip == "94612"`, "pregnant ? age < 50 : disabled",
	`attributes["tribal"] == "yes" || (insurance == "medicaid" && not (state == "CA"))`,
	`speaks("es") || has_need("food-insecurity") && household_size > 2`,
	// Failures at run time on some people's values.
	`int(attributes["n"]) > 3 || veteran`, `household_size % (age - age) == 0 || pregnant`,
}

var propertyDomains = []referral.Domain{
	referral.FoodInsecurity, referral.HousingInstability, referral.TransportationInsecurity,
	referral.UtilityInsecurity, referral.VeteranStatus, referral.MentalHealth,
}

// propertyCentres are places that stress the geo index: a mid-latitude city, the
// far north, the antimeridian, and an H3 resolution-7 pentagon.
func propertyCentres() [][2]float64 {
	pent := h3.Pentagons(7)[3].LatLng()
	return [][2]float64{{37.8, -122.27}, {69.6, 18.9}, {-16.5, 179.95}, {pent.Lat, pent.Lng}}
}

func randomID(r *rand.Rand) referral.ID {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return referral.ID(b)
}

func jitter(r *rand.Rand, c [2]float64, km float64) (float64, float64) {
	lat := c[0] + (r.Float64()*2-1)*km/111
	lon := c[1] + (r.Float64()*2-1)*km/111/0.4
	if lon > 180 {
		lon -= 360
	}
	if lon < -180 {
		lon += 360
	}
	return lat, lon
}

func randomDirectory(r *rand.Rand, n int) []referral.Service {
	centres := propertyCentres()
	out := make([]referral.Service, n)
	for i := range out {
		c := centres[r.IntN(len(centres))]
		s := referral.Service{
			ID: randomID(r), Organization: randomID(r), Name: "service",
			Status:      []referral.ServiceStatus{referral.ServiceActive, referral.ServiceActive, referral.ServiceActive, referral.ServiceInactive}[r.IntN(4)],
			Eligibility: propertyRules[r.IntN(len(propertyRules))],
		}
		for _, d := range r.Perm(len(propertyDomains))[:1+r.IntN(2)] {
			s.Domains = append(s.Domains, propertyDomains[d])
		}
		if r.IntN(4) == 0 {
			s.MinimumAge = r.IntN(30)
			s.MaximumAge = s.MinimumAge + r.IntN(60)
		}
		if r.IntN(2) == 0 {
			s.Languages = []string{"en", "es", "vi"}[:1+r.IntN(3)]
		}
		if r.IntN(2) == 0 {
			s.Capacity = &referral.Capacity{Available: r.IntN(3), Waitlist: r.IntN(2)}
		}
		if r.IntN(5) == 0 {
			s.Schedules = []referral.Schedule{{ByDay: []string{"MO", "TU", "WE"}, OpensAt: "09:00", ClosesAt: "17:00", Timezone: "America/Los_Angeles"}}
		}
		for range r.IntN(3) + 1 {
			lat, lon := jitter(r, c, 40)
			s.Locations = append(s.Locations, referral.Location{ID: randomID(r), Latitude: lat, Longitude: lon})
		}
		switch r.IntN(10) {
		case 0:
			s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaVirtual}}
		case 1:
			s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaCounty, Values: []string{"Alameda"}}}
		case 2:
			s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaZip, Values: []string{"94612", "94607"}}}
		case 3:
			s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaState, Values: []string{"CA"}}}
		case 4:
			lat, lon := jitter(r, c, 20)
			d := 0.05 + r.Float64()*0.2
			if lon+d > 179.9 || lon-d < -179.9 {
				lon = 179.5 - d // polygons across the antimeridian are out of scope
			}
			s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaPolygon, Polygon: []referral.Point{
				{Latitude: lat - d, Longitude: lon - d}, {Latitude: lat - d, Longitude: lon + d},
				{Latitude: lat + d, Longitude: lon + d}, {Latitude: lat + d, Longitude: lon - d},
			}}}
		}
		out[i] = s
	}
	return out
}

func randomRequest(r *rand.Rand) matching.Request {
	c := propertyCentres()[r.IntN(4)]
	lat, lon := jitter(r, c, 30)
	income := float64(r.IntN(80000))
	answer := func() *bool { return []*bool{nil, referral.Known(true), referral.Known(false)}[r.IntN(3)] }
	req := matching.Request{
		Person: referral.Person{
			HouseholdSize: r.IntN(6), State: []string{"", "CA", "AK", "HI"}[r.IntN(4)],
			County: []string{"", "Alameda", "alameda ", "Marin"}[r.IntN(4)], Zip: []string{"", "94612"}[r.IntN(2)],
			Veteran: answer(), Pregnant: answer(), Disabled: answer(), Insurance: []string{"", "medicaid"}[r.IntN(2)],
			Languages:  [][]string{nil, {"es"}, {"en", "vi"}}[r.IntN(3)],
			Attributes: []map[string]string{nil, {"tribal": "yes"}, {"tribal": "no", "n": "7"}, {"n": "seven"}}[r.IntN(4)],
		},
		Near:    &referral.Point{Latitude: lat, Longitude: lon},
		RadiusM: []float64{100, 2000, 10000, 25000, 60000, 400000}[r.IntN(6)],
		Limit:   r.IntN(30),
		Order:   []matching.Order{"", matching.ByDistance}[r.IntN(2)],
		Full:    []matching.Full{"", matching.Exclude}[r.IntN(2)],
		Unknown: []matching.Unknown{"", matching.UnknownExclude, matching.UnknownInclude}[r.IntN(3)],
		Explain: r.IntN(2) == 0,
		AsOf:    time.Date(2026, time.February, 2, 12+r.IntN(12), 0, 0, 0, time.UTC),
	}
	if r.IntN(4) > 0 {
		req.Person.BirthDate = referral.Date{Year: 1930 + r.IntN(90), Month: time.March, Day: 3}
	}
	if r.IntN(4) > 0 {
		req.Person.IncomeAnnual = &income
	}
	for _, d := range r.Perm(len(propertyDomains))[:1+r.IntN(2)] {
		req.Needs = append(req.Needs, referral.Need{Domain: propertyDomains[d], Urgency: []referral.Urgency{referral.Routine, referral.Urgent, referral.Emergent}[r.IntN(3)]})
	}
	return req
}

// The index must return exactly what a scan of every service returns.
func TestIndexMatchesScan(t *testing.T) {
	ctx := context.Background()
	tiers := map[string]int{}
	for seed := range uint64(12) {
		r := rand.New(rand.NewPCG(seed, 42))
		ix, err := matching.New(context.Background(), randomDirectory(r, 300+r.IntN(500)), matching.Options{Resolution: 6 + int(seed%3)})
		require.NoError(t, err)
		snap := ix.Snapshot()
		total := 0
		for range 150 {
			req := randomRequest(r)
			got, err := snap.Match(ctx, req)
			require.NoError(t, err)
			want, err := snap.Scan(ctx, req)
			require.NoError(t, err)
			require.Equal(t, want, got, "seed %d request %+v", seed, req)
			total += len(got.Matches) + len(got.Excluded)
			for _, m := range got.Possible {
				require.NotEmpty(t, m.Unknown, "a possible match names what is unknown")
				require.True(t, slices.ContainsFunc(m.Reasons, func(r matching.Reason) bool { return r.Code == matching.ReasonUnknownFact }))
			}
			for _, x := range got.Excluded {
				for _, reason := range x.Reasons {
					tiers[reason.Code]++
				}
			}
			tiers["possible"] += len(got.Possible)
		}
		require.Positive(t, total, "seed %d produced no candidates at all", seed)
	}
	// The random requests must reach every kind of verdict the three-valued
	// rules give, or the equality above proves little.
	for _, code := range []string{"possible", matching.ReasonUnknownFact, matching.ReasonRuleFailed, matching.ReasonRuleError} {
		require.Positive(t, tiers[code], "no %s in %d seeds", code, 12)
	}
}

// Capacity-only updates patch the snapshot instead of rebuilding it; the index must
// still return exactly what a scan returns, before and after each update.
func TestIndexMatchesScanAfterCapacityUpdates(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(seed, 7))
		dir := randomDirectory(r, 400)
		ix, err := matching.New(context.Background(), dir, matching.Options{})
		require.NoError(t, err)
		for round := range 5 {
			var changes []matching.Change
			for range 40 {
				s := dir[r.IntN(len(dir))]
				var c *referral.Capacity
				if r.IntN(4) > 0 {
					c = &referral.Capacity{Available: r.IntN(3), Waitlist: r.IntN(2)}
				}
				changes = append(changes, matching.SetCapacity(s.ID, c))
			}
			require.NoError(t, ix.Update(ctx, changes...))
			snap := ix.Snapshot()
			for range 60 {
				req := randomRequest(r)
				got, err := snap.Match(ctx, req)
				require.NoError(t, err)
				want, err := snap.Scan(ctx, req)
				require.NoError(t, err)
				require.Equal(t, want, got, "seed %d round %d", seed, round)
			}
		}
	}
}

// Requests share pooled working memory: concurrent requests must not disturb one
// another, and a result is the caller's to change.
func TestConcurrentMatchesOwnTheirResults(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(99, 1))
	ix, err := matching.New(context.Background(), randomDirectory(r, 600), matching.Options{})
	require.NoError(t, err)
	snap := ix.Snapshot()
	reqs := make([]matching.Request, 80)
	want := make([]matching.Result, len(reqs))
	for i := range reqs {
		reqs[i] = randomRequest(r)
		want[i], err = snap.Scan(ctx, reqs[i])
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 3 {
				for i := range reqs {
					j := (i + w*7 + round) % len(reqs)
					got, err := snap.Match(ctx, reqs[j])
					if err != nil || !reflect.DeepEqual(want[j], got) {
						t.Errorf("worker %d request %d: differs from the scan", w, j)
						return
					}
					scribble(got)
				}
			}
		}()
	}
	wg.Wait()
}

// scribble changes everything a caller can reach in a result.
func scribble(res matching.Result) {
	for i := range res.Matches {
		m := &res.Matches[i]
		for k := range m.Reasons {
			m.Reasons[k].Code = "scribbled"
		}
		m.Reasons = append(m.Reasons, matching.Reason{Code: "appended"})
		if m.DistanceM != nil {
			*m.DistanceM = -1
		}
	}
	for i := range res.Excluded {
		x := &res.Excluded[i]
		for k := range x.Reasons {
			x.Reasons[k].Detail = "scribbled"
		}
		x.Reasons = append(x.Reasons, matching.Reason{Code: "appended"})
		if x.DistanceM != nil {
			*x.DistanceM = -1
		}
	}
}
