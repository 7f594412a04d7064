package matching

import (
	"context"
	"math"
	"slices"
	"strconv"
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

// Match is one service that matches the request.
type Match struct {
	Service referral.ID `json:"service_id"`
	// Location is the service's nearest location within the radius; zero for a match
	// through a service area.
	Location referral.ID `json:"location_id,omitzero"`
	// DistanceM is the great-circle distance to Location in metres (to 0.1 m); nil
	// for a match through a service area.
	DistanceM *float64 `json:"distance_m,omitempty"`
	// Area is the kind of service area that matched, for area matches.
	Area      referral.AreaKind `json:"area,omitempty"`
	Score     float64           `json:"score"`
	Breakdown Breakdown         `json:"score_breakdown"`
	Reasons   []Reason          `json:"reasons"`
}

// Exclusion is a candidate that did not match, with every reason it failed.
type Exclusion struct {
	Service   referral.ID `json:"service_id"`
	Location  referral.ID `json:"location_id,omitzero"`
	DistanceM *float64    `json:"distance_m,omitempty"`
	Reasons   []Reason    `json:"reasons"`
}

// Result is the answer to a request. Excluded is set only with Explain.
type Result struct {
	Matches  []Match     `json:"matches"`
	Excluded []Exclusion `json:"excluded,omitzero"`
}

// Match answers a request with the geo index: candidates come from the grid disk
// around the request's point and from the service areas that cover the person.
func (s *Snapshot) Match(ctx context.Context, req Request) (Result, error) {
	return s.run(ctx, req, false)
}

// Scan answers a request by examining every service, without the geo index. It is
// the reference Match is tested and benchmarked against; results are identical.
func (s *Snapshot) Scan(ctx context.Context, req Request) (Result, error) {
	return s.run(ctx, req, true)
}

// query is a validated request with everything derived from it once.
type query struct {
	req      Request
	asOf     time.Time
	env      Env
	boxed    any
	unknown  uint8
	mask     domainSet
	urgency  []bitUrgency
	nDomains int
	center   point
	origin   h3.Cell
	radius   float64
	hRadius  float64
	hSearch  float64
	search   float64
}

type bitUrgency struct{ bit, rank int }

type candidate struct {
	svc    int32
	loc    int32 // -1 for an area candidate
	h      float64
	dist   float64
	area   referral.AreaKind
	score  float64
	br     Breakdown
	ok     bool
	reason []Reason
}

func (s *Snapshot) prepare(req Request) (*query, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	q := &query{req: req, asOf: req.AsOf, radius: req.RadiusM}
	if q.asOf.IsZero() {
		q.asOf = s.opts.Now()
	}
	near := req.Near
	if near == nil {
		near = req.Person.Location
	}
	q.center = newPoint(near.Latitude, near.Longitude)
	q.origin = h3.LatLngToCell(h3.NewLatLng(near.Latitude, near.Longitude), s.opts.Resolution)
	q.hRadius = threshold(q.radius)
	q.search = q.radius
	if req.Explain {
		q.search = q.radius * ExplainFactor
	}
	q.hSearch = threshold(q.search)

	p := req.Person
	e := Env{Age: -1, HouseholdSize: -1, IncomeAnnual: -1, FPLPercent: -1,
		Zip: p.Zip, County: p.County, State: p.State, Insurance: p.Insurance,
		Veteran: p.Veteran, Pregnant: p.Pregnant, Disabled: p.Disabled, Attributes: p.Attributes}
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
	e.Languages = make([]string, len(p.Languages))
	for i, l := range p.Languages {
		e.Languages[i] = strings.ToLower(l)
	}
	best := -1
	seen := map[referral.Domain]int{}
	for _, n := range req.Needs {
		r := n.Urgency.Rank()
		if prev, dup := seen[n.Domain]; dup {
			if r > prev {
				seen[n.Domain] = r
			}
		} else {
			seen[n.Domain] = r
			e.Needs = append(e.Needs, string(n.Domain))
		}
		if r > best {
			best = r
			e.Urgency = string(n.Urgency)
		}
	}
	q.nDomains = len(seen)
	for d, r := range seen {
		if bit, ok := s.domains[d]; ok {
			q.mask.set(bit)
			q.urgency = append(q.urgency, bitUrgency{bit, r})
		}
	}
	q.env = e
	return q, nil
}

func (s *Snapshot) run(ctx context.Context, req Request, linear bool) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	q, err := s.prepare(req)
	if err != nil {
		return Result{}, err
	}
	sc := s.scratch.Get().(*scratch)
	defer s.scratch.Put(sc)
	sc.next()
	if linear {
		s.scan(q, sc)
	} else {
		s.lookup(q, sc)
	}
	return s.finish(q, sc), nil
}

// offer records a point candidate, keeping each service's nearest location (ties
// by location order), so the index and the scan agree whatever order they visit.
func (sc *scratch) offer(svcIdx, loc int32, h float64) {
	if sc.seen[svcIdx] != sc.gen {
		sc.seen[svcIdx] = sc.gen
		sc.slot[svcIdx] = int32(len(sc.cands))
		sc.cands = append(sc.cands, candidate{svc: svcIdx, loc: loc, h: h})
		return
	}
	c := &sc.cands[sc.slot[svcIdx]]
	if c.loc >= 0 && (h < c.h || (h == c.h && loc < c.loc)) {
		c.loc, c.h = loc, h
	}
}

// offerArea records that a service's area covers the request. A location within
// the radius wins over the area; one outside it (seen only when explaining) loses.
func (s *Snapshot) offerArea(q *query, sc *scratch, svcIdx int32, kind referral.AreaKind) {
	e := &s.services[svcIdx]
	if e.domains.and(q.mask).empty() || (!q.req.Explain && !e.active) {
		return
	}
	if sc.seen[svcIdx] != sc.gen {
		sc.seen[svcIdx] = sc.gen
		sc.slot[svcIdx] = int32(len(sc.cands))
		sc.cands = append(sc.cands, candidate{svc: svcIdx, loc: -1, area: kind})
		return
	}
	c := &sc.cands[sc.slot[svcIdx]]
	if c.loc >= 0 && c.h > q.hRadius {
		c.loc, c.h, c.area = -1, 0, kind
	}
}

func (s *Snapshot) pointWanted(q *query, e *svc) bool {
	return q.req.Explain || (e.active && !e.domains.and(q.mask).empty())
}

// lookup gathers candidates through the geo index and the area maps.
func (s *Snapshot) lookup(q *query, sc *scratch) {
	k := diskK(q.search, s.edgeAvg)
	visit := func(sp span) {
		for i := sp.start; i < sp.end; i++ {
			st := &s.sites[i]
			if !q.req.Explain && (!st.active || st.domains.and(q.mask).empty()) {
				continue
			}
			if h := haversine(q.center, st.p); h <= q.hSearch {
				sc.offer(st.svc, st.loc, h)
			}
		}
	}
	if k <= maxDiskK {
		for _, c := range h3.GridDisk(q.origin, k) {
			if sp, ok := s.cells[c]; ok {
				visit(sp)
			}
		}
	} else {
		for _, c := range s.order {
			visit(s.cells[c])
		}
	}
	p := q.req.Person
	if p.Zip != "" {
		for _, i := range s.zips[normalize(p.Zip)] {
			s.offerArea(q, sc, i, referral.AreaZip)
		}
	}
	if p.County != "" {
		for _, i := range s.counties[normalize(p.County)] {
			s.offerArea(q, sc, i, referral.AreaCounty)
		}
	}
	if p.State != "" {
		for _, i := range s.states[p.State] {
			s.offerArea(q, sc, i, referral.AreaState)
		}
	}
	if len(s.polygons) > 0 {
		for r := s.opts.Resolution; r >= 0; r-- {
			for _, i := range s.polygons[parent(q.origin, r)] {
				s.offerArea(q, sc, i, referral.AreaPolygon)
			}
		}
	}
	for _, i := range s.virtual {
		s.offerArea(q, sc, i, referral.AreaVirtual)
	}
}

// scan gathers the same candidates by examining every service.
func (s *Snapshot) scan(q *query, sc *scratch) {
	p := q.req.Person
	zip, county := normalize(p.Zip), normalize(p.County)
	for i := range s.services {
		e := &s.services[i]
		if s.pointWanted(q, e) {
			for j, l := range s.source[i].Locations {
				if h := haversine(q.center, newPoint(l.Latitude, l.Longitude)); h <= q.hSearch {
					sc.offer(int32(i), int32(j), h)
				}
			}
		}
		if !e.hasArea {
			continue
		}
		if p.Zip != "" && slices.Contains(e.zips, zip) {
			s.offerArea(q, sc, int32(i), referral.AreaZip)
		}
		if p.County != "" && slices.Contains(e.counties, county) {
			s.offerArea(q, sc, int32(i), referral.AreaCounty)
		}
		if p.State != "" && slices.Contains(e.states, p.State) {
			s.offerArea(q, sc, int32(i), referral.AreaState)
		}
		if e.polygon != nil {
			for r := s.opts.Resolution; r >= 0; r-- {
				if _, ok := e.polygon[parent(q.origin, r)]; ok {
					s.offerArea(q, sc, int32(i), referral.AreaPolygon)
				}
			}
		}
		if e.virtual {
			s.offerArea(q, sc, int32(i), referral.AreaVirtual)
		}
	}
}

// ruleOutcome is one rule's result for one request.
type ruleOutcome struct {
	state  uint8
	reason Reason
}

const (
	rulePass uint8 = iota + 1
	ruleFail
	ruleUnknown
	ruleErr
)

// evalRule evaluates each distinct program at most once per request.
func (s *Snapshot) evalRule(q *query, sc *scratch, idx int32) ruleOutcome {
	if sc.ruleGen[idx] == sc.gen {
		return sc.ruleOut[idx]
	}
	ru := s.programs[idx]
	var out ruleOutcome
	if missing := ru.facts & q.unknown; missing != 0 {
		out = ruleOutcome{ruleUnknown, Reason{ReasonUnknownFact, "eligibility rule needs " + factList(missing)}}
	} else {
		if q.boxed == nil {
			q.boxed = q.env
		}
		ok, err := s.rules.eval(ru.program, q.boxed)
		switch {
		case err != nil:
			out = ruleOutcome{ruleErr, Reason{ReasonRuleError, firstLine(err.Error())}}
		case ok:
			out = ruleOutcome{state: rulePass}
		default:
			out = ruleOutcome{ruleFail, Reason{ReasonRuleFailed, s.failedClause(q, ru)}}
		}
	}
	sc.ruleGen[idx] = sc.gen
	sc.ruleOut[idx] = out
	return out
}

// failedClause names the first top-level clause of a conjunction that is false;
// only computed when explaining.
func (s *Snapshot) failedClause(q *query, ru *rule) string {
	if !q.req.Explain {
		return ""
	}
	for _, c := range ru.clauses {
		if ok, err := s.rules.eval(c.program, q.boxed); err == nil && !ok {
			return "clause is false: " + c.text
		}
	}
	return "rule is false: " + ru.text
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// judge decides one candidate. Without Explain it stops at the first failure.
func (s *Snapshot) judge(q *query, sc *scratch, c *candidate) {
	e := &s.services[c.svc]
	explain := q.req.Explain
	fail := func(r Reason) bool {
		c.ok = false
		if explain {
			c.reason = append(c.reason, r)
		}
		return !explain
	}
	c.ok = true
	if !e.active && fail(Reason{ReasonInactive, string(e.status)}) {
		return
	}
	overlap := e.domains.and(q.mask)
	if overlap.empty() && fail(Reason{Code: ReasonDomainMismatch}) {
		return
	}
	if c.loc >= 0 && c.h > q.hRadius && fail(Reason{ReasonOutOfRadius, km(c.dist)}) {
		return
	}
	if q.req.Full == Exclude && full(e.capacity) && fail(Reason{Code: ReasonNoCapacity}) {
		return
	}
	if e.minAge > 0 || e.maxAge > 0 {
		switch {
		case q.unknown&factAge != 0:
			if fail(Reason{ReasonUnknownFact, "age limits need age"}) {
				return
			}
		case q.env.Age < e.minAge || (e.maxAge > 0 && q.env.Age > e.maxAge):
			if fail(Reason{ReasonAgeLimit, ageBand(e.minAge, e.maxAge)}) {
				return
			}
		}
	}
	if e.rule >= 0 {
		if out := s.evalRule(q, sc, e.rule); out.state != rulePass && fail(out.reason) {
			return
		}
	}
	if c.ok {
		c.br = s.score(q, e, c, overlap)
		c.score = c.br.Total()
	}
}

func full(c *referral.Capacity) bool { return c != nil && c.Available <= 0 && c.Waitlist <= 0 }

func ageBand(minAge, maxAge int) string {
	switch {
	case maxAge == 0:
		return "minimum age " + strconv.Itoa(minAge)
	case minAge == 0:
		return "maximum age " + strconv.Itoa(maxAge)
	}
	return "ages " + strconv.Itoa(minAge) + " to " + strconv.Itoa(maxAge)
}

func km(m float64) string { return strconv.FormatFloat(m/1000, 'f', 2, 64) + " km" }

func (s *Snapshot) score(q *query, e *svc, c *candidate, overlap domainSet) Breakdown {
	w := s.opts.Weights
	var b Breakdown
	if c.loc >= 0 {
		b.Distance = w.Distance * math.Max(0, 1-c.dist/q.radius)
	} else {
		b.Distance = w.Distance * w.AreaDistance
	}
	b.Needs = w.Needs * float64(overlap.count()) / float64(q.nDomains)
	urg := 0
	for _, u := range q.urgency {
		if overlap.has(u.bit) && u.rank > urg {
			urg = u.rank
		}
	}
	b.Urgency = w.Urgency * float64(urg) / 2
	b.Language = w.Language * languageValue(q.env.Languages, e.langs)
	b.Capacity = w.Capacity * capacityValue(e.capacity)
	b.Open = w.Open * openValue(e.windows, q.asOf)
	return b
}

func languageValue(person, service []string) float64 {
	for i, pl := range person {
		for _, sl := range service {
			if languageMatch(pl, sl) {
				if i == 0 {
					return 1
				}
				return 0.5
			}
		}
	}
	return 0
}

func capacityValue(c *referral.Capacity) float64 {
	switch {
	case c == nil:
		return 0.5
	case c.Available > 0:
		return 1
	case c.Waitlist > 0:
		return 0.25
	}
	return 0
}

func openValue(ws []window, t time.Time) float64 {
	if len(ws) == 0 {
		return 0.5
	}
	for _, w := range ws {
		if w.openAt(t) {
			return 1
		}
	}
	return 0
}

// finish judges the candidates, ranks the matches and builds the result.
func (s *Snapshot) finish(q *query, sc *scratch) Result {
	matched := sc.matched[:0]
	defer func() { sc.matched = matched[:0] }()
	for i := range sc.cands {
		c := &sc.cands[i]
		if c.loc >= 0 {
			c.dist = metres(c.h)
		}
		s.judge(q, sc, c)
		if c.ok {
			matched = append(matched, c)
		}
	}
	byDistance := q.req.Order == ByDistance
	slices.SortFunc(matched, func(a, b *candidate) int {
		da, db := a.dist, b.dist
		if a.loc < 0 {
			da = math.Inf(1)
		}
		if b.loc < 0 {
			db = math.Inf(1)
		}
		if byDistance {
			if c := cmpFloat(da, db); c != 0 {
				return c
			}
			if c := cmpFloat(b.score, a.score); c != 0 {
				return c
			}
		} else {
			if c := cmpFloat(b.score, a.score); c != 0 {
				return c
			}
			if c := cmpFloat(da, db); c != 0 {
				return c
			}
		}
		if a.svc != b.svc {
			return int(a.svc - b.svc) // services are sorted by id
		}
		return int(a.loc - b.loc)
	})
	limit := q.req.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if len(matched) > limit {
		matched = matched[:limit]
	}
	res := Result{Matches: make([]Match, len(matched))}
	for i, c := range matched {
		res.Matches[i] = s.matchOf(q, c)
	}
	if q.req.Explain {
		res.Excluded = []Exclusion{}
		for i := range sc.cands {
			c := &sc.cands[i]
			if c.ok {
				continue
			}
			x := Exclusion{Service: s.services[c.svc].id, Reasons: c.reason}
			if c.loc >= 0 {
				x.Location = s.source[c.svc].Locations[c.loc].ID
				d := round(c.dist)
				x.DistanceM = &d
			}
			res.Excluded = append(res.Excluded, x)
		}
		slices.SortFunc(res.Excluded, func(a, b Exclusion) int {
			if c := a.Service.Compare(b.Service); c != 0 {
				return c
			}
			return a.Location.Compare(b.Location)
		})
	}
	return res
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func round(m float64) float64 { return math.Round(m*10) / 10 }

func (s *Snapshot) matchOf(q *query, c *candidate) Match {
	e := &s.services[c.svc]
	m := Match{Service: e.id, Score: c.score, Breakdown: c.br}
	if c.loc >= 0 {
		m.Location = s.source[c.svc].Locations[c.loc].ID
		d := round(c.dist)
		m.DistanceM = &d
		m.Reasons = append(m.Reasons, Reason{ReasonWithinRadius, km(c.dist)})
	} else {
		m.Area = c.area
		m.Reasons = append(m.Reasons, Reason{ReasonServesArea, string(c.area)})
	}
	for _, d := range s.source[c.svc].Domains {
		if slices.Contains(q.env.Needs, string(d)) {
			m.Reasons = append(m.Reasons, Reason{ReasonCoversNeed, string(d)})
		}
	}
	if e.rule >= 0 || e.minAge > 0 || e.maxAge > 0 {
		m.Reasons = append(m.Reasons, Reason{Code: ReasonEligible})
	}
	if c.br.Language > 0 {
		for _, pl := range q.env.Languages {
			if slices.ContainsFunc(e.langs, func(sl string) bool { return languageMatch(pl, sl) }) {
				m.Reasons = append(m.Reasons, Reason{ReasonLanguage, pl})
				break
			}
		}
	}
	switch {
	case e.capacity == nil:
	case e.capacity.Available > 0:
		m.Reasons = append(m.Reasons, Reason{ReasonCapacity, strconv.Itoa(e.capacity.Available) + " open"})
	case e.capacity.Waitlist > 0:
		m.Reasons = append(m.Reasons, Reason{Code: ReasonWaitlist})
	default:
		m.Reasons = append(m.Reasons, Reason{Code: ReasonNoCapacity})
	}
	if len(e.windows) > 0 && c.br.Open > 0 {
		m.Reasons = append(m.Reasons, Reason{Code: ReasonOpenNow})
	}
	return m
}
