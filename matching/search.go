package matching

import (
	"cmp"
	"math"
	"math/bits"
	"slices"

	"github.com/refkit/refkit/referral"
)

// This file is the index path, Snapshot.Match.
//
// With explanations off, it looks for the best Limit candidates and nothing
// else. It reads the buckets near the person nearest first, and in each only the
// runs of the request's domains; a location is scored from the data copied next
// to it, and its service judged (capacity, age limits, rule: each distinct rule
// evaluated at most once per request) only if a bounded heap would keep it. Once
// the heaps are full, their worst entry bounds how far a location can lie and
// still rank (the cut, see below): locations beyond it are dropped after one
// distance test, buckets beyond it without being read, and the walk stops at
// the first bucket beyond it. Then the services whose areas cover the person
// are scored against the heaps, whose worst entry by then rejects most of them
// before their service is looked at.
//
// Each service is decided once, at its nearest location within the radius: the
// first time a location of a service with several locations (or an area) is
// met, all its locations are measured. A location the walk never reached cannot
// rank, whatever its service: that is what the cut guarantees. So the result is
// the one the scan, which judges every service, returns.
//
// With explanations on, every candidate within the search radius is kept and
// its exclusion reasons are recorded as bits until the result is built.

// search answers a request through the index.
func (s *Snapshot) search(q *query, sc *scratch) Result {
	q.at = unitVec(q.latDeg, q.lonDeg)
	// Degrees of latitude within the radius: a metre more, for rounding.
	q.radiusDeg = (q.radius + 1) / EarthRadiusM * 180 / math.Pi
	sc.near = s.grid.near(q, sc.near[:0], q.req.Explain)
	if q.req.Explain {
		return s.searchExplained(q, sc)
	}
	top, maybe := sc.resetTop(q)
	sc.decided.reset()
	if q.req.Order == ByDistance {
		// Areas rank after every location: they can only fill what locations
		// leave.
		s.gatherPoints(q, sc, top, maybe)
		s.gatherAreas(q, sc, top, maybe)
	} else {
		// Area matches score alike across a request's areas, and often well:
		// taken first, they set the cut the walk of the locations starts with.
		s.gatherAreas(q, sc, top, maybe)
		s.gatherPoints(q, sc, top, maybe)
	}
	sc.matched, sc.possible = top.ranked(sc.matched[:0]), maybe.ranked(sc.possible[:0])
	return s.result(q, sc, sc.matched, sc.possible, nil)
}

// gatherPoints walks, explain off, the runs of the request's domains in the
// buckets near the person, nearest bucket first, and offers each location to
// the heaps. A service addressing two of the request's domains has a site in
// the runs of both: it is offered from the first only.
//
// Reading a site is a likely cache miss, and testing one (a haversine, then
// perhaps scoring and judging it) is long enough that the processor cannot run
// ahead to the next site's read: so buckets are taken a few at a time, their
// runs listed, their sites read in a loop with nothing else in it (the misses
// overlap instead of queueing behind the work), and then tested.
func (s *Snapshot) gatherPoints(q *query, sc *scratch, top, maybe *topK) {
	g := &s.grid
	cut := &sc.cut
	s.resetCut(q, cut)
	// Areas taken first may have filled the heaps already.
	s.moveCut(q, cut, top, maybe)
	// before[k] are the request's domains before its k-th: a site in the run
	// of the k-th that addresses one of them was offered from that one's run.
	var before [maxCutDomains + 1]domainSet
	for k, u := range q.urgency[:min(len(q.urgency), maxCutDomains)] {
		before[k+1] = before[k]
		before[k+1].set(u.bit)
	}
	visited, touched := 0, 0.0
	near := sc.near
	for len(near) > 0 {
		spans := sc.spans[:0]
		for n := 0; len(near) > 0 && n < batchBuckets; near = near[1:] {
			key := near[0]
			// Keys sort by the float32 of the squared chord, which rounding
			// keeps in order: once it is above the limit's, so is every later
			// bucket's.
			if math.Float32frombits(uint32(key>>32)) > cut.chord32 {
				near = nil
				break
			}
			b := &g.buckets[uint32(key)]
			if q.at.chord2(b.centre) > cut.chord2 {
				continue
			}
			n++
			var c2 float64
			for k, u := range q.urgency {
				if !b.mask.has(u.bit) {
					continue
				}
				r := &g.runs[g.run(b, u.bit)]
				if cut.perRun && r.domains&cut.others[k] == 0 {
					// Its services address the k-th domain alone of the request's.
					if c2 == 0 {
						c2 = q.at.chord2(b.centre)
					}
					if c2 > cut.oneChord2[k] {
						continue
					}
				}
				spans = append(spans, span{from: r.start, to: r.end, k: int32(k)})
			}
		}
		sc.spans = spans
		for _, sp := range spans {
			for i := sp.from; i < sp.to; i++ {
				touched += g.sites[i].p.lat
			}
		}
		for _, sp := range spans {
			k := int(sp.k)
			earlier := domainSet{}
			if k < len(before) {
				earlier = before[k]
			} else {
				for _, u := range q.urgency[:k] {
					earlier.set(u.bit)
				}
			}
			for i := sp.from; i < sp.to; i++ {
				if visited&(cancelEvery-1) == 0 && q.cancelled() {
					return
				}
				visited++
				st := &g.sites[i]
				if !st.domains.and(earlier).empty() {
					continue
				}
				h := haversine(q.center, st.p)
				if h > cut.h || (cut.perDomain && h > cut.one[k] && st.domains.and(q.mask).count() == 1) {
					continue
				}
				loc := st.loc
				if st.shared() {
					// Decide the service once, at its nearest location: this one
					// or a nearer one.
					if !sc.decided.add(st.svc) {
						continue
					}
					h, loc = s.nearest(q, st.svc)
				}
				if s.considerPoint(q, sc, top, maybe, st.svc, loc, h, st.domains, st.profile) {
					s.moveCut(q, cut, top, maybe)
				}
			}
		}
	}
	sc.touched = touched
}

// batchBuckets is how many buckets gatherPoints reads ahead: enough sites for
// their misses to overlap, few enough that the cut still skips buckets.
const batchBuckets = 8

// span is a run of sites gatherPoints reads, for the k-th of the request's
// domains.
type span struct{ from, to, k int32 }

// nearest returns the service's nearest location within the radius (ties to the
// first listed, as the scan's offer keeps them) and its haversine; loc is -1
// when none is.
func (s *Snapshot) nearest(q *query, svc int32) (h float64, loc int32) {
	g := &s.grid
	from, to := g.placeFrom[svc], g.placeFrom[svc+1]
	loc = -1
	for i := from; i < to; i++ {
		// A location without coordinates has a NaN latitude: it fails both tests.
		if d := haversine(q.center, g.places[i]); d <= q.hRadius && (loc < 0 || d < h) {
			h, loc = d, i-from
		}
	}
	return h, loc
}

// considerPoint scores the candidate of service svc at its location loc, at
// haversine h, and, explain off, judges it if a heap would keep it, and keeps
// it there if its service is admitted. It reports whether it kept it. When w
// is not nil, the service is judged already, with reasons *w.
func (s *Snapshot) considerPoint(q *query, sc *scratch, top, maybe *topK, svc, loc int32, h float64, domains domainSet, p profile) bool {
	key := rankKey{svc: svc, loc: loc, dist: s.shown(q, svc, loc, h)}
	overlap := domains.and(q.mask)
	br := s.breakdownOf(q, sc, &key, overlap, p)
	key.score = br.Total()
	rejected, rejectedMaybe := top.rejects(&key), maybe.rejects(&key)
	if rejected && rejectedMaybe {
		return false
	}
	w, keep := s.admits(q, sc, svc, p)
	if !keep || (w == 0 && rejected) || (w != 0 && rejectedMaybe) {
		return false
	}
	s.keep(sc, top, maybe, candidate{rankKey: key, h: h, br: br, overlap: overlap, prof: p}, w)
	return true
}

// keep adds an admitted candidate with reasons w to the heap of its tier.
func (s *Snapshot) keep(sc *scratch, top, maybe *topK, c candidate, w why) {
	c.why = w
	sc.cands = append(sc.cands, c)
	if i := int32(len(sc.cands) - 1); w == 0 {
		top.push(i)
	} else {
		maybe.push(i)
	}
}

// The cut. Once a heap holds Limit candidates, a location ranks only if its
// candidate ranks before the heap's worst. By distance, that is a location
// nearer than the worst's distance. By score, the score of a location at
// distance d is at most bound(d): its distance term at d plus every other term
// at the most it can reach (all the request's domains and its most pressing
// urgency, the person's first language, open capacity, open now, or the value
// of no schedule when no service has one). bound falls as d grows, so beyond the
// distance where bound drops below the worst's score, nothing ranks. When the
// request has a few domains, each also has a cut for the services that address
// only it of the request's domains: they reach a lower needs term, so their cut
// is nearer. The cut is only ever moved in, as the heaps improve.
//
// Bounds are computed with the arithmetic scores are computed with: every term
// and their sum only grow with their inputs, in floating point as in reals, so
// a candidate never scores above the bound of its distance. A cut is a distance
// at which bound is checked to be below the worst's score, with margins for
// rounding; a confidential location's distance as shown may be up to half a
// kilometre below its exact distance, which the cut then adds.

// maxCutDomains is the most domains a request may have for the cut to be kept
// per domain; beyond, one cut serves all.
const maxCutDomains = 8

// cut is how far a location may lie and still rank, as haversine thresholds:
// h for any location, one[k] for one whose service addresses only the k-th of
// the request's domains (q.urgency), when perDomain. chord2 is the squared
// chord a bucket's centre must be within to hold a location within the cut
// (chord32 is its float32, for the sorted walk). all and each are the bounds
// the thresholds come from.
type cut struct {
	h         float64
	chord2    float64
	chord32   float32
	perDomain bool
	one       [maxCutDomains]float64
	all       bound
	each      [maxCutDomains]bound
	// With perRun, a run whose folded domains (siteRun.domains) have none of
	// others[k], the request's domains but the k-th, folded, is read only if
	// its bucket's centre is within oneChord2[k].
	perRun    bool
	others    [maxCutDomains]uint64
	oneChord2 [maxCutDomains]float64
}

// bound is the most a location's score terms other than distance can reach,
// with the scores at distance 0 and at the radius it gives.
type bound struct {
	other            Breakdown
	atZero, atRadius float64
}

// at is the bound of the score at distance d.
func (b *bound) at(q *query, w *Weights, d float64) float64 {
	t := b.other
	t.Distance = float64(w.Distance * math.Max(0, 1-d/q.radius))
	return t.Total()
}

// resetCut sets the cut to the radius, no heap being full yet, and computes
// the request's bounds.
func (s *Snapshot) resetCut(q *query, c *cut) {
	*c = cut{h: q.hRadius, chord2: math.Inf(1), chord32: float32(math.Inf(1)),
		perDomain: q.req.Order != ByDistance && len(q.urgency) > 1 && len(q.urgency) <= maxCutDomains}
	if q.req.Order == ByDistance {
		return
	}
	most := 0
	for _, u := range q.urgency {
		most = max(most, u.rank)
	}
	c.all = s.boundFor(q, len(q.urgency), most)
	// Folding the domains' second word onto the first is exact when there is
	// no second word.
	c.perRun = c.perDomain && len(s.domains) <= 64
	for k, u := range q.urgency {
		if k < maxCutDomains {
			c.one[k], c.oneChord2[k] = q.hRadius, math.Inf(1)
			if c.perDomain {
				c.each[k] = s.boundFor(q, 1, u.rank)
				c.others[k] = q.mask[0] &^ (1 << u.bit)
			}
		}
	}
}

// boundFor is the bound of a location whose service covers covered of the
// request's domains, the most pressing at urgency rank: the person's first
// language, open capacity, open now (or the value of no schedule, when no
// service has one).
func (s *Snapshot) boundFor(q *query, covered, rank int) bound {
	w := s.opts.Weights
	b := bound{other: Breakdown{
		Needs:    float64(w.Needs * float64(covered) / float64(q.nDomains)),
		Urgency:  float64(w.Urgency * float64(rank) / 2),
		Capacity: float64(w.Capacity * capClassValue[capOpen]),
		Open:     float64(w.Open * 0.5),
	}}
	if len(q.env.Languages) > 0 {
		b.other.Language = float64(w.Language * 1)
	}
	if s.grid.timed {
		b.other.Open = float64(w.Open * 1)
	}
	b.atZero, b.atRadius = b.at(q, w, 0), b.at(q, w, q.radius)
	return b
}

// moveCut moves the cut in to where the heaps now stand.
func (s *Snapshot) moveCut(q *query, c *cut, top, maybe *topK) {
	if !top.full() || (maybe.limit > 0 && !maybe.full()) {
		return
	}
	d := s.cutFor(q, top, maybe, &c.all)
	c.h = min(c.h, cutHaversine(d))
	if lim := reachBound(d, s.grid.bucketReach); lim < c.chord2 {
		c.chord2, c.chord32 = lim, float32(lim)
		if float64(c.chord32) < lim { // keep the float32 at or above the limit
			c.chord32 = math.Nextafter32(c.chord32, float32(math.Inf(1)))
		}
	}
	if c.perDomain {
		for k := range q.urgency {
			d := s.cutFor(q, top, maybe, &c.each[k])
			c.one[k] = min(c.one[k], c.h, cutHaversine(d))
			c.oneChord2[k] = min(c.oneChord2[k], c.chord2, reachBound(d, s.grid.bucketReach))
		}
	}
}

// cutFor is the exact distance beyond which no location whose score is within
// b ranks before the worst of either heap; +Inf when no such distance is known.
func (s *Snapshot) cutFor(q *query, top, maybe *topK, b *bound) float64 {
	d := s.heapCut(q, top, b)
	if maybe.limit > 0 {
		d = max(d, s.heapCut(q, maybe, b))
	}
	if s.secret != nil && !math.IsInf(d, 0) {
		d += ConcealedRoundingM / 2 // a shown distance is at least the exact one less this
	}
	return d
}

// heapCut is cutFor for one full heap: a distance d such that every location at
// or beyond it, as shown, ranks after the heap's worst; -1 when every location
// does.
func (s *Snapshot) heapCut(q *query, t *topK, b *bound) float64 {
	worst := &(*t.cands)[t.heap[0]]
	if t.byDistance {
		if worst.loc < 0 { // an area match: locations rank before it
			return math.Inf(1)
		}
		return worst.dist * (1 + 1e-9) // strictly farther ranks after
	}
	w := s.opts.Weights
	switch {
	case b.atZero < worst.score:
		return -1
	case !(b.atRadius < worst.score) || w.Distance == 0:
		return math.Inf(1)
	}
	// Solve Distance(d) + the rest = worst.score, then step out until the
	// rounded bound is strictly below it.
	d := max(q.radius*(1-(worst.score-b.atRadius)/w.Distance), 0)
	for _, step := range [...]float64{0, 1e-9, 1e-6, 1e-3} {
		if x := d + step*q.radius; b.at(q, w, x) < worst.score {
			return x
		}
	}
	return q.radius // the bound there is below it, checked above
}

// cutHaversine returns a haversine threshold h such that a location whose
// haversine is above h lies, in metres as metres measures it, at or beyond d;
// -1 when d is negative (nothing is kept). sin x ≤ x gives (d/2R)² ≥ the exact
// haversine of d; the factor covers rounding.
func cutHaversine(d float64) float64 {
	switch {
	case d < 0:
		return -1
	case math.IsInf(d, 1):
		return math.Inf(1)
	}
	x := d / (2 * EarthRadiusM)
	return x * x * (1 + 1e-9)
}

// searchExplained keeps every candidate within the search radius, judges each
// with all its reasons, and ranks the matches.
func (s *Snapshot) searchExplained(q *query, sc *scratch) Result {
	s.gatherAll(q, sc)
	s.gatherAreas(q, sc, nil, nil)
	top, maybe := sc.resetTop(q)
	excluded := sc.excluded[:0]
	for i := range sc.cands {
		if i&(cancelEvery-1) == 0 && q.cancelled() {
			break
		}
		c := &sc.cands[i]
		if c.loc >= 0 {
			c.dist = s.shownDistance(q, c)
		}
		c.why = s.verdict(q, sc, c)
		switch {
		case c.why == 0:
			s.score(q, sc, c, c.overlap, c.prof)
			top.push(int32(i))
		case q.possibleFor(c.why):
			s.score(q, sc, c, c.overlap, c.prof)
			maybe.push(int32(i))
		default:
			excluded = append(excluded, c)
		}
	}
	sc.matched, sc.possible, sc.excluded = top.ranked(sc.matched[:0]), maybe.ranked(sc.possible[:0]), excluded
	s.explainReasons(sc, excluded)
	return s.result(q, sc, sc.matched, sc.possible, excluded)
}

// gatherAll collects, explain on, every location within the search radius. A
// site in the run of a domain is read there only if its service addresses no
// domain of an earlier run: each location is read once.
func (s *Snapshot) gatherAll(q *query, sc *scratch) {
	g := &s.grid
	for n, key := range sc.near {
		if n&(cancelEvery-1) == 0 && q.cancelled() {
			return
		}
		b := &g.buckets[uint32(key)]
		r := &g.runs[b.runs]
		var earlier domainSet
		for w, word := range b.mask {
			for ; word != 0; word &= word - 1 {
				for i := r.start; i < r.end; i++ {
					if st := &g.sites[i]; st.domains.and(earlier).empty() {
						s.addWithin(q, sc, st)
					}
				}
				earlier.set(w*64 + bits.TrailingZeros64(word))
				r = &g.runs[b.runs+int32(earlier.count())]
			}
		}
		for i := r.start; i < r.end; i++ {
			s.addWithin(q, sc, &g.sites[i])
		}
	}
}

// addWithin records a point candidate for a site within the search radius and
// copies in what judging and scoring read about the service. Only services
// offered more than once need the de-duplication of offer; the others are
// appended as they come.
func (s *Snapshot) addWithin(q *query, sc *scratch, st *site) {
	h := haversine(q.center, st.p)
	if h > q.hSearch {
		return
	}
	var c *candidate
	if st.shared() {
		sc.offer(st.svc, st.loc, h)
		c = &sc.cands[sc.seen[st.svc].slot]
	} else {
		sc.cands = append(sc.cands, candidate{rankKey: rankKey{svc: st.svc, loc: st.loc}, h: h})
		c = &sc.cands[len(sc.cands)-1]
	}
	c.overlap, c.prof = st.domains.and(q.mask), st.profile
}

// gatherAreas offers the services whose areas cover the person: with heaps
// (explain off) to the heaps, best first (see offerLists); without, each is
// collected, in the order the scan offers them.
func (s *Snapshot) gatherAreas(q *query, sc *scratch, top, maybe *topK) {
	lists := sc.lists[:0]
	add := func(l areaList, kind referral.AreaKind) {
		if len(l.refs) > 0 {
			lists = append(lists, kindList{list: l, kind: kind})
		}
	}
	p := q.req.Person
	if p.Zip != "" {
		add(s.zips[normalize(p.Zip)], referral.AreaZip)
	}
	if p.County != "" {
		add(s.counties[normalize(p.County)], referral.AreaCounty)
	}
	if p.State != "" {
		add(s.states[p.State], referral.AreaState)
	}
	if len(s.polygons) > 0 {
		for r := s.opts.Resolution; r >= 0; r-- {
			add(s.polygons[parent(q.origin, r)], referral.AreaPolygon)
		}
	}
	add(s.virtual, referral.AreaVirtual)
	sc.lists = lists
	if top != nil {
		s.offerLists(q, sc, top, maybe, lists)
		return
	}
	for _, l := range lists {
		// A service addressing two of the request's domains is listed under
		// both: it is offered from the first only.
		var earlier domainSet
		for _, u := range q.urgency {
			entries, _ := l.list.domain(u.bit)
			for n := range entries {
				if n&(cancelEvery-1) == 0 && q.cancelled() {
					return
				}
				if a := &entries[n]; a.domains.and(earlier).empty() {
					s.offerAreaRef(q, sc, a, l.kind)
				}
			}
			earlier.set(u.bit)
		}
	}
}

// kindList is an area list that covers the person, and its kind.
type kindList struct {
	list areaList
	kind referral.AreaKind
}

// offerLists offers, explain off, the entries of the area lists that cover the
// person, domain by domain of the request (a service addressing two of them is
// offered under the first only). First the services that also address another
// of the request's domains, and those with opening hours, each scored on its
// own. Then the others, by level: in a part of a list (see areaList), those of
// one capacity class score alike. Levels are taken best first, and those of
// one score together, across lists, by service: the order the heaps rank them
// in, so that once the heaps reject one, they reject the rest of its score, and
// a level the heaps reject whole is not read. A service listed in several areas
// is met first in the first of them, which names its area, as in the scan.
func (s *Snapshot) offerLists(q *query, sc *scratch, top, maybe *topK, lists []kindList) {
	w := s.opts.Weights
	var earlier domainSet
	visited := 0
	for _, u := range q.urgency {
		var one domainSet
		one.set(u.bit)
		others := q.mask.and(domainSet{^one[0], ^one[1]}).and(domainSet{^earlier[0], ^earlier[1]})
		// alone: the entry addresses u and no other of the request's domains
		// not offered before; it is offered here if it addresses none before.
		alone := func(a *areaRef) bool { return a.domains.and(others).empty() }
		terms := s.areaTermsFor(q, u)
		levels := sc.levels[:0]
		for li, l := range lists {
			entries, parts := l.list.domain(u.bit)
			for pi := range parts {
				p := &parts[pi]
				if !p.active {
					continue
				}
				mixed := !others.empty()
				if !p.timed {
					// Summed as Breakdown.Total sums.
					base := terms.dnu + float64(w.Language*s.languageOf(q, sc, p.langs))
					for c := range capClassValue {
						levels = append(levels, level{score: base + terms.capacity[c] + terms.open,
							list: int32(li), part: int32(pi), class: capClass(c)})
					}
					if !mixed {
						continue
					}
				}
				for i := p.start; i < p.end; i++ {
					if visited&(cancelEvery-1) == 0 && q.cancelled() {
						return
					}
					visited++
					if a := &entries[i]; a.domains.and(earlier).empty() && (p.timed || !alone(a)) {
						s.offerScored(q, sc, top, maybe, a, l.kind)
					}
				}
			}
		}
		slices.SortStableFunc(levels, func(a, b level) int { return cmp.Compare(b.score, a.score) })
		sc.levels = levels
		for i := 0; i < len(levels); {
			// Levels come best score first: once the heaps reject a level's
			// score ahead of every service (svc -1 ranks first among equal
			// area scores), they reject it and every level after it.
			if best := (rankKey{score: levels[i].score, svc: -1, loc: -1}); top.rejects(&best) && maybe.rejects(&best) {
				break
			}
			j := i + 1
			for j < len(levels) && levels[j].score == levels[i].score {
				j++
			}
			if !s.offerLevels(q, sc, top, maybe, lists, levels[i:j], u.bit, earlier, alone) {
				return
			}
			i = j
		}
		earlier.set(u.bit)
	}
}

// level is the entries of a part of an area list with one capacity class.
type level struct {
	score      float64
	list, part int32
	class      capClass
}

// cursor is a level's next entry in offerLevels.
type cursor struct {
	level *level
	at    int32
	end   int32
}

// offerLevels offers the entries of levels of one score, for domain bit d,
// merged by service. It reports false when the request was cancelled.
func (s *Snapshot) offerLevels(q *query, sc *scratch, top, maybe *topK, lists []kindList, levels []level, d int, earlier domainSet, alone func(*areaRef) bool) bool {
	cursors := sc.cursors[:0]
	steps := 0
	// next moves c to its level's next entry to offer, or to its end.
	next := func(c *cursor) {
		entries, _ := lists[c.level.list].list.domain(d)
		for ; c.at < c.end; c.at++ {
			a := &entries[c.at]
			if a.domains.and(earlier).empty() && alone(a) && s.caps.class(a.svc) == c.level.class {
				return
			}
		}
	}
	for i := range levels {
		_, parts := lists[levels[i].list].list.domain(d)
		p := &parts[levels[i].part]
		c := cursor{level: &levels[i], at: p.start, end: p.end}
		next(&c)
		if c.at < c.end {
			cursors = append(cursors, c)
		}
	}
	sc.cursors = cursors
	for len(cursors) > 0 {
		if steps&(cancelEvery-1) == 0 && q.cancelled() {
			return false
		}
		steps++
		// The lowest service, and of its entries the first list's.
		best := 0
		var bestRef *areaRef
		for i := range cursors {
			entries, _ := lists[cursors[i].level.list].list.domain(d)
			a := &entries[cursors[i].at]
			if bestRef == nil || a.svc < bestRef.svc || (a.svc == bestRef.svc && cursors[i].level.list < cursors[best].level.list) {
				best, bestRef = i, a
			}
		}
		c := &cursors[best]
		key := rankKey{score: c.level.score, svc: bestRef.svc, loc: -1}
		if top.rejects(&key) && maybe.rejects(&key) {
			return true // and the rest: the same score, later services
		}
		s.offerArea(q, sc, top, maybe, bestRef, lists[c.level.list].kind, key)
		c.at++
		next(c)
		if c.at == c.end {
			cursors[best] = cursors[len(cursors)-1]
			cursors = cursors[:len(cursors)-1]
		}
	}
	return true
}

// offerScored scores an area entry on its own and offers it unless the heaps
// reject its score.
func (s *Snapshot) offerScored(q *query, sc *scratch, top, maybe *topK, a *areaRef, kind referral.AreaKind) {
	key := rankKey{svc: a.svc, loc: -1}
	key.score = s.breakdownOf(q, sc, &key, a.domains.and(q.mask), a.profile).Total()
	if top.rejects(&key) && maybe.rejects(&key) {
		return
	}
	s.offerArea(q, sc, top, maybe, a, kind, key)
}

// areaTerms are the score terms an area candidate of a service that addresses
// one of the request's domains, and has no opening hours, shares with every
// such candidate of that domain: the sum of the distance, needs and urgency
// terms (summed as Breakdown.Total sums them), each capacity class's term and
// the term of no schedule.
type areaTerms struct {
	dnu      float64
	capacity [len(capClassValue)]float64
	open     float64
}

func (s *Snapshot) areaTermsFor(q *query, u bitUrgency) areaTerms {
	w := s.opts.Weights
	var one domainSet
	one.set(u.bit)
	b := s.breakdown(q, &rankKey{loc: -1}, one, 0, 0, 0.5)
	t := areaTerms{dnu: b.Distance + b.Needs + b.Urgency, open: b.Open}
	for class, v := range capClassValue {
		t.capacity[class] = float64(w.Capacity * v)
	}
	return t
}

// offerArea offers an area entry whose score the heaps do not reject (explain
// off): the service is judged, and kept as an area match unless it has a
// location within the radius, which then decides it.
func (s *Snapshot) offerArea(q *query, sc *scratch, top, maybe *topK, a *areaRef, kind referral.AreaKind, key rankKey) {
	if !sc.decided.add(a.svc) { // decided already, at a location or through another area
		return
	}
	if a.placed() && float64(a.latHi) >= q.latDeg-q.radiusDeg && float64(a.latLo) <= q.latDeg+q.radiusDeg {
		// A location within the radius wins over the area (see the scan's
		// offerArea): the service ranks there, as a location. If the walk of
		// the locations skipped it, it cannot rank there.
		if h, loc := s.nearest(q, a.svc); loc >= 0 {
			s.considerPoint(q, sc, top, maybe, a.svc, loc, h, a.domains, a.profile)
			return
		}
	}
	w, keep := s.admits(q, sc, a.svc, a.profile)
	if !keep || (w == 0 && top.rejects(&key)) || (w != 0 && maybe.rejects(&key)) {
		return
	}
	c := candidate{rankKey: key, area: kind, overlap: a.domains.and(q.mask), prof: a.profile}
	c.br = s.breakdownOf(q, sc, &c.rankKey, c.overlap, a.profile)
	s.keep(sc, top, maybe, c, w)
}

// offerAreaRef offers an area entry (explain on): it appends a candidate, with
// the entry's copies of service data, unless the service has one.
func (s *Snapshot) offerAreaRef(q *query, sc *scratch, a *areaRef, kind referral.AreaKind) {
	if !areaWanted(q, a.domains, a.status == 0) || !sc.offerArea(q, a.svc, kind) {
		return
	}
	c := &sc.cands[len(sc.cands)-1]
	c.overlap, c.prof = a.domains.and(q.mask), a.profile
}

// score fills a candidate's breakdown and score.
func (s *Snapshot) score(q *query, sc *scratch, c *candidate, overlap domainSet, p profile) {
	c.br = s.breakdownOf(q, sc, &c.rankKey, overlap, p)
	c.score = c.br.Total()
}

// breakdownOf computes the breakdown of the candidate at k from its service's
// matching domains and profile, the capacity classes and the request's memoized
// language values.
func (s *Snapshot) breakdownOf(q *query, sc *scratch, k *rankKey, overlap domainSet, p profile) Breakdown {
	open := 0.5 // openValue of no schedule
	if p.timed() {
		open = openValue(s.services[k.svc].hours, q.asOf)
	}
	return s.breakdown(q, k, overlap, s.languageOf(q, sc, p.langs), capClassValue[s.caps.class(k.svc)], open)
}

// languageOf is languageValue for a service language list, once per list and
// request: thousands of services share a handful of lists.
func (s *Snapshot) languageOf(q *query, sc *scratch, set int32) float64 {
	if sc.langGen[set] != sc.gen {
		sc.langGen[set] = sc.gen
		sc.langVal[set] = languageValue(q.env.Languages, s.langSets[set])
	}
	return sc.langVal[set]
}
