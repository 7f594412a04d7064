package hsds

import (
	"strings"
	"time"

	"github.com/refkit/refkit/referral"
)

// A projection is a typed record written as the HSDS record it stands for,
// before its kept part is merged back: exactly what the importer compared the
// input with, so both directions agree. Empty fields are left out, except the
// fields HSDS requires.

// projectOrganization writes an organization; id is its HSDS id.
func projectOrganization(o *referral.Organization, id string) object {
	out := object{"id": id, "name": o.Name, "description": o.Description}
	put(out, "alternate_name", o.AlternateName)
	put(out, "email", o.Email)
	put(out, "website", o.Website)
	phones := o.Phones
	if o.Phone != "" && !hasNumber(phones, o.Phone) {
		phones = append([]referral.Phone{{Number: o.Phone}}, phones...)
	}
	putList(out, "phones", phones, projectPhone)
	putList(out, "contacts", o.Contacts, projectContact)
	putList(out, "organization_identifiers", o.Identifiers, func(i referral.Identifier) object {
		o := object{"identifier_type": i.Type, "identifier": i.Value}
		put(o, "identifier_scheme", i.System)
		return o
	})
	return out
}

func hasNumber(phones []referral.Phone, number string) bool {
	for _, p := range phones {
		if strings.TrimSpace(p.Number) == strings.TrimSpace(number) {
			return true
		}
	}
	return false
}

// putList sets key to the projections of a non-empty list.
func putList[T any](o object, key string, list []T, project func(T) object) {
	if len(list) == 0 {
		return
	}
	out := make([]any, len(list))
	for i, v := range list {
		out[i] = project(v)
	}
	o[key] = out
}

func projectPhone(p referral.Phone) object {
	o := object{"number": p.Number}
	put(o, "id", p.ID)
	if p.Extension != "" {
		o["extension"] = jsonNumber(p.Extension)
	}
	put(o, "type", p.Type)
	put(o, "description", p.Description)
	putLanguages(o, p.Languages)
	if p.Confidential {
		o["attributes"] = []any{ownAttribute(confidentialCode)}
	}
	return o
}

func projectContact(c referral.Contact) object {
	o := object{}
	for _, f := range []struct{ key, v string }{
		{"id", c.ID}, {"name", c.Name}, {"title", c.Title}, {"department", c.Department}, {"email", c.Email},
	} {
		put(o, f.key, f.v)
	}
	putList(o, "phones", c.Phones, projectPhone)
	if c.Confidential {
		o["attributes"] = []any{ownAttribute(confidentialCode)}
	}
	return o
}

// putLanguages writes language codes as language records; their ids, names
// and notes come back from the kept part, matched by code.
func putLanguages(o object, codes []string) {
	putList(o, "languages", codes, func(c string) object { return object{"code": c} })
}

// projectService writes a service without its organization; id and org are
// the HSDS ids of the service and its organization.
func projectService(s *referral.Service, id, org string) object {
	out := object{"id": id, "organization_id": org, "name": s.Name, "status": string(s.Status)}
	for _, f := range []struct{ key, v string }{
		{"alternate_name", s.AlternateName}, {"description", s.Description}, {"url", s.URL}, {"email", s.Email},
		{"interpretation_services", s.InterpretationServices}, {"application_process", s.ApplicationProcess},
		{"fees_description", s.FeesDescription}, {"eligibility_description", s.EligibilityDescription}, {"alert", s.Alert},
	} {
		put(out, f.key, f.v)
	}
	if s.MinimumAge > 0 {
		out["minimum_age"] = num(s.MinimumAge)
	}
	if s.MaximumAge > 0 {
		out["maximum_age"] = num(s.MaximumAge)
	}
	putList(out, "phones", s.Phones, projectPhone)
	putList(out, "schedules", s.Schedules, projectSchedule)
	putList(out, "service_areas", s.ServiceAreas, projectArea)
	putList(out, "service_at_locations", s.Locations, func(l referral.Location) object { return projectSiting(l, id) })
	putLanguages(out, s.Languages)
	putList(out, "cost_options", s.CostOptions, projectCostOption)
	putList(out, "required_documents", s.RequiredDocuments, func(d referral.RequiredDocument) object {
		o := object{}
		put(o, "id", d.ID)
		put(o, "document", d.Document)
		put(o, "uri", d.URI)
		return o
	})
	putList(out, "contacts", s.Contacts, projectContact)
	if c := s.Capacity; c != nil {
		out["capacities"] = []any{projectCapacity(s.ID, c)}
	}
	var attrs []any
	for _, d := range s.Domains {
		t := domainTerm(d)
		attrs = append(attrs, object{
			"id": derive(s.ID, "attribute", string(d)).String(), "link_id": id, "link_entity": "service",
			"taxonomy_term_id": t["id"], "taxonomy_term": t,
		})
	}
	if s.Eligibility != "" {
		t := ownTerm(ruleCode)
		attrs = append(attrs, object{
			"id": derive(s.ID, "attribute", ruleCode).String(), "taxonomy_term_id": t["id"], "value": s.Eligibility, "taxonomy_term": t,
		})
	}
	if attrs != nil {
		out["attributes"] = attrs
	}
	return out
}

func projectCostOption(c referral.CostOption) object {
	o := object{}
	for _, f := range []struct{ key, v string }{
		{"id", c.ID}, {"valid_from", c.ValidFrom}, {"valid_to", c.ValidTo}, {"option", c.Option},
		{"currency", c.Currency}, {"amount_description", c.AmountDescription},
	} {
		put(o, f.key, f.v)
	}
	if c.Amount != nil {
		o["amount"] = numf(*c.Amount)
	}
	return o
}

// projectCapacity writes a capacity as HSDS 3.1 service_capacity: available and
// maximum as they are, and the waitlist, which HSDS has no field for, as an
// attribute of refkit's taxonomy.
func projectCapacity(owner referral.ID, c *referral.Capacity) object {
	o := object{"available": num(c.Available)}
	put(o, "id", c.ID)
	if c.Maximum > 0 {
		o["maximum"] = num(c.Maximum)
	}
	put(o, "description", c.Description)
	if !c.Updated.IsZero() {
		o["updated"] = c.Updated.Format(time.RFC3339Nano)
	}
	if u := c.Unit; u != nil {
		uo := object{"id": u.ID, "name": u.Name}
		if u.ID == "" {
			uo["id"] = derive(owner, "unit", u.Name).String()
		}
		put(uo, "scheme", u.Scheme)
		put(uo, "identifier", u.Identifier)
		put(uo, "uri", u.URI)
		o["unit"] = uo
		o["unit_id"] = uo["id"]
	}
	if c.Waitlist > 0 {
		t := ownTerm(waitlistCode)
		o["attributes"] = []any{object{"taxonomy_term_id": t["id"], "value": itoa(c.Waitlist), "taxonomy_term": t}}
	}
	return o
}

// projectSiting writes a location as the service_at_location joining the
// service (HSDS id service) to it, with the location nested.
func projectSiting(l referral.Location, service string) object {
	loc := projectLocation(l)
	o := object{"service_id": service, "location_id": loc["id"], "location": loc}
	put(o, "id", l.ServiceAtLocation)
	putList(o, "schedules", l.ServiceSchedules, projectSchedule)
	putList(o, "service_areas", l.ServiceAreas, projectArea)
	return o
}

func projectLocation(l referral.Location) object {
	id := l.SourceID
	if id == "" {
		id = l.ID.String()
	}
	o := object{"id": id}
	switch {
	case l.Type != "":
		o["location_type"] = string(l.Type)
	case !l.Unplaced:
		o["location_type"] = string(referral.LocationPhysical)
	}
	for _, f := range []struct{ key, v string }{
		{"url", l.URL}, {"name", l.Name}, {"alternate_name", l.AlternateName}, {"description", l.Description},
		{"transportation", l.Transportation},
	} {
		put(o, f.key, f.v)
	}
	if !l.Unplaced {
		o["latitude"], o["longitude"] = numf(l.Latitude), numf(l.Longitude)
	}
	putLanguages(o, l.Languages)
	var addrs []any
	if a := l.Address; a != nil {
		addrs = append(addrs, projectAddress(a, "physical"))
	}
	if a := l.PostalAddress; a != nil {
		addrs = append(addrs, projectAddress(a, "postal"))
	}
	if addrs != nil {
		o["addresses"] = addrs
	}
	putList(o, "accessibility", l.Accessibility, func(a referral.Accessibility) object {
		ao := object{}
		put(ao, "id", a.ID)
		put(ao, "description", a.Description)
		put(ao, "details", a.Details)
		put(ao, "url", a.URL)
		return ao
	})
	putList(o, "phones", l.Phones, projectPhone)
	putList(o, "schedules", l.Schedules, projectSchedule)
	if l.Confidential {
		o["attributes"] = []any{ownAttribute(confidentialCode)}
	}
	return o
}

// projectAddress writes an address with the fields HSDS requires always present.
func projectAddress(a *referral.Address, kind string) object {
	o := object{
		"address_1": a.Address1, "city": a.City, "state_province": a.StateProvince, "postal_code": a.PostalCode,
		"country": a.Country, "address_type": kind,
	}
	put(o, "id", a.ID)
	put(o, "attention", a.Attention)
	put(o, "address_2", a.Address2)
	put(o, "region", a.Region)
	return o
}

func projectArea(a referral.ServiceArea) object {
	o := object{}
	extent, extentType := extentFor(a)
	for _, f := range []struct{ key, v string }{
		{"id", a.ID}, {"name", a.Name}, {"description", a.Description}, {"extent", extent}, {"extent_type", extentType}, {"uri", a.URI},
	} {
		put(o, f.key, f.v)
	}
	return o
}

// projectSchedule writes a schedule. HSDS gives the zone as an offset in hours:
// a zone with daylight saving time is written with its standard offset.
func projectSchedule(s referral.Schedule) object {
	o := object{}
	put(o, "id", s.ID)
	if s.Closed {
		o["attributes"] = []any{ownAttribute(closedCode)}
	}
	if s.Unreadable != "" {
		return o
	}
	for _, f := range []struct{ key, v string }{
		{"valid_from", s.ValidFrom}, {"valid_to", s.ValidTo}, {"dtstart", s.DTStart}, {"until", s.Until},
		{"wkst", s.WeekStart}, {"freq", string(s.Freq)}, {"byday", strings.Join(s.ByDay, ",")},
		{"byweekno", joinInts(s.ByWeekNo)}, {"bymonthday", joinInts(s.ByMonthDay)}, {"byyearday", joinInts(s.ByYearDay)},
		{"description", s.Description}, {"opens_at", s.OpensAt}, {"closes_at", s.ClosesAt}, {"schedule_link", s.Link},
		{"attending_type", s.AttendingType}, {"notes", s.Notes},
	} {
		put(o, f.key, f.v)
	}
	if s.Interval > 0 {
		o["interval"] = num(s.Interval)
	}
	if s.Count > 0 {
		o["count"] = num(s.Count)
	}
	if s.Timezone != "" {
		secs, ok := referral.ZoneOffset(s.Timezone)
		if !ok {
			secs, ok = referral.StandardOffset(s.Timezone)
		}
		if ok {
			o["timezone"] = numf(float64(secs) / 3600)
		}
	}
	return o
}

func joinInts(list []int) string {
	parts := make([]string, len(list))
	for i, v := range list {
		parts[i] = itoa(v)
	}
	return strings.Join(parts, ",")
}
