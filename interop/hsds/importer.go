package hsds

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// importer maps wire records to refkit records for one import. Both readers fill
// its tables and hand it services in input order.
type importer struct {
	opts  Options
	tax   *TaxonomyMap
	ids   *ids
	ds    *Dataset
	seen  map[Problem]bool
	orgs  map[string]referral.ID // HSDS organization id → imported organization
	bad   map[string]bool        // HSDS organization ids that were not imported
	locs  map[string]*wireLocation
	terms map[string]*wireTerm
	svcs  map[string]bool
	rules map[string]string // rule text → why it does not compile ("" when it does)
}

func newImporter(opts Options) (*importer, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &importer{
		opts:  opts,
		tax:   opts.taxonomy(),
		ids:   newIDs(opts.Network),
		ds:    &Dataset{},
		seen:  map[Problem]bool{},
		orgs:  map[string]referral.ID{},
		bad:   map[string]bool{},
		locs:  map[string]*wireLocation{},
		terms: map[string]*wireTerm{},
		svcs:  map[string]bool{},
		rules: map[string]string{},
	}, nil
}

// report records a problem once; the same shared record (a location several
// services use, say) is reported a single time.
func (im *importer) report(record, id, reason string) {
	p := Problem{Record: record, ID: id, Reason: reason}
	if im.seen[p] {
		return
	}
	im.seen[p] = true
	im.ds.Problems = append(im.ds.Problems, p)
}

// finish returns the dataset, or in strict mode the first problem as the error.
func (im *importer) finish(ctx context.Context) (*Dataset, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if im.opts.Strict && len(im.ds.Problems) > 0 {
		p := im.ds.Problems[0]
		return nil, &p
	}
	// Keep the sources of the records imported, not of those dropped.
	keep := func(id referral.ID) {
		if raw, ok := im.ids.sources[id]; ok {
			if im.ds.Sources == nil {
				im.ds.Sources = map[referral.ID]string{}
			}
			im.ds.Sources[id] = raw
		}
	}
	for _, o := range im.ds.Organizations {
		keep(o.ID)
	}
	for _, s := range im.ds.Services {
		keep(s.ID)
		for _, l := range s.Locations {
			keep(l.ID)
		}
	}
	return im.ds, nil
}

// addTerm files a taxonomy term so attributes that give only its id, and child
// terms that name it as parent, can find it.
func (im *importer) addTerm(t *wireTerm) {
	if t == nil || t.ID == "" {
		return
	}
	if _, ok := im.terms[t.ID]; !ok {
		im.terms[t.ID] = t
	}
}

func (im *importer) addLocation(l *wireLocation) {
	if l == nil || l.ID == "" {
		return
	}
	if _, ok := im.locs[l.ID]; !ok {
		im.locs[l.ID] = l
	}
}

// organization imports one organization; the first record with an id wins.
func (im *importer) organization(w *wireOrganization) {
	if w.ID == "" {
		im.report("organization", "", "id is required")
		return
	}
	if _, ok := im.orgs[w.ID]; ok || im.bad[w.ID] {
		return
	}
	o := referral.Organization{
		ID:            im.ids.of("organization", w.ID),
		Network:       im.opts.Network,
		Name:          w.Name,
		AlternateName: w.AlternateName,
		Description:   w.Description,
		Email:         w.Email,
		Website:       w.Website,
	}
	for _, p := range w.Phones {
		if strings.TrimSpace(p.Number) != "" {
			o.Phone = strings.TrimSpace(p.Number)
			break
		}
	}
	if err := o.Validate(); err != nil {
		im.bad[w.ID] = true
		im.report("organization", w.ID, problemOf(err))
		return
	}
	im.orgs[w.ID] = o.ID
	im.ds.Organizations = append(im.ds.Organizations, o)
}

// service imports one service, reporting what it cannot map.
func (im *importer) service(w *wireService) {
	if w.ID == "" {
		im.report("service", "", "id is required")
		return
	}
	if im.svcs[w.ID] {
		im.report("service", w.ID, "id is a duplicate")
		return
	}
	im.svcs[w.ID] = true
	drop := func(reason string) { im.report("service", w.ID, reason) }

	orgRaw := w.OrganizationID
	if w.Organization != nil && w.Organization.ID != "" {
		if orgRaw != "" && orgRaw != w.Organization.ID {
			drop("organization_id and organization.id differ")
			return
		}
		orgRaw = w.Organization.ID
	}
	if orgRaw == "" {
		drop("organization_id is required")
		return
	}
	org, ok := im.orgs[orgRaw]
	if !ok {
		if im.bad[orgRaw] {
			drop("its organization was not imported")
		} else {
			drop("organization_id refers to no organization in the dataset")
		}
		return
	}
	s := referral.Service{
		ID:                     im.ids.of("service", w.ID),
		Network:                im.opts.Network,
		Organization:           org,
		Name:                   w.Name,
		AlternateName:          w.AlternateName,
		Description:            w.Description,
		URL:                    w.URL,
		Email:                  w.Email,
		Status:                 referral.ServiceStatus(w.Status),
		EligibilityDescription: w.EligibilityDescription,
	}
	minAge, err := age("minimum_age", w.MinimumAge)
	if err != "" {
		drop(err)
		return
	}
	maxAge, err := age("maximum_age", w.MaximumAge)
	if err != "" {
		drop(err)
		return
	}
	if maxAge != 0 && maxAge < minAge {
		drop("maximum_age is below minimum_age")
		return
	}

	rule := ""
	for _, a := range w.Attributes {
		t := a.TaxonomyTerm
		if t == nil && a.TaxonomyTermID != "" {
			t = im.terms[a.TaxonomyTermID]
		}
		if t == nil {
			im.report("attribute", a.ID, "taxonomy_term_id refers to no taxonomy term in the dataset")
			continue
		}
		if fold(t.taxonomy()) == fold(RuleTaxonomy) && t.Code == ruleCode {
			if rule != "" {
				drop("has more than one eligibility rule attribute")
				return
			}
			if strings.TrimSpace(a.Value) == "" {
				drop("eligibility rule attribute has no value")
				return
			}
			rule = a.Value
			continue
		}
		ds := im.domainsOf(t)
		if len(ds) == 0 {
			im.report("attribute", a.ID, "taxonomy term maps to no SDOH domain")
			continue
		}
		for _, d := range ds {
			s.Domains = appendDomain(s.Domains, d)
		}
	}
	if len(s.Domains) == 0 {
		drop("no attribute maps to an SDOH domain")
		return
	}
	if im.opts.AgeRule {
		rule = joinRules(rule, AgeRule(minAge, maxAge))
	} else {
		s.MinimumAge, s.MaximumAge = minAge, maxAge
	}
	if rule != "" {
		if why := im.checkRule(rule); why != "" {
			drop(why)
			return
		}
		s.Eligibility = rule
	}

	var locLangs []wireLanguage
	var salSchedules, locSchedules []wireSchedule
	for _, sal := range w.ServiceAtLocations {
		l := sal.Location
		if l == nil {
			l = im.locs[sal.LocationID]
		}
		if l == nil {
			im.report("service_at_location", sal.ID, "location_id refers to no location in the dataset")
			continue
		}
		salSchedules = append(salSchedules, sal.Schedules...)
		locSchedules = append(locSchedules, l.Schedules...)
		locLangs = append(locLangs, l.Languages...)
		for _, a := range sal.ServiceAreas {
			s.ServiceAreas = im.addArea(s.ServiceAreas, a)
		}
		loc, virtual, ok := im.location(l)
		switch {
		case !ok:
		case virtual:
			s.ServiceAreas = appendArea(s.ServiceAreas, referral.ServiceArea{Kind: referral.AreaVirtual})
		default:
			if _, dup := s.Location(loc.ID); !dup {
				s.Locations = append(s.Locations, loc)
			}
		}
	}
	for _, a := range w.ServiceAreas {
		s.ServiceAreas = im.addArea(s.ServiceAreas, a)
	}

	langs := w.Languages
	if len(langs) == 0 {
		langs = locLangs
	}
	for _, l := range langs {
		code := strings.TrimSpace(l.Code)
		if code == "" {
			im.report("language", l.ID, "code is required")
			continue
		}
		if !validTag(code) {
			im.report("language", l.ID, "code is not an ISO 639 language code")
			continue
		}
		if !containsFold(s.Languages, code) {
			s.Languages = append(s.Languages, code)
		}
	}

	schedules := w.Schedules
	if len(schedules) == 0 {
		schedules = salSchedules
	}
	if len(schedules) == 0 {
		schedules = locSchedules
	}
	for _, ws := range schedules {
		if sc, ok := im.schedule(ws); ok {
			s.Schedules = append(s.Schedules, sc)
		}
	}

	if len(s.Locations) == 0 && len(s.ServiceAreas) == 0 {
		drop("no location or service area could be mapped")
		return
	}
	if err := s.Validate(); err != nil {
		drop(problemOf(err))
		return
	}
	im.ds.Services = append(im.ds.Services, s)
}

// checkRule compiles each distinct rule text once per import (compiling costs
// tens of microseconds, and many services share a rule).
func (im *importer) checkRule(rule string) string {
	if why, ok := im.rules[rule]; ok {
		return why
	}
	why := ""
	if err := matching.CheckRule(rule); err != nil {
		var re *matching.RuleError
		if errors.As(err, &re) {
			why = "eligibility rule does not compile: " + re.Message
		} else {
			why = "eligibility rule is not valid: " + problemOf(err)
		}
	}
	im.rules[rule] = why
	return why
}

// domainsOf maps a term, or failing that its nearest mapped ancestor, to domains.
func (im *importer) domainsOf(t *wireTerm) []referral.Domain {
	for depth := 0; t != nil && depth < 32; depth++ {
		if t.Code != "" {
			if info, ok := referral.LookupDomain(referral.Domain(t.Code)); ok && info.System == t.taxonomy() {
				return []referral.Domain{info.Code}
			}
		}
		if ds := im.tax.lookup(t.taxonomy(), t.Code, t.Name); len(ds) > 0 {
			return ds
		}
		if t.ParentID == "" || t.ParentID == t.ID {
			return nil
		}
		t = im.terms[t.ParentID]
	}
	return nil
}

// location maps a location; virtual reports a virtual location (a virtual area).
func (im *importer) location(l *wireLocation) (loc referral.Location, virtual, ok bool) {
	if l.ID == "" {
		im.report("location", "", "id is required")
		return loc, false, false
	}
	switch l.LocationType {
	case "virtual":
		return loc, true, true
	case "postal":
		im.report("location", l.ID, "a postal location is not a place of service")
		return loc, false, false
	case "physical", "":
	default:
		im.report("location", l.ID, "location_type must be physical, postal or virtual")
		return loc, false, false
	}
	if l.Latitude == nil || l.Longitude == nil {
		im.report("location", l.ID, "latitude and longitude are required for a physical location")
		return loc, false, false
	}
	loc = referral.Location{
		ID:          im.ids.of("location", l.ID),
		Name:        l.Name,
		Description: l.Description,
		Latitude:    *l.Latitude,
		Longitude:   *l.Longitude,
	}
	for _, a := range l.Addresses {
		if a.AddressType != "" && a.AddressType != "physical" {
			continue
		}
		loc.Address = &referral.Address{
			Address1: a.Address1, Address2: a.Address2, City: a.City, Region: a.Region,
			StateProvince: a.StateProvince, PostalCode: a.PostalCode, Country: a.Country,
		}
		break
	}
	if err := loc.Validate(); err != nil {
		im.report("location", l.ID, problemOf(err))
		return loc, false, false
	}
	return loc, false, true
}

func (im *importer) addArea(areas []referral.ServiceArea, w wireServiceArea) []referral.ServiceArea {
	a, reason := area(w)
	if reason == "" {
		if err := a.Validate(); err != nil {
			reason = problemOf(err)
		}
	}
	if reason != "" {
		im.report("service_area", w.ID, reason)
		return areas
	}
	return appendArea(areas, a)
}

// appendArea adds a unless an equal area is already there.
func appendArea(areas []referral.ServiceArea, a referral.ServiceArea) []referral.ServiceArea {
	for _, x := range areas {
		if x.Kind == a.Kind && slices.Equal(x.Values, a.Values) && slices.Equal(x.Polygon, a.Polygon) {
			return areas
		}
	}
	return append(areas, a)
}

func (im *importer) schedule(w wireSchedule) (referral.Schedule, bool) {
	sc, reason := schedule(w)
	if reason == "" {
		if err := sc.Validate(); err != nil {
			reason = problemOf(err)
		}
	}
	if reason != "" {
		im.report("schedule", w.ID, reason)
		return sc, false
	}
	return sc, true
}

// age converts an HSDS age limit to whole years; 0 is no limit.
func age(field string, v *float64) (int, string) {
	if v == nil {
		return 0, ""
	}
	if *v != math.Trunc(*v) || *v < 0 || *v > 150 {
		return 0, field + " must be a whole number of years between 0 and 150"
	}
	return int(*v), ""
}

// AgeRule returns the eligibility expression for HSDS age limits in whole years (0
// is no limit): "age >= 18", "age <= 64", "age >= 18 && age <= 64", or "" when
// there is no limit.
func AgeRule(minimum, maximum int) string {
	var parts []string
	if minimum > 0 {
		parts = append(parts, "age >= "+strconv.Itoa(minimum))
	}
	if maximum > 0 {
		parts = append(parts, "age <= "+strconv.Itoa(maximum))
	}
	return strings.Join(parts, " && ")
}

// joinRules combines two rules with &&, keeping each whole in parentheses.
func joinRules(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return "(" + a + ") && (" + b + ")"
}

// problemOf renders a validation error as "field problem", without the
// "refkit: invalid input" prefix a Problem adds itself.
func problemOf(err error) string {
	var ve *referral.ValidationError
	if errors.As(err, &ve) {
		return ve.Field + " " + ve.Problem
	}
	return err.Error()
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

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
