package hsds

import "strings"

// Version is an HSDS version refkit reads and writes.
type Version string

// HSDS versions.
const (
	Version30 Version = "3.0"
	// Version31 adds service capacities with units, additional URLs of services
	// and organizations, service areas of a service_at_location, and attribute
	// labels.
	Version31 Version = "3.1"
)

func (v Version) valid() bool { return v == "" || v == Version30 || v == Version31 }

// has reports whether something introduced in since is part of version v.
func (v Version) has(since Version) bool { return since != Version31 || v == Version31 }

// orDefault is the version to write: 3.0 unless 3.1 is asked for.
func (v Version) orDefault() Version {
	if v == Version31 {
		return v
	}
	return Version30
}

// The structure of HSDS, as refkit needs it: every table of the tabular form
// (its resource name, file and columns, in the order of the specification's
// datapackage.json) and every key under which the JSON form nests one record in
// another. Both forms are derived from this one description, so they cannot
// disagree.

// column is one field of a table.
type column struct {
	name  string
	typ   string // the data package type: string, number, date, datetime, time
	since Version
}

// nest is a key under which a record nests others: many (an array whose rows
// name the parent in the column fk) or one (an object the parent names in its
// own column fk).
type nest struct {
	key   string
	table string
	many  bool
	fk    string
	since Version
	// jsonOnly marks the nestings only the JSON documents have (an
	// organization's services, a service_at_location's service): the tables
	// link those records the other way.
	jsonOnly bool
}

// table is one record type.
type table struct {
	name  string
	file  string
	since Version
	cols  []column
	nests []nest
}

// Columns link attributes and metadata to any record by id and type.
const (
	linkID       = "link_id"
	linkEntity   = "link_entity"
	resourceID   = "resource_id"
	resourceType = "resource_type"
)

func cols(spec string) []column {
	var out []column
	for _, f := range strings.Fields(spec) {
		c := column{name: f, typ: "string"}
		if name, typ, ok := strings.Cut(f, ":"); ok {
			c.name, c.typ = name, typ
		}
		if strings.HasSuffix(c.name, "+") {
			c.name, c.since = strings.TrimSuffix(c.name, "+"), Version31
		}
		out = append(out, c)
	}
	return out
}

// annotated returns the nests every record has: attributes and metadata.
func annotated(nests ...nest) []nest {
	return append(nests,
		nest{key: "attributes", table: "attribute", many: true, fk: linkID},
		nest{key: "metadata", table: "metadata", many: true, fk: resourceID})
}

// tables lists every HSDS table in the order of the specification's data
// package; a trailing + marks a column new in 3.1.
var tables = []*table{
	{name: "organization", file: "organizations.csv",
		cols: cols("id name alternate_name description email website tax_status tax_id year_incorporated:number legal_status logo uri parent_organization_id"),
		nests: annotated(
			nest{key: "additional_websites", table: "url", many: true, fk: "organization_id", since: Version31},
			nest{key: "funding", table: "funding", many: true, fk: "organization_id"},
			nest{key: "contacts", table: "contact", many: true, fk: "organization_id"},
			nest{key: "phones", table: "phone", many: true, fk: "organization_id"},
			nest{key: "locations", table: "location", many: true, fk: "organization_id"},
			nest{key: "programs", table: "program", many: true, fk: "organization_id"},
			nest{key: "organization_identifiers", table: "organization_identifier", many: true, fk: "organization_id"},
			nest{key: "services", table: "service", many: true, fk: "organization_id", jsonOnly: true})},
	{name: "program", file: "programs.csv", cols: cols("id organization_id name alternate_name description"), nests: annotated()},
	{name: "service", file: "services.csv",
		cols: cols("id organization_id program_id name alternate_name description url email status interpretation_services " +
			"application_process fees_description wait_time fees accreditations eligibility_description minimum_age:number " +
			"maximum_age:number assured_date:date assurer_email licenses alert last_modified:datetime"),
		nests: annotated(
			nest{key: "additional_urls", table: "url", many: true, fk: "service_id", since: Version31},
			nest{key: "phones", table: "phone", many: true, fk: "service_id"},
			nest{key: "schedules", table: "schedule", many: true, fk: "service_id"},
			nest{key: "service_areas", table: "service_area", many: true, fk: "service_id"},
			nest{key: "service_at_locations", table: "service_at_location", many: true, fk: "service_id"},
			nest{key: "languages", table: "language", many: true, fk: "service_id"},
			nest{key: "organization", table: "organization", fk: "organization_id"},
			nest{key: "funding", table: "funding", many: true, fk: "service_id"},
			nest{key: "cost_options", table: "cost_option", many: true, fk: "service_id"},
			nest{key: "program", table: "program", fk: "program_id"},
			nest{key: "required_documents", table: "required_document", many: true, fk: "service_id"},
			nest{key: "contacts", table: "contact", many: true, fk: "service_id"},
			nest{key: "capacities", table: "service_capacity", many: true, fk: "service_id", since: Version31})},
	{name: "attribute", file: "attributes.csv", cols: cols("id link_id taxonomy_term_id link_type link_entity value label+"),
		nests: []nest{{key: "taxonomy_term", table: "taxonomy_term", fk: "taxonomy_term_id"},
			{key: "metadata", table: "metadata", many: true, fk: resourceID}}},
	{name: "service_at_location", file: "service_at_location.csv", cols: cols("id service_id location_id description"),
		nests: annotated(
			nest{key: "service_areas", table: "service_area", many: true, fk: "service_at_location_id", since: Version31},
			nest{key: "contacts", table: "contact", many: true, fk: "service_at_location_id"},
			nest{key: "phones", table: "phone", many: true, fk: "service_at_location_id"},
			nest{key: "schedules", table: "schedule", many: true, fk: "service_at_location_id"},
			nest{key: "location", table: "location", fk: "location_id"},
			nest{key: "service", table: "service", fk: "service_id", jsonOnly: true})},
	{name: "location", file: "locations.csv",
		cols: cols("id location_type url organization_id name alternate_name description transportation latitude:number " +
			"longitude:number external_identifier external_identifier_type"),
		nests: annotated(
			nest{key: "languages", table: "language", many: true, fk: "location_id"},
			nest{key: "addresses", table: "address", many: true, fk: "location_id"},
			nest{key: "contacts", table: "contact", many: true, fk: "location_id"},
			nest{key: "accessibility", table: "accessibility", many: true, fk: "location_id"},
			nest{key: "phones", table: "phone", many: true, fk: "location_id"},
			nest{key: "schedules", table: "schedule", many: true, fk: "location_id"})},
	{name: "phone", file: "phones.csv",
		cols:  cols("id location_id service_id organization_id contact_id service_at_location_id number extension:number type description"),
		nests: annotated(nest{key: "languages", table: "language", many: true, fk: "phone_id"})},
	{name: "contact", file: "contacts.csv",
		cols:  cols("id organization_id service_id service_at_location_id location_id name title department email"),
		nests: annotated(nest{key: "phones", table: "phone", many: true, fk: "contact_id"})},
	{name: "address", file: "addresses.csv",
		cols:  cols("id location_id attention address_1 address_2 city region state_province postal_code country address_type"),
		nests: annotated()},
	{name: "schedule", file: "schedules.csv",
		cols: cols("id service_id location_id service_at_location_id valid_from:date valid_to:date dtstart:date timezone:number " +
			"until:date count:number wkst freq interval:number byday byweekno bymonthday byyearday description opens_at:time " +
			"closes_at:time schedule_link attending_type notes"),
		nests: annotated()},
	{name: "funding", file: "funding.csv", cols: cols("id organization_id service_id source"), nests: annotated()},
	{name: "service_area", file: "service_areas.csv",
		cols: cols("id service_id service_at_location_id+ name description extent extent_type uri"), nests: annotated()},
	{name: "required_document", file: "required_documents.csv", cols: cols("id service_id document uri"), nests: annotated()},
	{name: "language", file: "languages.csv", cols: cols("id service_id location_id phone_id name code note"), nests: annotated()},
	{name: "accessibility", file: "accessibility.csv", cols: cols("id location_id description details url"), nests: annotated()},
	{name: "taxonomy_term", file: "taxonomy_terms.csv",
		cols: cols("id code name description parent_id taxonomy language taxonomy_id term_uri"),
		nests: []nest{{key: "taxonomy_detail", table: "taxonomy", fk: "taxonomy_id"},
			{key: "metadata", table: "metadata", many: true, fk: resourceID}}},
	{name: "metadata", file: "metadata.csv",
		cols: cols("id resource_id resource_type last_action_date:date last_action_type field_name previous_value replacement_value updated_by")},
	{name: "meta_table_description", file: "meta_table_descriptions.csv", cols: cols("id name language character_set"), nests: annotated()},
	{name: "cost_option", file: "cost_options.csv",
		cols:  cols("id service_id valid_from:date valid_to:date option currency amount:number amount_description"),
		nests: annotated()},
	{name: "organization_identifier", file: "organization_identifiers.csv",
		cols: cols("id organization_id identifier_scheme identifier_type identifier"), nests: annotated()},
	{name: "taxonomy", file: "taxonomies.csv", cols: cols("id name description uri version"),
		nests: []nest{{key: "metadata", table: "metadata", many: true, fk: resourceID}}},
	{name: "service_capacity", file: "service_capacity.csv", since: Version31,
		cols:  cols("id service_id unit_id available:number maximum:number description updated:datetime"),
		nests: annotated(nest{key: "unit", table: "unit", fk: "unit_id"})},
	{name: "unit", file: "units.csv", since: Version31, cols: cols("id name scheme identifier uri"), nests: annotated()},
	{name: "url", file: "url.csv", since: Version31, cols: cols("id label url organization_id service_id"), nests: annotated()},
}

// byName indexes tables by record type.
var byName = func() map[string]*table {
	m := make(map[string]*table, len(tables))
	for _, t := range tables {
		m[t.name] = t
	}
	return m
}()

// nestOf returns the nest of t under key, if any.
func (t *table) nestOf(key string) (nest, bool) {
	for _, n := range t.nests {
		if n.key == key {
			return n, true
		}
	}
	return nest{}, false
}

// column returns t's column name, if any.
func (t *table) column(name string) (column, bool) {
	for _, c := range t.cols {
		if c.name == name {
			return c, true
		}
	}
	return column{}, false
}

// columnsOf returns t's columns in version v.
func (t *table) columnsOf(v Version) []column {
	out := make([]column, 0, len(t.cols))
	for _, c := range t.cols {
		if v.has(c.since) {
			out = append(out, c)
		}
	}
	return out
}

// tableOf names the table a data package resource holds, from its name or file
// name: the specification's names, and the plural file names refkit wrote
// before ("service_at_locations.csv").
func tableOf(name string) string {
	n := strings.ToLower(strings.TrimSuffix(name[strings.LastIndex(name, "/")+1:], ".csv"))
	for _, t := range tables {
		if n == t.name || n == strings.TrimSuffix(t.file, ".csv") || n == t.name+"s" {
			return t.name
		}
	}
	return ""
}
