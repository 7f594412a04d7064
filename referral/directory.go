package referral

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Organization is an agency in a network that sends or receives referrals
// (HSDS 3.0 organization).
type Organization struct {
	ID      ID `json:"id"`
	Network ID `json:"network_id"`
	// SourceID is the organization's id in the directory it was imported from,
	// when refkit had to derive ID from it; exports write it back.
	SourceID      string `json:"source_id,omitempty"`
	Name          string `json:"name"`
	AlternateName string `json:"alternate_name,omitempty"`
	Description   string `json:"description,omitempty"`
	Email         string `json:"email,omitempty"`
	Website       string `json:"website,omitempty"`
	// Phone is the number to show when only one is shown: the first of Phones
	// on import. Exports write it as a phone of its own when Phones lacks it.
	Phone string `json:"phone,omitempty"`
	// Identifiers are third-party identifiers: tax number, charity or company
	// number, NPI (HSDS organization_identifiers).
	Identifiers []Identifier `json:"identifiers,omitempty"`
	Phones      []Phone      `json:"phones,omitempty"`
	Contacts    []Contact    `json:"contacts,omitempty"`
	// ConfidentialAccess names the organizations, besides this one, whose
	// staff may see what this organization's records keep confidential (see
	// Discloses): a domestic-violence coalition's hotline, say. It is the
	// host's access rule, not directory data: HSDS carries no such field, and
	// exports never write it.
	ConfidentialAccess []ID `json:"confidential_access,omitempty"`
	// HSDS keeps, as a JSON object, what the organization's HSDS record carries
	// that refkit does not model (programs, funding, locations, attributes,
	// metadata, ...), so an export writes it back. Only package hsds reads it.
	HSDS    json.RawMessage `json:"hsds,omitempty"`
	Created time.Time       `json:"created,omitzero"`
	Updated time.Time       `json:"updated,omitzero"`
}

// Validate checks the organization's fields.
func (o Organization) Validate() error {
	if err := o.ID.required("id"); err != nil {
		return err
	}
	if err := o.Network.required("network_id"); err != nil {
		return err
	}
	if err := requiredText("name", o.Name, 300); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"source_id", o.SourceID}, {"alternate_name", o.AlternateName}, {"email", o.Email}, {"website", o.Website}, {"phone", o.Phone},
	} {
		if err := optionalText(f.name, f.v, 300); err != nil {
			return err
		}
	}
	if err := optionalText("description", o.Description, 10000); err != nil {
		return err
	}
	if err := eachOf("identifiers", o.Identifiers, 100, Identifier.Validate); err != nil {
		return err
	}
	for i, id := range o.Identifiers {
		for _, prev := range o.Identifiers[:i] {
			if prev.System == id.System && prev.Value == id.Value {
				return invalid("identifiers["+strconv.Itoa(i)+"]", "repeats an earlier identifier")
			}
		}
	}
	if err := eachOf("phones", o.Phones, 100, Phone.Validate); err != nil {
		return err
	}
	if err := eachOf("contacts", o.Contacts, 100, Contact.Validate); err != nil {
		return err
	}
	if len(o.ConfidentialAccess) > maxConfidentialAccess {
		return invalid("confidential_access", "has too many entries")
	}
	for i, id := range o.ConfidentialAccess {
		if err := id.required("confidential_access[" + strconv.Itoa(i) + "]"); err != nil {
			return err
		}
	}
	return validExtension("hsds", o.HSDS)
}

// maxConfidentialAccess bounds Organization.ConfidentialAccess: the grant is
// for a few partners, and every disclosure check reads the list.
const maxConfidentialAccess = 100

// Clone returns a deep copy.
func (o Organization) Clone() Organization {
	o.Identifiers = slices.Clone(o.Identifiers)
	o.Phones = clonePhones(o.Phones)
	o.Contacts = cloneContacts(o.Contacts)
	o.ConfidentialAccess = slices.Clone(o.ConfidentialAccess)
	o.HSDS = bytes.Clone(o.HSDS)
	return o
}

// Identifier is an identifier a record carries in another system: an
// organization's tax or charity number, a clinician's NPI, a person's medical
// record number. It is FHIR's Identifier reduced to what refkit exchanges.
type Identifier struct {
	// System is the namespace Value is unique in: an absolute URI such as
	// http://hl7.org/fhir/sid/us-npi (FHIR; a person's identifiers need one),
	// or, for an organization imported from HSDS, a scheme code such as an
	// org-id.guide list ("US-EIN", "GB-CHC").
	System string `json:"system,omitempty"`
	// Type says what kind of identifier it is: an HL7 v2 table 0203 code
	// ("MR", "NPI", "TAX") where one fits, or HSDS's free text ("Tax ID").
	Type  string `json:"type,omitempty"`
	Value string `json:"value"`
}

// Validate checks the identifier's fields.
func (i Identifier) Validate() error {
	if err := requiredText("value", i.Value, 300); err != nil {
		return err
	}
	if err := optionalText("system", i.System, 2000); err != nil {
		return err
	}
	return optionalText("type", i.Type, 300)
}

// Phone is a phone number of an organization, service, location or contact
// (HSDS phone). ID is the phone's id in the source directory.
type Phone struct {
	ID     string `json:"id,omitempty"`
	Number string `json:"number"`
	// Extension is the extension as the source wrote the number ("100").
	Extension string `json:"extension,omitempty"`
	// Type is an RFC 6350 type: voice, text, fax, cell, video, pager, textphone.
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
	// Languages are the BCP 47 tags of the languages the line is answered in.
	Languages []string `json:"languages,omitempty"`
	// Confidential marks a number for those the organization discloses to
	// only (a staff line, say): see Organization.Discloses.
	Confidential bool `json:"confidential,omitempty"`
}

// Validate checks the phone's fields.
func (p Phone) Validate() error {
	if err := requiredText("number", p.Number, 100); err != nil {
		return err
	}
	if p.Extension != "" {
		if v, err := strconv.ParseFloat(p.Extension, 64); err != nil || math.IsInf(v, 0) || len(p.Extension) > 30 {
			return invalid("extension", "must be a number")
		}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"id", p.ID, 300}, {"type", p.Type, 50}, {"description", p.Description, 10000}} {
		if err := optionalText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	return validLanguages("languages", p.Languages)
}

// Contact is a named person or role to contact (HSDS contact). Contacts are
// directory data published by the organization, not the people referred.
type Contact struct {
	ID         string  `json:"id,omitempty"`
	Name       string  `json:"name,omitempty"`
	Title      string  `json:"title,omitempty"`
	Department string  `json:"department,omitempty"`
	Email      string  `json:"email,omitempty"`
	Phones     []Phone `json:"phones,omitempty"`
	// Confidential marks the whole contact, phones included, for those the
	// organization discloses to only: see Organization.Discloses.
	Confidential bool `json:"confidential,omitempty"`
}

// Validate checks the contact's fields.
func (c Contact) Validate() error {
	for _, f := range []struct{ name, v string }{
		{"id", c.ID}, {"name", c.Name}, {"title", c.Title}, {"department", c.Department}, {"email", c.Email},
	} {
		if err := optionalText(f.name, f.v, 300); err != nil {
			return err
		}
	}
	return eachOf("phones", c.Phones, 100, Phone.Validate)
}

// ServiceStatus is the HSDS 3.0 service status.
type ServiceStatus string

// Service statuses (HSDS 3.0).
const (
	ServiceActive            ServiceStatus = "active"
	ServiceInactive          ServiceStatus = "inactive"
	ServiceDefunct           ServiceStatus = "defunct"
	ServiceTemporarilyClosed ServiceStatus = "temporarily closed"
)

// Address is a physical or postal address (HSDS 3.0 address). Region holds the
// county.
type Address struct {
	ID string `json:"id,omitempty"`
	// Attention is the person or department to address ("care of").
	Attention     string `json:"attention,omitempty"`
	Address1      string `json:"address_1,omitempty"`
	Address2      string `json:"address_2,omitempty"`
	City          string `json:"city,omitempty"`
	Region        string `json:"region,omitempty"`
	StateProvince string `json:"state_province,omitempty"`
	PostalCode    string `json:"postal_code,omitempty"`
	Country       string `json:"country,omitempty"`
}

func (a Address) validate() error {
	for _, f := range []struct{ name, v string }{
		{"id", a.ID}, {"attention", a.Attention}, {"address_1", a.Address1}, {"address_2", a.Address2}, {"city", a.City},
		{"region", a.Region}, {"state_province", a.StateProvince}, {"postal_code", a.PostalCode}, {"country", a.Country},
	} {
		if err := optionalText(f.name, f.v, 300); err != nil {
			return err
		}
	}
	return nil
}

// LocationType says what kind of place a location is (HSDS location_type).
type LocationType string

// Location types. The empty type is physical.
const (
	LocationPhysical LocationType = "physical"
	LocationPostal   LocationType = "postal"
	LocationVirtual  LocationType = "virtual"
)

// Location is a place a service is delivered (HSDS 3.0 location, joined to the
// service through a service_at_location). Latitude and Longitude are WGS 84
// degrees. A location without usable coordinates is kept with Unplaced set, so
// a person can fix it; matching never offers a service at it.
//
// A Confidential location (a domestic-violence shelter) is matched at its
// exact point, but its address, postal address, directions and coordinates are
// shown only to those its organization discloses to (Organization.Discloses):
// everyone else sees a coarse area and a rounded distance in match results,
// and none of them in exports (see Service.Redacted). Its name and
// description are shown to everyone, so they must not say where it is.
type Location struct {
	ID ID `json:"id"`
	// SourceID is the location's id in the source directory, when refkit had to
	// derive ID from it.
	SourceID       string       `json:"source_id,omitempty"`
	Type           LocationType `json:"location_type,omitempty"`
	Name           string       `json:"name,omitempty"`
	AlternateName  string       `json:"alternate_name,omitempty"`
	Description    string       `json:"description,omitempty"`
	Transportation string       `json:"transportation,omitempty"`
	// URL is where a virtual location is reached.
	URL       string  `json:"url,omitempty"`
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	// Unplaced marks a location whose coordinates are missing or unusable;
	// Latitude and Longitude are then zero.
	Unplaced bool `json:"unplaced,omitempty"`
	// Confidential keeps the location's address and exact position from
	// anyone its organization does not disclose to (see the type's doc).
	Confidential bool `json:"confidential,omitempty"`
	// Address is the physical address; PostalAddress the one for mail.
	Address       *Address        `json:"address,omitempty"`
	PostalAddress *Address        `json:"postal_address,omitempty"`
	Phones        []Phone         `json:"phones,omitempty"`
	Accessibility []Accessibility `json:"accessibility,omitempty"`
	// Languages are the BCP 47 tags of the languages spoken at the location.
	Languages []string `json:"languages,omitempty"`
	// Schedules are the location's own opening hours.
	Schedules []Schedule `json:"schedules,omitempty"`
	// ServiceAtLocation is the id, in the source directory, of the HSDS
	// service_at_location that joins the service to this location.
	ServiceAtLocation string `json:"service_at_location_id,omitempty"`
	// ServiceSchedules are the service's hours at this location (HSDS
	// service_at_location.schedules).
	ServiceSchedules []Schedule `json:"service_schedules,omitempty"`
	// ServiceAreas are the areas the service serves from this location (HSDS
	// 3.1 service_at_location.service_areas).
	ServiceAreas []ServiceArea `json:"service_areas,omitempty"`
}

// Point returns the location's coordinates.
func (l Location) Point() Point { return Point{Latitude: l.Latitude, Longitude: l.Longitude} }

// Placed reports whether the location is a physical place with usable
// coordinates: the only kind matching measures distances to.
func (l Location) Placed() bool {
	return !l.Unplaced && (l.Type == "" || l.Type == LocationPhysical)
}

// Validate checks the location's fields.
func (l Location) Validate() error {
	if err := l.ID.required("id"); err != nil {
		return err
	}
	switch l.Type {
	case "", LocationPhysical, LocationPostal, LocationVirtual:
	default:
		return invalid("location_type", "must be physical, postal or virtual")
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"source_id", l.SourceID, 300}, {"name", l.Name, 300}, {"alternate_name", l.AlternateName, 300},
		{"description", l.Description, 10000}, {"transportation", l.Transportation, 10000}, {"url", l.URL, 2000},
		{"service_at_location_id", l.ServiceAtLocation, 300},
	} {
		if err := optionalText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if l.Unplaced {
		if l.Latitude != 0 || l.Longitude != 0 {
			return invalid("latitude", "must be zero for an unplaced location")
		}
	} else if err := l.Point().Validate(); err != nil {
		return err
	}
	for _, a := range []struct {
		name string
		a    *Address
	}{{"address", l.Address}, {"postal_address", l.PostalAddress}} {
		if a.a != nil {
			if err := a.a.validate(); err != nil {
				return prefixed(a.name, err)
			}
		}
	}
	if err := eachOf("phones", l.Phones, 100, Phone.Validate); err != nil {
		return err
	}
	if err := eachOf("accessibility", l.Accessibility, 100, Accessibility.Validate); err != nil {
		return err
	}
	if err := validLanguages("languages", l.Languages); err != nil {
		return err
	}
	if err := eachOf("schedules", l.Schedules, 200, Schedule.Validate); err != nil {
		return err
	}
	if err := eachOf("service_schedules", l.ServiceSchedules, 200, Schedule.Validate); err != nil {
		return err
	}
	return eachOf("service_areas", l.ServiceAreas, 1000, ServiceArea.Validate)
}

// Accessibility describes how a location serves people with disabilities (HSDS
// accessibility).
type Accessibility struct {
	ID          string `json:"id,omitempty"`
	Description string `json:"description,omitempty"`
	Details     string `json:"details,omitempty"`
	URL         string `json:"url,omitempty"`
}

// Validate checks the fields' sizes.
func (a Accessibility) Validate() error {
	for _, f := range []struct {
		name, v string
		max     int
	}{{"id", a.ID, 300}, {"description", a.Description, 10000}, {"details", a.Details, 10000}, {"url", a.URL, 2000}} {
		if err := optionalText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	return nil
}

// AreaKind says how a service area is described.
type AreaKind string

// Service area kinds.
const (
	AreaCounty  AreaKind = "county"
	AreaZip     AreaKind = "zip"
	AreaState   AreaKind = "state"
	AreaPolygon AreaKind = "polygon"
	// AreaVirtual marks a phone or online service that serves anyone, anywhere.
	AreaVirtual AreaKind = "virtual"
)

// ServiceArea is a region a service serves regardless of distance (HSDS 3.0
// service_area). Values hold county names, zip codes or state codes; Polygon holds
// the outer ring of a polygon area, first and last point need not repeat. An area
// whose extent refkit cannot read keeps Kind empty: it is shown, never matched.
type ServiceArea struct {
	Kind    AreaKind `json:"kind,omitempty"`
	Values  []string `json:"values,omitempty"`
	Polygon []Point  `json:"polygon,omitempty"`
	// ID, Name, Description and URI are the HSDS area's own fields.
	ID          string `json:"id,omitempty"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	URI         string `json:"uri,omitempty"`
	// Extent and ExtentType are the HSDS extent as written; exports reuse the
	// text while it still reads as Kind, Values and Polygon.
	Extent     string `json:"extent,omitempty"`
	ExtentType string `json:"extent_type,omitempty"`
}

// Validate checks that the area is complete for its kind.
func (a ServiceArea) Validate() error {
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"id", a.ID, 300}, {"name", a.Name, 2000}, {"description", a.Description, 10000}, {"uri", a.URI, 2000},
		{"extent", a.Extent, 1 << 20}, {"extent_type", a.ExtentType, 50},
	} {
		if err := optionalText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if len(a.Values) > 10000 {
		return invalid("values", "has too many entries")
	}
	switch a.Kind {
	case AreaCounty, AreaZip, AreaState:
		if len(a.Values) == 0 {
			return invalid("values", "is required for a "+string(a.Kind)+" area")
		}
		if len(a.Polygon) != 0 {
			return invalid("polygon", "is only for polygon areas")
		}
		for i, v := range a.Values {
			if err := requiredText("values["+strconv.Itoa(i)+"]", v, 100); err != nil {
				return err
			}
			if a.Kind == AreaState {
				if err := validState("values["+strconv.Itoa(i)+"]", v); err != nil {
					return err
				}
			}
		}
	case AreaPolygon:
		if len(a.Polygon) < 3 {
			return invalid("polygon", "needs at least three points")
		}
		if len(a.Polygon) > 10000 {
			return invalid("polygon", "has too many points")
		}
		for i, p := range a.Polygon {
			if err := p.Validate(); err != nil {
				return prefixed("polygon["+strconv.Itoa(i)+"]", err)
			}
		}
	case AreaVirtual, "":
		if len(a.Values) != 0 || len(a.Polygon) != 0 {
			return invalid("values", "must be empty for a virtual or unread area")
		}
	default:
		return invalid("kind", "must be county, zip, state, polygon or virtual")
	}
	return nil
}

// Capacity is what a service publishes about its room to take people. A nil
// *Capacity on a service means capacity is not tracked. It is HSDS 3.1's
// service_capacity: Available is its available, Maximum its maximum, Unit the
// unit both count in (places, beds, appointments, ...).
type Capacity struct {
	// Available is the number of open slots now.
	Available int `json:"available"`
	// Waitlist is how many more people the service will waitlist once slots are full.
	Waitlist int `json:"waitlist,omitempty"`
	// Maximum is the most the service can hold; 0 when not published.
	Maximum int `json:"maximum,omitempty"`
	// Unit is what Available and Maximum count; nil is people (places).
	Unit *Unit `json:"unit,omitempty"`
	// Updated is when the figures were last published.
	Updated time.Time `json:"updated,omitzero"`
	// ID and Description are the HSDS service_capacity's own.
	ID          string `json:"id,omitempty"`
	Description string `json:"description,omitempty"`
}

// Unit is a unit of measure (HSDS 3.1 unit), from a scheme such as SI or UCUM.
type Unit struct {
	ID         string `json:"id,omitempty"`
	Name       string `json:"name"`
	Scheme     string `json:"scheme,omitempty"`
	Identifier string `json:"identifier,omitempty"`
	URI        string `json:"uri,omitempty"`
}

// Validate checks the capacity's figures and fields.
func (c Capacity) Validate() error { return c.validate() }

func (c *Capacity) validate() error {
	if c.Available < 0 || c.Waitlist < 0 || c.Maximum < 0 {
		return invalid("capacity", "must not be negative")
	}
	if err := optionalText("capacity.id", c.ID, 300); err != nil {
		return err
	}
	if err := optionalText("capacity.description", c.Description, 10000); err != nil {
		return err
	}
	if u := c.Unit; u != nil {
		if err := requiredText("capacity.unit.name", u.Name, 300); err != nil {
			return err
		}
		for _, f := range []struct{ name, v string }{{"id", u.ID}, {"scheme", u.Scheme}, {"identifier", u.Identifier}, {"uri", u.URI}} {
			if err := optionalText("capacity.unit."+f.name, f.v, 2000); err != nil {
				return err
			}
		}
	}
	return nil
}

// CostOption is one price of a service (HSDS cost_option). ValidFrom and
// ValidTo are dates as the source wrote them; Amount is nil when not given.
type CostOption struct {
	ID                string   `json:"id,omitempty"`
	ValidFrom         string   `json:"valid_from,omitempty"`
	ValidTo           string   `json:"valid_to,omitempty"`
	Option            string   `json:"option,omitempty"`
	Currency          string   `json:"currency,omitempty"`
	Amount            *float64 `json:"amount,omitempty"`
	AmountDescription string   `json:"amount_description,omitempty"`
}

// Validate checks the fields' sizes and that Amount is a finite number.
func (c CostOption) Validate() error {
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"id", c.ID, 300}, {"valid_from", c.ValidFrom, 40}, {"valid_to", c.ValidTo, 40}, {"option", c.Option, 2000},
		{"currency", c.Currency, 10}, {"amount_description", c.AmountDescription, 2000},
	} {
		if err := optionalText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if c.Amount != nil && (math.IsNaN(*c.Amount) || math.IsInf(*c.Amount, 0)) {
		return invalid("amount", "must be a number")
	}
	return nil
}

// RequiredDocument is a document a person needs to apply (HSDS
// required_document).
type RequiredDocument struct {
	ID       string `json:"id,omitempty"`
	Document string `json:"document,omitempty"`
	URI      string `json:"uri,omitempty"`
}

// Validate checks the fields' sizes.
func (d RequiredDocument) Validate() error {
	for _, f := range []struct {
		name, v string
		max     int
	}{{"id", d.ID, 300}, {"document", d.Document, 10000}, {"uri", d.URI, 2000}} {
		if err := optionalText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	return nil
}

// Service is something an organization offers (HSDS 3.0 service) plus refkit's
// structured eligibility: the SDOH domains it addresses and an expr rule.
//
// A service is kept even when matching cannot offer it (no domain, no usable
// place): Unmatchable says why, so a person can fix the mapping or the address.
type Service struct {
	ID           ID `json:"id"`
	Network      ID `json:"network_id"`
	Organization ID `json:"organization_id"`
	// SourceID is the service's id in the source directory, when refkit had to
	// derive ID from it.
	SourceID      string        `json:"source_id,omitempty"`
	Name          string        `json:"name"`
	AlternateName string        `json:"alternate_name,omitempty"`
	Description   string        `json:"description,omitempty"`
	URL           string        `json:"url,omitempty"`
	Email         string        `json:"email,omitempty"`
	Status        ServiceStatus `json:"status"`
	// Domains are the needs the service addresses; none makes it unmatchable.
	Domains []Domain `json:"domains"`
	// Eligibility is an expr-lang expression over the matching vocabulary (see
	// package matching); empty means everyone is eligible.
	Eligibility string `json:"eligibility,omitempty"`
	// EligibilityDescription is HSDS's free-text eligibility, shown to people.
	EligibilityDescription string `json:"eligibility_description,omitempty"`
	// MinimumAge and MaximumAge are HSDS's age limits in whole years; 0 is no limit.
	MinimumAge int `json:"minimum_age,omitempty"`
	MaximumAge int `json:"maximum_age,omitempty"`
	// Languages are the BCP 47 tags of the languages the service is delivered in.
	Languages []string `json:"languages,omitempty"`
	// ApplicationProcess, FeesDescription, InterpretationServices and Alert are
	// HSDS's free text for people: how to apply, what it costs, interpreting,
	// and a short-term notice.
	ApplicationProcess     string             `json:"application_process,omitempty"`
	FeesDescription        string             `json:"fees_description,omitempty"`
	InterpretationServices string             `json:"interpretation_services,omitempty"`
	Alert                  string             `json:"alert,omitempty"`
	CostOptions            []CostOption       `json:"cost_options,omitempty"`
	RequiredDocuments      []RequiredDocument `json:"required_documents,omitempty"`
	Phones                 []Phone            `json:"phones,omitempty"`
	Contacts               []Contact          `json:"contacts,omitempty"`
	Capacity               *Capacity          `json:"capacity,omitempty"`
	Locations              []Location         `json:"locations,omitempty"`
	ServiceAreas           []ServiceArea      `json:"service_areas,omitempty"`
	// Schedules are the service's own hours; without any, matching reads those
	// of its locations.
	Schedules []Schedule `json:"schedules,omitempty"`
	// HSDS keeps, as a JSON object, what the service's HSDS record carries that
	// refkit does not model (program, funding, attributes and their taxonomy
	// terms, metadata, the service_at_locations' own fields, ...), so an export
	// writes it back. Only package hsds reads it.
	HSDS    json.RawMessage `json:"hsds,omitempty"`
	Created time.Time       `json:"created,omitzero"`
	Updated time.Time       `json:"updated,omitzero"`
}

// Why a service is unmatchable (see Service.Unmatchable).
const (
	// UnmatchableNoDomain: no SDOH domain, typically because none of its
	// taxonomy terms is mapped.
	UnmatchableNoDomain = "no-domain"
	// UnmatchableNoPlace: no physical location with usable coordinates, no
	// virtual location and no service area refkit can read.
	UnmatchableNoPlace = "no-place"
)

// Unmatchable returns why matching can never offer the service (the
// Unmatchable* codes), or nil when it can.
func (s Service) Unmatchable() []string {
	var out []string
	if len(s.Domains) == 0 {
		out = append(out, UnmatchableNoDomain)
	}
	if !s.reachable() {
		out = append(out, UnmatchableNoPlace)
	}
	return out
}

// reachable reports whether the service has somewhere matching can find it.
func (s Service) reachable() bool {
	usable := func(areas []ServiceArea) bool {
		for _, a := range areas {
			if a.Kind != "" {
				return true
			}
		}
		return false
	}
	if usable(s.ServiceAreas) {
		return true
	}
	for _, l := range s.Locations {
		if l.Placed() || l.Type == LocationVirtual || usable(l.ServiceAreas) {
			return true
		}
	}
	return false
}

// Validate checks the service and everything nested in it. It does not compile the
// eligibility rule: package matching does, with positioned errors. A service with
// no domain or nowhere to be found is valid (see Unmatchable).
func (s Service) Validate() error {
	for _, f := range []struct {
		name string
		id   ID
	}{{"id", s.ID}, {"network_id", s.Network}, {"organization_id", s.Organization}} {
		if err := f.id.required(f.name); err != nil {
			return err
		}
	}
	if err := requiredText("name", s.Name, 300); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    string
		max  int
	}{
		{"source_id", s.SourceID, 300}, {"alternate_name", s.AlternateName, 300}, {"description", s.Description, 10000},
		{"url", s.URL, 2000}, {"email", s.Email, 300}, {"eligibility", s.Eligibility, 10000},
		{"eligibility_description", s.EligibilityDescription, 10000}, {"application_process", s.ApplicationProcess, 10000},
		{"fees_description", s.FeesDescription, 10000}, {"interpretation_services", s.InterpretationServices, 10000},
		{"alert", s.Alert, 10000},
	} {
		if err := optionalText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	switch s.Status {
	case ServiceActive, ServiceInactive, ServiceDefunct, ServiceTemporarilyClosed:
	case "":
		return invalid("status", "is required")
	default:
		return invalid("status", "must be active, inactive, defunct or temporarily closed")
	}
	if len(s.Domains) > 128 {
		return invalid("domains", "has too many entries")
	}
	for i, d := range s.Domains {
		if err := d.Validate(); err != nil {
			return invalid("domains["+strconv.Itoa(i)+"]", "is not a registered domain code")
		}
	}
	if s.MinimumAge < 0 || s.MinimumAge > 150 {
		return invalid("minimum_age", "must be between 0 and 150")
	}
	if s.MaximumAge < 0 || s.MaximumAge > 150 {
		return invalid("maximum_age", "must be between 0 and 150")
	}
	if s.MaximumAge != 0 && s.MaximumAge < s.MinimumAge {
		return invalid("maximum_age", "must not be below minimum_age")
	}
	if err := validLanguages("languages", s.Languages); err != nil {
		return err
	}
	if s.Capacity != nil {
		if err := s.Capacity.validate(); err != nil {
			return err
		}
	}
	if err := s.validateParts(); err != nil {
		return err
	}
	return validExtension("hsds", s.HSDS)
}

// validateParts checks the lists a service nests.
func (s Service) validateParts() error {
	if err := eachOf("cost_options", s.CostOptions, 100, CostOption.Validate); err != nil {
		return err
	}
	if err := eachOf("required_documents", s.RequiredDocuments, 100, RequiredDocument.Validate); err != nil {
		return err
	}
	if err := eachOf("phones", s.Phones, 100, Phone.Validate); err != nil {
		return err
	}
	if err := eachOf("contacts", s.Contacts, 100, Contact.Validate); err != nil {
		return err
	}
	if err := eachOf("locations", s.Locations, 10000, Location.Validate); err != nil {
		return err
	}
	seen := make(map[ID]bool, len(s.Locations))
	for i, l := range s.Locations {
		if seen[l.ID] {
			return invalid("locations["+strconv.Itoa(i)+"].id", "is a duplicate")
		}
		seen[l.ID] = true
	}
	if err := eachOf("service_areas", s.ServiceAreas, 1000, ServiceArea.Validate); err != nil {
		return err
	}
	return eachOf("schedules", s.Schedules, 200, Schedule.Validate)
}

// eachOf validates every element of a list of at most max entries, naming the
// first failure by index.
func eachOf[T any](field string, list []T, max int, validate func(T) error) error {
	if len(list) > max {
		return invalid(field, "has too many entries")
	}
	for i, v := range list {
		if err := validate(v); err != nil {
			return prefixed(field+"["+strconv.Itoa(i)+"]", err)
		}
	}
	return nil
}

// Location returns the service's location with the given id.
func (s Service) Location(id ID) (Location, bool) {
	for _, l := range s.Locations {
		if l.ID == id {
			return l, true
		}
	}
	return Location{}, false
}

// Clone returns a deep copy.
func (s Service) Clone() Service {
	s.Domains = slices.Clone(s.Domains)
	s.Languages = slices.Clone(s.Languages)
	if s.Capacity != nil {
		c := *s.Capacity
		if c.Unit != nil {
			u := *c.Unit
			c.Unit = &u
		}
		s.Capacity = &c
	}
	s.CostOptions = slices.Clone(s.CostOptions)
	for i := range s.CostOptions {
		if a := s.CostOptions[i].Amount; a != nil {
			v := *a
			s.CostOptions[i].Amount = &v
		}
	}
	s.RequiredDocuments = slices.Clone(s.RequiredDocuments)
	s.Phones = clonePhones(s.Phones)
	s.Contacts = cloneContacts(s.Contacts)
	s.Locations = slices.Clone(s.Locations)
	for i := range s.Locations {
		s.Locations[i] = s.Locations[i].clone()
	}
	s.ServiceAreas = cloneAreas(s.ServiceAreas)
	s.Schedules = cloneSchedules(s.Schedules)
	s.HSDS = bytes.Clone(s.HSDS)
	return s
}

func (l Location) clone() Location {
	for _, a := range []**Address{&l.Address, &l.PostalAddress} {
		if *a != nil {
			c := **a
			*a = &c
		}
	}
	l.Phones = clonePhones(l.Phones)
	l.Accessibility = slices.Clone(l.Accessibility)
	l.Languages = slices.Clone(l.Languages)
	l.Schedules = cloneSchedules(l.Schedules)
	l.ServiceSchedules = cloneSchedules(l.ServiceSchedules)
	l.ServiceAreas = cloneAreas(l.ServiceAreas)
	return l
}

func clonePhones(ps []Phone) []Phone {
	ps = slices.Clone(ps)
	for i := range ps {
		ps[i].Languages = slices.Clone(ps[i].Languages)
	}
	return ps
}

func cloneContacts(cs []Contact) []Contact {
	cs = slices.Clone(cs)
	for i := range cs {
		cs[i].Phones = clonePhones(cs[i].Phones)
	}
	return cs
}

func cloneAreas(as []ServiceArea) []ServiceArea {
	as = slices.Clone(as)
	for i := range as {
		as[i].Values = slices.Clone(as[i].Values)
		as[i].Polygon = slices.Clone(as[i].Polygon)
	}
	return as
}

func cloneSchedules(ss []Schedule) []Schedule {
	ss = slices.Clone(ss)
	for i := range ss {
		ss[i].ByDay = slices.Clone(ss[i].ByDay)
		ss[i].ByMonthDay = slices.Clone(ss[i].ByMonthDay)
		ss[i].ByWeekNo = slices.Clone(ss[i].ByWeekNo)
		ss[i].ByYearDay = slices.Clone(ss[i].ByYearDay)
	}
	return ss
}

// Limits on a record's kept source data (Service.HSDS, Organization.HSDS): a
// hostile feed cannot make one record large or deep.
const (
	maxExtensionBytes = 1 << 20
	maxExtensionDepth = 32
)

// validExtension checks kept source data: a JSON object of bounded size and
// depth whose strings are valid text, as every text field is (PostgreSQL's jsonb
// refuses NUL, and U+FFFD marks bytes that were not UTF-8). It scans the bytes
// once: stores validate every record they write.
func validExtension(field string, raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	if len(raw) > maxExtensionBytes {
		return invalid(field, "is too large")
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return invalid(field, "must be a JSON object")
	}
	if !utf8.Valid(trimmed) || bytes.ContainsRune(trimmed, utf8.RuneError) {
		return invalid(field, "must be valid text without control characters")
	}
	depth, inString := 0, false
	for i := 0; i < len(trimmed); i++ {
		c := trimmed[i]
		switch {
		case inString && c == '\\':
			if trimmed[i+1] == 'u' && controlEscape(trimmed[i+2:i+6]) {
				return invalid(field, "must be valid text without control characters")
			}
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			if depth++; depth > maxExtensionDepth {
				return invalid(field, "nests too deeply")
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// controlEscape reports whether the four hex digits of a \u escape name a
// control character other than tab, newline and carriage return, or U+FFFD.
func controlEscape(hex []byte) bool {
	v, err := strconv.ParseUint(string(hex), 16, 16)
	return err == nil && ((v < 0x20 && v != '\t' && v != '\n' && v != '\r') || v == utf8.RuneError)
}

// Discloses reports whether a may see what o's records keep confidential: the
// address and exact position of its services' confidential locations, and its
// confidential phones and contacts. Staff and admins of o itself may, and
// those of the organizations o lists in ConfidentialAccess; so may system
// actors, the host's own automation (imports, backups). Delegates may not,
// nor anyone of another network, nor the public (a nil actor).
func (o Organization) Discloses(a *Actor) bool {
	if a == nil || a.Network.IsZero() || a.Network != o.Network {
		return false
	}
	switch a.Role {
	case RoleSystem:
		return true
	case RoleStaff, RoleAdmin:
		return !a.Organization.IsZero() && (a.Organization == o.ID || slices.Contains(o.ConfidentialAccess, a.Organization))
	}
	return false
}

// Confidential reports whether the service keeps anything confidential: a
// confidential location, or a confidential phone or contact of its own or of
// one of its locations.
func (s Service) Confidential() bool {
	if hasConfidential(s.Phones, s.Contacts) {
		return true
	}
	for _, l := range s.Locations {
		if l.Confidential || hasConfidential(l.Phones, nil) {
			return true
		}
	}
	return false
}

// Redacted returns a deep copy of s as it is shown to someone its
// organization does not disclose to. Its confidential locations keep their id,
// type, name, description, hours, languages and the rest, but lose their
// address, postal address, transportation directions and coordinates
// (Latitude and Longitude are zero and Unplaced is set: a redacted copy is for
// showing, never for matching). Its confidential phones and contacts, and its
// locations' confidential phones, are left out. A redacted copy carries no
// kept HSDS part, which may hold what was left out: package hsds writes
// redacted records from the full record, removing what it must.
func (s Service) Redacted() Service {
	s = s.Clone()
	s.Phones = openPhones(s.Phones)
	s.Contacts = openContacts(s.Contacts)
	for i := range s.Locations {
		l := &s.Locations[i]
		l.Phones = openPhones(l.Phones)
		if !l.Confidential {
			continue
		}
		if l.Type == "" && !l.Unplaced {
			l.Type = LocationPhysical // what it was; an unplaced location with no type says nothing
		}
		l.Address, l.PostalAddress, l.Transportation = nil, nil, ""
		l.Latitude, l.Longitude, l.Unplaced = 0, 0, true
	}
	s.HSDS = nil
	return s
}

// Redacted returns a deep copy of o as it is shown to someone it does not
// disclose to: without its confidential phones and contacts, with Phone
// cleared when it is a confidential phone's number, without ConfidentialAccess
// (who is trusted is the organization's business) and without its kept HSDS
// part (see Service.Redacted).
func (o Organization) Redacted() Organization {
	o = o.Clone()
	for _, p := range o.Phones {
		if p.Confidential && p.Number == o.Phone {
			o.Phone = ""
		}
	}
	for _, c := range o.Contacts {
		for _, p := range c.Phones {
			if (c.Confidential || p.Confidential) && p.Number == o.Phone {
				o.Phone = ""
			}
		}
	}
	o.Phones = openPhones(o.Phones)
	o.Contacts = openContacts(o.Contacts)
	o.ConfidentialAccess = nil
	o.HSDS = nil
	return o
}

func hasConfidential(phones []Phone, contacts []Contact) bool {
	for _, p := range phones {
		if p.Confidential {
			return true
		}
	}
	for _, c := range contacts {
		if c.Confidential || hasConfidential(c.Phones, nil) {
			return true
		}
	}
	return false
}

// openPhones returns the phones that are not confidential; nil when none are.
func openPhones(ps []Phone) []Phone {
	var out []Phone
	for _, p := range ps {
		if !p.Confidential {
			out = append(out, p)
		}
	}
	return out
}

// openContacts returns the contacts that are not confidential, each without
// its confidential phones; nil when none are left.
func openContacts(cs []Contact) []Contact {
	var out []Contact
	for _, c := range cs {
		if !c.Confidential {
			c.Phones = openPhones(c.Phones)
			out = append(out, c)
		}
	}
	return out
}
