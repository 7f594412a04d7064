package matching

import (
	"math"
	"slices"
	"time"

	"github.com/refkit/refkit/referral"
)

// Weights tune the score. A match's score is the sum over components of weight ×
// component value, each value in [0, 1]; the breakdown reports every weighted term.
// Hosts set their own weights in Options; a zero weight switches a component off.
type Weights struct {
	// Distance rewards nearness: 1 at the search point, falling linearly to 0 at the
	// radius. Area matches (county, zip, state, polygon, virtual) score AreaDistance.
	Distance float64 `json:"distance"`
	// AreaDistance is the distance value of a match that serves the person's area
	// rather than being within the radius, in [0, 1].
	AreaDistance float64 `json:"area_distance"`
	// Needs rewards covering more of the request's needs: covered / requested.
	Needs float64 `json:"needs"`
	// Urgency rewards covering the most pressing need: the highest urgency among the
	// covered needs, routine 0, urgent 0.5, emergent 1.
	Urgency float64 `json:"urgency"`
	// Language rewards speaking the person's language: 1 for their first
	// language, 0.5 for another of theirs, 0 otherwise or when unknown.
	Language float64 `json:"language"`
	// Capacity rewards room: 1 with open slots, 0.25 with waitlist room only, 0 when
	// full, 0.5 when the service does not publish capacity.
	Capacity float64 `json:"capacity"`
	// Open rewards being open at as_of: 1 open, 0 closed, 0.5 with no schedule
	// or one refkit cannot evaluate (see referral.Hours).
	Open float64 `json:"open"`
}

// DefaultWeights are the weights used when Options.Weights is nil.
func DefaultWeights() Weights {
	return Weights{Distance: 3, AreaDistance: 0.5, Needs: 3, Urgency: 1, Language: 1, Capacity: 1, Open: 0.5}
}

func (w Weights) validate() error {
	for _, v := range []float64{w.Distance, w.Needs, w.Urgency, w.Language, w.Capacity, w.Open} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return invalidf("weights", "must be finite and not negative")
		}
	}
	if math.IsNaN(w.AreaDistance) || w.AreaDistance < 0 || w.AreaDistance > 1 {
		return invalidf("weights.area_distance", "must be between 0 and 1")
	}
	return nil
}

// Breakdown is a match's score by component: each term is weight × value.
type Breakdown struct {
	Distance float64 `json:"distance"`
	Needs    float64 `json:"needs"`
	Urgency  float64 `json:"urgency"`
	Language float64 `json:"language"`
	Capacity float64 `json:"capacity"`
	Open     float64 `json:"open"`
}

// Total is the score: the sum of the terms.
func (b Breakdown) Total() float64 {
	return b.Distance + b.Needs + b.Urgency + b.Language + b.Capacity + b.Open
}

// breakdown computes a candidate's weighted terms from its component values.
// Each product is converted explicitly so no platform fuses it into a
// multiply-add: the index and the scan must agree to the last bit.
func (s *Snapshot) breakdown(q *query, c *rankKey, overlap domainSet, language, capacity, open float64) Breakdown {
	w := s.opts.Weights
	var b Breakdown
	if c.loc >= 0 {
		b.Distance = float64(w.Distance * math.Max(0, 1-c.dist/q.radius))
	} else {
		b.Distance = float64(w.Distance * w.AreaDistance)
	}
	b.Needs = float64(w.Needs * float64(overlap.count()) / float64(q.nDomains))
	urg := 0
	for _, u := range q.urgency {
		if overlap.has(u.bit) && u.rank > urg {
			urg = u.rank
		}
	}
	b.Urgency = float64(w.Urgency * float64(urg) / 2)
	b.Language = float64(w.Language * language)
	b.Capacity = float64(w.Capacity * capacity)
	b.Open = float64(w.Open * open)
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

// capClass is capacity as ranking reads it. The index path keeps one byte per
// service in a dense array: small enough to stay in cache when read at random,
// and cheap to copy when capacities change.
type capClass uint8

const (
	capUntracked capClass = iota
	capOpen
	capWaitlist
	capFull
)

func classOf(c *referral.Capacity) capClass {
	switch {
	case c == nil:
		return capUntracked
	case c.Available > 0:
		return capOpen
	case c.Waitlist > 0:
		return capWaitlist
	}
	return capFull
}

// capClassValue is capacityValue by class.
var capClassValue = [...]float64{capUntracked: 0.5, capOpen: 1, capWaitlist: 0.25, capFull: 0}

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

// openValue is 1 open, 0 closed, 0.5 when the schedules cannot say (none, or
// one refkit cannot evaluate that might apply).
func openValue(h *referral.Hours, t time.Time) float64 {
	if h == nil {
		return 0.5
	}
	switch h.At(t) {
	case referral.OpenNow:
		return 1
	case referral.ClosedNow:
		return 0
	}
	return 0.5
}

// topK keeps the best limit candidates seen, as a binary heap with the worst of
// them at the root: a request ranks hundreds of matches to return twenty, so it
// pays log(limit) per match instead of sorting them all.
type topK struct {
	cands      *[]candidate // the scratch's, which may grow while the heap is used
	heap       []int32
	limit      int
	byDistance bool
}

// resetTop empties the scratch's heaps for q, over the scratch's candidates:
// one for the matches, one for the possible matches (which keeps none unless
// the request asks for them).
func (sc *scratch) resetTop(q *query) (top, maybe *topK) {
	byDistance := q.req.Order == ByDistance
	sc.top = topK{cands: &sc.cands, heap: sc.top.heap[:0], limit: q.limit(), byDistance: byDistance}
	sc.maybe = topK{cands: &sc.cands, heap: sc.maybe.heap[:0], byDistance: byDistance}
	if q.possible {
		sc.maybe.limit = q.limit()
	}
	return &sc.top, &sc.maybe
}

// full reports whether the heap holds limit candidates.
func (t *topK) full() bool { return len(t.heap) == t.limit }

// rejects reports whether c ranks after every candidate kept, when the heap is
// full: then c cannot be kept, nor can any candidate ranking after c.
func (t *topK) rejects(c *rankKey) bool {
	if t.limit == 0 {
		return true
	}
	return t.full() && rankCmp(c, &(*t.cands)[t.heap[0]].rankKey, t.byDistance) > 0
}

// worse reports whether candidate i ranks after candidate j.
func (t *topK) worse(i, j int32) bool {
	return rankCmp(&(*t.cands)[i].rankKey, &(*t.cands)[j].rankKey, t.byDistance) > 0
}

func (t *topK) push(i int32) {
	if len(t.heap) < t.limit {
		t.heap = append(t.heap, i)
		t.up(len(t.heap) - 1)
		return
	}
	if t.limit == 0 || !t.worse(t.heap[0], i) {
		return
	}
	t.heap[0] = i
	t.down(0)
}

func (t *topK) up(n int) {
	for n > 0 {
		p := (n - 1) / 2
		if !t.worse(t.heap[n], t.heap[p]) {
			return
		}
		t.heap[n], t.heap[p] = t.heap[p], t.heap[n]
		n = p
	}
}

func (t *topK) down(n int) {
	for {
		w := n
		if l := 2*n + 1; l < len(t.heap) && t.worse(t.heap[l], t.heap[w]) {
			w = l
		}
		if r := 2*n + 2; r < len(t.heap) && t.worse(t.heap[r], t.heap[w]) {
			w = r
		}
		if w == n {
			return
		}
		t.heap[n], t.heap[w] = t.heap[w], t.heap[n]
		n = w
	}
}

// ranked returns the kept candidates, best first, as pointers into cands.
func (t *topK) ranked(out []*candidate) []*candidate {
	slices.SortFunc(t.heap, func(a, b int32) int { return rankCmp(&(*t.cands)[a].rankKey, &(*t.cands)[b].rankKey, t.byDistance) })
	for _, i := range t.heap {
		out = append(out, &(*t.cands)[i])
	}
	return out
}
