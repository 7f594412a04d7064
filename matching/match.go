package matching

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/refkit/refkit/referral"
)

// Reason codes. Matches carry the first group; exclusions the second.
const (
	ReasonCoversNeed   = "covers-need"
	ReasonWithinRadius = "within-radius"
	ReasonServesArea   = "serves-area"
	ReasonLanguage     = "speaks-language"
	ReasonCapacity     = "has-capacity"
	ReasonWaitlist     = "waitlist-open"
	ReasonOpenNow      = "open-now"
	ReasonEligible     = "eligible"

	ReasonInactive       = "inactive"
	ReasonDomainMismatch = "domain-mismatch"
	ReasonOutOfRadius    = "out-of-radius"
	ReasonNoCapacity     = "no-capacity"
	ReasonAgeLimit       = "age-limit"
	ReasonUnknownFact    = "unknown-fact"
	ReasonRuleFailed     = "rule-failed"
	ReasonRuleError      = "rule-error"
	// ReasonUnmatchable: the service can never match until its record is
	// fixed (no SDOH domain, or no location with coordinates and no area).
	ReasonUnmatchable = "unmatchable"
)

// ExplainFactor widens the search when Explain is on: locations beyond the radius
// but within ExplainFactor × radius are reported as excluded "out-of-radius", so a
// person can see what lies just outside.
const ExplainFactor = 1.25

// Reason says why a service matched or was excluded. Detail never holds personal
// data: it names domains, rule clauses, distances and area kinds.
type Reason struct {
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
}

// Match is one service that matches the request, or, in Result.Possible, one
// that may.
type Match struct {
	Service referral.ID `json:"service_id"`
	// Organization is the organization that provides the service, as the
	// snapshot that answered the request had it: a referral goes to it, with no
	// second lookup that a concurrent update could change.
	Organization referral.ID `json:"organization_id"`
	// Location is the service's nearest location within the radius; zero for a match
	// through a service area.
	Location referral.ID `json:"location_id,omitzero"`
	// DistanceM is the great-circle distance to Location in metres (to 0.1 m); nil
	// for a match through a service area. For a location the viewer may not
	// see exactly, it is rounded (see Vicinity).
	DistanceM *float64 `json:"distance_m,omitempty"`
	// Vicinity is set for a confidential location the request's Viewer may not
	// see exactly (referral.Location.Confidential): the H3 cell, at
	// VicinityResolution, that holds it, in place of its exact place.
	// DistanceM, the within-radius reason and the score's distance term then
	// use the distance rounded to whole kilometres (at least 1 km), and so
	// does the ranking, so nothing in the result tells the exact distance.
	Vicinity string `json:"vicinity,omitempty"`
	// Area is the kind of service area that matched, for area matches.
	Area      referral.AreaKind `json:"area,omitempty"`
	Score     float64           `json:"score"`
	Breakdown Breakdown         `json:"score_breakdown"`
	Reasons   []Reason          `json:"reasons"`
	// Unknown, for a possible match, names the facts the request left unknown
	// that would settle its eligibility (for example "income_annual"): what to
	// ask the person. Empty for a match.
	Unknown []string `json:"unknown_facts,omitempty"`
}

// Exclusion is a candidate that did not match, with every reason it failed.
type Exclusion struct {
	Service   referral.ID `json:"service_id"`
	Location  referral.ID `json:"location_id,omitzero"`
	DistanceM *float64    `json:"distance_m,omitempty"`
	// Vicinity is as in Match: set, and DistanceM and the reasons' distances
	// rounded, for a confidential location the viewer may not see exactly.
	Vicinity string   `json:"vicinity,omitempty"`
	Reasons  []Reason `json:"reasons"`
}

// Result is the answer to a request. Possible is set only when the request asks
// for it (Request.Unknown "include"), Excluded only with Explain.
type Result struct {
	Matches []Match `json:"matches"`
	// Possible are the services that match but for eligibility the request's
	// unknown facts leave open, ranked as matches are, at most Limit of them.
	Possible []Match     `json:"possible,omitempty"`
	Excluded []Exclusion `json:"excluded,omitzero"`
}

// Match answers a request with the geo index: candidates come from the grid disk
// around the request's point and from the service areas that cover the person.
// A cancelled or expired ctx stops it within about one rule's worst-case cost
// (see RuleLimits), returning ctx.Err().
func (s *Snapshot) Match(ctx context.Context, req Request) (Result, error) {
	ctx, obs := s.tel.begin(ctx, &req)
	res, candidates, err := s.run(ctx, req, false)
	obs.end(ctx, &req, &res, candidates, len(s.source), err)
	return res, err
}

// scan answers a request by examining every service, without the geo index. It is
// the reference Match is tested and benchmarked against; results are identical.
func (s *Snapshot) scan(ctx context.Context, req Request) (Result, error) {
	res, _, err := s.run(ctx, req, true)
	return res, err
}

// query is a validated request with everything derived from it once. It lives in
// the request's scratch, so its slices are reused from one request to the next.
type query struct {
	req     Request
	asOf    time.Time
	env     Env
	boxed   any
	unknown uint16
	// possible is set when the request asks for the possibly-eligible tier.
	possible bool
	// done is the request context's Done channel; stop is set once it is seen
	// closed, and then every loop and rule evaluation winds down.
	done     <-chan struct{}
	stop     bool
	mask     domainSet
	urgency  []bitUrgency
	nDomains int
	center   point
	// latDeg and lonDeg are the query point in degrees, for H3; at is it as a
	// unit vector, for the index's centre tests.
	latDeg, lonDeg float64
	at             vec
	// radiusDeg is the radius as degrees of latitude, for coarse tests.
	radiusDeg float64
	origin    h3.Cell
	radius    float64
	hRadius   float64
	hSearch   float64
	search    float64
}

type bitUrgency struct{ bit, rank int }

// rankKey is what ranking compares.
type rankKey struct {
	score float64
	dist  float64 // metres; ignored for an area candidate
	svc   int32
	loc   int32 // -1 for an area candidate
}

// candidate is one service that may match: a location (loc ≥ 0) or an area.
type candidate struct {
	rankKey
	h    float64
	area referral.AreaKind
	br   Breakdown
	// why are the candidate's exclusion reasons, as bits: 0 for a match, only
	// whyUnknown bits for a possible match.
	why why
	// overlap (the service's domains the request asks for) and prof are the
	// index path's copies of service data, so that judging and scoring do not
	// read the service table.
	overlap domainSet
	prof    profile
	reason  []Reason // the exclusion reasons, filled when explaining
}

// prepare validates req and derives the query into sc.q.
func (s *Snapshot) prepare(req Request, sc *scratch) (*query, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	q := &sc.q
	*q = query{req: req, asOf: req.AsOf, radius: req.RadiusM, urgency: q.urgency[:0], possible: req.Unknown == UnknownInclude}
	if q.asOf.IsZero() {
		q.asOf = s.opts.Now()
	}
	near := req.Near
	if near == nil {
		near = req.Person.Location
	}
	q.center = newPoint(near.Latitude, near.Longitude)
	q.latDeg, q.lonDeg = near.Latitude, near.Longitude
	if len(s.polygons) > 0 { // the origin cell only serves polygon lookups
		q.origin = h3.LatLngToCell(h3.NewLatLng(near.Latitude, near.Longitude), s.opts.Resolution)
	}
	q.hRadius = threshold(q.radius)
	q.search = q.radius
	if req.Explain {
		q.search = q.radius * ExplainFactor
	}
	q.hSearch = threshold(q.search)

	p := req.Person
	e := Env{Age: -1, HouseholdSize: -1, IncomeAnnual: -1, FPLPercent: -1,
		Zip: p.Zip, County: p.County, State: p.State, Insurance: p.Insurance,
		Veteran: p.Veteran != nil && *p.Veteran, Pregnant: p.Pregnant != nil && *p.Pregnant,
		Disabled: p.Disabled != nil && *p.Disabled, Attributes: p.Attributes}
	for _, f := range [...]struct {
		bit     uint16
		unknown bool
	}{
		{factZip, p.Zip == ""}, {factCounty, p.County == ""}, {factState, p.State == ""},
		{factInsurance, p.Insurance == ""}, {factLanguages, len(p.Languages) == 0},
		{factVeteran, p.Veteran == nil}, {factPregnant, p.Pregnant == nil}, {factDisabled, p.Disabled == nil},
	} {
		if f.unknown {
			q.unknown |= f.bit
		}
	}
	if p.BirthDate.IsZero() {
		q.unknown |= factAge
	} else {
		e.Age = p.BirthDate.AgeAt(q.asOf)
		if e.Age < 0 {
			return nil, invalidf("person.birth_date", "must not be after as_of")
		}
	}
	if p.HouseholdSize > 0 {
		e.HouseholdSize = p.HouseholdSize
	} else {
		q.unknown |= factHousehold
	}
	if p.IncomeAnnual != nil {
		e.IncomeAnnual = *p.IncomeAnnual
	} else {
		q.unknown |= factIncome
	}
	if fpl, ok := s.opts.Guidelines.FPLPercent(e.IncomeAnnual, p.HouseholdSize, p.State, q.asOf); ok && p.IncomeAnnual != nil {
		e.FPLPercent = fpl
	} else {
		q.unknown |= factFPL
	}
	// The rule environment's slices borrow the scratch's arrays: nothing keeps them
	// past the request.
	e.Languages = sc.langs[:0]
	for _, l := range p.Languages {
		e.Languages = append(e.Languages, strings.ToLower(l))
	}
	sc.langs = e.Languages
	e.Needs = sc.needs[:0]
	ranks := sc.ranks[:0]
	best := -1
	for _, n := range req.Needs {
		r := n.Urgency.Rank()
		if j := slices.Index(e.Needs, string(n.Domain)); j >= 0 {
			ranks[j] = max(ranks[j], r)
		} else {
			e.Needs = append(e.Needs, string(n.Domain))
			ranks = append(ranks, r)
		}
		if r > best {
			best = r
			e.Urgency = string(n.Urgency)
		}
	}
	sc.needs, sc.ranks = e.Needs, ranks
	q.nDomains = len(e.Needs)
	for j, d := range e.Needs {
		if bit, ok := s.domains[referral.Domain(d)]; ok {
			q.mask.set(bit)
			q.urgency = append(q.urgency, bitUrgency{bit, ranks[j]})
		}
	}
	q.env = e
	return q, nil
}

// run answers a request, by the index or (linear) by examining every
// service, and returns how many candidates it judged.
func (s *Snapshot) run(ctx context.Context, req Request, linear bool) (Result, int, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, 0, err
	}
	sc := s.scratch.Get().(*scratch)
	defer s.scratch.Put(sc)
	defer sc.release()
	q, err := s.prepare(req, sc)
	if err != nil {
		return Result{}, 0, err
	}
	q.done = ctx.Done()
	sc.next()
	var res Result
	if linear {
		s.gatherAllServices(q, sc)
		res = s.finish(q, sc)
	} else {
		res = s.search(q, sc)
	}
	if q.stop {
		return Result{}, 0, ctx.Err()
	}
	return res, len(sc.cands), nil
}

// cancelled reports whether the request's context is done. It costs a
// non-blocking channel receive; loops call it every cancelEvery iterations.
func (q *query) cancelled() bool {
	if !q.stop && q.done != nil {
		select {
		case <-q.done:
			q.stop = true
		default:
		}
	}
	return q.stop
}

// cancelEvery is how many candidates a loop handles between checks of the
// context: a few tens of microseconds of work. A power of two, so the test is
// a mask.
const cancelEvery = 4096

// limit is the number of matches the request returns at most.
func (q *query) limit() int {
	if q.req.Limit == 0 {
		return DefaultLimit
	}
	return q.req.Limit
}
