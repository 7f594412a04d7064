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

// The tabular form is read by nesting its rows into the JSON form's records
// (each row under every record that links to it, as the HSDS API nests them)
// and writing the JSON form's records back out as rows, one per id: both go
// through the description of HSDS in spec.go, and the import through the same
// mapping as the JSON form.

type datapackage struct {
	Name      string     `json:"name,omitempty"`
	Profile   string     `json:"profile,omitempty"`
	Version   string     `json:"version,omitempty"`
	Resources []resource `json:"resources"`
}

type resource struct {
	Name      string          `json:"name"`
	Path      string          `json:"path"`
	Profile   string          `json:"profile,omitempty"`
	Format    string          `json:"format,omitempty"`
	Mediatype string          `json:"mediatype,omitempty"`
	Schema    *resourceSchema `json:"schema,omitempty"`
}

type resourceSchema struct {
	Fields      []resourceField `json:"fields"`
	PrimaryKey  string          `json:"primaryKey"`
	ForeignKeys []foreignKey    `json:"foreignKeys,omitempty"`
}

type resourceField struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type foreignKey struct {
	Fields    string `json:"fields"`
	Reference struct {
		Resource string `json:"resource"`
		Fields   string `json:"fields"`
	} `json:"reference"`
}

// ReadDatapackage imports an HSDS 3.0 or 3.1 tabular data package:
// datapackage.json and the CSV files its resources name (the specification's
// names, or the plural file names refkit wrote before; tables not listed are
// read as empty). Columns are found by header name. Rows are nested into
// records as the JSON form nests them and mapped like it. A row that cannot be
// read, that refers to a row that is not there, or that links to no service or
// organization, is reported in Dataset.Problems and the rest imported (see
// Options.Strict); a file that is not well-formed CSV fails the import.
func ReadDatapackage(ctx context.Context, fsys fs.FS, opts Options) (*Dataset, error) {
	ctx, obs := newTel(opts.TracerProvider, opts.MeterProvider).begin(ctx, formatDatapackage, opts.Network)
	ds, err := readDatapackage(ctx, fsys, opts)
	obs.end(ctx, ds, err)
	return ds, err
}

// readDatapackage is ReadDatapackage, unobserved.
func readDatapackage(ctx context.Context, fsys fs.FS, opts Options) (*Dataset, error) {
	im, err := newImporter(opts)
	if err != nil {
		return nil, err
	}
	budget := opts.maxBytes()
	dp, err := readPackage(fsys, &budget)
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for i, r := range dp.Resources {
		t := tableOf(r.Name)
		if t == "" {
			t = tableOf(r.Path)
		}
		if t == "" || files[t] != "" {
			continue
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
	tabs := map[string]*rows{}
	for _, t := range tables {
		p := files[t.name]
		if p == "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rs, err := readTable(im, fsys, t, p, &budget)
		if err != nil {
			return nil, err
		}
		tabs[t.name] = rs
	}
	// The version is that of what the package holds: a 3.1 table or column
	// with something in it (datapackage.json files often say 3.0.0 regardless).
	im.v31 = strings.HasPrefix(dp.Version, "3.1") || len(tabs["service_capacity"].all()) > 0 || len(tabs["unit"].all()) > 0 ||
		len(tabs["url"].all()) > 0 || tabs["attribute"].filled("label") || tabs["service_area"].filled("service_at_location_id")
	a := &assembly{im: im, tabs: tabs, budget: maxExpansion*totalRows(tabs) + 100000}
	orgs, services, err := a.records()
	if err != nil {
		return nil, err
	}
	for _, o := range orgs {
		unlink(o, byName["organization"])
		im.index(o, "", "organization")
	}
	for _, s := range services {
		unlink(s, byName["service"])
		im.index(s, "", "service")
	}
	for _, o := range orgs {
		im.organization(o)
	}
	for i, s := range services {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		im.service(s)
	}
	a.reportUnused()
	return im.finish(ctx)
}

// readPackage reads datapackage.json.
func readPackage(fsys fs.FS, budget *int64) (*datapackage, error) {
	f, err := fsys.Open("datapackage.json")
	if err != nil {
		return nil, referral.Invalid("datapackage.json", "cannot be read: "+errors.Unwrap(err).Error())
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, *budget+1))
	if err != nil {
		return nil, referral.Invalid("datapackage.json", "cannot be read")
	}
	if *budget -= int64(len(b)); *budget < 0 {
		return nil, referral.Invalid("datapackage", "is larger than the import's MaxBytes")
	}
	var dp datapackage
	if err := json.Unmarshal(b, &dp); err != nil {
		return nil, referral.Invalid("datapackage.json", jsonProblem(err))
	}
	return &dp, nil
}

// rows is one table as read: every row as an object of its non-empty cells.
type rows struct {
	header []string
	list   []*row
	byID   map[string]*row
	// by indexes rows by the value of a column, built on first use.
	by map[string]map[string][]*row
}

type row struct {
	o    object
	used bool
}

// filled reports whether any row has a value in column name.
func (rs *rows) filled(name string) bool {
	for _, r := range rs.all() {
		if _, ok := r.o[name]; ok {
			return true
		}
	}
	return false
}

func (rs *rows) hasColumn(name string) bool {
	return rs != nil && strings.Contains(","+strings.Join(rs.header, ",")+",", ","+name+",")
}

// lookup returns the rows whose column col holds v.
func (rs *rows) lookup(col, v string) []*row {
	if rs == nil || v == "" {
		return nil
	}
	if rs.by == nil {
		rs.by = map[string]map[string][]*row{}
	}
	idx, ok := rs.by[col]
	if !ok {
		idx = map[string][]*row{}
		for _, r := range rs.list {
			if s, ok := r.o[col].(string); ok && s != "" {
				idx[s] = append(idx[s], r)
			}
		}
		rs.by[col] = idx
	}
	return idx[v]
}

func totalRows(tabs map[string]*rows) int {
	n := 0
	for _, rs := range tabs {
		n += len(rs.list)
	}
	return n
}

// budgetReader charges what it reads to a shared budget.
type budgetReader struct {
	r      io.Reader
	budget *int64
}

var errBudget = errors.New("the data package is larger than the import's MaxBytes")

func (b *budgetReader) Read(p []byte) (int, error) {
	if *b.budget < 0 {
		return 0, errBudget
	}
	n, err := b.r.Read(p)
	if *b.budget -= int64(n); *b.budget < 0 {
		return n, errBudget
	}
	return n, err
}

// readTable reads one CSV file. A number column's cell that is a JSON number is
// read as one; every other cell, as the text it is.
func readTable(im *importer, fsys fs.FS, t *table, name string, budget *int64) (*rows, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, referral.Invalid(name, "cannot be opened")
	}
	defer f.Close()
	cr := csv.NewReader(&budgetReader{r: f, budget: budget})
	cr.FieldsPerRecord = -1
	rs := &rows{byID: map[string]*row{}}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return rs, nil
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	for _, h := range header {
		rs.header = append(rs.header, strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))))
	}
	if !rs.hasColumn("id") {
		return nil, referral.Invalid(name, "has no id column")
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rs, nil
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		o := object{}
		for i, cell := range rec {
			if i >= len(rs.header) || cell == "" {
				continue
			}
			if _, dup := o[rs.header[i]]; dup {
				continue
			}
			if c, ok := t.column(rs.header[i]); ok && c.typ == "number" && isNumber(cell) {
				o[rs.header[i]] = json.Number(cell)
			} else {
				o[rs.header[i]] = cell
			}
		}
		id := idOf(o)
		switch {
		case len(rec) != len(header):
			im.report(t.name, id, "row at line "+strconv.Itoa(line)+" has "+strconv.Itoa(len(rec))+" fields, the header "+strconv.Itoa(len(header)))
		case id == "":
			im.report(t.name, "", "row at line "+strconv.Itoa(line)+" has no id")
		case rs.byID[id] != nil:
			im.report(t.name, id, "id is a duplicate")
		default:
			r := &row{o: o}
			rs.list = append(rs.list, r)
			rs.byID[id] = r
		}
	}
}

// isNumber reports whether s is a JSON number.
func isNumber(s string) bool {
	if s == "" || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		return false
	}
	return json.Valid([]byte(s))
}

// maxExpansion bounds how many records, on average, a row may be nested into:
// a location shared by a dozen services is nested under each, with its phones
// and schedules; a package that expands far beyond is hostile, and would hold
// memory out of proportion to its bytes.
const maxExpansion = 16

// assembly nests the rows of a data package into records.
type assembly struct {
	im     *importer
	tabs   map[string]*rows
	budget int // objects the nesting may still build
}

var errExpands = referral.Invalid("datapackage", "nests into too many records: rows linked from very many places")

// records nests every organization and service row into its record, as the
// JSON form nests them; services name their organization by id.
func (a *assembly) records() (orgs, services []object, err error) {
	for _, r := range a.tabs["taxonomy_term"].all() {
		a.im.addTerm(r.o)
	}
	for _, r := range a.tabs["organization"].all() {
		o, err := a.nested(byName["organization"], r)
		if err != nil {
			return nil, nil, err
		}
		orgs = append(orgs, o)
	}
	for _, r := range a.tabs["service"].all() {
		o, err := a.nested(byName["service"], r)
		if err != nil {
			return nil, nil, err
		}
		services = append(services, o)
	}
	return orgs, services, nil
}

func (rs *rows) all() []*row {
	if rs == nil {
		return nil
	}
	return rs.list
}

// nested builds the record of row r of table t with everything linked to it.
// A service's organization is a record of its own and is not nested.
func (a *assembly) nested(t *table, r *row) (object, error) {
	if a.budget--; a.budget < 0 {
		return nil, errExpands
	}
	r.used = true
	o := cloneObject(r.o)
	id := idOf(o)
	for _, n := range t.nests {
		child := a.tabs[n.table]
		if child == nil || n.jsonOnly || (t.name == "service" && n.key == "organization") {
			continue
		}
		if !n.many {
			fk, _ := o[n.fk].(string)
			if target := child.byID[fk]; target != nil {
				v, err := a.nested(byName[n.table], target)
				if err != nil {
					return nil, err
				}
				o[n.key] = v
			}
			continue
		}
		var list []any
		for _, cr := range child.lookup(n.fk, id) {
			if !a.linksTo(cr.o, n.fk, t.name, id) {
				continue
			}
			v, err := a.nested(byName[n.table], cr)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		if list != nil {
			o[n.key] = list
		}
	}
	return o, nil
}

// linksTo checks the entity an attribute or metadata row names: ids are unique
// within a table, so the same id may be a service and a location. A row naming
// another table that has no record with the id (or naming none that exists)
// links to the record that has it.
func (a *assembly) linksTo(o object, fk, table, id string) bool {
	col := ""
	switch fk {
	case linkID:
		col = linkEntity
	case resourceID:
		col = resourceType
	default:
		return true
	}
	entity, _ := o[col].(string)
	if entity == "" || strings.EqualFold(entity, table) {
		return true
	}
	other := a.tabs[strings.ToLower(entity)]
	return other == nil || other.byID[id] == nil
}

// reportUnused reports the rows no kept record links to: a store keeps records,
// and these belong to none.
func (a *assembly) reportUnused() {
	for _, t := range tables {
		for _, r := range a.tabs[t.name].all() {
			if !r.used {
				a.im.report(t.name, idOf(r.o), "is linked to no service or organization in the package")
			}
		}
	}
}

// WriteDatapackage exports a dataset as an HSDS tabular data package of version
// ds.Version (3.0 when empty) into dir (created if missing): datapackage.json
// and a CSV file for every table of that version, with exactly its columns.
// Each record is written as WriteJSONAs writes it, one row per id: a record
// nested in several places (a phone of a service and of its location) is one
// row linking to all of them, and two copies that disagree fail the export.
func WriteDatapackage(ctx context.Context, dir string, ds *Dataset) error {
	e, err := newExporter(ctx, ds)
	if err != nil {
		return err
	}
	services, orgs, err := e.records(ctx)
	if err != nil {
		return err
	}
	k := &sink{ver: e.ver, rows: map[string][]object{}, byID: map[string]map[string]int{}}
	for _, s := range services {
		if err := k.flatten(byName["service"], s, link{}); err != nil {
			return err
		}
	}
	for _, o := range orgs {
		if err := k.flatten(byName["organization"], o, link{}); err != nil {
			return err
		}
	}
	return k.write(dir)
}

// link is how a row links to the record it is nested in.
type link struct {
	col, id, entityCol, entity string
}

// sink collects the rows of an export, one per id and table.
type sink struct {
	ver  Version
	rows map[string][]object
	byID map[string]map[string]int
}

// flatten writes a record and everything nested in it as rows.
func (k *sink) flatten(t *table, o object, l link) error {
	if !k.ver.has(t.since) {
		return nil
	}
	r := object{}
	for _, c := range t.columnsOf(k.ver) {
		if v, ok := o[c.name]; ok && v != nil && isScalar(v) {
			r[c.name] = v
		}
	}
	if l.col != "" {
		if _, ok := r[l.col]; !ok && l.id != "" {
			r[l.col] = l.id
		}
		if _, ok := r[l.entityCol]; !ok && l.entityCol != "" {
			r[l.entityCol] = l.entity
		}
	}
	id := idOf(o)
	for _, n := range t.nests {
		v, ok := o[n.key]
		if !ok || n.jsonOnly || !k.ver.has(n.since) {
			continue
		}
		child := byName[n.table]
		if !n.many {
			co, ok := v.(object)
			if !ok {
				continue
			}
			if _, has := r[n.fk]; !has && idOf(co) != "" {
				r[n.fk] = idOf(co)
			}
			if t.name == "service" && n.key == "organization" {
				continue // written from the dataset's organizations
			}
			if err := k.flatten(child, co, link{}); err != nil {
				return err
			}
			continue
		}
		list, _ := v.([]any)
		cl := link{col: n.fk, id: id}
		switch n.fk {
		case linkID:
			cl.entityCol, cl.entity = linkEntity, t.name
		case resourceID:
			cl.entityCol, cl.entity = resourceType, t.name
		}
		for _, e := range list {
			if eo, ok := e.(object); ok {
				if err := k.flatten(child, eo, cl); err != nil {
					return err
				}
			}
		}
	}
	return k.add(t, r)
}

// add files a row; a row with an id already filed fills that row's empty cells
// and must agree with the others.
func (k *sink) add(t *table, r object) error {
	id := idOf(r)
	if id == "" {
		k.rows[t.name] = append(k.rows[t.name], r)
		return nil
	}
	if k.byID[t.name] == nil {
		k.byID[t.name] = map[string]int{}
	}
	i, ok := k.byID[t.name][id]
	if !ok {
		k.byID[t.name][id] = len(k.rows[t.name])
		k.rows[t.name] = append(k.rows[t.name], r)
		return nil
	}
	prev := k.rows[t.name][i]
	for c, v := range r {
		pv, ok := prev[c]
		switch {
		case !ok:
			prev[c] = v
		case !sameScalar(pv, v):
			return referral.Invalid(t.name+" "+id, "appears more than once with different "+c+": a data package holds one row per id")
		}
	}
	return nil
}

// write writes the collected rows and datapackage.json.
func (k *sink) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dp := datapackage{Name: "refkit-hsds-export", Profile: "tabular-data-package", Version: string(k.ver) + ".0"}
	for _, t := range tables {
		if !k.ver.has(t.since) {
			continue
		}
		cols := t.columnsOf(k.ver)
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		cw.UseCRLF = true // RFC 4180, as the specification's examples are written
		header := make([]string, len(cols))
		fields := make([]resourceField, len(cols))
		for i, c := range cols {
			header[i], fields[i] = c.name, resourceField{Name: c.name, Type: c.typ}
		}
		if err := cw.Write(header); err != nil {
			return err
		}
		for _, r := range k.rows[t.name] {
			rec := make([]string, len(cols))
			for i, c := range cols {
				rec[i] = cell(r[c.name])
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, t.file), buf.Bytes(), 0o644); err != nil {
			return err
		}
		dp.Resources = append(dp.Resources, resource{
			Name: t.name, Path: t.file, Profile: "tabular-data-resource", Format: "csv", Mediatype: "text/csv",
			Schema: &resourceSchema{Fields: fields, PrimaryKey: "id", ForeignKeys: foreignKeys(cols)},
		})
	}
	b, err := json.MarshalIndent(dp, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "datapackage.json"), append(b, '\n'), 0o644)
}

// foreignKeys lists the columns that name a row of another table by its id.
func foreignKeys(cols []column) []foreignKey {
	var out []foreignKey
	for _, c := range cols {
		target, ok := strings.CutSuffix(c.name, "_id")
		if !ok || byName[target] == nil {
			continue
		}
		fk := foreignKey{Fields: c.name}
		fk.Reference.Resource, fk.Reference.Fields = target, "id"
		out = append(out, fk)
	}
	return out
}

// cell is a value as a CSV cell.
func cell(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func csvError(what string, err error) error {
	var pe *csv.ParseError
	switch {
	case errors.Is(err, errBudget):
		return referral.Invalid("datapackage", "is larger than the import's MaxBytes")
	case errors.As(err, &pe):
		return referral.Invalid(what, "is not valid CSV at line "+strconv.Itoa(pe.Line)+": "+pe.Err.Error())
	case errors.Is(err, io.EOF):
		return referral.Invalid(what, "is empty")
	}
	return referral.Invalid(what, "cannot be read: "+err.Error())
}
