package matching

import (
	"math"
	"slices"

	"github.com/uber/h3-go/v4"

	"github.com/refkit/refkit/referral"
)

// This file is the index path, Snapshot.Match. With explanations off it filters
// candidates as it finds them, cheapest test first: the service's domains and
// activity (from a compact array), then the exact distance, then the service's
// capacity, age limits and rule (each distinct rule evaluated at most once per
// request). Only the survivors are scored, from data copied next to each
// location, and a bounded heap keeps the best Limit of them. With explanations
// on, every candidate within the search radius is kept and its exclusion reasons
// are recorded as bits until the result is built.

// grid is the geo index, in two levels. Service locations are bucketed by their
// H3 cell at the index resolution, and the buckets are grouped by the cell
// groupLevels resolutions coarser that holds the location: the query's grid disk
// walks the coarse cells (61 lookups for a 10 km radius at the default
// resolution, where the disk at the index resolution has 331), then drops
// groups and buckets whose centre is too far to hold a location within the
// radius, before it reads a single location.
type grid struct {
	res     int     // of the groups and the grid disk
	edgeAvg float64 // at res
	// index maps an occupied coarse cell to its group, centre included, so a disk
	// cell costs one lookup; groups lists the same, for walks of every group.
	index   map[h3.Cell]bucket
	groups  []bucket
	buckets []bucket // ranges of sites
	// groupReach and bucketReach are the farthest any location lies from its
	// group's or bucket's centre, as central angles. They are measured, so pruning
	// assumes nothing about hexagon sizes.
	groupReach, bucketReach float64
	// sites are sorted by group, bucket, service and location. filter holds the
	// first word of each site's live domains, and filterHi the second when the
	// directory uses more than 64 domains: the first test on a site reads 8 bytes
	// of it, not 64.
	sites    []site
	filter   []uint64
	filterHi []uint64
	// locIDs are the sites' location ids, apart: only results read them.
	locIDs []referral.ID
}

// bucket is a group (a range of buckets) or a bucket (a range of sites).
type bucket struct {
	centre     vec
	start, end int32
}

// site is a service location with what the explain-off filter reads about its
// service copied in: one 64-byte record, read in order. A bucket holds a handful
// of sites, too few for separate arrays per field to pay.
type site struct {
	domains domainSet
	p       point
	svc     int32
	loc     int32 // index in the service's locations
	profile
	status uint8 // index into Snapshot.statuses: 0 is active
}

// placed is a service location while the grid is built.
type placed struct {
	lat, lon    float64
	group, cell h3.Cell
	svc, loc    int32
	id          referral.ID
}

// pruneSlack absorbs rounding in the centre tests (radians, about 0.6 m: far
// above the chord's rounding error, far below a bucket).
const pruneSlack = 1e-7

func newGrid(points []placed, gates []gate, res, domains int) grid {
	g := grid{res: res - groupLevels, edgeAvg: h3.HexagonEdgeLengthAvgM(res - groupLevels), index: map[h3.Cell]bucket{}}
	for i := range points {
		ll := h3.NewLatLng(points[i].lat, points[i].lon)
		points[i].group, points[i].cell = h3.LatLngToCell(ll, res-groupLevels), h3.LatLngToCell(ll, res)
	}
	slices.SortFunc(points, func(a, b placed) int {
		switch {
		case a.group != b.group:
			return cmpCell(a.group, b.group)
		case a.cell != b.cell:
			return cmpCell(a.cell, b.cell)
		case a.svc != b.svc:
			return int(a.svc - b.svc)
		}
		return int(a.loc - b.loc)
	})
	g.sites, g.filter = make([]site, len(points)), make([]uint64, len(points))
	g.locIDs = make([]referral.ID, len(points))
	if domains > 64 {
		g.filterHi = make([]uint64, len(points))
	}
	for i, p := range points {
		gt := &gates[p.svc]
		active := gt.status == 0
		st := &g.sites[i]
		*st = site{domains: gt.domains, p: newPoint(p.lat, p.lon), svc: p.svc, loc: p.loc, profile: gt.profile, status: gt.status}
		g.locIDs[i] = p.id
		if active { // the explain-off filter drops inactive services
			g.filter[i] = st.domains[0]
			if g.filterHi != nil {
				g.filterHi[i] = st.domains[1]
			}
		}
		newGroup := i == 0 || p.group != points[i-1].group
		if newGroup {
			g.groups = append(g.groups, bucket{centre: cellCentre(p.group), start: int32(len(g.buckets))})
		}
		if newGroup || p.cell != points[i-1].cell {
			g.buckets = append(g.buckets, bucket{centre: cellCentre(p.cell), start: int32(i)})
		}
		gr, b := &g.groups[len(g.groups)-1], &g.buckets[len(g.buckets)-1]
		gr.end, b.end = int32(len(g.buckets)), int32(i+1)
		v := unitVec(p.lat, p.lon)
		g.groupReach = max(g.groupReach, chordAngle(gr.centre.chord2(v)))
		g.bucketReach = max(g.bucketReach, chordAngle(b.centre.chord2(v)))
		g.index[p.group] = *gr
	}
	return g
}

func cmpCell(a, b h3.Cell) int {
	if a < b {
		return -1
	}
	return 1
}

func cellCentre(c h3.Cell) vec {
	ll := h3.CellToLatLng(c)
	return unitVec(ll.Lat, ll.Lng)
}

// reachLimit is the squared chord a centre must be within to hold, at most reach
// from it, a location within m metres.
func reachLimit(m, reach float64) float64 {
	a := m/EarthRadiusM + reach + pruneSlack
	if a >= math.Pi {
		return math.Inf(1)
	}
	c := 2 * math.Sin(a/2)
	return c * c
}

// near appends to hits, in memory order, the buckets that may hold a location
// within q.search of the query point.
func (g *grid) near(q *query, hits []int32, disks *diskMemo) []int32 {
	groupLimit := reachLimit(q.search, g.groupReach)
	bucketLimit := reachLimit(q.search, g.bucketReach)
	at := unitVec(q.latDeg, q.lonDeg)
	groups := g.groups
	if k := diskK(q.search, g.edgeAvg); k <= maxDiskK {
		origin := h3.LatLngToCell(h3.NewLatLng(q.latDeg, q.lonDeg), g.res)
		groups = disks.groups(g, origin, k)
	}
	for _, gr := range groups {
		if at.chord2(gr.centre) > groupLimit {
			continue
		}
		for bi := gr.start; bi < gr.end; bi++ {
			if at.chord2(g.buckets[bi].centre) <= bucketLimit {
				hits = append(hits, bi)
			}
		}
	}
	// Sorted, buckets are read in memory order; compacted, a cell the disk might
	// list twice is read once.
	slices.Sort(hits)
	return slices.Compact(hits)
}

// diskMemoBits sizes a scratch's memo of grid disks: 256 entries.
const diskMemoBits = 8

// diskMemo remembers the occupied groups of recent grid disks, by origin cell
// and size. People searching from the same part of a city share a disk at the
// coarse resolution, and listing one costs an h3 call (cgo, and an allocation)
// and a map lookup per cell. It lives in a scratch, so it serves one goroutine
// at a time and one grid: a scratch's pool is only shared by snapshots that
// share their grid. It keeps only coarse cells (hexagons of about 250 km² at the
// default resolution), nothing that locates a person.
type diskMemo [1 << diskMemoBits]diskEntry

type diskEntry struct {
	origin h3.Cell
	k      int
	groups []bucket // nil: no entry (or a disk with no occupied group)
}

// groups returns the groups of g in the grid disk of k around origin. The
// slice is the memo's: valid until the next call.
func (m *diskMemo) groups(g *grid, origin h3.Cell, k int) []bucket {
	e := &m[uint64(origin)*0x9e3779b97f4a7c15>>(64-diskMemoBits)]
	if e.groups != nil && e.origin == origin && e.k == k {
		return e.groups
	}
	// Look every disk cell up before visiting any group, so the lookups'
	// cache misses overlap.
	groups := e.groups[:0]
	for _, c := range h3.GridDisk(origin, k) {
		if gr, ok := g.index[c]; ok {
			groups = append(groups, gr)
		}
	}
	*e = diskEntry{origin: origin, k: k, groups: groups}
	return groups
}

// search answers a request through the index.
func (s *Snapshot) search(q *query, sc *scratch) Result {
	sc.hits = s.grid.near(q, sc.hits[:0], &sc.disks)
	if q.req.Explain {
		return s.searchExplained(q, sc)
	}
	s.gatherAdmitted(q, sc)
	top, maybe := sc.resetTop(q)
	for i := range sc.cands {
		c := &sc.cands[i]
		c.dist = s.shownDistance(q, c)
		s.score(q, sc, c, c.overlap, c.prof)
		if c.why == 0 {
			top.push(int32(i))
		} else {
			maybe.push(int32(i))
		}
	}
	s.gatherAreas(q, sc, top, maybe)
	sc.matched, sc.possible = top.ranked(sc.matched[:0]), maybe.ranked(sc.possible[:0])
	return s.result(q, sc, sc.matched, sc.possible, nil)
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

// gatherAdmitted collects, explain off, the locations that can match. It works in
// three passes because reading a site record is a likely cache miss: the first
// lists the sites whose domains match from the compact filter, the second copies
// their records in a loop with nothing else in it (so the misses overlap instead
// of queueing behind the computation), and the third tests the copies.
func (s *Snapshot) gatherAdmitted(q *query, sc *scratch) {
	g := &s.grid
	wanted := sc.wanted[:0]
	for _, bi := range sc.hits {
		b := g.buckets[bi]
		for i := b.start; i < b.end; i++ {
			if g.filter[i]&q.mask[0] != 0 || (g.filterHi != nil && g.filterHi[i]&q.mask[1] != 0) {
				wanted = append(wanted, i)
			}
		}
	}
	copies := sc.sites[:0]
	for _, i := range wanted {
		copies = append(copies, g.sites[i])
	}
	sc.wanted, sc.sites = wanted, copies
	for k := range copies {
		if k&(cancelEvery-1) == 0 && q.cancelled() {
			return
		}
		st := &copies[k]
		h := haversine(q.center, st.p)
		if h > q.hSearch {
			continue
		}
		if w, keep := s.admits(q, sc, st.svc, st.profile); keep {
			s.add(q, sc, st, wanted[k], h).why = w
		}
	}
}

// gatherAll collects, explain on, every location within the search radius.
func (s *Snapshot) gatherAll(q *query, sc *scratch) {
	g := &s.grid
	for n, bi := range sc.hits {
		if n&(cancelEvery-1) == 0 && q.cancelled() {
			return
		}
		b := g.buckets[bi]
		for i := b.start; i < b.end; i++ {
			st := &g.sites[i]
			if h := haversine(q.center, st.p); h <= q.hSearch {
				s.add(q, sc, st, i, h)
			}
		}
	}
}

// add records a point candidate for site i and copies in what judging and
// scoring read about the service. Only services offered more than once need the
// de-duplication of offer; the others are appended as they come. It returns the
// service's candidate.
func (s *Snapshot) add(q *query, sc *scratch, st *site, i int32, h float64) *candidate {
	var c *candidate
	if st.shared {
		sc.offer(st.svc, st.loc, h)
		if c = &sc.cands[sc.seen[st.svc].slot]; c.loc != st.loc {
			return c // a nearer location of the service holds the candidate
		}
	} else {
		sc.cands = append(sc.cands, candidate{rankKey: rankKey{svc: st.svc, loc: st.loc}, h: h})
		c = &sc.cands[len(sc.cands)-1]
	}
	c.site, c.status, c.overlap, c.prof = i, st.status, st.domains.and(q.mask), st.profile
	return c
}

// gatherAreas offers the services whose areas cover the person, in the order the
// scan offers them. With heaps (explain off), admitted area candidates are
// considered as they come, matches for top and possible matches for maybe;
// without, they are only collected.
func (s *Snapshot) gatherAreas(q *query, sc *scratch, top, maybe *topK) {
	if top != nil {
		// No area candidate scores above this ceiling (all the request's domains,
		// and language, capacity and opening hours at their maximum): once the
		// heaps reject it, no area list need be read at all.
		ceiling := rankKey{svc: -1, loc: -1}
		ceiling.score = s.breakdown(q, &ceiling, q.mask, 1, 1, 1).Total()
		if top.rejects(&ceiling) && maybe.rejects(&ceiling) {
			return
		}
	}
	p := q.req.Person
	if p.Zip != "" {
		s.offerAreas(q, sc, top, maybe, s.zips[normalize(p.Zip)], referral.AreaZip)
	}
	if p.County != "" {
		s.offerAreas(q, sc, top, maybe, s.counties[normalize(p.County)], referral.AreaCounty)
	}
	if p.State != "" {
		s.offerAreas(q, sc, top, maybe, s.states[p.State], referral.AreaState)
	}
	if len(s.polygons) > 0 {
		for r := s.opts.Resolution; r >= 0; r-- {
			s.offerAreas(q, sc, top, maybe, s.polygons[parent(q.origin, r)], referral.AreaPolygon)
		}
	}
	s.offerAreas(q, sc, top, maybe, s.virtual, referral.AreaVirtual)
}

// offerAreas offers one area list. Explain off, an entry that cannot rank is
// dropped before the service is looked at: a state's or the nation's virtual
// services are hundreds of entries, of which a few rank.
func (s *Snapshot) offerAreas(q *query, sc *scratch, top, maybe *topK, list areaList, kind referral.AreaKind) {
	// A service addressing two of the request's domains is listed, and offered,
	// twice: the second offer finds its candidate and changes nothing.
	for _, u := range q.urgency {
		for n, a := range list.domain(u.bit) {
			if n&(cancelEvery-1) == 0 && q.cancelled() {
				return
			}
			s.offerArea(q, sc, top, maybe, a, kind)
		}
	}
}

func (s *Snapshot) offerArea(q *query, sc *scratch, top, maybe *topK, a areaRef, kind referral.AreaKind) {
	if !areaWanted(q, a.domains, a.status == 0) {
		return
	}
	if top == nil {
		s.offerAreaRef(q, sc, a, kind)
		return
	}
	// Score first: it reads only the entry and the capacity classes, and most
	// entries then fall short of the heaps before the service is looked at.
	key := rankKey{svc: a.svc, loc: -1}
	m := s.areaScore(q, sc, &key, a.domains.and(q.mask), a.profile)
	if m.hopeless {
		return
	}
	key.score = m.score
	rejected, rejectedMaybe := top.rejects(&key), maybe.rejects(&key)
	if rejected && rejectedMaybe {
		// The heaps only get better: an area score they reject whatever the
		// service is stays rejected for the rest of the request.
		m.hopeless = top.rejectsArea(key.score) && maybe.rejectsArea(key.score)
		return
	}
	w, keep := s.admits(q, sc, a.svc, a.profile)
	if !keep || (w == 0 && rejected) || (w != 0 && rejectedMaybe) {
		return
	}
	if c := s.offerAreaRef(q, sc, a, kind); c != nil {
		c.score, c.br, c.why = key.score, m.br, w
		if w == 0 {
			top.push(int32(len(sc.cands) - 1))
		} else {
			maybe.push(int32(len(sc.cands) - 1))
		}
	}
}

// offerAreaRef offers an area entry and returns the candidate it appended, with
// the entry's copies of service data, or nil.
func (s *Snapshot) offerAreaRef(q *query, sc *scratch, a areaRef, kind referral.AreaKind) *candidate {
	if !sc.offerArea(q, a.svc, kind) {
		return nil
	}
	c := &sc.cands[len(sc.cands)-1]
	c.status, c.overlap, c.prof = a.status, a.domains.and(q.mask), a.profile
	return c
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
	if p.timed {
		open = openValue(s.services[k.svc].hours, q.asOf)
	}
	return s.breakdown(q, k, overlap, s.languageOf(q, sc, p.langs), capClassValue[s.caps.class(k.svc)], open)
}

// areaScore is an entry of the per-request memo of Snapshot.areaScore.
type areaScore struct {
	overlap domainSet
	langs   int32
	class   capClass
	br      Breakdown
	score   float64
	// hopeless is set once the heap rejects this score for any service.
	hopeless bool
}

// maxAreaScores bounds the memo, whose lookup is a linear search.
const maxAreaScores = 32

// areaScore scores an area candidate. Without opening hours, an area
// candidate's score depends only on its matching domains, language list and
// capacity class, and the hundreds of area entries a request reads share a
// handful of them: so each is computed once per request, and the result is
// shared. Scores that cannot be shared are returned in sc.areaSpare.
func (s *Snapshot) areaScore(q *query, sc *scratch, k *rankKey, overlap domainSet, p profile) *areaScore {
	class := s.caps.class(k.svc)
	if !p.timed {
		for i := range sc.areaScores {
			if m := &sc.areaScores[i]; m.overlap == overlap && m.langs == p.langs && m.class == class {
				return m
			}
		}
	}
	br := s.breakdownOf(q, sc, k, overlap, p)
	m := &sc.areaSpare
	if !p.timed && len(sc.areaScores) < maxAreaScores {
		sc.areaScores = append(sc.areaScores, areaScore{})
		m = &sc.areaScores[len(sc.areaScores)-1]
	}
	*m = areaScore{overlap: overlap, langs: p.langs, class: class, br: br, score: br.Total()}
	return m
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

// groupLevels is how many resolutions coarser than the buckets the groups are:
// measured best of 1, 2 and 3 on the synthetic national directory.
const groupLevels = 2
