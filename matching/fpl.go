package matching

import (
	"math"
	"slices"
	"time"
)

// Region is a set of states that share one HHS poverty guideline table.
type Region string

// Regions of the HHS poverty guidelines.
const (
	// Contiguous is the 48 contiguous states and the District of Columbia.
	Contiguous Region = "contiguous"
	Alaska     Region = "alaska"
	Hawaii     Region = "hawaii"
)

// RegionOf returns the guideline region of a two-letter USPS state code, and false
// for codes the HHS guidelines do not cover (territories, unknown codes).
func RegionOf(state string) (Region, bool) {
	switch state {
	case "AK":
		return Alaska, true
	case "HI":
		return Hawaii, true
	}
	if _, ok := contiguousStates[state]; ok {
		return Contiguous, true
	}
	return "", false
}

var contiguousStates = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, s := range []string{
		"AL", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "ID", "IL", "IN", "IA", "KS", "KY",
		"LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC",
		"ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
	} {
		m[s] = struct{}{}
	}
	return m
}()

// Amounts is one region's poverty guideline amounts: the annual amount for a household of
// one and the amount added for each further person. HHS publishes sizes 1 to 8 and
// "add X for each additional person"; the published tables are exactly linear, so
// the two numbers reproduce every row.
type Amounts struct {
	First      float64 `json:"first"`
	Additional float64 `json:"additional"`
}

// For returns the guideline for a household of size people (size ≥ 1).
func (s Amounts) For(size int) float64 {
	return s.First + float64(size-1)*s.Additional
}

// Guideline is one year's HHS poverty guidelines, in force from Effective until the
// next guideline's Effective.
type Guideline struct {
	Year      int                `json:"year"`
	Effective time.Time          `json:"effective"`
	Source    string             `json:"source"`
	Regions   map[Region]Amounts `json:"regions"`
}

// Guidelines is a set of yearly guidelines; the one in force at a time is chosen by
// effective date.
type Guidelines []Guideline

// DefaultGuidelines returns the HHS poverty guidelines refkit carries: 2025 and 2026.
// Hosts override them with Options.Guidelines (for a later year, or a program that
// uses another effective date).
//
// Sources: 2025, Federal Register 90 FR 5917 (17 January 2025, FR Doc 2025-01377),
// effective 15 January 2025. 2026, Federal Register 91 FR 1797 (15 January 2026,
// FR Doc 2026-00755) and the ASPE poverty guidelines page, effective 13 January 2026.
func DefaultGuidelines() Guidelines {
	return Guidelines{
		{
			Year:      2025,
			Effective: time.Date(2025, time.January, 15, 0, 0, 0, 0, time.UTC),
			Source:    "HHS poverty guidelines 2025, 90 FR 5917",
			Regions: map[Region]Amounts{
				Contiguous: {First: 15650, Additional: 5500},
				Alaska:     {First: 19550, Additional: 6880},
				Hawaii:     {First: 17990, Additional: 6330},
			},
		},
		{
			Year:      2026,
			Effective: time.Date(2026, time.January, 13, 0, 0, 0, 0, time.UTC),
			Source:    "HHS poverty guidelines 2026, 91 FR 1797",
			Regions: map[Region]Amounts{
				Contiguous: {First: 15960, Additional: 5680},
				Alaska:     {First: 19950, Additional: 7100},
				Hawaii:     {First: 18360, Additional: 6530},
			},
		},
	}
}

// At returns the guideline in force at t: the one with the latest Effective not
// after t. It reports false when t precedes every guideline.
func (g Guidelines) At(t time.Time) (Guideline, bool) {
	best := -1
	for i, gl := range g {
		if gl.Effective.After(t) {
			continue
		}
		if best < 0 || gl.Effective.After(g[best].Effective) {
			best = i
		}
	}
	if best < 0 {
		return Guideline{}, false
	}
	return g[best], true
}

// validate checks a host-supplied set.
func (g Guidelines) validate() error {
	seen := make([]time.Time, 0, len(g))
	for _, gl := range g {
		if gl.Effective.IsZero() {
			return invalidf("guidelines", "need an effective date")
		}
		if slices.ContainsFunc(seen, gl.Effective.Equal) {
			return invalidf("guidelines", "have two guidelines with the same effective date")
		}
		seen = append(seen, gl.Effective)
		for _, s := range gl.Regions {
			if !(s.First > 0) || s.Additional < 0 || math.IsInf(s.First, 0) || math.IsInf(s.Additional, 0) {
				return invalidf("guidelines", "need positive amounts")
			}
		}
	}
	return nil
}

// FPLPercent returns income as a percent of the poverty guideline for the household
// size in the state, using the guideline in force at asOf. It reports false when
// any input is unknown: no guideline in force, a state outside the tables, a
// household size below one.
func (g Guidelines) FPLPercent(income float64, household int, state string, asOf time.Time) (float64, bool) {
	if household < 1 {
		return 0, false
	}
	region, ok := RegionOf(state)
	if !ok {
		return 0, false
	}
	gl, ok := g.At(asOf)
	if !ok {
		return 0, false
	}
	s, ok := gl.Regions[region]
	if !ok {
		return 0, false
	}
	return 100 * income / s.For(household), true
}
