package hsds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// importer maps HSDS records to refkit records for one import. Both readers hand
// it organizations and services as generic JSON objects (see value.go), in input
// order.
type importer struct {
	opts  Options
	tax   *TaxonomyMap
	ids   *ids
	ds    *Dataset
	seen  map[Problem]bool
	orgs  map[string]int    // HSDS organization id → index in ds.Organizations
	first map[string][]byte // HSDS organization id → its first copy, encoded
	bad   map[string]bool   // HSDS organization ids that were not imported
	locs  map[string]object
	terms map[string]object
	svcs  map[string]bool
	rules map[string]string // rule text → why it does not compile ("" when it does)
	v31   bool              // a 3.1 field was seen
}

func newImporter(opts Options) (*importer, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &importer{
		opts: opts, tax: opts.taxonomy(), ids: newIDs(opts.Network), ds: &Dataset{},
		seen: map[Problem]bool{}, orgs: map[string]int{}, first: map[string][]byte{}, bad: map[string]bool{},
		locs: map[string]object{}, terms: map[string]object{}, svcs: map[string]bool{}, rules: map[string]string{},
	}, nil
}

// report records a problem with a record left out of the import, once.
func (im *importer) report(record, id, reason string) {
	im.add(Problem{Record: record, ID: id, Reason: reason})
}

// keep records a problem with a record that was imported all the same.
func (im *importer) keep(record, id, reason string) {
	im.add(Problem{Record: record, ID: id, Reason: reason, Kept: true})
}

func (im *importer) add(p Problem) {
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
	im.ds.Version = Version30
	if im.v31 {
		im.ds.Version = Version31
	}
	src := func(id referral.ID, source string) {
		if source != "" {
			if im.ds.Sources == nil {
				im.ds.Sources = map[referral.ID]string{}
			}
			im.ds.Sources[id] = source
		}
	}
	for _, o := range im.ds.Organizations {
		src(o.ID, o.SourceID)
	}
	for _, s := range im.ds.Services {
		src(s.ID, s.SourceID)
		for _, l := range s.Locations {
			src(l.ID, l.SourceID)
		}
	}
	return im.ds, nil
}

// addTerm files a taxonomy term so attributes that give only its id, and child
// terms that name it as parent, can find it.
func (im *importer) addTerm(t object) {
	if id := idOf(t); id != "" {
		if _, ok := im.terms[id]; !ok {
			im.terms[id] = t
		}
	}
}

// addLocation files a location so service_at_locations that give only its id
// can find it.
func (im *importer) addLocation(l object) {
	if id := idOf(l); id != "" {
		if _, ok := im.locs[id]; !ok {
			im.locs[id] = l
		}
	}
}

// index files the terms and locations a record nests, at any depth, notes the
// fields only 3.1 has, and removes field names refkit reserves for what it
// keeps of a record (they start with $; HSDS has none).
func (im *importer) index(v any, key string, record string) {
	switch x := v.(type) {
	case object:
		switch key {
		case "taxonomy_term":
			im.addTerm(x)
		case "location", "locations":
			im.addLocation(x)
		}
		for k, e := range x {
			if strings.HasPrefix(k, "$") {
				delete(x, k)
				im.keep(record, idOf(x), "a field name starting with $ is not HSDS: not kept")
				continue
			}
			if _, ok := v31Keys[k]; ok {
				im.v31 = true
			}
			if k == "service_areas" && key == "service_at_locations" {
				im.v31 = true
			}
			im.index(e, k, record)
		}
	case []any:
		for _, e := range x {
			im.index(e, key, record)
		}
	}
}

// unlink removes, from the records nested in a record of table t, the link
// columns that only restate the nesting: a phone under service S saying
// service_id S, an attribute under it saying link_id S and link_entity
// "service". The tabular form needs them, the JSON form leaves them out, and
// both forms then import alike; the tabular writer puts them back from the
// nesting. A link to another record is data, and stays.
func unlink(v any, t *table) {
	o, ok := v.(object)
	if !ok {
		return
	}
	id := idOf(o)
	for _, n := range t.nests {
		child, present := o[n.key]
		if !present || n.jsonOnly {
			continue
		}
		if !n.many {
			unlink(child, byName[n.table])
			continue
		}
		list, _ := child.([]any)
		for _, e := range list {
			co, ok := e.(object)
			if !ok {
				continue
			}
			if v, ok := co[n.fk].(string); ok && id != "" && v == id {
				delete(co, n.fk)
				entity := map[string]string{linkID: linkEntity, resourceID: resourceType}[n.fk]
				if e, ok := co[entity].(string); ok && entity != "" && strings.EqualFold(e, t.name) {
					delete(co, entity)
				}
			}
			unlink(co, byName[n.table])
		}
	}
}

// v31Keys are the JSON keys only HSDS 3.1 defines (with the service_areas of
// a service_at_location).
var v31Keys = map[string]struct{}{"capacities": {}, "additional_urls": {}, "additional_websites": {}, "label": {}}

// organization imports one organization; the first copy of an id wins, and a
// later copy that differs is reported.
func (im *importer) organization(in object) {
	r := im.read("organization", in)
	if r.id == "" {
		im.report("organization", "", "id is required")
		return
	}
	body := encodeRecord(in, "services")
	if prev, ok := im.first[r.id]; ok {
		if !bytes.Equal(prev, body) {
			im.keep("organization", r.id, "appears more than once with different fields: the first copy is kept")
		}
		return
	}
	im.first[r.id] = body
	o := referral.Organization{
		ID: im.ids.of("organization", r.id), Network: im.opts.Network, SourceID: im.ids.source(r.id),
		Name: r.str("name"), AlternateName: r.str("alternate_name"), Description: r.str("description"),
		Email: r.str("email"), Website: r.str("website"),
		Phones: im.phones(r.objects("phones")), Contacts: im.contacts(r.objects("contacts")),
		Identifiers: im.identifiers(r.objects("organization_identifiers")),
	}
	for _, p := range o.Phones {
		if strings.TrimSpace(p.Number) != "" {
			o.Phone = strings.TrimSpace(p.Number)
			break
		}
	}
	kept, err := keptPart(o.ID, strip(in, "services"), projectOrganization(&o, r.id))
	if err == nil {
		o.HSDS = kept
		err = o.Validate()
	}
	if err != nil {
		im.bad[r.id] = true
		im.report("organization", r.id, problemOf(err))
		return
	}
	im.orgs[r.id] = len(im.ds.Organizations)
	im.ds.Organizations = append(im.ds.Organizations, o)
}

// keptPart is what of a record in its projection does not reproduce, encoded.
func keptPart(owner referral.ID, in object, proj object) ([]byte, error) {
	markMinted(mintCtx{owner: owner}, "", proj)
	return keptJSON(diff(mintCtx{owner: owner}, "", in, proj))
}

// service imports one service, reporting what it cannot map. A service whose
// parts are unusable for matching (no domain, no placed location) is imported
// and reported; only a service that would be wrong to match (its eligibility or
// organization unknown) or invalid is left out.
func (im *importer) service(in object) {
	r := im.read("service", in)
	if r.id == "" {
		im.report("service", "", "id is required")
		return
	}
	if im.svcs[r.id] {
		im.report("service", r.id, "id is a duplicate")
		return
	}
	im.svcs[r.id] = true
	org, orgSource, why := im.organizationOf(in)
	if why != "" {
		im.report("service", r.id, why)
		return
	}
	s := referral.Service{
		ID: im.ids.of("service", r.id), Network: im.opts.Network, Organization: org, SourceID: im.ids.source(r.id),
		Name: r.str("name"), AlternateName: r.str("alternate_name"), Description: r.str("description"),
		URL: r.str("url"), Email: r.str("email"), Status: referral.ServiceStatus(r.str("status")),
		EligibilityDescription: r.str("eligibility_description"), ApplicationProcess: r.str("application_process"),
		FeesDescription: r.str("fees_description"), InterpretationServices: r.str("interpretation_services"),
		Alert: r.str("alert"),
	}
	if why := im.eligibility(&s, in); why != "" {
		im.report("service", r.id, why)
		return
	}
	im.serviceParts(&s, r)
	im.serviceLocations(&s, r.objects("service_at_locations"))
	stripped := strip(in, "organization")
	if im.opts.AgeRule {
		delete(stripped, "minimum_age")
		delete(stripped, "maximum_age")
	}
	kept, err := keptPart(s.ID, stripped, projectService(&s, r.id, orgSource))
	if err == nil {
		s.HSDS = kept
		err = s.Validate()
	}
	if err != nil {
		im.report("service", r.id, problemOf(err))
		return
	}
	for _, code := range s.Unmatchable() {
		im.keep("service", r.id, unmatchableReason[code])
	}
	im.ds.Services = append(im.ds.Services, s)
}

var unmatchableReason = map[string]string{
	referral.UnmatchableNoDomain: "no attribute maps to an SDOH domain: kept, but matching cannot offer it until a taxonomy term is mapped",
	referral.UnmatchableNoPlace:  "no location with usable coordinates and no service area refkit can read: kept, but matching cannot offer it until one is fixed",
}

// organizationOf finds the imported organization of a service.
func (im *importer) organizationOf(in object) (referral.ID, string, string) {
	orgRaw, _ := in["organization_id"].(string)
	if nested, ok := in["organization"].(object); ok {
		if id := idOf(nested); id != "" {
			if orgRaw != "" && orgRaw != id {
				return referral.NilID, "", "organization_id and organization.id differ"
			}
			orgRaw = id
		}
	}
	if orgRaw == "" {
		return referral.NilID, "", "organization_id is required"
	}
	i, ok := im.orgs[orgRaw]
	if !ok {
		if im.bad[orgRaw] {
			return referral.NilID, "", "its organization was not imported"
		}
		return referral.NilID, "", "organization_id refers to no organization in the dataset"
	}
	return im.ds.Organizations[i].ID, orgRaw, ""
}

// eligibility reads the service's domains, age limits and rule: what decides
// whom matching offers it to. A reason is returned when the service must not be
// imported.
func (im *importer) eligibility(s *referral.Service, in object) string {
	minAge, why := age(in, "minimum_age")
	if why != "" {
		return why
	}
	maxAge, why := age(in, "maximum_age")
	if why != "" {
		return why
	}
	if maxAge != 0 && maxAge < minAge {
		return "maximum_age is below minimum_age"
	}
	rule, why := im.classify(s, in)
	if why != "" {
		return why
	}
	if im.opts.AgeRule {
		rule = joinRules(rule, AgeRule(minAge, maxAge))
	} else {
		s.MinimumAge, s.MaximumAge = minAge, maxAge
	}
	if rule != "" {
		if why := im.checkRule(rule); why != "" {
			return why
		}
		s.Eligibility = rule
	}
	return ""
}

// classify maps the service's attributes to domains and finds its rule. Every
// attribute is kept as given; refkit's own rule attribute is consumed.
func (im *importer) classify(s *referral.Service, in object) (rule, why string) {
	attrs, _ := in["attributes"].([]any)
	for _, a := range attrs {
		ao, ok := a.(object)
		if !ok {
			continue
		}
		t := im.termOf(ao)
		if t == nil {
			im.keep("attribute", idOf(ao), "taxonomy_term_id refers to no taxonomy term in the dataset: kept as given")
			continue
		}
		if isOwnTerm(t, ruleCode) {
			if rule != "" {
				return "", "has more than one eligibility rule attribute"
			}
			v, _ := ao["value"].(string)
			if strings.TrimSpace(v) == "" {
				return "", "eligibility rule attribute has no value"
			}
			rule = v
			ao[consumedKey] = true
			continue
		}
		ds := im.domainsOf(t)
		if len(ds) == 0 {
			im.keep("attribute", idOf(ao), "taxonomy term maps to no SDOH domain: kept as given")
			continue
		}
		for _, d := range ds {
			s.Domains = appendDomain(s.Domains, d)
		}
	}
	return rule, ""
}

// termOf is an attribute's taxonomy term, nested or by id.
func (im *importer) termOf(a object) object {
	if t, ok := a["taxonomy_term"].(object); ok {
		return t
	}
	if id, ok := a["taxonomy_term_id"].(string); ok && id != "" {
		return im.terms[id]
	}
	return nil
}

// isOwnTerm reports whether t is refkit's own term with code.
func isOwnTerm(t object, code string) bool {
	c, _ := t["code"].(string)
	return c == code && fold(termTaxonomy(t)) == fold(RuleTaxonomy)
}

// termTaxonomy is the taxonomy a term names: its taxonomy field, else the name
// of its taxonomy_detail.
func termTaxonomy(t object) string {
	if s, ok := t["taxonomy"].(string); ok && s != "" {
		return s
	}
	if d, ok := t["taxonomy_detail"].(object); ok {
		s, _ := d["name"].(string)
		return s
	}
	return ""
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
func (im *importer) domainsOf(t object) []referral.Domain {
	for depth := 0; t != nil && depth < 32; depth++ {
		code, _ := t["code"].(string)
		name, _ := t["name"].(string)
		if code != "" {
			if info, ok := referral.LookupDomain(referral.Domain(code)); ok && info.System == termTaxonomy(t) {
				return []referral.Domain{info.Code}
			}
		}
		if ds := im.tax.lookup(termTaxonomy(t), code, name); len(ds) > 0 {
			return ds
		}
		parent, _ := t["parent_id"].(string)
		if parent == "" || parent == idOf(t) {
			return nil
		}
		t = im.terms[parent]
	}
	return nil
}

// age converts an HSDS age limit to whole years; 0 is no limit.
func age(in object, field string) (int, string) {
	v, ok := in[field]
	if !ok || v == nil {
		return 0, ""
	}
	n, isNum := v.(json.Number)
	f, fin := finite(n)
	if !isNum || !fin {
		return 0, field + " must be a number"
	}
	if f != math.Trunc(f) || f < 0 || f > 150 {
		return 0, field + " must be a whole number of years between 0 and 150"
	}
	return int(f), ""
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
