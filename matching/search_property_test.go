package matching_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// The index stops walking locations once its heaps are full and their worst
// entry bounds how far a location can lie and still rank, walks area entries
// best level first and stops at the first it rejects, and decides each
// service once at its nearest location. These shapes aim at each of those
// shortcuts; on every one the index must return exactly what the scan returns.
// Each shape also names what its requests must reach (candidates at the cut's
// bound, ties at the k-th place, farther matches outranking nearer ones,
// rounded distances, possible matches), so that a shape that drifts away from
// its edge fails rather than passes on easy requests. The rounding margins of
// the cut, which random directories cannot reach, are tested on their own in
// cut_internal_test.go.

// edgeShape configures a directory and its requests.
type edgeShape struct {
	name string
	// centres are where services and people are; spreadKm how far around.
	centres  [][2]float64
	spreadKm float64
	services int
	// clones gives that many services the same place and profile as the one
	// before, so scores and distances tie.
	clones int
	// cloneDomains gives each clone one of domains[:needs] of its own, so
	// that twins at one place sit in the runs of different domains.
	cloneDomains bool
	// domains are drawn from; needs is the most a request has.
	domains []referral.Domain
	needs   int
	// confidential is the share of locations that are confidential.
	confidential float64
	// areaShare is the share of services with a state or virtual area
	// (which also keep their locations).
	areaShare float64
	limits    []int
	radii     []float64
	order     []matching.Order
	weights   func(r *rand.Rand) *matching.Weights
	rules     []string
	// strong is the share of services that reach the cut's bound: they
	// address every domain a request of the shape asks for (requests ask for
	// all of domains[:needs]), have open capacity, speak the person's first
	// language and, with timed, are open at every hour. single is the share
	// that reach the bound of one domain's cut the same way, addressing that
	// domain alone. With either, requests ask for all of domains[:needs] and
	// the person's first language is English.
	strong, single float64
	timed          bool
	// updates is how many rounds of capacity updates the index takes, each
	// followed by the shape's requests again.
	updates int
	// wants are the coverage counts that must be positive over the shape's
	// requests (see coverage).
	wants []string
}

var (
	manyDomainsOnce sync.Once
	manyDomains     []referral.Domain
)

// registeredDomains registers, once, n host-defined domains beyond the Gravity
// set, so a directory can use more than 64.
func registeredDomains(t *testing.T, n int) []referral.Domain {
	manyDomainsOnce.Do(func() {
		for i := range n {
			code := referral.Domain(fmt.Sprintf("test-domain-%03d", i))
			require.NoError(t, referral.RegisterDomain(referral.DomainInfo{Code: code, System: "https://example.org/test-domains", Display: string(code)}))
			manyDomains = append(manyDomains, code)
		}
	})
	return manyDomains
}

// place is jitter kept off the poles.
func place(r *rand.Rand, c [2]float64, km float64) (float64, float64) {
	lat, lon := jitter(r, c, km)
	return max(-89.99, min(89.99, lat)), lon
}

func edgeDirectory(r *rand.Rand, sh edgeShape, org referral.ID, network referral.ID) []referral.Service {
	var out []referral.Service
	for len(out) < sh.services {
		c := sh.centres[r.IntN(len(sh.centres))]
		lat, lon := place(r, c, sh.spreadKm)
		s := referral.Service{
			ID: randomID(r), Network: network, Organization: org, Name: "service", Status: referral.ServiceActive,
			Eligibility: sh.rules[r.IntN(len(sh.rules))],
		}
		if r.IntN(8) == 0 {
			s.Status = referral.ServiceInactive
		}
		for _, d := range r.Perm(len(sh.domains))[:1+r.IntN(min(3, len(sh.domains)))] {
			s.Domains = append(s.Domains, sh.domains[d])
		}
		if r.IntN(2) == 0 {
			s.Languages = []string{"en", "es", "vi"}[:1+r.IntN(3)]
		}
		if r.IntN(3) > 0 {
			s.Capacity = &referral.Capacity{Available: r.IntN(3), Waitlist: r.IntN(2)}
		}
		if r.IntN(6) == 0 {
			s.Schedules = []referral.Schedule{{ByDay: []string{"MO", "TU", "WE"}, OpensAt: "09:00", ClosesAt: "17:00", Timezone: "America/New_York"}}
		}
		switch u := r.Float64(); {
		case u < sh.strong:
			s.Domains = slices.Clone(sh.domains[:sh.needs])
			tight(&s, sh.timed)
		case u < sh.strong+sh.single:
			s.Domains = []referral.Domain{sh.domains[r.IntN(sh.needs)]}
			tight(&s, sh.timed)
		case sh.timed && r.IntN(2) == 0:
			s.Schedules = []referral.Schedule{sundaysOnly}
		}
		for range 1 + r.IntN(2) {
			l := referral.Location{ID: randomID(r), Latitude: lat, Longitude: lon, Confidential: r.Float64() < sh.confidential}
			lat, lon = place(r, c, sh.spreadKm)
			s.Locations = append(s.Locations, l)
		}
		if r.Float64() < sh.areaShare {
			s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaVirtual}}
			if r.IntN(2) == 0 {
				s.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaState, Values: []string{"CA"}}}
			}
		}
		out = append(out, s)
		for range sh.clones {
			if len(out) == sh.services {
				break
			}
			twin := s.Clone()
			twin.ID = randomID(r)
			if sh.cloneDomains {
				twin.Domains = []referral.Domain{sh.domains[r.IntN(sh.needs)]}
			}
			for i := range twin.Locations {
				twin.Locations[i].ID = randomID(r)
			}
			out = append(out, twin)
		}
	}
	return out
}

// alwaysOpen and sundaysOnly are schedules whose open value is 1 and 0 at
// every time the shapes' requests ask about (a Monday).
var (
	alwaysOpen  = referral.Schedule{ByDay: []string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}, OpensAt: "00:00", ClosesAt: "24:00", Timezone: "UTC"}
	sundaysOnly = referral.Schedule{ByDay: []string{"SU"}, OpensAt: "09:00", ClosesAt: "17:00", Timezone: "UTC"}
)

// tight makes s reach the most every score term but distance and needs can:
// active, open capacity, English (the first language of the shape's people)
// and, in a directory with opening hours, open now. Its rule is left as it
// is: a candidate at the bound that its rule then turns away must not move
// the cut.
func tight(s *referral.Service, timed bool) {
	s.Status, s.Languages, s.Capacity = referral.ServiceActive, []string{"en"}, &referral.Capacity{Available: 1 + len(s.Domains)}
	s.Schedules = nil
	if timed {
		s.Schedules = []referral.Schedule{alwaysOpen}
	}
}

func edgeRequest(r *rand.Rand, sh edgeShape, viewers []*referral.Actor) matching.Request {
	c := sh.centres[r.IntN(len(sh.centres))]
	lat, lon := place(r, c, sh.spreadKm)
	answer := func() *bool { return []*bool{nil, referral.Known(true), referral.Known(false)}[r.IntN(3)] }
	req := matching.Request{
		Person: referral.Person{
			HouseholdSize: r.IntN(5), State: []string{"", "CA"}[r.IntN(2)], Veteran: answer(), Disabled: answer(),
			Languages: [][]string{nil, {"es"}, {"en", "vi"}}[r.IntN(3)],
		},
		Near:    &referral.Point{Latitude: lat, Longitude: lon},
		RadiusM: sh.radii[r.IntN(len(sh.radii))],
		Limit:   sh.limits[r.IntN(len(sh.limits))],
		Order:   sh.order[r.IntN(len(sh.order))],
		Full:    []matching.Full{"", matching.Exclude}[r.IntN(2)],
		Unknown: []matching.Unknown{"", matching.UnknownExclude, matching.UnknownInclude}[r.IntN(3)],
		Viewer:  viewers[r.IntN(len(viewers))],
		AsOf:    time.Date(2026, time.February, 2, 10+r.IntN(12), 0, 0, 0, time.UTC),
	}
	if r.IntN(4) > 0 {
		req.Person.BirthDate = referral.Date{Year: 1940 + r.IntN(80), Month: time.May, Day: 5}
	}
	if r.IntN(4) > 0 {
		income := float64(r.IntN(60000))
		req.Person.IncomeAnnual = &income
	}
	urgency := func() referral.Urgency {
		return []referral.Urgency{referral.Routine, referral.Urgent, referral.Emergent}[r.IntN(3)]
	}
	if sh.strong+sh.single > 0 {
		req.Person.Languages = [][]string{{"en"}, {"en", "es"}}[r.IntN(2)]
		for _, d := range r.Perm(sh.needs) {
			req.Needs = append(req.Needs, referral.Need{Domain: sh.domains[d], Urgency: urgency()})
		}
		return req
	}
	for _, d := range r.Perm(len(sh.domains))[:1+r.IntN(min(sh.needs, len(sh.domains)))] {
		req.Needs = append(req.Needs, referral.Need{Domain: sh.domains[d], Urgency: urgency()})
	}
	return req
}

// coverage counts what a shape's requests reached, so that a shape which no
// longer produces what it is there for fails instead of passing vacuously.
type coverage map[string]int

// Coverage names.
const (
	// matched: requests with at least one match.
	covMatched = "matched"
	// farFirst: a location match ranked before a nearer one (score order).
	farFirst = "far before near"
	// tieAtK: the limit-th and the next candidate of a tier rank equal on
	// score (score order) or distance (distance order): the cut must keep
	// what ties with the heap's worst.
	tieAtK = "tie at the k-th"
	// atBound: the last match of a full list has every score term but
	// distance at the most the cut's bound allows: the cut is then as tight
	// as it can be, and one a little too near drops a match.
	atBound = "k-th at the bound"
	// atOneBound: the same for a service addressing one of the request's
	// domains, at the bound of that domain's own cut.
	atOneBound = "k-th at one domain's bound"
	// rounded: a match at a confidential location shown rounded.
	rounded = "rounded distance"
	// possible: requests with a possible match.
	possible = "possible"
	// cancelled: requests cancelled while searching.
	cancelled = "cancelled"
)

// observe adds what got, the index's answer to req, reached. more is the scan's
// answer to req with a limit one higher.
func (c coverage) observe(req matching.Request, got, more matching.Result, w matching.Weights, timed bool) {
	if len(got.Matches) > 0 {
		c[covMatched]++
	}
	if len(got.Possible) > 0 {
		c[possible]++
	}
	limit := req.Limit
	if limit == 0 {
		limit = matching.DefaultLimit
	}
	most := 0.0
	for _, n := range req.Needs {
		most = max(most, map[referral.Urgency]float64{referral.Routine: 0, referral.Urgent: 0.5, referral.Emergent: 1}[n.Urgency])
	}
	open := 0.5
	if timed {
		open = 1
	}
	for _, tier := range [][2][]matching.Match{{got.Matches, more.Matches}, {got.Possible, more.Possible}} {
		ms, next := tier[0], tier[1]
		for i, m := range ms {
			if m.Vicinity != "" {
				c[rounded]++
			}
			if i > 0 && m.DistanceM != nil && ms[i-1].DistanceM != nil && *ms[i-1].DistanceM > *m.DistanceM {
				c[farFirst]++
			}
		}
		if len(ms) == limit {
			b := ms[limit-1].Breakdown
			if b.Language == w.Language && b.Capacity == w.Capacity && b.Open == w.Open*open {
				switch {
				case b.Needs == w.Needs && b.Urgency == w.Urgency*most/2:
					c[atBound]++
				case len(req.Needs) > 1 && b.Needs == w.Needs/float64(len(req.Needs)):
					c[atOneBound]++
				}
			}
		}
		if len(next) > limit {
			a, b := next[limit-1], next[limit]
			if (req.Order != matching.ByDistance && a.Score == b.Score) ||
				(req.Order == matching.ByDistance && a.DistanceM != nil && b.DistanceM != nil && *a.DistanceM == *b.DistanceM) {
				c[tieAtK]++
			}
		}
	}
}

// doneOnceStarted is a context that is not done when a request checks it on
// entry, and done from then on: the request must notice while it searches,
// and return the context's error, never a partial result.
type doneOnceStarted struct {
	context.Context
	checked atomic.Bool
	done    chan struct{}
}

func newDoneOnceStarted() *doneOnceStarted {
	c := &doneOnceStarted{Context: context.Background(), done: make(chan struct{})}
	close(c.done)
	return c
}

func (c *doneOnceStarted) Done() <-chan struct{} { return c.done }

func (c *doneOnceStarted) Err() error {
	if c.checked.Swap(true) {
		return context.Canceled
	}
	return nil
}

func TestIndexMatchesScanOnEveryShape(t *testing.T) {
	city := [][2]float64{{40.71, -74.01}}
	gravity := propertyDomains
	rules := []string{"", "", "", "age >= 18", "fpl_percent <= 200", "veteran || disabled", `has_need("food-insecurity")`}
	plain := func(*rand.Rand) *matching.Weights { return nil }
	shapes := []edgeShape{
		{name: "ties at the k-th place", centres: city, spreadKm: 3, services: 600, clones: 9, cloneDomains: true, domains: gravity[:2], needs: 2,
			limits: []int{1, 2, 5, 10, 11, 19, 20, 21}, radii: []float64{2000, 10000}, order: []matching.Order{"", matching.ByDistance}, weights: plain, rules: []string{""},
			wants: []string{covMatched, tieAtK}},
		{name: "small limits, score order, far beats near", centres: city, spreadKm: 8, services: 1500, domains: gravity, needs: 3,
			limits: []int{1, 2, 3, 5}, radii: []float64{5000, 10000, 25000}, order: []matching.Order{""}, weights: plain, rules: rules,
			wants: []string{covMatched, farFirst, possible}},
		{name: "every service at the bound: the k nearest", centres: city, spreadKm: 8, services: 1500, domains: gravity[:2], needs: 2, strong: 1,
			limits: []int{5, 10, 20, 40}, radii: []float64{5000, 10000}, order: []matching.Order{""}, weights: plain, rules: []string{""},
			wants: []string{covMatched, atBound}},
		{name: "the k-th at the bound, score order", centres: city, spreadKm: 6, services: 1200, domains: gravity[:3], needs: 2, strong: 0.3,
			limits: []int{1, 2, 3, 5, 10}, radii: []float64{3000, 8000, 20000}, order: []matching.Order{""}, weights: plain, rules: rules,
			wants: []string{covMatched, atBound, farFirst}},
		{name: "one domain's bound, per-domain cuts", centres: city, spreadKm: 6, services: 1200, domains: gravity[:4], needs: 3, single: 0.5, strong: 0.05,
			limits: []int{1, 3, 5, 10}, radii: []float64{3000, 8000, 20000}, order: []matching.Order{""}, weights: plain, rules: rules,
			wants: []string{covMatched, farFirst, atOneBound}},
		{name: "open now at the bound", centres: city, spreadKm: 6, services: 1200, domains: gravity[:2], needs: 2, strong: 0.3, single: 0.2, timed: true,
			limits: []int{1, 2, 5, 10}, radii: []float64{3000, 8000, 20000}, order: []matching.Order{""}, weights: plain, rules: rules,
			wants: []string{covMatched, atBound, atOneBound, farFirst}},
		{name: "confidential sites at the bound, ties in rounded distances", centres: city, spreadKm: 4, services: 1200, clones: 2, domains: gravity[:2], needs: 2, strong: 0.4, confidential: 0.5,
			limits: []int{1, 2, 3, 5, 20}, radii: []float64{2500, 6000, 12000}, order: []matching.Order{"", matching.ByDistance}, weights: plain, rules: rules,
			wants: []string{covMatched, atBound, rounded, tieAtK, possible}},
		{name: "capacity updates move candidates off and onto the bound", centres: city, spreadKm: 5, services: 900, domains: gravity[:2], needs: 2, strong: 0.4, single: 0.2, updates: 3,
			limits: []int{1, 3, 10}, radii: []float64{4000, 12000}, order: []matching.Order{"", matching.ByDistance}, weights: plain, rules: rules,
			wants: []string{covMatched, atBound, farFirst}},
		{name: "confidential sites, every viewer", centres: city, spreadKm: 4, services: 900, domains: gravity[:3], needs: 2, confidential: 0.4,
			limits: []int{0, 1, 3, 20}, radii: []float64{800, 1500, 3000, 10000}, order: []matching.Order{"", matching.ByDistance}, weights: plain, rules: rules,
			wants: []string{covMatched, rounded}},
		{name: "areas with locations near the person", centres: city, spreadKm: 6, services: 900, domains: gravity[:3], needs: 2, areaShare: 0.5,
			limits: []int{1, 5, 20, 60}, radii: []float64{3000, 10000}, order: []matching.Order{"", matching.ByDistance}, weights: plain, rules: rules,
			wants: []string{covMatched}},
		{name: "more than 64 domains, many needs", centres: city, spreadKm: 5, services: 1500, domains: registeredDomains(t, 90), needs: 6, areaShare: 0.1,
			limits: []int{1, 4, 20}, radii: []float64{5000, 20000}, order: []matching.Order{"", matching.ByDistance}, weights: plain, rules: rules,
			wants: []string{covMatched}},
		{name: "odd weights", centres: city, spreadKm: 5, services: 900, domains: gravity[:3], needs: 3, areaShare: 0.2,
			limits: []int{1, 3, 20}, radii: []float64{5000, 15000}, order: []matching.Order{""}, rules: rules,
			weights: func(r *rand.Rand) *matching.Weights {
				pick := func() float64 { return []float64{0, 1e-12, 0.3, 1, 7, 1e6}[r.IntN(6)] }
				return &matching.Weights{Distance: pick(), AreaDistance: []float64{0, 0.5, 1}[r.IntN(3)], Needs: pick(),
					Urgency: pick(), Language: pick(), Capacity: pick(), Open: pick()}
			},
			wants: []string{covMatched}},
		{name: "poles, the antimeridian, large radii", centres: [][2]float64{{89.7, 10}, {-89.6, -120}, {0.5, 179.99}, {-12, -179.98}, {70, 179.9}},
			spreadKm: 60, services: 900, domains: gravity[:2], needs: 2, areaShare: 0.05,
			limits: []int{1, 10, 50}, radii: []float64{20000, 150000, 400000, 1000000}, order: []matching.Order{"", matching.ByDistance}, weights: plain, rules: rules,
			wants: []string{covMatched}},
	}
	ctx := context.Background()
	for si, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			cov := coverage{}
			for seed := range uint64(3) {
				r := rand.New(rand.NewPCG(seed, uint64(si)+100))
				network, org := randomID(r), randomID(r)
				dir := edgeDirectory(r, sh, org, network)
				weights := sh.weights(r)
				ix, err := matching.New(ctx, dir, matching.Options{Weights: weights})
				require.NoError(t, err)
				w := matching.DefaultWeights()
				if weights != nil {
					w = *weights
				}
				viewers := []*referral.Actor{nil,
					{Network: network, Organization: org, User: "staff", Role: referral.RoleStaff},
					{Network: network, Organization: randomID(r), User: "other", Role: referral.RoleStaff}}
				for round := range 1 + sh.updates {
					if round > 0 {
						require.NoError(t, ix.Update(ctx, capacityChanges(r, dir)...))
					}
					snap := ix.Snapshot()
					for n := range 120 {
						req := edgeRequest(r, sh, viewers)
						if n%20 == 19 {
							// Cancelled once the search has started: the
							// context's error, nothing else.
							res, err := snap.Match(newDoneOnceStarted(), req)
							require.ErrorIs(t, err, context.Canceled)
							require.Equal(t, matching.Result{}, res)
							cov[cancelled]++
							continue
						}
						got, err := snap.Match(ctx, req)
						require.NoError(t, err)
						want, err := snap.Scan(ctx, req)
						require.NoError(t, err)
						require.Equal(t, want, got, "seed %d round %d request %+v", seed, round, req)
						more := req
						if more.Limit == 0 {
							more.Limit = matching.DefaultLimit
						}
						more.Limit++
						next, err := snap.Scan(ctx, more)
						require.NoError(t, err)
						cov.observe(req, got, next, w, sh.timed)
					}
				}
			}
			t.Logf("coverage: %v", cov)
			for _, want := range append(sh.wants, cancelled) {
				require.Positive(t, cov[want], "no request reached %q: %v", want, cov)
			}
		})
	}
}

// capacityChanges sets the capacity of a tenth of dir's services at random:
// open, waitlist only, full or not published.
func capacityChanges(r *rand.Rand, dir []referral.Service) []matching.Change {
	var out []matching.Change
	for range len(dir) / 10 {
		var c *referral.Capacity
		switch r.IntN(4) {
		case 0:
			c = &referral.Capacity{Available: 1}
		case 1:
			c = &referral.Capacity{Waitlist: 1}
		case 2:
			c = &referral.Capacity{}
		}
		out = append(out, matching.SetCapacity(dir[r.IntN(len(dir))].ID, c))
	}
	return out
}
