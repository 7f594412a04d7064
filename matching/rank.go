package matching

import "math"

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
	// Open rewards being open at as_of: 1 open, 0 closed, 0.5 with no schedule.
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
