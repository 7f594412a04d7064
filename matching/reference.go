package matching

import (
	"cmp"
	"math"
	"slices"

	"github.com/refkit/refkit/referral"
)

// This file is the reference path, Snapshot.scan: it examines every service and
// judges every candidate with plain code. It is kept simple on purpose; the index
// path (search.go) is tested to return exactly what it returns.

// offer records a point candidate, keeping each service's nearest location (ties
// by location order), so the index and the scan agree whatever order they visit.
func (sc *scratch) offer(svcIdx, loc int32, h float64) {
	st := &sc.seen[svcIdx]
	if st.gen != sc.gen {
		*st = stamp{sc.gen, int32(len(sc.cands))}
		sc.cands = append(sc.cands, candidate{rankKey: rankKey{svc: svcIdx, loc: loc}, h: h})
		return
	}
	c := &sc.cands[st.slot]
	if c.loc >= 0 && (h < c.h || (h == c.h && loc < c.loc)) {
		c.loc, c.h = loc, h
	}
}

// offerArea records that a service's area covers the request. A location within
// the radius wins over the area; one outside it (seen only when explaining) loses.
// It reports whether it appended a new candidate.
func (sc *scratch) offerArea(q *query, svcIdx int32, kind referral.AreaKind) bool {
	st := &sc.seen[svcIdx]
	if st.gen != sc.gen {
		*st = stamp{sc.gen, int32(len(sc.cands))}
		sc.cands = append(sc.cands, candidate{rankKey: rankKey{svc: svcIdx, loc: -1}, area: kind})
		return true
	}
	c := &sc.cands[st.slot]
	if c.loc >= 0 && c.h > q.hRadius {
		c.loc, c.h, c.area = -1, 0, kind
	}
	return false
}

// areaWanted says whether an area candidate is worth judging.
func areaWanted(q *query, domains domainSet, active bool) bool {
	return !domains.and(q.mask).empty() && (q.req.Explain || active)
}

func (s *Snapshot) pointWanted(q *query, e *svc) bool {
	return q.req.Explain || (e.active && !e.domains.and(q.mask).empty())
}

// gatherAllServices gathers the candidates by examining every service.
func (s *Snapshot) gatherAllServices(q *query, sc *scratch) {
	p := q.req.Person
	zip, county := normalize(p.Zip), normalize(p.County)
	for i := range s.services {
		if i&(cancelEvery-1) == 0 && q.cancelled() {
			return
		}
		e := &s.services[i]
		if s.pointWanted(q, e) {
			for j, l := range s.source[i].Locations {
				if !l.Placed() {
					continue
				}
				if h := haversine(q.center, newPoint(l.Latitude, l.Longitude)); h <= q.hSearch {
					sc.offer(int32(i), int32(j), h)
				}
			}
		}
		if !e.hasArea || !areaWanted(q, e.domains, e.active) {
			continue
		}
		if p.Zip != "" && slices.Contains(e.zips, zip) {
			sc.offerArea(q, int32(i), referral.AreaZip)
		}
		if p.County != "" && slices.Contains(e.counties, county) {
			sc.offerArea(q, int32(i), referral.AreaCounty)
		}
		if p.State != "" && slices.Contains(e.states, p.State) {
			sc.offerArea(q, int32(i), referral.AreaState)
		}
		if e.polygon != nil {
			for r := s.opts.Resolution; r >= 0; r-- {
				if _, ok := e.polygon[parent(q.origin, r)]; ok {
					sc.offerArea(q, int32(i), referral.AreaPolygon)
				}
			}
		}
		if e.virtual {
			sc.offerArea(q, int32(i), referral.AreaVirtual)
		}
	}
}

// judge decides one candidate. Without Explain it stops at the first failure
// that excludes it from every tier.
func (s *Snapshot) judge(q *query, sc *scratch, c *candidate) {
	e := &s.services[c.svc]
	published := s.caps.at(c.svc).capacity()
	explain := q.req.Explain
	fail := func(bit why, r Reason) bool {
		c.why |= bit
		if explain {
			c.reason = append(c.reason, r)
		}
		return !explain && !q.possibleFor(c.why)
	}
	c.why = 0
	if !e.active && fail(whyInactive, Reason{ReasonInactive, string(e.status)}) {
		return
	}
	overlap := e.domains.and(q.mask)
	if overlap.empty() && fail(whyDomain, s.domainReason(c.svc)) {
		return
	}
	if c.loc >= 0 && c.h > q.hRadius && fail(whyOutOfRadius, Reason{ReasonOutOfRadius, km(c.dist)}) {
		return
	}
	if q.req.Full == Exclude && full(published) && fail(whyNoCapacity, Reason{Code: ReasonNoCapacity}) {
		return
	}
	if e.minAge > 0 || e.maxAge > 0 {
		switch {
		case q.unknown&factAge != 0:
			if fail(whyAgeUnknown, Reason{ReasonUnknownFact, "age limits need age"}) {
				return
			}
		case q.env.Age < e.minAge || (e.maxAge > 0 && q.env.Age > e.maxAge):
			if fail(whyAgeLimit, Reason{ReasonAgeLimit, ageBand(e.minAge, e.maxAge)}) {
				return
			}
		}
	}
	if e.rule >= 0 {
		switch out := s.evalRule(q, sc, e.rule); out.state {
		case rulePass:
		case ruleUnknown:
			if fail(whyRuleUnknown, out.reason) {
				return
			}
		default:
			if fail(whyRule, out.reason) {
				return
			}
		}
	}
	if c.why == 0 || q.possibleFor(c.why) {
		c.br = s.breakdown(q, &c.rankKey, overlap, languageValue(q.env.Languages, e.langs), capacityValue(published), openValue(e.hours, q.asOf))
		c.score = c.br.Total()
	}
}

// finish judges every candidate, sorts all the matches and builds the result.
func (s *Snapshot) finish(q *query, sc *scratch) Result {
	var matched, possible, excluded []*candidate
	for i := range sc.cands {
		if i&(cancelEvery-1) == 0 && q.cancelled() {
			break
		}
		c := &sc.cands[i]
		if c.loc >= 0 {
			c.dist = s.shownDistance(q, c)
		}
		s.judge(q, sc, c)
		switch {
		case c.why == 0:
			matched = append(matched, c)
		case q.possibleFor(c.why):
			possible = append(possible, c)
		default:
			excluded = append(excluded, c)
		}
	}
	byDistance := q.req.Order == ByDistance
	for _, list := range []*[]*candidate{&matched, &possible} {
		slices.SortFunc(*list, func(a, b *candidate) int { return rankCmp(&a.rankKey, &b.rankKey, byDistance) })
		if limit := q.limit(); len(*list) > limit {
			*list = (*list)[:limit]
		}
		for _, c := range *list { // the profile matchReasons reads
			c.prof = s.services[c.svc].prof
		}
	}
	return s.result(q, sc, matched, possible, excluded)
}

// rankCmp orders matches: by score then distance (or distance then score), then
// by service and location, so results are deterministic. Area matches sort as
// infinitely far.
func rankCmp(a, b *rankKey, byDistance bool) int {
	da, db := a.dist, b.dist
	if a.loc < 0 {
		da = math.Inf(1)
	}
	if b.loc < 0 {
		db = math.Inf(1)
	}
	if byDistance {
		if c := cmp.Compare(da, db); c != 0 {
			return c
		}
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
	} else {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		if c := cmp.Compare(da, db); c != 0 {
			return c
		}
	}
	if a.svc != b.svc {
		return int(a.svc - b.svc) // services are sorted by id
	}
	return int(a.loc - b.loc)
}
