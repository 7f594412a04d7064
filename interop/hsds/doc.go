// Package hsds reads and writes Open Referral Human Services Data Specification
// (HSDS) 3.0 and 3.1 directories as refkit organizations, services and their
// locations, losing nothing the specification carries.
//
// Two forms are read and written. The JSON form is what the HSDS API serves: a
// page of services (each with its organization, service_at_locations and their
// locations, and everything else nested), of organizations (each with its
// services) or of service_at_locations (each with its location and service);
// ReadJSON reads any of them, WriteJSON and WriteJSONAs write the one asked for.
// The tabular form is a data package: datapackage.json beside one CSV file per
// table (ReadDatapackage, WriteDatapackage). Both forms are derived from one
// description of the specification's tables, columns and nestings, and go
// through the same mapping, so a directory imports to the same records from
// either, and writes back to either.
//
// # Lossless
//
// A record is mapped in two parts. What refkit uses is read into typed fields of
// the referral records: names and descriptions, status, age limits, domains,
// languages, phones, contacts, physical and postal addresses, accessibility,
// cost options, required documents, organization identifiers, schedules,
// service areas, the 3.1 capacity, and the id of every sub-record. Whatever
// those fields cannot reproduce exactly (programs, funding, metadata,
// attributes and their taxonomy terms, link columns, fields of no table, values
// refkit could not read) is kept, as JSON, in the record's HSDS field
// (referral.Service.HSDS, referral.Organization.HSDS), so a store keeps it with
// the record. The writers write the typed fields and merge the kept part back:
// the typed fields win, so an edited record is written as it is now, and a
// removed phone or language loses what was kept of it.
//
// Measured on the specification's examples (branch 3.0 and 3.1-dev, with and
// without their placeholder coordinates made real), an import followed by an
// export keeps every leaf value: service_full.json 349 of 349 in 3.0 (372 of 372
// in 3.1), organization_full.json and service_at_location_full.json alike, and
// the list examples; every export validates against the compiled schemas. The
// tabular example keeps every cell of every row that belongs to a record (150
// of 183 cells in 3.0): its attribute, metadata and taxonomy rows name ids that
// exist nowhere in it, and meta_table_descriptions describe the dataset, not a
// record, so they are reported and not kept. refkit's own full-coverage
// fixtures, which fill every column of both versions, keep every leaf and cell
// in both forms (see the tests). Not kept: JSON null and empty arrays (the
// tabular form cannot tell them from absent fields); spaces around the items of
// byday and the other day lists.
//
// # Mapping
//
//   - Identifiers: refkit IDs are UUIDv7. An HSDS id that is already a UUIDv7 is
//     kept; any other id (UUIDv4, a number, a slug) is mapped to a UUIDv7-shaped ID
//     derived from the network, the record type and the id, so a re-import of the
//     same dataset yields the same IDs, and kept as the record's SourceID, which
//     the writers write back. Sub-records keep their ids as given; the writers
//     give one to a sub-record that has none, derived from what it holds.
//   - Domains: every attribute's taxonomy term is looked up in a TaxonomyMap (the
//     host's, or OpenEligibility by default), walking up parent terms; a term whose
//     taxonomy is the code system of a registered domain (referral.SystemSDOHCC,
//     referral.SystemRefkit, a host's) and whose code is that domain maps to it
//     directly. The attributes themselves are kept as given; the writers add one
//     attribute of refkit's term per domain no kept attribute names by its code.
//   - Ages: minimum_age and maximum_age become Service.MinimumAge/MaximumAge, which
//     matching enforces natively before any rule runs; with Options.AgeRule they
//     become an eligibility expression instead ("age >= 18 && age <= 64").
//   - Eligibility rules, closures and waitlists have no HSDS field: refkit writes
//     them as attributes of its own taxonomy (RuleTaxonomy): a service's rule in
//     the value of an "eligibility-rule" attribute (checked with
//     matching.CheckRule), a schedule that lists closures with a "closed"
//     attribute, a capacity's waitlist in the value of a "waitlist" attribute.
//   - Locations: a service_at_location and its location become one
//     referral.Location: the location's fields, its own schedules, languages and
//     phones, and the service_at_location's id, schedules and (3.1) service areas.
//     Every location type is kept; matching measures distances to physical
//     locations with coordinates and treats a virtual location as serving
//     anywhere. Languages and hours of a service without its own are those of its
//     locations (matching reads them so).
//   - Service areas: a geojson extent holding a Polygon becomes a polygon area; a
//     text extent "county:Travis,Hays", "zip:78701,78702", "state:TX" or "virtual"
//     becomes that kind of area. Any other area is kept with no kind, shown but
//     never matched. The extent is written back as it was read while it still
//     says the same.
//   - Schedules: every field is kept as written and evaluated in full (see
//     referral.Schedule): freq, interval, byday with ordinals, bymonthday,
//     byweekno, byyearday, wkst, dtstart, until, count, valid_from/valid_to and
//     the opening window. HSDS gives the time zone as a UTC offset in hours: a
//     whole-hour offset reads as the fixed IANA zone Etc/GMT∓N, another as
//     "±HH:MM"; the writers write a zone with daylight saving time with its
//     standard offset. HSDS 3.0 has no structured closures or holidays (only
//     description and notes in words, and valid_from/valid_to); refkit's
//     closures are schedules marked Closed (see above).
//   - Capacity (3.1 service_capacity): the first capacity with a whole number
//     available becomes Service.Capacity: available is Available, maximum is
//     Maximum, unit is Unit (nil means places for people), updated is Updated.
//     Other capacities are kept. A 3.0 export leaves capacities out.
//   - Organizations: phones, contacts and organization_identifiers are typed
//     (Organization.Phone is the first number); an organization nested in
//     several services is read from its first copy, and a later copy that
//     differs is reported.
//
// # Versions
//
// A feed is read as 3.1 when it holds anything only 3.1 has (a capacity, an
// additional URL or website, an attribute label, a service_at_location's
// service areas), else as 3.0; Dataset.Version says which, and the writers
// write Dataset.Version. Writing 3.0 leaves out what only 3.1 has and moves
// service_at_location service areas to the service. The tabular writer writes
// exactly the tables and columns of the version's datapackage.json; the reader
// also accepts the plural file names refkit wrote before.
//
// # Into a store
//
// Load writes an imported dataset into a network's directory in a store
// (directory.Load): idempotent, reporting what it added, updated, left alone
// and removed; with directory.LoadOptions.Partial, the records changed since
// the last sync (a feed fetched with modified_after) are added and updated and
// nothing is removed. Every write reaches the directory feed, which keeps each
// directory.Index current: a host imports once.
//
// # Confidential locations
//
// A location, phone or contact refkit keeps confidential
// (referral.Location.Confidential, Phone.Confidential, Contact.Confidential)
// carries an attribute of refkit's own term "confidential" in HSDS, so a feed
// refkit writes reads back with the marks. The writers write the confidential
// parts only for organizations that disclose to Dataset.Viewer
// (referral.Organization.Discloses): for anyone else, the public by default,
// a confidential location is written with its id, type, name, description and
// hours but without its addresses, coordinates, directions and external
// identifier (removed from what the record kept of its source too), and
// confidential phones and contacts are left out. HSDS 3.1-dev has no field
// for this; a proposal on the specification's branch
// feature-redacted-location-type adds a location_type "redacted", which
// refkit does not write because the schemas it validates against refuse it.
//
// # The HSDS API
//
// NewAPI serves the HSDS 3.1 API, read-only, for one network, from a
// directory.Catalog the host keeps current: GET /, /services and
// /services/{id}, /organizations and /organizations/{id},
// /service_at_locations and /service_at_locations/{id}, /taxonomies and
// /taxonomies/{id}, /taxonomy_terms and /taxonomy_terms/{id}, every listing
// also by POST. Listings page with HSDS's envelope (page, per_page, bounded
// by APIOptions.MaxPerPage), filter by organization, taxonomy term, taxonomy
// and modified_after (each service's Updated time, written as its
// last_modified), search names and descriptions, and answer in part
// (one-to-one fields, minimal) or whole (full, full_service). Bad input is an
// RFC 9457 problem that never quotes it. APIOptions.Authenticate is the seam
// between the host's authentication and refkit: it turns a request into a
// referral.Actor (or nil, the public), and what each answer shows of
// confidential records follows that actor; searches and filters never read
// what the actor may not see. The handler passes the checks of the
// specification's own OpenAPI document (schema/openapi.json of branch
// 3.1-dev, with kin-openapi; see TestAPIOpenAPI), but for
// /service_at_locations/{id}, whose document names the service schema: the
// handler returns the service_at_location it describes.
//
// # Problems
//
// Import is lenient by default. A record refkit can use only in part is imported
// and reported (Problem.Kept): a location without usable coordinates (kept with
// Location.Unplaced), a service no term maps to a domain or with nowhere to be
// found (imported; referral.Service.Unmatchable says why, and matching never
// offers it until it is fixed), a schedule refkit cannot read or evaluate (kept;
// its hours are unknown, never guessed), an area it cannot read, a field of the
// wrong type (kept as given). A record that would be wrong to import (a service
// without a status or with impossible ages, an unknown organization, a rule
// that does not compile) is left out and reported. With Options.Strict the
// first problem aborts the import. A file that is not well-formed JSON or CSV,
// larger than Options.MaxBytes, nested deeper than HSDS records are, or whose
// rows nest into far more records than they hold, fails the import. Every
// error wraps referral.ErrInvalid; none carries a field's value.
//
// # Telemetry
//
// The package instruments itself through the OpenTelemetry API (no SDK: the
// host chooses and installs one). ReadJSON and ReadDatapackage report to their
// Options' TracerProvider and MeterProvider, Load to its
// directory.LoadOptions';
// nil means the OpenTelemetry global providers, which record nothing until
// the host installs an SDK; with nothing installed, or a no-op provider, an
// instrumented call costs an atomic load and a comparison more and allocates
// nothing more (BENCHMARKS.md). Failures are marked with error.type, the name
// of the refkit sentinel the error wraps (not_found, conflict, invalid,
// unavailable, ...), never with the error's text.
//
// Spans: "hsds read" per ReadJSON and ReadDatapackage and "hsds load" per
// Load (whose "directory load" is its child), with refkit.hsds.format (json,
// datapackage, dataset), refkit.network.id, and the counts
// refkit.hsds.organizations, .services and .problems, and refkit.hsds.version.
// No record's text is an attribute.
//
//	metric               unit      kind       attributes
//	refkit.hsds.imports  {import}  counter    refkit.hsds.format, error.type
//	refkit.hsds.records  {record}  counter    refkit.hsds.record (organization, service, problem), of reads
//	refkit.hsds.duration s         histogram  refkit.hsds.format, error.type
//
// # Dependencies
//
// Outside the standard library, hsds imports only the OpenTelemetry API (go.opentelemetry.io/otel,
// go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace);
// through matching (rule checks), directory and referral it also links
// github.com/expr-lang/expr, github.com/uber/h3-go/v4 (cgo) and
// github.com/google/uuid; only its tests use the OpenAPI validator
// (kin-openapi) and the OpenTelemetry SDK.
package hsds
