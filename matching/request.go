package matching

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/refkit/refkit/referral"
)

// Order says how matches are sorted.
type Order string

// Orders.
const (
	// ByScore sorts by score, best first; ties by distance, then ids.
	ByScore Order = "score"
	// ByDistance sorts by distance, nearest first (area matches last); ties by score,
	// then ids.
	ByDistance Order = "distance"
)

// Full says what to do with a service that publishes capacity and has none left.
type Full string

// Policies for full services.
const (
	// RankDown keeps full services but scores their capacity component 0.
	RankDown Full = "rank"
	// Exclude drops full services, with the reason "no-capacity".
	Exclude Full = "exclude"
)

// Unknown says what to do with a service whose eligibility the request's unknown
// facts leave open.
type Unknown string

// Policies for possibly eligible services.
const (
	// UnknownExclude excludes them, with the reason "unknown-fact" naming the
	// facts that would settle them.
	UnknownExclude Unknown = "exclude"
	// UnknownInclude returns them in Result.Possible, a tier of their own ranked
	// as matches are, each naming the facts that would settle it.
	UnknownInclude Unknown = "include"
)

// Limits on a request.
const (
	// DefaultLimit is the number of matches returned when Request.Limit is 0.
	DefaultLimit = 20
	// MaxLimit is the largest Limit accepted.
	MaxLimit = 1000
	// MaxRadiusM is the largest search radius accepted, in metres.
	MaxRadiusM = 1_000_000
	// MaxNeeds is the most needs one request may carry.
	MaxNeeds = 50
)

// Limits on the person facts rules read. Rule cost analysis relies on them: a
// rule's worst case is stated for values this large.
const (
	maxLanguages      = 50
	maxAttributes     = 100
	maxAttributeKey   = 64
	maxAttributeValue = 1000
	maxFieldText      = 100
)

// Request asks for services for one person with some needs near a place.
type Request struct {
	// Person holds the facts eligibility rules read; ids and names are ignored.
	Person referral.Person `json:"person"`
	// Needs are what the person needs help with; at least one.
	Needs []referral.Need `json:"needs"`
	// Near is where to search from. When nil, Person.Location is used; one of the
	// two is required.
	Near *referral.Point `json:"near,omitempty"`
	// RadiusM is the search radius in metres, above 0 and at most MaxRadiusM.
	RadiusM float64 `json:"radius_m"`
	// Limit is the most matches returned: 0 means DefaultLimit.
	Limit int `json:"limit,omitempty"`
	// Order sorts the matches: "score" (the default when empty) or "distance".
	Order Order `json:"order,omitempty"`
	// Explain adds, for every excluded candidate, the reasons it was excluded.
	Explain bool `json:"explain,omitempty"`
	// Full says what to do with services that have no capacity: "rank" (the
	// default when empty) or "exclude".
	Full Full `json:"when_full,omitempty"`
	// Unknown says what to do with services the request's unknown facts leave
	// possibly eligible: "exclude" (the default when empty) or "include", which
	// returns them in Result.Possible.
	Unknown Unknown `json:"when_unknown,omitempty"`
	// AsOf is the time the request is evaluated at: ages, poverty guidelines and
	// opening hours use it. Zero means the index's clock.
	AsOf time.Time `json:"as_of,omitzero"`
	// Viewer is who asks, as the host authenticated them: whether the result
	// shows a confidential location's distance exactly or only its vicinity
	// depends on it (see Match.Vicinity and Options.Disclose). Nil is the
	// public. It is never read from JSON, so a request body cannot claim
	// to be someone.
	Viewer *referral.Actor `json:"-"`
}

// Validate checks the request and reports the first problem as a
// *referral.ValidationError naming the field.
func (r Request) Validate() error {
	if len(r.Needs) == 0 {
		return invalidf("needs", "needs at least one need")
	}
	if len(r.Needs) > MaxNeeds {
		return invalidf("needs", "has too many entries")
	}
	for i, n := range r.Needs {
		if err := n.Domain.Validate(); err != nil {
			return invalidf("needs["+strconv.Itoa(i)+"].domain", "is not a registered domain code")
		}
		if err := n.Urgency.Validate(); err != nil {
			return invalidf("needs["+strconv.Itoa(i)+"].urgency", "must be routine, urgent or emergent")
		}
	}
	near := r.Near
	field := "near"
	if near == nil {
		near, field = r.Person.Location, "person.location"
	}
	if near == nil {
		return invalidf("near", "is required (or person.location)")
	}
	if math.IsNaN(near.Latitude) || near.Latitude < -90 || near.Latitude > 90 {
		return invalidf(field+".latitude", "must be between -90 and 90")
	}
	if math.IsNaN(near.Longitude) || near.Longitude < -180 || near.Longitude > 180 {
		return invalidf(field+".longitude", "must be between -180 and 180")
	}
	switch {
	case math.IsNaN(r.RadiusM) || math.IsInf(r.RadiusM, 0):
		return invalidf("radius_m", "must be a number")
	case r.RadiusM < 0:
		return invalidf("radius_m", "must not be negative")
	case r.RadiusM == 0:
		return invalidf("radius_m", "is required")
	case r.RadiusM > MaxRadiusM:
		return invalidf("radius_m", "must be at most %d", MaxRadiusM)
	}
	if r.Limit < 0 || r.Limit > MaxLimit {
		return invalidf("limit", "must be between 0 and %d", MaxLimit)
	}
	switch r.Order {
	case "", ByScore, ByDistance:
	default:
		return invalidf("order", "must be score or distance")
	}
	switch r.Full {
	case "", RankDown, Exclude:
	default:
		return invalidf("when_full", "must be rank or exclude")
	}
	switch r.Unknown {
	case "", UnknownExclude, UnknownInclude:
	default:
		return invalidf("when_unknown", "must be exclude or include")
	}
	if r.Viewer != nil {
		if err := r.Viewer.Validate(); err != nil {
			return prefixed("viewer", err)
		}
	}
	return validPerson(r.Person)
}

// validPerson checks the person fields matching reads. It does not require ids:
// a match request is often made before the person is stored.
func validPerson(p referral.Person) error {
	if !p.BirthDate.IsZero() {
		if _, err := referral.ParseDate(p.BirthDate.String()); err != nil {
			return invalidf("person.birth_date", "is not a calendar date")
		}
	}
	if p.HouseholdSize < 0 || p.HouseholdSize > 100 {
		return invalidf("person.household_size", "must be between 0 and 100")
	}
	if p.IncomeAnnual != nil && (math.IsNaN(*p.IncomeAnnual) || math.IsInf(*p.IncomeAnnual, 0) || *p.IncomeAnnual < 0) {
		return invalidf("person.income_annual", "must be a non-negative number")
	}
	if len(p.Languages) > maxLanguages {
		return invalidf("person.languages", "has too many entries")
	}
	for i, l := range p.Languages {
		if !languageTag(l) {
			return invalidf("person.languages["+strconv.Itoa(i)+"]", "must be a BCP 47 language tag")
		}
	}
	if p.State != "" && (len(p.State) != 2 || !upper(p.State[0]) || !upper(p.State[1])) {
		return invalidf("person.state", "must be a two-letter upper-case USPS code")
	}
	for _, f := range []struct{ name, v string }{{"zip", p.Zip}, {"county", p.County}, {"insurance", p.Insurance}} {
		if len(f.v) > maxFieldText {
			return invalidf("person."+f.name, "is too long")
		}
		if !plainText(f.v) {
			return invalidf("person."+f.name, "must be valid text without control characters")
		}
	}
	if len(p.Attributes) > maxAttributes {
		return invalidf("person.attributes", "has too many entries")
	}
	for k, v := range p.Attributes {
		if k == "" || len(k) > maxAttributeKey || len(v) > maxAttributeValue {
			return invalidf("person.attributes", "keys must be 1 to 64 characters and values at most 1000")
		}
		if !plainText(k) || !plainText(v) {
			return invalidf("person.attributes", "keys and values must be valid text without control characters")
		}
	}
	return nil
}

// plainText applies the rule referral.Person.Validate holds text to, so that a
// person matching accepts is one a store accepts: valid UTF-8 (a decoder's
// U+FFFD for invalid input included) without control characters other than
// tab, line feed and carriage return. Every request runs it over up to 100 KB
// of attributes, so plain ASCII is read eight bytes at a time: a word with no
// byte below 0x20 and none above 0x7f needs no closer look.
func plainText(s string) bool {
	const lows, highs = 0x2020202020202020, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if (w|(w-lows))&highs != 0 {
			break
		}
	}
	for _, r := range s[i:] {
		if r == utf8.RuneError || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') {
			return false
		}
	}
	return true
}

func upper(c byte) bool { return c >= 'A' && c <= 'Z' }

func languageTag(l string) bool {
	if l == "" || len(l) > 35 {
		return false
	}
	for j := 0; j < len(l); j++ {
		c := l[j]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c == '-' && j > 0)) {
			return false
		}
	}
	return true
}

// normalize lower-cases and trims an area value so "Alameda " matches "alameda".
func normalize(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
