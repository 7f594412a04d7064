package matching

import (
	"cmp"
	"math"
	"slices"

	"github.com/refkit/refkit/referral"
)

// This file is the reference path, Snapshot.Scan: it examines every service and
// judges every candidate with plain code. It is kept simple on purpose; the index
// path (search.go) is tested to return exactly what it returns.

// offer records a point candidate, keeping each service's nearest location (ties
// by location order), so the index and the scan agree whatever order they visit.
func (sc *scratch) offer(svcIdx, loc int32, h float64) {
	st := &sc.seen[svcIdx]
	if st.gen != sc.gen {
		*st = stamp{sc.gen, int32(len(sc.cands))}
		sc.cands = append(sc.cands, candidate{rankKey: rankKey{svc: svcIdx, loc: loc}, h: h, site: -1})
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
		sc.cands = append(sc.cands, candidate{rankKey: rankKey{svc: svcIdx, loc: -1}, area: kind, site: -1})
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

// scan gathers the candidates by examining every service.
func (s *Snapshot) scan(q *query, sc *scratch) {
	p := q.req.Person
	zip, county := normalize(p.Zip), normalize(p.County)
	for i := range s.services {
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

// judge decides one candidate. Without Explain it stops at the first failure.
func (s *Snapshot) judge(q *query, sc *scratch, c *candidate) {
	e := &s.services[c.svc]
	published := s.caps.at(c.svc).capacity()
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
	if overlap.empty() && fail(s.domainReason(c.svc)) {
		return
	}
	if c.loc >= 0 && c.h > q.hRadius && fail(Reason{ReasonOutOfRadius, km(c.dist)}) {
		return
	}
	if q.req.Full == Exclude && full(published) && fail(Reason{Code: ReasonNoCapacity}) {
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
		c.br = s.breakdown(q, &c.rankKey, overlap, languageValue(q.env.Languages, e.langs), capacityValue(published), openValue(e.hours, q.asOf))
		c.score = c.br.Total()
	}
}

// finish judges every candidate, sorts all the matches and builds the result.
func (s *Snapshot) finish(q *query, sc *scratch) Result {
	var matched, excluded []*candidate
	for i := range sc.cands {
		c := &sc.cands[i]
		if c.loc >= 0 {
			c.dist = metres(c.h)
		}
		s.judge(q, sc, c)
		if c.ok {
			matched = append(matched, c)
		} else {
			excluded = append(excluded, c)
		}
	}
	byDistance := q.req.Order == ByDistance
	slices.SortFunc(matched, func(a, b *candidate) int { return rankCmp(&a.rankKey, &b.rankKey, byDistance) })
	if limit := q.limit(); len(matched) > limit {
		matched = matched[:limit]
	}
	for _, c := range matched { // the profile matchReasons reads
		c.prof = profileOf(&s.services[c.svc], len(s.source[c.svc].Locations))
	}
	return s.result(q, sc, matched, excluded)
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
