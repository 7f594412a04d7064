package hsds

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/refkit/refkit/referral"
)

// This file reads refkit's typed records out of HSDS records (generic objects).
// What cannot be typed stays in the object, and so in the record's kept part.

// reader reads the fields of one HSDS record, reporting a field of the wrong
// JSON type (which stays kept as given).
type reader struct {
	im         *importer
	record, id string
	o          object
}

// str returns a string field, "" when absent or not a string.
func (r reader) str(key string) string {
	v, ok := r.o[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.im.keep(r.record, r.id, key+" must be a string: kept as given")
	}
	return s
}

// objects returns the objects of an array field; other elements stay kept.
func (r reader) objects(key string) []object {
	v, ok := r.o[key]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		r.im.keep(r.record, r.id, key+" must be an array: kept as given")
		return nil
	}
	out := make([]object, 0, len(list))
	for _, e := range list {
		if o, ok := e.(object); ok {
			out = append(out, o)
		} else {
			r.im.keep(r.record, r.id, key+" must hold objects: kept as given")
		}
	}
	return out
}

// number returns a number field: present and ok, or absent (present false).
func (r reader) number(key string) (v float64, present, ok bool) {
	raw, present := r.o[key]
	if !present || raw == nil {
		return 0, false, true
	}
	n, isNum := raw.(json.Number)
	if !isNum {
		return 0, true, false
	}
	f, fin := finite(n)
	return f, true, fin
}

// whole returns a whole-number field in [0, max].
func (r reader) whole(key string, max int) (int, bool) {
	v, present, ok := r.number(key)
	if !present {
		return 0, true
	}
	if !ok || v != math.Trunc(v) || v < 0 || v > float64(max) {
		return 0, false
	}
	return int(v), true
}

func (im *importer) read(record string, o object) reader {
	return reader{im: im, record: record, id: idOf(o), o: o}
}

// consumedKey marks an input element a typed field consumed whole (refkit's own
// attributes), which the kept part then leaves out: the projection writes it
// again.
const consumedKey = "$consumed"

// strip copies a record for diffing: without the keys named and without the
// elements marked consumed, at any depth.
func strip(in object, drop ...string) object {
	out := make(object, len(in))
	for k, v := range in {
		out[k] = stripValue(v)
	}
	for _, k := range drop {
		delete(out, k)
	}
	return out
}

func stripValue(v any) any {
	switch x := v.(type) {
	case object:
		out := make(object, len(x))
		for k, e := range x {
			out[k] = stripValue(e)
		}
		return out
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if o, ok := e.(object); ok && o[consumedKey] == true {
				continue
			}
			out = append(out, stripValue(e))
		}
		return out
	}
	return v
}

// encodeRecord is a record's canonical encoding without the key drop, to tell
// two copies apart.
func encodeRecord(in object, drop string) []byte {
	var buf bytes.Buffer
	_ = encodeValue(&buf, strip(in, drop), nil, Version31)
	return buf.Bytes()
}

// serviceParts reads what a service carries besides its locations.
func (im *importer) serviceParts(s *referral.Service, r reader) {
	s.Phones = im.phones(r.objects("phones"))
	s.Contacts = im.contacts(r.objects("contacts"))
	s.Languages = im.languages(r.objects("languages"))
	s.Schedules = im.schedules(r.objects("schedules"))
	s.ServiceAreas = im.areas(r.objects("service_areas"))
	for _, o := range r.objects("cost_options") {
		cr := im.read("cost_option", o)
		c := referral.CostOption{
			ID: cr.id, ValidFrom: cr.str("valid_from"), ValidTo: cr.str("valid_to"), Option: cr.str("option"),
			Currency: cr.str("currency"), AmountDescription: cr.str("amount_description"),
		}
		if v, present, ok := cr.number("amount"); present && ok {
			c.Amount = &v
		}
		s.CostOptions = append(s.CostOptions, c)
	}
	for _, o := range r.objects("required_documents") {
		dr := im.read("required_document", o)
		s.RequiredDocuments = append(s.RequiredDocuments, referral.RequiredDocument{ID: dr.id, Document: dr.str("document"), URI: dr.str("uri")})
	}
	s.Capacity = im.capacity(r.objects("capacities"))
}

// phones reads phone records; one without a number stays kept as given.
func (im *importer) phones(list []object) []referral.Phone {
	var out []referral.Phone
	for _, o := range list {
		r := im.read("phone", o)
		p := referral.Phone{ID: r.id, Number: r.str("number"), Type: r.str("type"), Description: r.str("description"),
			Confidential: im.ownFlag(r, confidentialCode)}
		if strings.TrimSpace(p.Number) == "" {
			im.keep("phone", r.id, "number is required: kept as given")
			continue
		}
		if n, ok := o["extension"].(json.Number); ok {
			if _, fin := finite(n); fin {
				p.Extension = string(n)
			}
		}
		p.Languages = im.languages(r.objects("languages"))
		if err := p.Validate(); err != nil {
			im.keep("phone", r.id, problemOf(err)+": kept as given")
			continue
		}
		out = append(out, p)
	}
	return out
}

func (im *importer) contacts(list []object) []referral.Contact {
	var out []referral.Contact
	for _, o := range list {
		r := im.read("contact", o)
		c := referral.Contact{
			ID: r.id, Name: r.str("name"), Title: r.str("title"), Department: r.str("department"), Email: r.str("email"),
			Phones: im.phones(r.objects("phones")), Confidential: im.ownFlag(r, confidentialCode),
		}
		if err := c.Validate(); err != nil {
			im.keep("contact", r.id, problemOf(err)+": kept as given")
			continue
		}
		out = append(out, c)
	}
	return out
}

func (im *importer) identifiers(list []object) []referral.Identifier {
	var out []referral.Identifier
	for _, o := range list {
		r := im.read("organization_identifier", o)
		id := referral.Identifier{System: r.str("identifier_scheme"), Type: r.str("identifier_type"), Value: r.str("identifier")}
		if err := id.Validate(); err != nil {
			im.keep("organization_identifier", r.id, problemOf(err)+": kept as given")
			continue
		}
		out = append(out, id)
	}
	return out
}

// languages reads language records as BCP 47 tags; a record without a usable
// code stays kept as given.
func (im *importer) languages(list []object) []string {
	var out []string
	for _, o := range list {
		r := im.read("language", o)
		code := r.str("code")
		switch {
		case code == "":
			im.keep("language", r.id, "code is required: kept as given")
		case code != strings.TrimSpace(code) || !validTag(code):
			im.keep("language", r.id, "code is not an ISO 639 language code: kept as given")
		default:
			out = append(out, code)
		}
	}
	return out
}

// validTag accepts the shape referral requires of language tags.
func validTag(s string) bool {
	if len(s) > 35 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c == '-' && i > 0)) {
			return false
		}
	}
	return true
}

// areas reads service areas; an extent refkit cannot read keeps the area with
// no kind, reported.
func (im *importer) areas(list []object) []referral.ServiceArea {
	var out []referral.ServiceArea
	for _, o := range list {
		r := im.read("service_area", o)
		a := referral.ServiceArea{
			ID: r.id, Name: r.str("name"), Description: r.str("description"), URI: r.str("uri"),
			Extent: r.str("extent"), ExtentType: r.str("extent_type"),
		}
		parsed, why := area(a.Extent, a.ExtentType)
		if why == "" {
			if err := parsed.Validate(); err != nil {
				why = problemOf(err)
			}
		}
		if why == "" {
			a.Kind, a.Values, a.Polygon = parsed.Kind, parsed.Values, parsed.Polygon
		} else {
			im.keep("service_area", r.id, why+": kept, but matching cannot use it")
		}
		if err := a.Validate(); err != nil {
			im.keep("service_area", r.id, problemOf(err)+": kept as given")
			continue
		}
		out = append(out, a)
	}
	return out
}

// serviceLocations reads the service_at_locations of a service into its
// locations.
func (im *importer) serviceLocations(s *referral.Service, sals []object) {
	for _, sal := range sals {
		r := im.read("service_at_location", sal)
		lo, ok := sal["location"].(object)
		if !ok {
			id, _ := sal["location_id"].(string)
			lo = im.locs[id]
		}
		if lo == nil {
			im.keep("service_at_location", r.id, "location_id refers to no location in the dataset: kept as given")
			continue
		}
		l, ok := im.location(lo)
		if !ok {
			continue
		}
		if _, dup := s.Location(l.ID); dup {
			im.keep("service_at_location", r.id, "joins the service to a location it is already at: kept as given")
			continue
		}
		l.ServiceAtLocation = r.id
		l.ServiceSchedules = im.schedules(r.objects("schedules"))
		l.ServiceAreas = im.areas(r.objects("service_areas"))
		s.Locations = append(s.Locations, l)
	}
}

// location reads a location. One without usable coordinates is kept unplaced.
func (im *importer) location(o object) (referral.Location, bool) {
	r := im.read("location", o)
	if r.id == "" {
		im.keep("location", "", "id is required: kept as given")
		return referral.Location{}, false
	}
	l := referral.Location{
		ID: im.ids.of("location", r.id), SourceID: im.ids.source(r.id), Type: referral.LocationType(r.str("location_type")),
		Name: r.str("name"), AlternateName: r.str("alternate_name"), Description: r.str("description"),
		Transportation: r.str("transportation"), URL: r.str("url"), Confidential: im.ownFlag(r, confidentialCode),
	}
	switch l.Type {
	case referral.LocationPhysical, referral.LocationPostal, referral.LocationVirtual, "":
	default:
		im.keep("location", r.id, "location_type must be physical, postal or virtual: kept, but matching cannot use it")
		l.Type, l.Unplaced = "", true
	}
	lat, latPresent, latOK := r.number("latitude")
	lon, lonPresent, lonOK := r.number("longitude")
	point := referral.Point{Latitude: lat, Longitude: lon}
	switch {
	case !l.Unplaced && latPresent && lonPresent && latOK && lonOK && point.Validate() == nil:
		l.Latitude, l.Longitude = lat, lon
	default:
		l.Unplaced = true
		if l.Type == "" || l.Type == referral.LocationPhysical {
			why := "latitude and longitude are required for a physical location"
			if latPresent || lonPresent {
				why = "latitude and longitude must be numbers within range"
			}
			im.keep("location", r.id, why+": kept, but matching cannot offer a service here until they are fixed")
		}
	}
	for _, a := range r.objects("addresses") {
		ar := im.read("address", a)
		addr := &referral.Address{
			ID: ar.id, Attention: ar.str("attention"), Address1: ar.str("address_1"), Address2: ar.str("address_2"),
			City: ar.str("city"), Region: ar.str("region"), StateProvince: ar.str("state_province"),
			PostalCode: ar.str("postal_code"), Country: ar.str("country"),
		}
		switch ar.str("address_type") {
		case "physical", "":
			if l.Address == nil {
				l.Address = addr
			}
		case "postal":
			if l.PostalAddress == nil {
				l.PostalAddress = addr
			}
		}
	}
	l.Phones = im.phones(r.objects("phones"))
	l.Languages = im.languages(r.objects("languages"))
	l.Schedules = im.schedules(r.objects("schedules"))
	for _, a := range r.objects("accessibility") {
		ar := im.read("accessibility", a)
		l.Accessibility = append(l.Accessibility, referral.Accessibility{
			ID: ar.id, Description: ar.str("description"), Details: ar.str("details"), URL: ar.str("url"),
		})
	}
	if err := l.Validate(); err != nil {
		im.keep("location", r.id, problemOf(err)+": kept as given")
		return l, false
	}
	return l, true
}

// capacity reads the first HSDS 3.1 capacity with a whole number available;
// others stay kept as given.
func (im *importer) capacity(list []object) *referral.Capacity {
	for _, o := range list {
		r := im.read("service_capacity", o)
		avail, ok := r.whole("available", math.MaxInt32)
		if _, present := o["available"]; !present || !ok {
			im.keep("service_capacity", r.id, "available must be a whole number of places: kept, but not used as the service's capacity")
			continue
		}
		c := &referral.Capacity{ID: r.id, Available: avail, Description: r.str("description")}
		if m, ok := r.whole("maximum", math.MaxInt32); ok {
			c.Maximum = m
		}
		if s := r.str("updated"); s != "" {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				c.Updated = t
			}
		}
		if u, ok := o["unit"].(object); ok {
			ur := im.read("unit", u)
			unit := &referral.Unit{ID: ur.id, Name: ur.str("name"), Scheme: ur.str("scheme"), Identifier: ur.str("identifier"), URI: ur.str("uri")}
			if strings.TrimSpace(unit.Name) != "" {
				c.Unit = unit
			}
		}
		for _, a := range r.objects("attributes") {
			if t := im.termOf(a); t != nil && isOwnTerm(t, waitlistCode) {
				if v, err := strconv.Atoi(strings.TrimSpace(stringOf(a["value"]))); err == nil && v >= 0 {
					c.Waitlist = v
					a[consumedKey] = true
				}
			}
		}
		return c
	}
	return nil
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

// schedules reads schedule records. Every schedule is kept: one whose fields
// cannot be read is kept Unreadable, as given; one refkit cannot evaluate is
// kept, and reported, with its hours unknown.
func (im *importer) schedules(list []object) []referral.Schedule {
	var out []referral.Schedule
	for _, o := range list {
		sc, why := im.schedule(o)
		id := idOf(o)
		if why != "" {
			im.keep("schedule", id, "cannot be read ("+why+"): kept as given, its hours count as unknown")
			sc = referral.Schedule{ID: id, Closed: sc.Closed, Unreadable: why}
		} else if _, err := sc.Compile(); err != nil {
			im.keep("schedule", id, "cannot be evaluated ("+problemOf(err)+"): kept, its hours count as unknown")
		}
		out = append(out, sc)
	}
	return out
}

// schedule types one schedule record; why says what could not be read.
func (im *importer) schedule(o object) (referral.Schedule, string) {
	r := reader{im: im, record: "schedule", id: idOf(o), o: o}
	sc := referral.Schedule{ID: r.id}
	for _, a := range r.objects("attributes") {
		if t := im.termOf(a); t != nil && isOwnTerm(t, closedCode) {
			sc.Closed = true
			a[consumedKey] = true
		}
	}
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"freq", nil}, {"wkst", &sc.WeekStart}, {"dtstart", &sc.DTStart}, {"until", &sc.Until}, {"valid_from", &sc.ValidFrom},
		{"valid_to", &sc.ValidTo}, {"opens_at", &sc.OpensAt}, {"closes_at", &sc.ClosesAt}, {"description", &sc.Description},
		{"notes", &sc.Notes}, {"attending_type", &sc.AttendingType}, {"schedule_link", &sc.Link},
	} {
		v, ok := o[f.key]
		if !ok || v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return sc, f.key + " must be a string"
		}
		if f.dst == nil {
			sc.Freq = referral.Frequency(s)
		} else {
			*f.dst = s
		}
	}
	var ok bool
	if sc.Interval, ok = r.whole("interval", 100000); !ok {
		return sc, "interval must be a whole number"
	}
	if sc.Count, ok = r.whole("count", 100000); !ok {
		return sc, "count must be a whole number"
	}
	if s, ok := o["byday"]; ok && s != nil {
		str, isStr := s.(string)
		if !isStr {
			return sc, "byday must be a string"
		}
		sc.ByDay = splitList(str)
	}
	for _, l := range []struct {
		key string
		dst *[]int
	}{{"bymonthday", &sc.ByMonthDay}, {"byweekno", &sc.ByWeekNo}, {"byyearday", &sc.ByYearDay}} {
		list, why := intList(o[l.key], l.key)
		if why != "" {
			return sc, why
		}
		*l.dst = list
	}
	if v, present, ok := r.number("timezone"); present {
		secs := v * 3600
		zone, zok := referral.OffsetZone(int(math.Round(secs)))
		if !ok || math.Abs(secs-math.Round(secs)) > 1e-6 || !zok {
			return sc, "timezone must be a UTC offset in hours, to the minute"
		}
		sc.Timezone = zone
	}
	if err := sc.Validate(); err != nil {
		return sc, problemOf(err)
	}
	return sc, ""
}

// splitList splits a comma-separated list, trimming spaces.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// intList reads a list of whole numbers written "2,3,-1" (HSDS) or as one number.
func intList(v any, key string) ([]int, string) {
	switch x := v.(type) {
	case nil:
		return nil, ""
	case json.Number:
		f, ok := finite(x)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1000 {
			return nil, key + " must list whole numbers"
		}
		return []int{int(f)}, ""
	case string:
		var out []int
		for _, p := range splitList(x) {
			n, err := strconv.Atoi(p)
			if err != nil || n < -1000 || n > 1000 {
				return nil, key + " must list whole numbers"
			}
			out = append(out, n)
		}
		return out, ""
	}
	return nil, key + " must be a string"
}
