// Package hsds reads and writes Open Referral Human Services Data Specification
// (HSDS) 3.0 directories as refkit services, locations and organizations.
//
// Two shapes are read and written: the JSON API shape (a list of services, each
// with its organization, service_at_locations and locations, service_areas,
// languages, schedules and attributes nested in it; ReadJSON, WriteJSON) and the
// tabular data package (datapackage.json beside services.csv, organizations.csv,
// locations.csv, service_at_locations.csv, addresses.csv, schedules.csv,
// service_areas.csv, languages.csv, attributes.csv, taxonomy_terms.csv and
// phones.csv; ReadDatapackage, WriteDatapackage). Both shapes go through the same
// mapping, so one dataset imports to the same records whichever shape carries it.
//
// # Mapping
//
//   - Identifiers: refkit IDs are UUIDv7. An HSDS id that is already a UUIDv7 is
//     kept; any other id (UUIDv4, a number, a slug) is mapped to a UUIDv7-shaped ID
//     derived from the network, the record type and the id, so a re-import of the
//     same dataset yields the same IDs. Dataset.Sources keeps the ids as given, and
//     the writers put them back.
//   - Domains: every attribute's taxonomy term is looked up in a TaxonomyMap (the
//     host's, or OpenEligibility by default), walking up parent terms; a term whose
//     taxonomy is the code system of a registered domain (referral.SystemSDOHCC,
//     referral.SystemRefkit, a host's) and whose code is that domain maps to it
//     directly, which is how exported services come back. A service no term maps
//     to an SDOH domain is not imported: matching could never find it.
//   - Ages: minimum_age and maximum_age become Service.MinimumAge/MaximumAge, which
//     matching enforces natively before any rule runs; with Options.AgeRule they
//     become an eligibility expression instead ("age >= 18 && age <= 64").
//   - Eligibility rules: HSDS has no structured eligibility, so refkit carries its
//     expr rule as an attribute whose taxonomy term is RuleTaxonomy/"eligibility-rule"
//     and whose value is the rule text. Imported rules are checked with
//     matching.CheckRule.
//   - Locations: physical locations need valid latitude and longitude; a virtual
//     location becomes a virtual service area; postal locations are not places of
//     service and are reported. The location's physical address becomes its Address.
//   - Service areas: HSDS describes areas as free text or an extent. A geojson
//     extent holding a Polygon becomes a polygon area; a text extent of the form
//     "county:Travis,Hays", "zip:78701,78702", "state:TX" or "virtual" becomes that
//     kind of area. Anything else is reported.
//   - Schedules: weekly schedules (freq WEEKLY or empty, interval 1 or empty,
//     plain two-letter byday codes) with opens_at and closes_at become open hours.
//     HSDS gives the time zone as a whole-hour UTC offset (the timezone field or a
//     suffix on the times); it maps to the fixed IANA zone Etc/GMT∓N. A service's
//     own schedules are used; without any, those of its service_at_locations, then
//     those of its locations. Monthly or other schedules are reported.
//   - Languages: the language code (ISO 639) becomes a BCP 47 tag. A service
//     without languages of its own takes those of its locations.
//   - Organizations: one phone number is kept, the organization's first. An
//     organization nested in several services is read from its first copy.
//
// # Problems
//
// Import is lenient by default: a record that cannot be mapped is left out and
// reported as a Problem (record type, HSDS id, reason), and the rest is imported. With Options.Strict the first problem aborts the import. A file
// that is not well-formed JSON or CSV cannot be read record by record and fails
// the import in either mode. Every error wraps referral.ErrInvalid; none carries
// a field's value.
//
// # Dependencies
//
// Outside the standard library, hsds imports nothing itself; through matching
// (rule checks) and referral it links github.com/expr-lang/expr,
// github.com/uber/h3-go/v4 (cgo) and github.com/google/uuid.
package hsds
