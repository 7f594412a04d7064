package hsds

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/refkit/refkit/referral"
)

// The tables of the data package refkit reads and writes, by resource name, with
// the columns refkit writes.
var tables = []struct {
	name, file string
	columns    []string
}{
	{"organization", "organizations.csv", []string{"id", "name", "alternate_name", "description", "email", "website"}},
	{"phone", "phones.csv", []string{"id", "organization_id", "number"}},
	{"service", "services.csv", []string{"id", "organization_id", "name", "alternate_name", "description", "url", "email", "status", "eligibility_description", "minimum_age", "maximum_age"}},
	{"location", "locations.csv", []string{"id", "location_type", "name", "description", "latitude", "longitude"}},
	{"address", "addresses.csv", []string{"id", "location_id", "address_1", "address_2", "city", "region", "state_province", "postal_code", "country", "address_type"}},
	{"service_at_location", "service_at_locations.csv", []string{"id", "service_id", "location_id"}},
	{"service_area", "service_areas.csv", []string{"id", "service_id", "service_at_location_id", "name", "extent", "extent_type"}},
	{"language", "languages.csv", []string{"id", "service_id", "location_id", "name", "code"}},
	{"schedule", "schedules.csv", []string{"id", "service_id", "location_id", "service_at_location_id", "freq", "interval", "byday", "opens_at", "closes_at", "timezone"}},
	{"taxonomy_term", "taxonomy_terms.csv", []string{"id", "code", "name", "description", "parent_id", "taxonomy"}},
	{"attribute", "attributes.csv", []string{"id", "link_id", "link_type", "link_entity", "taxonomy_term_id", "value"}},
}

// tableOf names the table a data package resource holds, from its name or file
// name, singular or plural ("services", "service_at_location.csv").
func tableOf(name string) string {
	n := strings.ToLower(strings.TrimSuffix(path.Base(name), ".csv"))
	for _, t := range tables {
		if n == t.name || n == strings.TrimSuffix(t.file, ".csv") {
			return t.name
		}
	}
	return ""
}

type datapackage struct {
	Name      string     `json:"name,omitempty"`
	Profile   string     `json:"profile,omitempty"`
	Resources []resource `json:"resources"`
}

type resource struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	Profile   string `json:"profile,omitempty"`
	Format    string `json:"format,omitempty"`
	Mediatype string `json:"mediatype,omitempty"`
}

// row is one CSV record by column name; absent columns read as "".
type row struct {
	line int
	cols map[string]int
	rec  []string
}

func (r row) get(col string) string {
	if i, ok := r.cols[col]; ok && i < len(r.rec) {
		return strings.TrimSpace(r.rec[i])
	}
	return ""
}

// number reads an optional number column; ok is false when it is not a number.
func (r row) number(col string) (*float64, bool) {
	s := r.get(col)
	if s == "" {
		return nil, true
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, false
	}
	return &v, true
}

// ReadDatapackage imports an HSDS 3.0 tabular data package: datapackage.json and
// the CSV files its resources name (services, organizations, locations,
// service_at_locations, addresses, phones, schedules, service_areas, languages,
// attributes, taxonomy_terms; tables not listed are read as empty). Columns are
// found by header name. A row that cannot be mapped, or that refers to a row that
// is not there, is reported in Dataset.Problems and the rest imported (see
// Options.Strict); a file that is not well-formed CSV fails the import.
func ReadDatapackage(ctx context.Context, fsys fs.FS, opts Options) (*Dataset, error) {
	im, err := newImporter(opts)
	if err != nil {
		return nil, err
	}
	b, err := fs.ReadFile(fsys, "datapackage.json")
	if err != nil {
		return nil, referral.Invalid("datapackage.json", "cannot be read: "+errors.Unwrap(err).Error())
	}
	var dp datapackage
	if err := json.Unmarshal(b, &dp); err != nil {
		return nil, referral.Invalid("datapackage.json", jsonProblem(err))
	}
	files := map[string]string{}
	for i, r := range dp.Resources {
		t := tableOf(r.Name)
		if t == "" {
			t = tableOf(r.Path)
		}
		if t == "" {
			continue // a table refkit does not map (contacts, funding, ...)
		}
		p := path.Clean(r.Path)
		if !fs.ValidPath(p) {
			return nil, referral.Invalid("datapackage.json resources["+strconv.Itoa(i)+"].path", "must be a relative path inside the package")
		}
		files[t] = p
	}
	if files["service"] == "" {
		return nil, referral.Invalid("datapackage.json", "lists no services resource")
	}
	rows := map[string][]row{}
	for t, p := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rs, err := readTable(im, fsys, t, p)
		if err != nil {
			return nil, err
		}
		rows[t] = rs
	}
	assemble(im, rows)
	return im.finish(ctx)
}

func readTable(im *importer, fsys fs.FS, table, name string) ([]row, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, referral.Invalid(name, "cannot be opened")
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	cols := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := cols[h]; !dup {
			cols[h] = i
		}
	}
	if _, ok := cols["id"]; !ok {
		return nil, referral.Invalid(name, "has no id column")
	}
	var out []row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		r := row{line: line, cols: cols, rec: rec}
		if len(rec) != len(header) {
			im.report(table, r.get("id"), "row at line "+strconv.Itoa(line)+" has "+strconv.Itoa(len(rec))+" fields, the header "+strconv.Itoa(len(header)))
			continue
		}
		if r.get("id") == "" {
			im.report(table, "", "row at line "+strconv.Itoa(line)+" has no id")
			continue
		}
		out = append(out, r)
	}
}

// assemble nests the rows of the tables into wire services, as the JSON shape
// carries them, and hands them to the importer.
func assemble(im *importer, rows map[string][]row) {
	for _, r := range rows["taxonomy_term"] {
		im.addTerm(&wireTerm{
			ID: r.get("id"), Code: r.get("code"), Name: r.get("name"), Description: r.get("description"),
			ParentID: r.get("parent_id"), Taxonomy: r.get("taxonomy"),
		})
	}

	orgs := map[string]*wireOrganization{}
	var orgOrder []*wireOrganization
	for _, r := range rows["organization"] {
		id := r.get("id")
		if orgs[id] != nil {
			im.report("organization", id, "id is a duplicate")
			continue
		}
		o := &wireOrganization{
			ID: id, Name: r.get("name"), AlternateName: r.get("alternate_name"),
			Description: r.get("description"), Email: r.get("email"), Website: r.get("website"),
		}
		orgs[id] = o
		orgOrder = append(orgOrder, o)
	}
	for _, r := range rows["phone"] {
		if o := orgs[r.get("organization_id")]; o != nil {
			o.Phones = append(o.Phones, wirePhone{ID: r.get("id"), Number: r.get("number")})
		}
		// Phones of services, locations and contacts are not mapped: refkit keeps
		// one phone, the organization's.
	}
	for _, o := range orgOrder {
		im.organization(o)
	}

	locs := map[string]*wireLocation{}
	badLoc := map[string]bool{} // reported already, with every row that refers to it
	for _, r := range rows["location"] {
		id := r.get("id")
		if locs[id] != nil {
			im.report("location", id, "id is a duplicate")
			continue
		}
		lat, ok1 := r.number("latitude")
		lon, ok2 := r.number("longitude")
		if !ok1 || !ok2 {
			im.report("location", id, "latitude and longitude must be numbers")
			badLoc[id] = true
			continue
		}
		l := &wireLocation{
			ID: id, LocationType: r.get("location_type"), Name: r.get("name"),
			Description: r.get("description"), Latitude: lat, Longitude: lon,
		}
		locs[id] = l
		im.addLocation(l)
	}
	for _, r := range rows["address"] {
		l := locs[r.get("location_id")]
		if l == nil {
			if !badLoc[r.get("location_id")] {
				im.report("address", r.get("id"), "location_id refers to no location in the dataset")
			}
			continue
		}
		l.Addresses = append(l.Addresses, wireAddress{
			ID: r.get("id"), LocationID: l.ID, Address1: r.get("address_1"), Address2: r.get("address_2"),
			City: r.get("city"), Region: r.get("region"), StateProvince: r.get("state_province"),
			PostalCode: r.get("postal_code"), Country: r.get("country"), AddressType: r.get("address_type"),
		})
	}

	svcs := map[string]*wireService{}
	badSvc := map[string]bool{}
	var order []*wireService
	for _, r := range rows["service"] {
		id := r.get("id")
		if svcs[id] != nil {
			im.report("service", id, "id is a duplicate")
			continue
		}
		minAge, ok1 := r.number("minimum_age")
		maxAge, ok2 := r.number("maximum_age")
		if !ok1 || !ok2 {
			im.report("service", id, "minimum_age and maximum_age must be numbers")
			badSvc[id] = true
			continue
		}
		s := &wireService{
			ID: id, OrganizationID: r.get("organization_id"), Name: r.get("name"),
			AlternateName: r.get("alternate_name"), Description: r.get("description"), URL: r.get("url"),
			Email: r.get("email"), Status: r.get("status"), EligibilityDescription: r.get("eligibility_description"),
			MinimumAge: minAge, MaximumAge: maxAge,
		}
		svcs[id] = s
		order = append(order, s)
	}
	// Rows of a service that was reported are dropped quietly with it.
	quiet := func(serviceID string) bool { return badSvc[serviceID] }

	type salRef struct {
		s *wireService
		i int
	}
	salRefs := map[string]salRef{}
	for _, r := range rows["service_at_location"] {
		id, sid := r.get("id"), r.get("service_id")
		s := svcs[sid]
		if s == nil {
			if !quiet(sid) {
				im.report("service_at_location", id, "service_id refers to no service in the dataset")
			}
			continue
		}
		if lid := r.get("location_id"); locs[lid] == nil {
			if !badLoc[lid] {
				im.report("service_at_location", id, "location_id refers to no location in the dataset")
			}
			continue
		}
		s.ServiceAtLocations = append(s.ServiceAtLocations, wireServiceAtLocation{ID: id, ServiceID: sid, LocationID: r.get("location_id")})
		salRefs[id] = salRef{s, len(s.ServiceAtLocations) - 1}
	}
	sal := func(id string) *wireServiceAtLocation {
		if r, ok := salRefs[id]; ok {
			return &r.s.ServiceAtLocations[r.i]
		}
		return nil
	}

	for _, r := range rows["service_area"] {
		a := wireServiceArea{ID: r.get("id"), Name: r.get("name"), Extent: r.get("extent"), ExtentType: r.get("extent_type")}
		switch sid, salID := r.get("service_id"), r.get("service_at_location_id"); {
		case svcs[sid] != nil:
			svcs[sid].ServiceAreas = append(svcs[sid].ServiceAreas, a)
		case sal(salID) != nil:
			sal(salID).ServiceAreas = append(sal(salID).ServiceAreas, a)
		case !quiet(sid):
			im.report("service_area", a.ID, "service_id refers to no service in the dataset")
		}
	}
	for _, r := range rows["language"] {
		l := wireLanguage{ID: r.get("id"), Name: r.get("name"), Code: r.get("code")}
		switch sid, lid := r.get("service_id"), r.get("location_id"); {
		case svcs[sid] != nil:
			svcs[sid].Languages = append(svcs[sid].Languages, l)
		case sid == "" && locs[lid] != nil:
			locs[lid].Languages = append(locs[lid].Languages, l)
		case !quiet(sid) && !badLoc[lid]:
			im.report("language", l.ID, "refers to no service or location in the dataset")
		}
	}
	for _, r := range rows["schedule"] {
		interval, ok1 := r.number("interval")
		tz, ok2 := r.number("timezone")
		if !ok1 || !ok2 {
			im.report("schedule", r.get("id"), "interval and timezone must be numbers")
			continue
		}
		sc := wireSchedule{
			ID: r.get("id"), Timezone: tz, Freq: r.get("freq"), Interval: interval,
			Byday: r.get("byday"), OpensAt: r.get("opens_at"), ClosesAt: r.get("closes_at"),
		}
		switch sid, salID, lid := r.get("service_id"), r.get("service_at_location_id"), r.get("location_id"); {
		case sal(salID) != nil:
			sal(salID).Schedules = append(sal(salID).Schedules, sc)
		case svcs[sid] != nil:
			svcs[sid].Schedules = append(svcs[sid].Schedules, sc)
		case sid == "" && salID == "" && locs[lid] != nil:
			locs[lid].Schedules = append(locs[lid].Schedules, sc)
		case !quiet(sid) && !badLoc[lid]:
			im.report("schedule", sc.ID, "refers to no service, service_at_location or location in the dataset")
		}
	}
	for _, r := range rows["attribute"] {
		a := wireAttribute{ID: r.get("id"), TaxonomyTermID: r.get("taxonomy_term_id"), Value: r.get("value")}
		entity, link := strings.ToLower(r.get("link_entity")), r.get("link_id")
		switch {
		case entity != "" && entity != "service":
			im.report("attribute", a.ID, "only attributes of services are mapped")
		case svcs[link] != nil:
			svcs[link].Attributes = append(svcs[link].Attributes, a)
		case !quiet(link):
			im.report("attribute", a.ID, "link_id refers to no service in the dataset")
		}
	}
	for _, s := range order {
		im.service(s)
	}
}

// WriteDatapackage exports a dataset as an HSDS 3.0 tabular data package into
// dir (created if missing): datapackage.json and one CSV file per table. IDs
// listed in ds.Sources are written as the HSDS ids they came from. The dataset must
// be valid, as for WriteJSON.
func WriteDatapackage(ctx context.Context, dir string, ds *Dataset) error {
	services, orgs, err := exportServices(ctx, ds)
	if err != nil {
		return err
	}
	out := map[string][][]string{}
	add := func(table string, rec ...string) { out[table] = append(out[table], rec) }
	num := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	written := map[string]map[string]bool{}
	once := func(table, id string) bool {
		if written[table] == nil {
			written[table] = map[string]bool{}
		}
		if written[table][id] {
			return false
		}
		written[table][id] = true
		return true
	}
	for _, o := range orgs {
		add("organization", o.ID, o.Name, o.AlternateName, o.Description, o.Email, o.Website)
		for _, p := range o.Phones {
			add("phone", p.ID, o.ID, p.Number)
		}
	}
	// The data package lists each location once, so services sharing a location
	// must agree on it.
	locations := map[string][]byte{}
	for i, s := range services {
		add("service", s.ID, s.OrganizationID, s.Name, s.AlternateName, s.Description, s.URL, s.Email, s.Status,
			s.EligibilityDescription, num(s.MinimumAge), num(s.MaximumAge))
		for j, sal := range s.ServiceAtLocations {
			l := sal.Location
			b, err := json.Marshal(l)
			if err != nil {
				return err
			}
			if prev, ok := locations[l.ID]; ok && !bytes.Equal(prev, b) {
				return referral.Invalid("services["+strconv.Itoa(i)+"].locations["+strconv.Itoa(j)+"]", "differs from another service's location with the same id")
			}
			locations[l.ID] = b
			if once("location", l.ID) {
				add("location", l.ID, l.LocationType, l.Name, l.Description, num(l.Latitude), num(l.Longitude))
				for _, a := range l.Addresses {
					add("address", a.ID, l.ID, a.Address1, a.Address2, a.City, a.Region, a.StateProvince, a.PostalCode, a.Country, a.AddressType)
				}
			}
			add("service_at_location", sal.ID, s.ID, l.ID)
		}
		for _, a := range s.ServiceAreas {
			add("service_area", a.ID, s.ID, "", a.Name, a.Extent, a.ExtentType)
		}
		for _, l := range s.Languages {
			add("language", l.ID, s.ID, "", l.Name, l.Code)
		}
		for _, sc := range s.Schedules {
			add("schedule", sc.ID, s.ID, "", "", sc.Freq, num(sc.Interval), sc.Byday, sc.OpensAt, sc.ClosesAt, num(sc.Timezone))
		}
		for _, a := range s.Attributes {
			t := a.TaxonomyTerm
			if once("taxonomy_term", t.ID) {
				add("taxonomy_term", t.ID, t.Code, t.Name, t.Description, t.ParentID, t.Taxonomy)
			}
			add("attribute", a.ID, s.ID, "", "service", t.ID, a.Value)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dp := datapackage{Name: "refkit-hsds-export", Profile: "tabular-data-package"}
	for _, t := range tables {
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		if err := cw.Write(t.columns); err != nil {
			return err
		}
		if err := cw.WriteAll(out[t.name]); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, t.file), buf.Bytes(), 0o644); err != nil {
			return err
		}
		dp.Resources = append(dp.Resources, resource{
			Name: t.name, Path: t.file, Profile: "tabular-data-resource", Format: "csv", Mediatype: "text/csv",
		})
	}
	b, err := json.MarshalIndent(dp, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "datapackage.json"), append(b, '\n'), 0o644)
}
