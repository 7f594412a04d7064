package hsds

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/refkit/refkit/referral"
)

// The API's resources. Listings choose record ids under the catalog's read
// lock (filters and searches read only names, descriptions, ids, times and
// service areas, never what a record keeps confidential), then copy the
// page's records out and write them for the request's viewer.

// hsdsID is the id the API writes for a record: its source id, or its ID.
func hsdsID(id referral.ID, source string) string {
	if source != "" {
		return source
	}
	return id.String()
}

// resolve returns the ID of the record of kind an HSDS id names: the id
// itself when it is a refkit ID, else the ID derived from it on import.
func (a *api) resolve(kind, raw string) referral.ID {
	if id, err := referral.ParseID(strings.ToLower(raw)); err == nil {
		return id
	}
	return derive(a.c.Network(), kind, raw)
}

// serviceByHSDS returns the service the HSDS id names.
func (a *api) serviceByHSDS(raw string) (referral.Service, error) {
	s, ok := a.c.Service(a.resolve("service", raw))
	if !ok || !sameHSDSID(raw, s.ID, s.SourceID) {
		return referral.Service{}, referral.ErrNotFound
	}
	return s, nil
}

func sameHSDSID(raw string, id referral.ID, source string) bool {
	if source != "" {
		return raw == source
	}
	return strings.EqualFold(raw, id.String())
}

// filter is what a listing of services (or of their sites) keeps.
type filter struct {
	organization referral.ID
	noneMatch    bool // an organization_id or taxonomy filter that names nothing
	since        time.Time
	// services, when not nil, are those a taxonomy filter keeps.
	services map[referral.ID]bool
}

// serviceFilter reads a listing's filters.
func (a *api) serviceFilter(q *query) (filter, error) {
	f := filter{since: q.modifiedAfter()}
	if raw, ok := q.values["organization_id"]; ok {
		o, found := a.c.Organization(a.resolve("organization", raw))
		if !found || !sameHSDSID(raw, o.ID, o.SourceID) {
			f.noneMatch = true
		}
		f.organization = o.ID
	}
	term, byTerm := q.values["taxonomy_term_id"]
	tax, byTax := q.values["taxonomy_id"]
	if byTerm || byTax {
		ix, err := a.taxonomyIndex(q.ctx)
		if err != nil {
			return f, err
		}
		f.services = map[referral.ID]bool{}
		for id, refs := range ix.serviceRefs {
			if (!byTerm || refs.terms[term]) && (!byTax || refs.taxonomies[tax]) {
				f.services[id] = true
			}
		}
	}
	return f, nil
}

func (f *filter) keeps(s *referral.Service) bool {
	switch {
	case f.noneMatch:
		return false
	case !f.organization.IsZero() && s.Organization != f.organization:
		return false
	case !f.since.IsZero() && s.Updated.Before(f.since):
		return false
	case f.services != nil && !f.services[s.ID]:
		return false
	}
	return true
}

// organizationNames returns every organization's name, for searches.
func (a *api) organizationNames() map[referral.ID]string {
	names := map[referral.ID]string{}
	for o := range a.c.Organizations() {
		names[o.ID] = o.Name
	}
	return names
}

// dataset gathers services and their organizations, as copies, for the
// request's viewer. Records a sync removed since they were chosen are left
// out.
func (a *api) dataset(q *query, services []referral.ID, orgs []referral.ID) *Dataset {
	ds := &Dataset{Version: a.opts.Version, Viewer: q.viewer, lastModified: true}
	have := map[referral.ID]bool{}
	addOrg := func(id referral.ID) bool {
		if have[id] {
			return true
		}
		o, ok := a.c.Organization(id)
		if ok {
			have[id] = true
			ds.Organizations = append(ds.Organizations, o)
		}
		return ok
	}
	for _, id := range orgs {
		addOrg(id)
	}
	for _, id := range services {
		if s, ok := a.c.Service(id); ok && addOrg(s.Organization) {
			ds.Services = append(ds.Services, s)
		}
	}
	return ds
}

// documents exports ds in shape, each document keyed by its HSDS id.
func documents(ctx context.Context, ds *Dataset, shape Shape) (map[string]object, *table, error) {
	e, err := newExporter(ctx, ds)
	if err != nil {
		return nil, nil, err
	}
	docs, t, err := e.documents(ctx, shape)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]object, len(docs))
	for _, d := range docs {
		if o, ok := d.(object); ok {
			out[idOf(o)] = o
		}
	}
	return out, t, nil
}

// oneToOne returns o without its arrays, and the objects it nests likewise:
// the "one-to-one fields" of a listing.
func oneToOne(o object) object {
	out := make(object, len(o))
	for k, v := range o {
		switch x := v.(type) {
		case []any:
		case object:
			out[k] = oneToOne(x)
		default:
			out[k] = v
		}
	}
	return out
}

// services is GET /services.
func (a *api) services(q *query) (any, error) {
	f, err := a.serviceFilter(q)
	if err != nil {
		return nil, err
	}
	names := a.organizationNames()
	var ids []referral.ID
	for s := range a.c.Services() {
		if f.keeps(s) && q.matches(s.Name, s.AlternateName, s.Description, names[s.Organization]) {
			ids = append(ids, s.ID)
		}
	}
	start, end := q.window(len(ids))
	ds := a.dataset(q, ids[start:end], nil)
	if q.flag("minimal") {
		contents := make([]any, 0, len(ds.Services))
		for _, s := range ds.Services {
			o := object{"id": hsdsID(s.ID, s.SourceID), "name": s.Name, "status": string(s.Status)}
			if !s.Updated.IsZero() {
				o["last_modified"] = s.Updated.UTC().Format(time.RFC3339Nano)
			}
			contents = append(contents, o)
		}
		return a.pageOf(q, len(ids), contents, byName["service"])
	}
	docs, t, err := documents(q.ctx, ds, ServicePage)
	if err != nil {
		return nil, err
	}
	contents := make([]any, 0, len(ds.Services))
	for _, s := range ds.Services {
		d := docs[hsdsID(s.ID, s.SourceID)]
		if !q.flag("full") {
			d = oneToOne(d)
		}
		contents = append(contents, d)
	}
	return a.pageOf(q, len(ids), contents, t)
}

// service is GET /services/{id}: the service fully nested.
func (a *api) service(q *query, raw string) (any, error) {
	s, err := a.serviceByHSDS(raw)
	if err != nil {
		return nil, err
	}
	docs, t, err := documents(q.ctx, a.dataset(q, []referral.ID{s.ID}, nil), ServicePage)
	if err != nil {
		return nil, err
	}
	return a.one(docs[hsdsID(s.ID, s.SourceID)], t)
}

// organizations is GET /organizations.
func (a *api) organizations(q *query) (any, error) {
	var orgFilter map[referral.ID]bool
	term, byTerm := q.values["taxonomy_term_id"]
	tax, byTax := q.values["taxonomy_id"]
	if byTerm || byTax {
		ix, err := a.taxonomyIndex(q.ctx)
		if err != nil {
			return nil, err
		}
		orgFilter = map[referral.ID]bool{}
		for id, refs := range ix.organizationRefs {
			if (!byTerm || refs.terms[term]) && (!byTax || refs.taxonomies[tax]) {
				orgFilter[id] = true
			}
		}
	}
	var ids []referral.ID
	for o := range a.c.Organizations() {
		if (orgFilter == nil || orgFilter[o.ID]) && q.matches(o.Name, o.AlternateName, o.Description) {
			ids = append(ids, o.ID)
		}
	}
	start, end := q.window(len(ids))
	page := ids[start:end]
	return a.organizationDocs(q, page, len(ids), q.flag("full"))
}

// organizationDocs writes a page of organizations: one-to-one fields only, or
// nested with their services (whole with full_service).
func (a *api) organizationDocs(q *query, page []referral.ID, total int, full bool) ([]byte, error) {
	var services []referral.ID
	if full {
		in := make(map[referral.ID]bool, len(page))
		for _, id := range page {
			in[id] = true
		}
		for s := range a.c.Services() {
			if in[s.Organization] {
				services = append(services, s.ID)
			}
		}
	}
	ds := a.dataset(q, services, page)
	docs, t, err := documents(q.ctx, ds, OrganizationPage)
	if err != nil {
		return nil, err
	}
	contents := make([]any, 0, len(ds.Organizations))
	for _, o := range ds.Organizations {
		d := docs[hsdsID(o.ID, o.SourceID)]
		switch {
		case !full:
			d = oneToOne(d)
		case !q.flag("full_service"):
			d = cloneObject(d)
			if list, ok := d["services"].([]any); ok {
				simple := make([]any, len(list))
				for i, s := range list {
					if so, ok := s.(object); ok {
						simple[i] = oneToOne(so)
					}
				}
				d["services"] = simple
			}
		}
		contents = append(contents, d)
	}
	if total < 0 {
		if len(contents) == 0 {
			return nil, referral.ErrNotFound
		}
		return a.one(contents[0], t)
	}
	return a.pageOf(q, total, contents, t)
}

// organization is GET /organizations/{id}: the organization with its
// services (whole with full_service).
func (a *api) organization(q *query, raw string) (any, error) {
	o, ok := a.c.Organization(a.resolve("organization", raw))
	if !ok || !sameHSDSID(raw, o.ID, o.SourceID) {
		return nil, referral.ErrNotFound
	}
	return a.organizationDocs(q, []referral.ID{o.ID}, -1, true)
}

// siteRef is one service_at_location: a service at one of its locations.
type siteRef struct {
	service, location referral.ID
}

// siteList is GET /service_at_locations.
func (a *api) siteList(q *query) (any, error) {
	f, err := a.serviceFilter(q)
	if err != nil {
		return nil, err
	}
	postcode, byPostcode := q.values["postcode"]
	names := a.organizationNames()
	var refs []siteRef
	for s := range a.c.Services() {
		if !f.keeps(s) {
			continue
		}
		for _, l := range s.Locations {
			if byPostcode && !servesPostcode(s, l, postcode) {
				continue
			}
			if q.matches(s.Name, s.AlternateName, s.Description, names[s.Organization], l.Name) {
				refs = append(refs, siteRef{s.ID, l.ID})
			}
		}
	}
	start, end := q.window(len(refs))
	page := refs[start:end]
	return a.siteDocs(q, page, len(refs), q.flag("full"))
}

// servesPostcode reports whether the service at l serves postcode: l's
// address has it (unless l is confidential: its address is nobody's filter),
// or a zip area of the service or of l lists it.
func servesPostcode(s *referral.Service, l referral.Location, postcode string) bool {
	if !l.Confidential && l.Address != nil && strings.EqualFold(strings.TrimSpace(l.Address.PostalCode), strings.TrimSpace(postcode)) {
		return true
	}
	for _, areas := range [][]referral.ServiceArea{s.ServiceAreas, l.ServiceAreas} {
		for _, a := range areas {
			if a.Kind == referral.AreaZip && slices.ContainsFunc(a.Values, func(v string) bool { return strings.EqualFold(strings.TrimSpace(v), strings.TrimSpace(postcode)) }) {
				return true
			}
		}
	}
	return false
}

// siteDocs writes a page of service_at_locations (total < 0: the one alone,
// whole).
func (a *api) siteDocs(q *query, page []siteRef, total int, full bool) ([]byte, error) {
	var services []referral.ID
	for _, r := range page {
		if !slices.Contains(services, r.service) {
			services = append(services, r.service)
		}
	}
	ds := a.dataset(q, services, nil)
	e, err := newExporter(q.ctx, ds)
	if err != nil {
		return nil, err
	}
	docs, t, err := e.documents(q.ctx, ServiceAtLocationPage)
	if err != nil {
		return nil, err
	}
	// A site document is found by its service's and its location's ids.
	bySite := map[[2]string]object{}
	for _, d := range docs {
		if o, ok := d.(object); ok {
			svc, _ := o["service"].(object)
			loc, _ := o["location"].(object)
			bySite[[2]string{idOf(svc), idOf(loc)}] = o
		}
	}
	contents := make([]any, 0, len(page))
	for _, r := range page {
		s, ok := serviceIn(ds, r.service)
		if !ok {
			continue
		}
		l, _ := s.Location(r.location)
		d, ok := bySite[[2]string{hsdsID(s.ID, s.SourceID), e.src(l.ID, l.SourceID)}]
		if !ok {
			continue
		}
		if !full {
			d = oneToOne(d)
		}
		contents = append(contents, d)
	}
	if total < 0 {
		if len(contents) == 0 {
			return nil, referral.ErrNotFound
		}
		return a.one(contents[0], t)
	}
	return a.pageOf(q, total, contents, t)
}

func serviceIn(ds *Dataset, id referral.ID) (*referral.Service, bool) {
	for i := range ds.Services {
		if ds.Services[i].ID == id {
			return &ds.Services[i], true
		}
	}
	return nil, false
}

// site is GET /service_at_locations/{id}: the service_at_location with its
// location and service (and the service's organization) nested.
func (a *api) site(q *query, raw string) (any, error) {
	ix, err := a.taxonomyIndex(q.ctx)
	if err != nil {
		return nil, err
	}
	ref, ok := ix.sites[raw]
	if !ok {
		return nil, referral.ErrNotFound
	}
	return a.siteDocs(q, []siteRef{ref}, -1, true)
}

// taxonomies is GET /taxonomies.
func (a *api) taxonomies(q *query) (any, error) {
	ix, err := a.taxonomyIndex(q.ctx)
	if err != nil {
		return nil, err
	}
	var keep []any
	for _, t := range ix.taxonomies {
		name, _ := t["name"].(string)
		desc, _ := t["description"].(string)
		if q.matches(name, desc) {
			keep = append(keep, t)
		}
	}
	start, end := q.window(len(keep))
	return a.pageOf(q, len(keep), keep[start:end], byName["taxonomy"])
}

// taxonomy is GET /taxonomies/{id}.
func (a *api) taxonomy(q *query, raw string) (any, error) {
	ix, err := a.taxonomyIndex(q.ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ix.taxonomies {
		if idOf(t) == raw {
			return a.one(t, byName["taxonomy"])
		}
	}
	return nil, referral.ErrNotFound
}

// terms is GET /taxonomy_terms.
func (a *api) terms(q *query) (any, error) {
	ix, err := a.taxonomyIndex(q.ctx)
	if err != nil {
		return nil, err
	}
	tax, byTax := q.values["taxonomy_id"]
	parent, byParent := q.values["parent_id"]
	var keep []any
	for _, t := range ix.terms {
		p, _ := t["parent_id"].(string)
		code, _ := t["code"].(string)
		name, _ := t["name"].(string)
		desc, _ := t["description"].(string)
		switch {
		case byTax && ix.termTaxonomy[idOf(t)] != tax:
		case byParent && p != parent:
		case q.flag("top_only") && p != "":
		case !q.matches(code, name, desc):
		default:
			keep = append(keep, t)
		}
	}
	start, end := q.window(len(keep))
	return a.pageOf(q, len(keep), keep[start:end], byName["taxonomy_term"])
}

// term is GET /taxonomy_terms/{id}.
func (a *api) term(q *query, raw string) (any, error) {
	ix, err := a.taxonomyIndex(q.ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ix.terms {
		if idOf(t) == raw {
			return a.one(t, byName["taxonomy_term"])
		}
	}
	return nil, referral.ErrNotFound
}

// apiIndex is what the API derives from the whole directory but its
// capacities: the taxonomy terms and taxonomies its records use, which
// records use which, and the ids of its service_at_locations. It is built
// from every record written in full (taxonomy terms and site ids are never
// confidential), once per catalog revision.
type apiIndex struct {
	revision uint64
	// terms and taxonomies are in id order.
	terms      []object
	taxonomies []object
	// termTaxonomy is each term's taxonomy id.
	termTaxonomy     map[string]string
	serviceRefs      map[referral.ID]refs
	organizationRefs map[referral.ID]refs
	sites            map[string]siteRef
}

// refs are the terms and taxonomies a record's attributes name.
type refs struct {
	terms, taxonomies map[string]bool
}

func newRefs() refs { return refs{terms: map[string]bool{}, taxonomies: map[string]bool{}} }

// taxonomyIndex returns the index of the catalog's current revision,
// building it if the revision moved.
func (a *api) taxonomyIndex(ctx context.Context) (*apiIndex, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rev := a.c.Revision()
	if a.index != nil && a.index.revision == rev {
		return a.index, nil
	}
	ix := &apiIndex{revision: rev, termTaxonomy: map[string]string{}, serviceRefs: map[referral.ID]refs{},
		organizationRefs: map[referral.ID]refs{}, sites: map[string]siteRef{}}
	terms, taxonomies := map[string]object{}, map[string]object{}
	system := &referral.Actor{Network: a.c.Network(), Role: referral.RoleSystem}
	var orgIDs, svcIDs []referral.ID
	for o := range a.c.Organizations() {
		orgIDs = append(orgIDs, o.ID)
	}
	for s := range a.c.Services() {
		svcIDs = append(svcIDs, s.ID)
	}
	collect := func(doc any, into refs) {
		walkAttributes(doc, func(t object) {
			id := idOf(t)
			if id == "" {
				return
			}
			if _, seen := terms[id]; !seen {
				terms[id] = t
			}
			tax := a.taxonomyOf(t, taxonomies)
			if tax != "" {
				ix.termTaxonomy[id] = tax
				into.taxonomies[tax] = true
			}
			into.terms[id] = true
		})
	}
	q := &query{ctx: ctx, viewer: system}
	for i, id := range orgIDs {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		ds := a.dataset(q, nil, []referral.ID{id})
		docs, _, err := documents(ctx, ds, OrganizationPage)
		if err != nil {
			return nil, err
		}
		r := newRefs()
		for _, d := range docs {
			collect(d, r)
		}
		ix.organizationRefs[id] = r
	}
	for i, id := range svcIDs {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		ds := a.dataset(q, []referral.ID{id}, nil)
		if len(ds.Services) == 0 {
			continue
		}
		e, err := newExporter(ctx, ds)
		if err != nil {
			return nil, err
		}
		doc, err := e.service(0)
		if err != nil {
			return nil, err
		}
		r := newRefs()
		collect(doc, r)
		ix.serviceRefs[id] = r
		if or, ok := ix.organizationRefs[ds.Services[0].Organization]; ok {
			for k := range r.terms {
				or.terms[k] = true
			}
			for k := range r.taxonomies {
				or.taxonomies[k] = true
			}
		}
		s := &ds.Services[0]
		sals, _ := doc["service_at_locations"].([]any)
		for _, sal := range sals {
			so, ok := sal.(object)
			if !ok {
				continue
			}
			loc, _ := so["location"].(object)
			for _, l := range s.Locations {
				if e.src(l.ID, l.SourceID) == idOf(loc) {
					ix.sites[idOf(so)] = siteRef{s.ID, l.ID}
				}
			}
		}
	}
	ix.terms = sortedByID(terms)
	ix.taxonomies = sortedByID(taxonomies)
	a.index = ix
	return ix, nil
}

// taxonomyOf returns the id of term t's taxonomy, adding the taxonomy to
// taxonomies: its taxonomy_detail when it has one, else a taxonomy named by
// its taxonomy field, with an id derived from the name.
func (a *api) taxonomyOf(t object, taxonomies map[string]object) string {
	if d, ok := t["taxonomy_detail"].(object); ok && idOf(d) != "" {
		if _, seen := taxonomies[idOf(d)]; !seen {
			taxonomies[idOf(d)] = d
		}
		return idOf(d)
	}
	if id, ok := t["taxonomy_id"].(string); ok && id != "" {
		return id
	}
	name, _ := t["taxonomy"].(string)
	if name == "" {
		return ""
	}
	id := derive(a.c.Network(), "taxonomy", name).String()
	if _, seen := taxonomies[id]; !seen {
		tax := object{"id": id, "name": name, "description": "The taxonomy named " + name + " by the directory's terms"}
		if strings.HasPrefix(name, "https://") || strings.HasPrefix(name, "http://") {
			tax["uri"] = name
		}
		taxonomies[id] = tax
	}
	return id
}

// walkAttributes calls fn with the taxonomy term of every attribute nested
// anywhere in v.
func walkAttributes(v any, fn func(term object)) {
	switch x := v.(type) {
	case object:
		if list, ok := x["attributes"].([]any); ok {
			for _, a := range list {
				if ao, ok := a.(object); ok {
					if t, ok := ao["taxonomy_term"].(object); ok {
						fn(t)
					}
				}
			}
		}
		for _, e := range x {
			walkAttributes(e, fn)
		}
	case []any:
		for _, e := range x {
			walkAttributes(e, fn)
		}
	}
}

func sortedByID(m map[string]object) []object {
	out := make([]object, 0, len(m))
	for _, o := range m {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b object) int { return strings.Compare(idOf(a), idOf(b)) })
	return out
}
