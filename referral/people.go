package referral

import (
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Network is a coalition of organizations that refer to one another (a county or
// statewide referral network): refkit's tenant. Every other record belongs to
// exactly one network and nothing crosses networks.
type Network struct {
	ID      ID        `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created,omitzero"`
}

// Validate checks the network's fields.
func (n Network) Validate() error {
	if err := n.ID.required("id"); err != nil {
		return err
	}
	return requiredText("name", n.Name, 200)
}

// Role says in what capacity an actor acts.
type Role string

// Roles.
const (
	// RoleStaff acts for its organization: sends, receives and works referrals.
	RoleStaff Role = "staff"
	// RoleAdmin administers the network: reads every referral in it and its metrics,
	// but runs no commands on referrals.
	RoleAdmin Role = "admin"
	// RoleDelegate acts for one person (the person themself, a guardian, a proxy): sees
	// that person's referrals and may cancel them.
	RoleDelegate Role = "delegate"
	// RoleSystem is the host's own automation (deadline sweeps, imports): it may
	// expire referrals and read everything in its network.
	RoleSystem Role = "system"
)

// Actor is who runs a command or query: always within one network. Hosts build it
// from their own authentication; refkit trusts it as given.
type Actor struct {
	Network      ID     `json:"network_id"`
	Organization ID     `json:"organization_id,omitzero"`
	User         string `json:"user,omitempty"`
	Role         Role   `json:"role"`
	// Person is set for RoleDelegate: the person they act for.
	Person ID `json:"person_id,omitzero"`
}

// Validate checks that the actor is complete for its role.
func (a Actor) Validate() error {
	if err := a.Network.required("network_id"); err != nil {
		return err
	}
	if len(a.User) > 200 {
		return invalid("user", "must be at most 200 characters")
	}
	switch a.Role {
	case RoleStaff, RoleAdmin:
		return a.Organization.required("organization_id")
	case RoleDelegate:
		return a.Person.required("person_id")
	case RoleSystem:
		return nil
	case "":
		return invalid("role", "is required")
	default:
		return invalid("role", "is not a known role")
	}
}

// Point is a position in WGS 84 degrees.
type Point struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// Validate checks the coordinate ranges.
func (p Point) Validate() error {
	if math.IsNaN(p.Latitude) || p.Latitude < -90 || p.Latitude > 90 {
		return invalid("latitude", "must be between -90 and 90")
	}
	if math.IsNaN(p.Longitude) || p.Longitude < -180 || p.Longitude > 180 {
		return invalid("longitude", "must be between -180 and 180")
	}
	return nil
}

// Person is someone screened and referred. Only the fields eligibility rules and
// contact need are modelled; hosts keep the rest of their record themselves.
type Person struct {
	ID         ID     `json:"id"`
	Network    ID     `json:"network_id"`
	GivenName  string `json:"given_name,omitempty"`
	FamilyName string `json:"family_name,omitempty"`
	BirthDate  Date   `json:"birth_date,omitzero"`
	// Gender is the administrative gender the host records; empty when not
	// recorded (FHIR exchange then sends "unknown").
	Gender Gender `json:"gender,omitempty"`
	// Identifiers are the person's ids in the host's and partners' systems,
	// such as a medical record number, so a receiver can match its own record.
	Identifiers []Identifier `json:"identifiers,omitempty"`
	// HouseholdSize counts the people in the household, the person included; 0 is
	// unknown.
	HouseholdSize int `json:"household_size,omitempty"`
	// IncomeAnnual is the household's annual income in US dollars; nil is unknown.
	IncomeAnnual *float64 `json:"income_annual,omitempty"`
	// Languages are BCP 47 tags in order of preference ("es", "en").
	Languages []string `json:"languages,omitempty"`
	Location  *Point   `json:"location,omitempty"`
	Zip       string   `json:"zip,omitempty"`
	County    string   `json:"county,omitempty"`
	// State is the two-letter USPS code.
	State     string `json:"state,omitempty"`
	Insurance string `json:"insurance,omitempty"`
	// Veteran, Pregnant and Disabled are the person's answers; nil is unknown
	// (not asked, or not answered), which eligibility rules treat as unknown
	// rather than as false. Known sets them.
	Veteran  *bool `json:"veteran,omitempty"`
	Pregnant *bool `json:"pregnant,omitempty"`
	Disabled *bool `json:"disabled,omitempty"`
	// Attributes are host-defined fields eligibility rules may read.
	Attributes map[string]string `json:"attributes,omitempty"`
	Created    time.Time         `json:"created,omitzero"`
	Updated    time.Time         `json:"updated,omitzero"`
	// Erased is when the person's personal data was erased (a store's
	// ErasePerson); zero while it has not been. An erased person keeps only
	// the id, network and times, so referrals and metrics still count them.
	Erased time.Time `json:"erased,omitzero"`
}

// Validate checks the person's fields.
func (p Person) Validate() error {
	if err := p.ID.required("id"); err != nil {
		return err
	}
	if err := p.Network.required("network_id"); err != nil {
		return err
	}
	if err := optionalText("given_name", p.GivenName, 200); err != nil {
		return err
	}
	if err := optionalText("family_name", p.FamilyName, 200); err != nil {
		return err
	}
	if !p.BirthDate.IsZero() && !p.BirthDate.valid() {
		return invalid("birth_date", "is not a calendar date")
	}
	if err := p.Gender.Validate(); err != nil {
		return err
	}
	if err := validIdentifiers("identifiers", p.Identifiers); err != nil {
		return err
	}
	if p.HouseholdSize < 0 || p.HouseholdSize > 100 {
		return invalid("household_size", "must be between 0 and 100")
	}
	if p.IncomeAnnual != nil && (math.IsNaN(*p.IncomeAnnual) || math.IsInf(*p.IncomeAnnual, 0) || *p.IncomeAnnual < 0) {
		return invalid("income_annual", "must be a non-negative number")
	}
	if err := validLanguages("languages", p.Languages); err != nil {
		return err
	}
	if p.Location != nil {
		if err := p.Location.Validate(); err != nil {
			return prefixed("location", err)
		}
	}
	if err := validState("state", p.State); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"zip", p.Zip}, {"county", p.County}, {"insurance", p.Insurance}} {
		if err := optionalText(f.name, f.v, 100); err != nil {
			return err
		}
	}
	return validAttributes("attributes", p.Attributes)
}

// Clone returns a deep copy, so stores can hand out values callers may mutate.
func (p Person) Clone() Person {
	p.Languages = slices.Clone(p.Languages)
	p.Identifiers = slices.Clone(p.Identifiers)
	p.Attributes = maps.Clone(p.Attributes)
	if p.IncomeAnnual != nil {
		v := *p.IncomeAnnual
		p.IncomeAnnual = &v
	}
	if p.Location != nil {
		l := *p.Location
		p.Location = &l
	}
	p.Veteran, p.Pregnant, p.Disabled = cloneBool(p.Veteran), cloneBool(p.Pregnant), cloneBool(p.Disabled)
	return p
}

func cloneBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}

// Gender is a person's administrative gender: the FHIR AdministrativeGender
// codes.
type Gender string

// Genders.
const (
	GenderMale    Gender = "male"
	GenderFemale  Gender = "female"
	GenderOther   Gender = "other"
	GenderUnknown Gender = "unknown"
)

// Validate accepts the AdministrativeGender codes and the empty value (not
// recorded).
func (g Gender) Validate() error {
	switch g {
	case "", GenderMale, GenderFemale, GenderOther, GenderUnknown:
		return nil
	}
	return invalid("gender", "must be male, female, other or unknown")
}

// MaxIdentifiers bounds the identifiers one person or organization carries.
const MaxIdentifiers = 20

// validIdentifiers checks a record's identifiers: each has an absolute URI
// system and a value, bounded in length and count, and no system and value
// pair repeats. Errors name the entry, never its value: an identifier such as
// a medical record number is personal data.
func validIdentifiers(field string, ids []Identifier) error {
	if len(ids) > MaxIdentifiers {
		return invalid(field, "has too many entries")
	}
	for i, id := range ids {
		at := field + "[" + strconv.Itoa(i) + "]"
		if err := requiredText(at+".system", id.System, 2048); err != nil {
			return err
		}
		if u, err := url.Parse(id.System); err != nil || !u.IsAbs() || strings.ContainsAny(id.System, " \t\n\r|") {
			return invalid(at+".system", "must be an absolute URI")
		}
		if err := requiredText(at+".value", id.Value, 256); err != nil {
			return err
		}
		if strings.TrimSpace(id.Value) != id.Value {
			return invalid(at+".value", "must not start or end with white space")
		}
		if err := optionalText(at+".type", id.Type, 64); err != nil {
			return err
		}
		for _, prev := range ids[:i] {
			if prev.System == id.System && prev.Value == id.Value {
				return invalid(at, "repeats an earlier identifier")
			}
		}
	}
	return nil
}

// Known returns a known answer for Person's yes-or-no facts, which are nil when
// unknown: Person{Veteran: referral.Known(true)}.
func Known(v bool) *bool { return &v }

// Urgency is how soon a need must be met. Values map onto FHIR request priority:
// routine → routine, urgent → urgent, emergent → stat.
type Urgency string

// Urgencies, least to most pressing.
const (
	Routine  Urgency = "routine"
	Urgent   Urgency = "urgent"
	Emergent Urgency = "emergent"
)

// Rank orders urgencies: 0 routine, 1 urgent, 2 emergent, -1 unknown.
func (u Urgency) Rank() int {
	switch u {
	case Routine:
		return 0
	case Urgent:
		return 1
	case Emergent:
		return 2
	}
	return -1
}

// Validate rejects unknown urgencies.
func (u Urgency) Validate() error {
	if u.Rank() < 0 {
		return invalid("urgency", "must be routine, urgent or emergent")
	}
	return nil
}

// Need is a scored need in one domain, usually produced by a screening.
type Need struct {
	Domain  Domain  `json:"domain"`
	Urgency Urgency `json:"urgency"`
	// Instrument is the screening instrument that found the need ("ahc-hrsn"), if any.
	Instrument string `json:"instrument,omitempty"`
	// Screening is the stored screening result that found it, if any.
	Screening ID `json:"screening_id,omitzero"`
}

// Validate checks the need's fields.
func (n Need) Validate() error {
	if err := n.Domain.Validate(); err != nil {
		return err
	}
	if err := n.Urgency.Validate(); err != nil {
		return err
	}
	return optionalText("instrument", n.Instrument, 64)
}

// ConsentScope says what a consent permits.
type ConsentScope string

// Consent scopes.
const (
	// ScopeReferral permits sending the person's referrals (and the needs in them) to
	// the grantee. Sending requires it unless the host's policy implies consent.
	ScopeReferral ConsentScope = "referral"
	// ScopeView lets the grantee see the person's referrals without being a party to
	// them (a care coordinator, say).
	ScopeView ConsentScope = "view"
)

// Period is a time interval; a zero End is open-ended.
type Period struct {
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
}

// Contains reports whether t falls in [Start, End).
func (p Period) Contains(t time.Time) bool {
	if !p.Start.IsZero() && t.Before(p.Start) {
		return false
	}
	return p.End.IsZero() || t.Before(p.End)
}

// Consent records a person's permission for one organization to receive or view
// their referral information (FHIR Consent, SDOH Clinical Care IG).
type Consent struct {
	ID      ID           `json:"id"`
	Network ID           `json:"network_id"`
	Person  ID           `json:"person_id"`
	Grantee ID           `json:"grantee_organization_id"`
	Scope   ConsentScope `json:"scope"`
	Period  Period       `json:"period"`
	// Revoked is set when the person withdraws consent; it ends the consent from then.
	Revoked time.Time `json:"revoked,omitzero"`
	Created time.Time `json:"created,omitzero"`
	// Document is where the host keeps the signed consent (an absolute URL or
	// URN), so partners can ask for it; FHIR exchange sends it as the Consent's
	// source.
	Document string `json:"document,omitempty"`
}

// Validate checks the consent's fields.
func (c Consent) Validate() error {
	for _, f := range []struct {
		name string
		id   ID
	}{{"id", c.ID}, {"network_id", c.Network}, {"person_id", c.Person}, {"grantee_organization_id", c.Grantee}} {
		if err := f.id.required(f.name); err != nil {
			return err
		}
	}
	switch c.Scope {
	case ScopeReferral, ScopeView:
	case "":
		return invalid("scope", "is required")
	default:
		return invalid("scope", "must be referral or view")
	}
	if !c.Period.End.IsZero() && !c.Period.Start.IsZero() && !c.Period.End.After(c.Period.Start) {
		return invalid("period.end", "must be after period.start")
	}
	if c.Document != "" {
		if err := optionalText("document", c.Document, 2048); err != nil {
			return err
		}
		if u, err := url.Parse(c.Document); err != nil || !u.IsAbs() || strings.ContainsAny(c.Document, " \t\n") {
			return invalid("document", "must be an absolute URL or URN")
		}
	}
	return nil
}

// Permits reports whether the consent lets grantee act in scope at time at.
func (c Consent) Permits(grantee ID, scope ConsentScope, at time.Time) bool {
	if c.Grantee != grantee || c.Scope != scope || !c.Period.Contains(at) {
		return false
	}
	return c.Revoked.IsZero() || at.Before(c.Revoked)
}

func requiredText(field, s string, max int) error {
	if strings.TrimSpace(s) == "" {
		return invalid(field, "is required")
	}
	return optionalText(field, s, max)
}

func optionalText(field, s string, max int) error {
	if len(s) > max {
		return invalid(field, "is too long")
	}
	for _, r := range s {
		if r == 0xFFFD || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') {
			return invalid(field, "must be valid text without control characters")
		}
	}
	return nil
}

// validLanguages accepts BCP 47-shaped tags: letters, digits and hyphens.
func validLanguages(field string, langs []string) error {
	if len(langs) > 50 {
		return invalid(field, "has too many entries")
	}
	for i, l := range langs {
		if l == "" || len(l) > 35 {
			return invalid(field+"["+strconv.Itoa(i)+"]", "must be a BCP 47 language tag")
		}
		for j := 0; j < len(l); j++ {
			c := l[j]
			if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c == '-' && j > 0)) {
				return invalid(field+"["+strconv.Itoa(i)+"]", "must be a BCP 47 language tag")
			}
		}
	}
	return nil
}

func validState(field, s string) error {
	if s == "" {
		return nil
	}
	if len(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return invalid(field, "must be a two-letter upper-case USPS code")
	}
	return nil
}

// validAttributes checks a person's attributes. A key is the host's, and may
// say something about the person ("hiv_status"), so an error names the field
// and never which key.
func validAttributes(field string, attrs map[string]string) error {
	if len(attrs) > 100 {
		return invalid(field, "has too many entries")
	}
	for k, v := range attrs {
		if k == "" || len(k) > 64 {
			return invalid(field, "keys must be 1 to 64 characters")
		}
		if err := optionalText(field, k, 64); err != nil {
			return invalid(field, "keys must be text without control characters")
		}
		if len(v) > 1000 {
			return invalid(field, "values must be at most 1000 characters")
		}
		if err := optionalText(field, v, 1000); err != nil {
			return invalid(field, "values must be valid text without control characters")
		}
	}
	return nil
}
