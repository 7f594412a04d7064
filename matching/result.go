package matching

import (
	"math"
	"math/bits"
	"slices"
	"strconv"

	"github.com/refkit/refkit/referral"
)

// result builds the answer from the ranked matches and possible matches and,
// when explaining, the excluded candidates (their reason slices filled).
// Everything it returns is freshly allocated, but in a few blocks, one per kind
// of value, rather than one allocation per match or reason: the caller owns the
// result, the scratch is reused.
func (s *Snapshot) result(q *query, sc *scratch, matched, possible, excluded []*candidate) Result {
	res := Result{Matches: s.matches(q, sc, matched)}
	if len(possible) > 0 {
		res.Possible = s.matches(q, sc, possible)
	}
	if q.req.Explain {
		res.Excluded = s.withNowhere(q, s.exclusions(q, sc, excluded))
	}
	return res
}

func (s *Snapshot) matches(q *query, sc *scratch, matched []*candidate) []Match {
	// The first pass reads each match's service and location records with no
	// dependence between iterations, so their cache misses overlap.
	out := make([]Match, len(matched))
	points := 0
	for i, c := range matched {
		hd := &s.grid.heads[c.svc]
		out[i] = Match{Service: hd.id, Organization: hd.org, Score: c.score, Breakdown: c.br}
		if c.loc >= 0 {
			out[i].Location = s.grid.locIDs[hd.places+c.loc]
			points++
		}
	}
	// The reasons are built in the scratch, then copied to a block of the
	// size they turned out to be.
	built, ends := sc.reasons[:0], sc.reasonEnds[:0]
	dists := make([]float64, 0, points)
	kms := sc.formatKm(matched, func(c *candidate) bool { return c.loc >= 0 })
	for i, c := range matched {
		m := &out[i]
		if c.loc >= 0 {
			dists = append(dists, round(c.dist))
			m.DistanceM = &dists[len(dists)-1]
			m.Vicinity = s.vicinity(q, c)
			built = append(built, Reason{ReasonWithinRadius, kms[i]})
		} else {
			m.Area = c.area
			built = append(built, Reason{ReasonServesArea, string(c.area)})
		}
		built = s.matchReasons(built, q, sc, c)
		ends = append(ends, len(built))
		if c.why != 0 {
			m.Unknown = s.unknownFacts(sc, c)
		}
	}
	sc.reasons, sc.reasonEnds = built, ends
	reasons := append([]Reason(nil), built...)
	start := 0
	for i, end := range ends {
		// The full slice expression keeps a caller's append from writing into
		// the next match's reasons.
		out[i].Reasons = reasons[start:end:end]
		start = end
	}
	return out
}

// unknownFacts names the facts that would settle a possible match.
func (s *Snapshot) unknownFacts(sc *scratch, c *candidate) []string {
	var out []string
	if c.why&whyAgeUnknown != 0 {
		out = append(out, factNames[0])
	}
	if c.why&whyRuleUnknown != 0 {
		for _, n := range s.programs[c.prof.rule].factNamesOf(sc.ruleOut[c.prof.rule].missing) {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// matchReasons appends the reasons after the first (within-radius or serves-area):
// at most one per service domain, plus five. A possible match says what is
// unknown where a match says it is eligible.
// The service's profile (c.prof) stands in for its record where it can: the
// record is a likely cache miss.
func (s *Snapshot) matchReasons(out []Reason, q *query, sc *scratch, c *candidate) []Reason {
	for _, d := range s.domLists[c.prof.doms] {
		if slices.Contains(q.env.Needs, string(d)) {
			out = append(out, Reason{ReasonCoversNeed, string(d)})
		}
	}
	switch p := c.prof; {
	case c.why != 0:
		if c.why&whyAgeUnknown != 0 {
			out = append(out, Reason{ReasonUnknownFact, "age limits need age"})
		}
		if c.why&whyRuleUnknown != 0 {
			out = append(out, sc.ruleOut[p.rule].reason)
		}
	case p.rule >= 0 || p.minAge > 0 || p.maxAge > 0:
		out = append(out, Reason{Code: ReasonEligible})
	}
	if c.br.Language > 0 {
		langs := s.langSets[c.prof.langs]
		for _, pl := range q.env.Languages {
			if slices.ContainsFunc(langs, func(sl string) bool { return languageMatch(pl, sl) }) {
				out = append(out, Reason{ReasonLanguage, pl})
				break
			}
		}
	}
	if e := s.caps.at(c.svc); e.class != capUntracked {
		out = append(out, e.reason())
	}
	if c.prof.timed() && c.br.Open > 0 && c.br.Open == s.opts.Weights.Open { // open, not unknown
		out = append(out, Reason{Code: ReasonOpenNow})
	}
	return out
}

// exclusions lists the excluded candidates by service id. A service is a
// candidate at most once, and services are indexed in id order, so sorting by
// index sorts by id; the sort is on plain integers, service index and position.
func (s *Snapshot) exclusions(q *query, sc *scratch, excluded []*candidate) []Exclusion {
	keys := sc.keys[:0]
	points := 0
	for i, c := range excluded {
		keys = append(keys, uint64(c.svc)<<32|uint64(i))
		if c.loc >= 0 {
			points++
		}
	}
	slices.Sort(keys)
	sc.keys = keys
	out := make([]Exclusion, len(excluded))
	dists := make([]float64, 0, points)
	for i, k := range keys {
		c := excluded[uint32(k)]
		x := &out[i]
		x.Service, x.Reasons = s.ids[c.svc], c.reason
		if c.loc >= 0 {
			x.Location = s.locationID(c)
			dists = append(dists, round(c.dist))
			x.DistanceM = &dists[len(dists)-1]
			x.Vicinity = s.vicinity(q, c)
		}
	}
	return out
}

// locationID is the id of a point candidate's location, from the grid's dense
// array: the service record is a likely cache miss.
func (s *Snapshot) locationID(c *candidate) referral.ID {
	return s.grid.locIDs[s.grid.placeFrom[c.svc]+c.loc]
}

// explainReasons turns the index path's exclusion bits into Reasons, all in one
// block.
func (s *Snapshot) explainReasons(sc *scratch, excluded []*candidate) {
	size := 0
	for _, c := range excluded {
		size += bits.OnesCount8(uint8(c.why))
	}
	block := make([]Reason, 0, size)
	kms := sc.formatKm(excluded, func(c *candidate) bool { return c.why&whyOutOfRadius != 0 })
	for i, c := range excluded {
		start := len(block)
		block = s.reasons(block, sc, c, c.why, kms[i])
		c.reason = block[start:len(block):len(block)]
	}
}

// formatKm formats, as km does, the distance of every candidate want accepts ("" for
// the others), into one string allocation shared by the returned texts.
func (sc *scratch) formatKm(cands []*candidate, want func(*candidate) bool) []string {
	buf, ends := sc.kmBuf[:0], sc.kmEnds[:0]
	for _, c := range cands {
		if want(c) {
			buf = strconv.AppendFloat(buf, c.dist/1000, 'f', 2, 64)
			buf = append(buf, " km"...)
		}
		ends = append(ends, len(buf))
	}
	all := string(buf)
	texts := sc.kms[:0]
	start := 0
	for _, end := range ends {
		texts = append(texts, all[start:end])
		start = end
	}
	sc.kmBuf, sc.kmEnds, sc.kms = buf, ends, texts
	return texts
}

func km(m float64) string { return strconv.FormatFloat(m/1000, 'f', 2, 64) + " km" }

func round(m float64) float64 { return math.Round(m*10) / 10 }
