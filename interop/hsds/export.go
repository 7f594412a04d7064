package hsds

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/refkit/refkit/referral"
)

// exporter turns a dataset's records back into HSDS records: each record's
// projection with its kept part merged back.
type exporter struct {
	ds   *Dataset
	ver  Version
	orgs map[referral.ID]int // organization ID → index in ds.Organizations
	// svcsOf lists, per organization, the indexes of its services.
	svcsOf map[referral.ID][]int
	// hidden are the organizations that do not disclose to ds.Viewer, each
	// with the HSDS ids of its services' confidential locations.
	hidden map[referral.ID]map[string]bool
}

// newExporter checks that a dataset can be written: every record valid, every
// service's organization in it, no organization twice.
func newExporter(ctx context.Context, ds *Dataset) (*exporter, error) {
	if ds == nil {
		return nil, referral.Invalid("dataset", "is required")
	}
	if !ds.Version.valid() {
		return nil, referral.Invalid("version", "must be 3.0 or 3.1")
	}
	e := &exporter{ds: ds, ver: ds.Version.orDefault(), orgs: make(map[referral.ID]int, len(ds.Organizations)), svcsOf: map[referral.ID][]int{}}
	e.hidden = map[referral.ID]map[string]bool{}
	for i, o := range ds.Organizations {
		if err := o.Validate(); err != nil {
			return nil, prefixed("organizations["+strconv.Itoa(i)+"]", err)
		}
		if _, dup := e.orgs[o.ID]; dup {
			return nil, referral.Invalid("organizations["+strconv.Itoa(i)+"].id", "is a duplicate")
		}
		e.orgs[o.ID] = i
		if !o.Discloses(ds.Viewer) {
			e.hidden[o.ID] = map[string]bool{}
		}
	}
	for i, s := range ds.Services {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		field := "services[" + strconv.Itoa(i) + "]"
		if err := s.Validate(); err != nil {
			return nil, prefixed(field, err)
		}
		if _, ok := e.orgs[s.Organization]; !ok {
			return nil, referral.Invalid(field+".organization_id", "refers to no organization in the dataset")
		}
		e.svcsOf[s.Organization] = append(e.svcsOf[s.Organization], i)
		if ids, ok := e.hidden[s.Organization]; ok {
			for _, l := range s.Locations {
				if l.Confidential {
					ids[e.src(l.ID, l.SourceID)] = true
				}
			}
		}
	}
	return e, nil
}

// src is the HSDS id to write for a record: its source id, the one ds.Sources
// lists, or the ID itself.
func (e *exporter) src(id referral.ID, source string) string {
	if source != "" {
		return source
	}
	if s, ok := e.ds.Sources[id]; ok {
		return s
	}
	return id.String()
}

// mergeKept merges a record's kept part into its projection.
func mergeKept(owner referral.ID, proj object, kept []byte, field string) (object, error) {
	markMinted(mintCtx{owner: owner}, "", proj)
	k, err := decodeKept(kept)
	if err != nil {
		return nil, referral.Invalid(field+".hsds", "must be a JSON object")
	}
	out, ok := merge(mintCtx{owner: owner}, "", proj, k).(object)
	if !ok {
		return nil, referral.Invalid(field+".hsds", "must be a JSON object")
	}
	dropMarks(out)
	return out, nil
}

// organization writes the organization at index i, without its services.
func (e *exporter) organization(i int) (object, error) {
	o := &e.ds.Organizations[i]
	shown := o
	ids, hidden := e.hidden[o.ID]
	if hidden {
		r := o.Redacted()
		r.HSDS = o.HSDS // what the projection no longer types loses what was kept of it
		shown = &r
	}
	out, err := mergeKept(o.ID, projectOrganization(shown, e.src(o.ID, o.SourceID)), o.HSDS, "organizations["+strconv.Itoa(i)+"]")
	if err != nil {
		return nil, err
	}
	if hidden {
		conceal(out, ids) // its own copies of its locations
	}
	return out, nil
}

// service writes the service at index i, without its organization.
func (e *exporter) service(i int) (object, error) {
	s := &e.ds.Services[i]
	org := &e.ds.Organizations[e.orgs[s.Organization]]
	id := e.src(s.ID, s.SourceID)
	shown := s
	ids, hidden := e.hidden[s.Organization]
	if hidden = hidden && s.Confidential(); hidden {
		r := s.Redacted()
		r.HSDS = s.HSDS // what the projection no longer types loses what was kept of it
		shown = &r
	}
	proj := projectService(shown, id, e.src(org.ID, org.SourceID))
	for j := range s.Locations {
		if l := &s.Locations[j]; l.SourceID == "" {
			if src, ok := e.ds.Sources[l.ID]; ok {
				proj["service_at_locations"].([]any)[j].(object)["location"].(object)["id"] = src
				proj["service_at_locations"].([]any)[j].(object)["location_id"] = src
			}
		}
	}
	out, err := mergeKept(s.ID, proj, s.HSDS, "services["+strconv.Itoa(i)+"]")
	if err != nil {
		return nil, err
	}
	if hidden {
		// The kept part may hold what the redacted record leaves out: a
		// second address, coordinates kept as written, an external id.
		conceal(out, ids)
	}
	if e.ds.lastModified && !s.Updated.IsZero() {
		out["last_modified"] = s.Updated.UTC().Format(time.RFC3339Nano)
	}
	dropDuplicateDomainTerms(s, out)
	if e.ver == Version30 {
		liftSiteAreas(out)
	}
	return out, nil
}

// placeKeys are the location fields that say where a confidential location
// is: what conceal removes.
var placeKeys = []string{"addresses", "latitude", "longitude", "transportation", "external_identifier", "external_identifier_type"}

// conceal removes the place of every location with an id in ids, wherever it
// is nested in v.
func conceal(v any, ids map[string]bool) {
	if len(ids) == 0 {
		return
	}
	switch x := v.(type) {
	case object:
		if id, ok := x["id"].(string); ok && ids[id] {
			for _, k := range placeKeys {
				delete(x, k)
			}
		}
		for _, e := range x {
			conceal(e, ids)
		}
	case []any:
		for _, e := range x {
			conceal(e, ids)
		}
	}
}

// dropDuplicateDomainTerms removes refkit's attribute for a domain when a kept
// attribute already names the domain by refkit's own code: a feed that uses
// SDOH codes itself keeps its attributes, without a copy.
func dropDuplicateDomainTerms(s *referral.Service, out object) {
	attrs, _ := out["attributes"].([]any)
	if len(attrs) == 0 {
		return
	}
	minted := map[string]referral.Domain{}
	for _, d := range s.Domains {
		minted[derive(s.ID, "attribute", string(d)).String()] = d
	}
	named := map[referral.Domain]bool{}
	for _, a := range attrs {
		ao, _ := a.(object)
		if _, own := minted[idOf(ao)]; own || ao == nil {
			continue
		}
		if t, ok := ao["taxonomy_term"].(object); ok {
			code, _ := t["code"].(string)
			if info, ok := referral.LookupDomain(referral.Domain(code)); ok && info.System == termTaxonomy(t) {
				named[info.Code] = true
			}
		}
	}
	kept := attrs[:0]
	for _, a := range attrs {
		if d, own := minted[idOf(a)]; own && named[d] {
			continue
		}
		kept = append(kept, a)
	}
	out["attributes"] = kept
}

// liftSiteAreas moves the service areas of service_at_locations, which HSDS 3.0
// does not have, to the service.
func liftSiteAreas(svc object) {
	sals, _ := svc["service_at_locations"].([]any)
	areas, _ := svc["service_areas"].([]any)
	have := map[string]bool{}
	for _, a := range areas {
		have[idOf(a)] = true
	}
	for _, s := range sals {
		so, ok := s.(object)
		if !ok {
			continue
		}
		list, _ := so["service_areas"].([]any)
		for _, a := range list {
			if id := idOf(a); id == "" || !have[id] {
				have[id] = true
				areas = append(areas, a)
			}
		}
		delete(so, "service_areas")
	}
	if len(areas) > 0 {
		svc["service_areas"] = areas
	}
}

// withLocations replaces the locations an organization record nests by the
// ones its services export with the same id: those are the records as they are
// now, the organization's copies as they were read.
func withLocations(org object, services []object) {
	locs, _ := org["locations"].([]any)
	if len(locs) == 0 {
		return
	}
	current := map[string]any{}
	for _, s := range services {
		sals, _ := s["service_at_locations"].([]any)
		for _, sal := range sals {
			if so, ok := sal.(object); ok {
				if l, ok := so["location"].(object); ok {
					current[idOf(l)] = l
				}
			}
		}
	}
	for i, l := range locs {
		if c, ok := current[idOf(l)]; ok {
			locs[i] = c
		}
	}
}

// Shape is a JSON document the writers produce, as the HSDS API serves it.
type Shape int

// Shapes of the JSON form.
const (
	// ServicePage is a page of services, each with its organization,
	// service_at_locations (and their locations) and everything else nested
	// (GET /services with full details). An organization without services is
	// not on it.
	ServicePage Shape = iota
	// OrganizationPage is a page of organizations, each with its services nested
	// (GET /organizations with full details).
	OrganizationPage
	// ServiceAtLocationPage is a page of service_at_locations, each with its
	// location and its service (and the service's organization) nested. A
	// service without a location is not on it.
	ServiceAtLocationPage
)

// records writes every service (without its organization) and every
// organization (without its services), in dataset order.
func (e *exporter) records(ctx context.Context) (services, orgs []object, err error) {
	services = make([]object, len(e.ds.Services))
	for i := range e.ds.Services {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		if services[i], err = e.service(i); err != nil {
			return nil, nil, err
		}
	}
	orgs = make([]object, len(e.ds.Organizations))
	for i, o := range e.ds.Organizations {
		if orgs[i], err = e.organization(i); err != nil {
			return nil, nil, err
		}
		var own []object
		for _, j := range e.svcsOf[o.ID] {
			own = append(own, services[j])
		}
		withLocations(orgs[i], own)
	}
	return services, orgs, nil
}

// documents builds the records of a shape.
func (e *exporter) documents(ctx context.Context, shape Shape) ([]any, *table, error) {
	services, orgs, err := e.records(ctx)
	if err != nil {
		return nil, nil, err
	}
	orgOf := func(i int) object { return orgs[e.orgs[e.ds.Services[i].Organization]] }
	var out []any
	switch shape {
	case ServicePage:
		for i, s := range services {
			s = cloneObject(s)
			s["organization"] = orgOf(i)
			out = append(out, s)
		}
		return out, byName["service"], nil
	case OrganizationPage:
		for i, o := range e.ds.Organizations {
			org := cloneObject(orgs[i])
			var own []any
			for _, j := range e.svcsOf[o.ID] {
				own = append(own, services[j])
			}
			if own != nil {
				org["services"] = own
			}
			out = append(out, org)
		}
		return out, byName["organization"], nil
	case ServiceAtLocationPage:
		for i, s := range services {
			svc := cloneObject(s)
			svc["organization"] = orgOf(i)
			sals, _ := svc["service_at_locations"].([]any)
			delete(svc, "service_at_locations")
			for _, sal := range sals {
				so, ok := sal.(object)
				if !ok {
					continue
				}
				so = cloneObject(so)
				so["service"] = svc
				out = append(out, so)
			}
		}
		return out, byName["service_at_location"], nil
	}
	return nil, nil, errors.New("hsds: unknown shape")
}

// prefixed re-roots a validation error under parent ("services[3].name").
func prefixed(parent string, err error) error {
	var ve *referral.ValidationError
	if errors.As(err, &ve) {
		return referral.Invalid(parent+"."+ve.Field, ve.Problem)
	}
	return err
}
