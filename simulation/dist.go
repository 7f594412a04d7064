package simulation

import (
	"encoding/json"
	"math"
	"math/rand/v2"
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
)

// Dist is a probability distribution of a number. Distributions of times are in
// hours. Which parameters apply depends on Kind:
//
//	fixed        value
//	uniform      min, max
//	normal       mean, sd (optionally clamped to min, max)
//	exponential  mean
//	lognormal    median, sigma (the sd of the underlying normal)
type Dist struct {
	Kind   string   `json:"kind"`
	Value  float64  `json:"value,omitempty"`
	Min    *float64 `json:"min,omitempty"`
	Max    *float64 `json:"max,omitempty"`
	Mean   float64  `json:"mean,omitempty"`
	SD     float64  `json:"sd,omitempty"`
	Median float64  `json:"median,omitempty"`
	Sigma  float64  `json:"sigma,omitempty"`
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
	case "":
		return referral.Invalid(field+".kind", "is required")
	default:
		return referral.Invalid(field+".kind", "must be fixed, uniform, normal, exponential or lognormal")
	}
	return nil
}

// draw samples the distribution.
func (d *Dist) draw(r *rand.Rand) float64 {
	var v float64
	switch d.Kind {
	case Fixed:
		return d.Value
	case Uniform:
		return *d.Min + r.Float64()*(*d.Max-*d.Min)
	case Normal:
		v = d.Mean + d.SD*r.NormFloat64()
	case Exponential:
		return d.Mean * r.ExpFloat64()
	case LogNormal:
		return d.Median * math.Exp(d.Sigma*r.NormFloat64())
	}
	if d.Min != nil && v < *d.Min {
		v = *d.Min
	}
	if d.Max != nil && v > *d.Max {
		v = *d.Max
	}
	return v
}

// mean is the distribution's expected value (ignoring normal clamping).
func (d *Dist) mean() float64 {
	switch d.Kind {
	case Fixed:
		return d.Value
	case Uniform:
		return (*d.Min + *d.Max) / 2
	case LogNormal:
		return d.Median * math.Exp(d.Sigma*d.Sigma/2)
	}
	return d.Mean
}

// hours draws a duration from a distribution in hours.
func (d *Dist) hours(r *rand.Rand) time.Duration {
	return time.Duration(d.draw(r) * float64(time.Hour))
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
