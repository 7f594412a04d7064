package referral

import (
	"slices"
	"strconv"
	"sync"
	"time"
)

// Organization is an agency in a network that sends or receives referrals
// (HSDS 3.0 organization).
type Organization struct {
	ID            ID        `json:"id"`
	Network       ID        `json:"network_id"`
	Name          string    `json:"name"`
	AlternateName string    `json:"alternate_name,omitempty"`
	Description   string    `json:"description,omitempty"`
	Email         string    `json:"email,omitempty"`
	Website       string    `json:"website,omitempty"`
	Phone         string    `json:"phone,omitempty"`
	Created       time.Time `json:"created,omitzero"`
	Updated       time.Time `json:"updated,omitzero"`

	// Identifiers are the organization's ids in other systems (NPI, tax id).
	Identifiers []Identifier `json:"identifiers,omitempty"`
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
		{"alternate_name", o.AlternateName}, {"email", o.Email}, {"website", o.Website}, {"phone", o.Phone},
	} {
		if err := optionalText(f.name, f.v, 300); err != nil {
			return err
		}
	}
	if err := validIdentifiers("identifiers", o.Identifiers); err != nil {
		return err
	}
	return optionalText("description", o.Description, 10000)
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

// Address is a physical address (HSDS 3.0 address). Region holds the county.
type Address struct {
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
		{"address_1", a.Address1}, {"address_2", a.Address2}, {"city", a.City}, {"region", a.Region},
		{"state_province", a.StateProvince}, {"postal_code", a.PostalCode}, {"country", a.Country},
	} {
		if err := optionalText(f.name, f.v, 300); err != nil {
			return err
		}
	}
	return nil
}

// Location is a place a service is delivered (HSDS 3.0 location, joined through
// service_at_location). Latitude and Longitude are WGS 84 degrees.
type Location struct {
	ID          ID       `json:"id"`
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Latitude    float64  `json:"latitude"`
	Longitude   float64  `json:"longitude"`
	Address     *Address `json:"address,omitempty"`
}

// Point returns the location's coordinates.
func (l Location) Point() Point { return Point{Latitude: l.Latitude, Longitude: l.Longitude} }

// Validate checks the location's fields.
func (l Location) Validate() error {
	if err := l.ID.required("id"); err != nil {
		return err
	}
	if err := optionalText("name", l.Name, 300); err != nil {
		return err
	}
	if err := optionalText("description", l.Description, 10000); err != nil {
		return err
	}
	if err := l.Point().Validate(); err != nil {
		return err
	}
	if l.Address != nil {
		if err := l.Address.validate(); err != nil {
			return prefixed("address", err)
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
// the outer ring of a polygon area, first and last point need not repeat.
type ServiceArea struct {
	Kind    AreaKind `json:"kind"`
	Values  []string `json:"values,omitempty"`
	Polygon []Point  `json:"polygon,omitempty"`
}

// Validate checks that the area is complete for its kind.
func (a ServiceArea) Validate() error {
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
	case AreaVirtual:
		if len(a.Values) != 0 || len(a.Polygon) != 0 {
			return invalid("values", "must be empty for a virtual area")
		}
	case "":
		return invalid("kind", "is required")
	default:
		return invalid("kind", "must be county, zip, state, polygon or virtual")
	}
	return nil
}

// Schedule is a weekly opening window (a simplified HSDS 3.0 schedule): on the days
// in ByDay (RFC 5545 two-letter codes "MO".."SU"), open from OpensAt to ClosesAt
// ("HH:MM", 24-hour, local to Timezone, an IANA name; empty means UTC).
type Schedule struct {
	ByDay    []string `json:"byday"`
	OpensAt  string   `json:"opens_at"`
	ClosesAt string   `json:"closes_at"`
	Timezone string   `json:"timezone,omitempty"`
}

var weekdays = map[string]time.Weekday{
	"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday,
	"TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday,
}

// Validate checks day codes, times and the zone.
func (s Schedule) Validate() error {
	if len(s.ByDay) == 0 {
		return invalid("byday", "is required")
	}
	for i, d := range s.ByDay {
		if _, ok := weekdays[d]; !ok {
			return invalid("byday["+strconv.Itoa(i)+"]", "must be one of MO TU WE TH FR SA SU")
		}
	}
	open, ok := clockMinutes(s.OpensAt)
	if !ok {
		return invalid("opens_at", "must be HH:MM")
	}
	closeAt, ok := clockMinutes(s.ClosesAt)
	if !ok {
		return invalid("closes_at", "must be HH:MM")
	}
	if closeAt <= open {
		return invalid("closes_at", "must be after opens_at")
	}
	if _, err := s.location(); err != nil {
		return invalid("timezone", "is not a known IANA time zone")
	}
	return nil
}

// OpenAt reports whether the schedule is open at t. An invalid schedule is never open.
func (s Schedule) OpenAt(t time.Time) bool {
	loc, err := s.location()
	if err != nil {
		return false
	}
	local := t.In(loc)
	open, ok1 := clockMinutes(s.OpensAt)
	closeAt, ok2 := clockMinutes(s.ClosesAt)
	if !ok1 || !ok2 {
		return false
	}
	minute := local.Hour()*60 + local.Minute()
	if minute < open || minute >= closeAt {
		return false
	}
	for _, d := range s.ByDay {
		if wd, ok := weekdays[d]; ok && wd == local.Weekday() {
			return true
		}
	}
	return false
}

func (s Schedule) location() (*time.Location, error) {
	if s.Timezone == "" {
		return time.UTC, nil
	}
	if loc, ok := zones.Load(s.Timezone); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return nil, err
	}
	zones.Store(s.Timezone, loc)
	return loc, nil
}

// zones caches loaded time zones: time.LoadLocation reads the zone database on
// every call, and OpenAt runs for every candidate service when ranking.
var zones sync.Map

func clockMinutes(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}

// Capacity is what a service publishes about its room to take people. A nil
// *Capacity on a service means capacity is not tracked.
type Capacity struct {
	// Available is the number of open slots now.
	Available int `json:"available"`
	// Waitlist is how many more people the service will waitlist once slots are full.
	Waitlist int `json:"waitlist,omitempty"`
}

// Service is something an organization offers (HSDS 3.0 service) plus refkit's
// structured eligibility: the SDOH domains it addresses and an expr rule.
type Service struct {
	ID            ID            `json:"id"`
	Network       ID            `json:"network_id"`
	Organization  ID            `json:"organization_id"`
	Name          string        `json:"name"`
	AlternateName string        `json:"alternate_name,omitempty"`
	Description   string        `json:"description,omitempty"`
	URL           string        `json:"url,omitempty"`
	Email         string        `json:"email,omitempty"`
	Status        ServiceStatus `json:"status"`
	// Domains are the needs the service addresses.
	Domains []Domain `json:"domains"`
	// Eligibility is an expr-lang expression over the matching vocabulary (see
	// package matching); empty means everyone is eligible.
	Eligibility string `json:"eligibility,omitempty"`
	// EligibilityDescription is HSDS's free-text eligibility, shown to people.
	EligibilityDescription string `json:"eligibility_description,omitempty"`
	// MinimumAge and MaximumAge are HSDS's age limits in whole years; 0 is no limit.
	MinimumAge   int           `json:"minimum_age,omitempty"`
	MaximumAge   int           `json:"maximum_age,omitempty"`
	Languages    []string      `json:"languages,omitempty"`
	Capacity     *Capacity     `json:"capacity,omitempty"`
	Locations    []Location    `json:"locations,omitempty"`
	ServiceAreas []ServiceArea `json:"service_areas,omitempty"`
	Schedules    []Schedule    `json:"schedules,omitempty"`
	Created      time.Time     `json:"created,omitzero"`
	Updated      time.Time     `json:"updated,omitzero"`
}

// Validate checks the service and everything nested in it. It does not compile the
// eligibility rule: package matching does, with positioned errors.
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
		{"alternate_name", s.AlternateName, 300}, {"description", s.Description, 10000}, {"url", s.URL, 2000},
		{"email", s.Email, 300}, {"eligibility", s.Eligibility, 10000}, {"eligibility_description", s.EligibilityDescription, 10000},
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
	if len(s.Domains) == 0 {
		return invalid("domains", "needs at least one domain")
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
	if s.Capacity != nil && (s.Capacity.Available < 0 || s.Capacity.Waitlist < 0) {
		return invalid("capacity", "must not be negative")
	}
	if len(s.Locations) == 0 && len(s.ServiceAreas) == 0 {
		return invalid("locations", "a service needs a location or a service area")
	}
	seen := make(map[ID]bool, len(s.Locations))
	for i, l := range s.Locations {
		if err := l.Validate(); err != nil {
			return prefixed("locations["+strconv.Itoa(i)+"]", err)
		}
		if seen[l.ID] {
			return invalid("locations["+strconv.Itoa(i)+"].id", "is a duplicate")
		}
		seen[l.ID] = true
	}
	for i, a := range s.ServiceAreas {
		if err := a.Validate(); err != nil {
			return prefixed("service_areas["+strconv.Itoa(i)+"]", err)
		}
	}
	for i, sc := range s.Schedules {
		if err := sc.Validate(); err != nil {
			return prefixed("schedules["+strconv.Itoa(i)+"]", err)
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
		s.Capacity = &c
	}
	s.Locations = slices.Clone(s.Locations)
	for i := range s.Locations {
		if a := s.Locations[i].Address; a != nil {
			c := *a
			s.Locations[i].Address = &c
		}
	}
	s.ServiceAreas = slices.Clone(s.ServiceAreas)
	for i := range s.ServiceAreas {
		s.ServiceAreas[i].Values = slices.Clone(s.ServiceAreas[i].Values)
		s.ServiceAreas[i].Polygon = slices.Clone(s.ServiceAreas[i].Polygon)
	}
	s.Schedules = slices.Clone(s.Schedules)
	for i := range s.Schedules {
		s.Schedules[i].ByDay = slices.Clone(s.Schedules[i].ByDay)
	}
	return s
}
