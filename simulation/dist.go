package simulation

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refkit/refkit/referral"
)

// Duration is a time.Duration written in JSON as a Go duration string ("36h",
// "90m") or a number of days with a "d" suffix ("14d").
type Duration time.Duration

// badDuration marks a duration that did not parse, so that Validate can report
// it under its field's name (a decoder error would not know the path).
const badDuration = Duration(math.MinInt64)

// UnmarshalJSON decodes a duration string; one that does not parse is reported by
// Scenario.Validate, naming the field.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		*d = badDuration
		return nil
	}
	v, ok := parseDuration(s)
	if !ok {
		*d = badDuration
		return nil
	}
	*d = Duration(v)
	return nil
}

// checkDuration reports a duration that did not parse.
func checkDuration(field string, d Duration) error {
	if d == badDuration {
		return referral.Invalid(field, "must be a duration such as \"48h\" or \"14d\"")
	}
	return nil
}

// MarshalJSON encodes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func parseDuration(s string) (time.Duration, bool) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		f, err := strconv.ParseFloat(days, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 100*365 {
			return 0, false
		}
		return time.Duration(f * 24 * float64(time.Hour)), true
	}
	v, err := time.ParseDuration(s)
	return v, err == nil
}

// Dist kinds.
const (
	Fixed       = "fixed"
	Uniform     = "uniform"
	Normal      = "normal"
	Exponential = "exponential"
	LogNormal   = "lognormal"
	Gamma       = "gamma"
	Empirical   = "empirical"
)

// MaxEmpirical is the most values an empirical distribution may list.
const MaxEmpirical = 10_000

// Dist is a probability distribution of a number. Distributions of times are in
// hours. Which parameters apply depends on Kind:
//
//	fixed        value
//	uniform      min, max
//	normal       mean, sd (optionally clamped to min, max)
//	exponential  mean
//	lognormal    median, sigma (the sd of the underlying normal)
//	gamma        shape, scale (mean shape × scale, variance shape × scale²)
//	empirical    values, optionally weights: one of the values is drawn, with
//	             probability proportional to its weight (equal without weights)
type Dist struct {
	Kind    string    `json:"kind"`
	Value   float64   `json:"value,omitempty"`
	Min     *float64  `json:"min,omitempty"`
	Max     *float64  `json:"max,omitempty"`
	Mean    float64   `json:"mean,omitempty"`
	SD      float64   `json:"sd,omitempty"`
	Median  float64   `json:"median,omitempty"`
	Sigma   float64   `json:"sigma,omitempty"`
	Shape   float64   `json:"shape,omitempty"`
	Scale   float64   `json:"scale,omitempty"`
	Values  []float64 `json:"values,omitempty"`
	Weights []float64 `json:"weights,omitempty"`
	// Fit says how well the distribution fitted the data it was estimated from,
	// when package simulation/calibrate wrote it; the simulation ignores it.
	Fit *Fit `json:"fit,omitempty"`
}

// Fit is a fitted distribution's goodness of fit.
type Fit struct {
	// N is the number of complete observations and Censored the number known
	// only to exceed some time (still open, or ended otherwise, when the data
	// were read).
	N        int `json:"n"`
	Censored int `json:"censored,omitempty"`
	// KS is the Kolmogorov-Smirnov distance between the fitted distribution
	// function and the data's (the Kaplan-Meier estimate when some are
	// censored), and PValue its approximate p-value: a small value says the
	// family does not describe the data well. Parameters estimated from the same
	// data make the test conservative.
	KS     float64 `json:"ks"`
	PValue float64 `json:"p_value"`
	// AIC is the Akaike information criterion the family was chosen by, among
	// the exponential, lognormal and gamma families.
	AIC float64 `json:"aic,omitempty"`
}

func finiteIn(field string, v, lo, hi float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < lo || v > hi {
		return referral.Invalid(field, "must be a finite number between "+num(lo)+" and "+num(hi))
	}
	return nil
}

// validate checks the parameters; nonNegative also requires every draw to be ≥ 0.
func (d *Dist) validate(field string, nonNegative bool) error {
	finite := func(name string, v float64) error {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return referral.Invalid(field+"."+name, "must be a finite number")
		}
		if nonNegative && v < 0 {
			return referral.Invalid(field+"."+name, "must not be negative")
		}
		return nil
	}
	switch d.Kind {
	case Fixed:
		return finite("value", d.Value)
	case Uniform:
		if d.Min == nil || d.Max == nil {
			return referral.Invalid(field, "uniform needs min and max")
		}
		if err := finite("min", *d.Min); err != nil {
			return err
		}
		if err := finite("max", *d.Max); err != nil {
			return err
		}
		if *d.Max < *d.Min {
			return referral.Invalid(field+".max", "must not be below min")
		}
	case Normal:
		if math.IsNaN(d.Mean) || math.IsInf(d.Mean, 0) {
			return referral.Invalid(field+".mean", "must be a finite number")
		}
		if math.IsNaN(d.SD) || math.IsInf(d.SD, 0) || d.SD < 0 {
			return referral.Invalid(field+".sd", "must be a finite number ≥ 0")
		}
		if nonNegative && (d.Min == nil || *d.Min < 0) {
			return referral.Invalid(field+".min", "is required and must be ≥ 0 here")
		}
		if d.Min != nil && d.Max != nil && *d.Max < *d.Min {
			return referral.Invalid(field+".max", "must not be below min")
		}
	case Exponential:
		if math.IsNaN(d.Mean) || math.IsInf(d.Mean, 0) || d.Mean <= 0 {
			return referral.Invalid(field+".mean", "must be a finite number > 0")
		}
	case LogNormal:
		if math.IsNaN(d.Median) || math.IsInf(d.Median, 0) || d.Median <= 0 {
			return referral.Invalid(field+".median", "must be a finite number > 0")
		}
		if math.IsNaN(d.Sigma) || math.IsInf(d.Sigma, 0) || d.Sigma < 0 || d.Sigma > 10 {
			return referral.Invalid(field+".sigma", "must be between 0 and 10")
		}
	case Gamma:
		// A shape below 0.01 puts nearly all mass at 0 and draws underflow; above
		// 1e6 the distribution is a fixed value for any purpose here.
		if err := finiteIn(field+".shape", d.Shape, 0.01, 1e6); err != nil {
			return err
		}
		if math.IsNaN(d.Scale) || math.IsInf(d.Scale, 0) || d.Scale <= 0 {
			return referral.Invalid(field+".scale", "must be a finite number > 0")
		}
	case Empirical:
		if len(d.Values) == 0 || len(d.Values) > MaxEmpirical {
			return referral.Invalid(field+".values", "needs between 1 and 10,000 values")
		}
		for i, v := range d.Values {
			if err := finite(idx("values", i), v); err != nil {
				return err
			}
		}
		if len(d.Weights) > 0 {
			if len(d.Weights) != len(d.Values) {
				return referral.Invalid(field+".weights", "needs one weight per value")
			}
			total := 0.0
			for i, w := range d.Weights {
				if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
					return referral.Invalid(idx(field+".weights", i), "must be a finite number ≥ 0")
				}
				total += w
			}
			if total <= 0 || math.IsInf(total, 0) {
				return referral.Invalid(field+".weights", "must add up to a finite number above 0")
			}
		}
	case "":
		return referral.Invalid(field+".kind", "is required")
	default:
		return referral.Invalid(field+".kind", "must be fixed, uniform, normal, exponential, lognormal, gamma or empirical")
	}
	return nil
}

// sampler draws from a validated Dist. It is compiled once per replication so
// that drawing does not compare kind strings or rebuild an empirical table.
type sampler struct {
	kind     uint8
	a, b     float64
	min, max float64 // clamps of a normal; ±Inf when absent
	values   []float64
	cum      []float64 // cumulative weights of an empirical distribution
}

const (
	sFixed uint8 = iota
	sUniform
	sNormal
	sExponential
	sLogNormal
	sGamma
	sEmpirical
)

// compile returns the sampler of a validated distribution.
func (d *Dist) compile() *sampler {
	s := &sampler{min: math.Inf(-1), max: math.Inf(1)}
	switch d.Kind {
	case Fixed:
		s.kind, s.a = sFixed, d.Value
	case Uniform:
		s.kind, s.a, s.b = sUniform, *d.Min, *d.Max-*d.Min
	case Normal:
		s.kind, s.a, s.b = sNormal, d.Mean, d.SD
		if d.Min != nil {
			s.min = *d.Min
		}
		if d.Max != nil {
			s.max = *d.Max
		}
	case Exponential:
		s.kind, s.a = sExponential, d.Mean
	case LogNormal:
		s.kind, s.a, s.b = sLogNormal, d.Median, d.Sigma
	case Gamma:
		s.kind, s.a, s.b = sGamma, d.Shape, d.Scale
	case Empirical:
		s.kind, s.values = sEmpirical, d.Values
		s.cum = make([]float64, len(d.Values))
		total := 0.0
		for i := range d.Values {
			w := 1.0
			if len(d.Weights) > 0 {
				w = d.Weights[i]
			}
			total += w
			s.cum[i] = total
		}
	}
	return s
}

// draw samples the distribution.
func (s *sampler) draw(r *rand.Rand) float64 {
	switch s.kind {
	case sFixed:
		return s.a
	case sUniform:
		return s.a + r.Float64()*s.b
	case sNormal:
		return math.Min(s.max, math.Max(s.min, s.a+s.b*r.NormFloat64()))
	case sExponential:
		return s.a * r.ExpFloat64()
	case sLogNormal:
		return s.a * math.Exp(s.b*r.NormFloat64())
	case sGamma:
		return gammaDraw(r, s.a) * s.b
	case sEmpirical:
		x := r.Float64() * s.cum[len(s.cum)-1]
		i, _ := slices.BinarySearch(s.cum, x)
		// BinarySearch finds the first cumulative weight ≥ x; x equal to one
		// belongs to the next value (weights are half-open intervals), and zero
		// weights are never chosen.
		for i < len(s.cum)-1 && s.cum[i] <= x {
			i++
		}
		return s.values[i]
	}
	return math.NaN()
}

// gammaDraw draws a gamma variable of the given shape and scale 1: Marsaglia
// and Tsang's method, with the boost U^(1/shape) below shape 1.
func gammaDraw(r *rand.Rand, shape float64) float64 {
	boost := 1.0
	if shape < 1 {
		boost = math.Pow(1-r.Float64(), 1/shape)
		shape++
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - r.Float64() // in (0, 1]
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v * boost
		}
	}
}

// hours draws a duration from a distribution in hours; negative draws (a
// normal without a floor) are zero.
func (s *sampler) hours(r *rand.Rand) time.Duration {
	return time.Duration(max(0, s.draw(r)) * float64(time.Hour))
}

// Choice is one weighted option of a categorical attribute.
type Choice struct {
	Value  string  `json:"value"`
	Weight float64 `json:"weight"`
}

// choices is a validated categorical distribution.
type choices []Choice

func (c choices) validate(field string, code bool) error {
	total := 0.0
	for i, ch := range c {
		f := field + "[" + strconv.Itoa(i) + "]"
		if math.IsNaN(ch.Weight) || math.IsInf(ch.Weight, 0) || ch.Weight < 0 {
			return referral.Invalid(f+".weight", "must be a finite number ≥ 0")
		}
		if code && ch.Value == "" {
			return referral.Invalid(f+".value", "is required")
		}
		total += ch.Weight
	}
	if len(c) > 0 && total <= 0 {
		return referral.Invalid(field, "weights must add up to more than 0")
	}
	return nil
}

// pick returns the index of a weighted choice, or -1 when there are none.
func (c choices) pick(r *rand.Rand) int {
	if len(c) == 0 {
		return -1
	}
	total := 0.0
	for _, ch := range c {
		total += ch.Weight
	}
	x := r.Float64() * total
	for i, ch := range c {
		if x < ch.Weight {
			return i
		}
		x -= ch.Weight
	}
	return len(c) - 1
}
