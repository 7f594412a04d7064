package hsds

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/referral"
)

// Options control an import.
type Options struct {
	// Network is the network every imported record belongs to (required).
	Network referral.ID
	// Taxonomy maps taxonomy terms to SDOH domains; nil uses OpenEligibility().
	Taxonomy *TaxonomyMap
	// Strict aborts the import at the first problem, with it as the error.
	Strict bool
	// AgeRule writes minimum_age and maximum_age into the eligibility rule instead
	// of Service.MinimumAge and MaximumAge (the HSDS fields are then not kept).
	AgeRule bool
	// MaxBytes bounds what an import reads: the JSON document, or the data
	// package's files together. 0 means DefaultMaxBytes.
	MaxBytes int64
	// TracerProvider receives a span per import (see the package doc's
	// Telemetry); nil means the OpenTelemetry global provider, which records
	// nothing until the host installs one.
	TracerProvider trace.TracerProvider
	// MeterProvider receives the import metrics; nil means the
	// OpenTelemetry global provider.
	MeterProvider metric.MeterProvider
}

// DefaultMaxBytes is the default bound on what an import reads.
const DefaultMaxBytes = 256 << 20

func (o Options) validate() error {
	if o.MaxBytes < 0 {
		return referral.Invalid("max_bytes", "must not be negative")
	}
	return o.Network.Require("network_id")
}

func (o Options) maxBytes() int64 {
	if o.MaxBytes == 0 {
		return DefaultMaxBytes
	}
	return o.MaxBytes
}

func (o Options) taxonomy() *TaxonomyMap {
	if o.Taxonomy != nil {
		return o.Taxonomy
	}
	return OpenEligibility()
}

// Dataset is an imported directory, or one to export.
type Dataset struct {
	// Version is the HSDS version the dataset was read as (3.1 when the feed
	// uses a field only 3.1 has) and the one the writers write; empty is 3.0.
	Version       Version                 `json:"version,omitempty"`
	Organizations []referral.Organization `json:"organizations"`
	Services      []referral.Service      `json:"services"`
	// Problems lists every record that could not be mapped, or was kept with
	// something refkit cannot use, in the order found.
	Problems []Problem `json:"problems,omitempty"`
	// Sources maps each ID derived from an HSDS id that was not a UUIDv7 to that
	// id as given. The records carry the same in their SourceID fields, which
	// writers prefer; Sources serves exports of records that lack them.
	Sources map[referral.ID]string `json:"sources,omitempty"`
	// Viewer is who the writers write for. What the records keep confidential
	// (a confidential location's addresses, coordinates, directions and
	// external identifier; confidential phones and contacts: see
	// referral.Location.Confidential) is written only for the organizations
	// that disclose to Viewer (referral.Organization.Discloses), so nil, the
	// public, gets none of it: its locations are written without them, still
	// marked with refkit's "confidential" attribute. An export that must keep
	// everything (a backup, a move to another system) names a system actor of
	// the network. Viewer is never read from or written to JSON.
	Viewer *referral.Actor `json:"-"`
	// lastModified makes the writers write a service's Updated time as its
	// last_modified, as the HSDS API does (modified_after filters on it).
	lastModified bool
}

// Problem is one HSDS record that could not be mapped, or was imported with
// something refkit cannot use (Kept). It is also the error a strict import
// returns.
type Problem struct {
	// Record is the HSDS record type: service, organization, location,
	// service_at_location, service_area, schedule, language, attribute, address,
	// taxonomy_term, phone, ...
	Record string `json:"record"`
	// ID is the record's HSDS id as given; empty when the record has none.
	ID string `json:"id,omitempty"`
	// Reason says what is wrong, without the offending value.
	Reason string `json:"reason"`
	// Kept is set when the record was imported all the same: kept as given
	// beside the refkit record, or imported but unmatchable until fixed.
	Kept bool `json:"kept,omitempty"`
}

func (p *Problem) Error() string {
	id := p.ID
	if id == "" {
		id = "(no id)"
	}
	what := "not imported"
	if p.Kept {
		what = "imported with a problem"
	}
	return fmt.Sprintf("refkit: invalid input: hsds %s %s %s: %s", p.Record, id, what, p.Reason)
}

// Unwrap makes errors.Is(err, referral.ErrInvalid) hold.
func (p *Problem) Unwrap() error { return referral.ErrInvalid }

// RuleTaxonomy names refkit's own taxonomy, whose terms carry what HSDS has no
// field for: "eligibility-rule" (an attribute of a service whose value is its
// eligibility rule), "closed" (an attribute marking a schedule as a closure),
// "waitlist" (an attribute of a service_capacity whose value is the waitlist
// room) and "confidential" (an attribute marking a location, phone or contact
// confidential: see referral.Location.Confidential).
const RuleTaxonomy = "https://refkit.dev/hsds/taxonomy"

// Codes of refkit's own taxonomy terms.
const (
	ruleCode         = "eligibility-rule"
	closedCode       = "closed"
	waitlistCode     = "waitlist"
	confidentialCode = "confidential"
)

var ownTerms = map[string][2]string{
	ruleCode:     {"Eligibility rule", "A refkit eligibility rule: an expr expression over the person's facts, in the attribute value"},
	closedCode:   {"Closed", "The schedule lists closures: the service is closed whenever it occurs"},
	waitlistCode: {"Waitlist", "How many more people the service will waitlist once its capacity is taken, in the attribute value"},
	confidentialCode: {"Confidential", "Shown only to those the organization discloses to: a location's address and exact position, " +
		"or a phone or contact; others are served the record without them"},
}

// ownAttribute is an attribute of refkit's own term with code, as the writers
// add it to a record.
func ownAttribute(code string) object {
	t := ownTerm(code)
	return object{"taxonomy_term_id": t["id"], "taxonomy_term": t}
}

// ownFlag reports whether a record's attributes hold refkit's own term with
// code, and marks them consumed: the writers write them again.
func (im *importer) ownFlag(r reader, code string) bool {
	found := false
	for _, a := range r.objects("attributes") {
		if t := im.termOf(a); t != nil && isOwnTerm(t, code) {
			found = true
			a[consumedKey] = true
		}
	}
	return found
}

// ownTerm is refkit's taxonomy term with code.
func ownTerm(code string) object {
	t := ownTerms[code]
	return object{
		"id":   derive(referral.NilID, "taxonomy_term", RuleTaxonomy+"|"+code).String(),
		"code": code, "name": t[0], "description": t[1], "taxonomy": RuleTaxonomy,
	}
}

// domainTerm is the taxonomy term refkit writes for a domain: its code in its code
// system, which the importer maps back to the domain without a TaxonomyMap.
func domainTerm(d referral.Domain) object {
	info, _ := referral.LookupDomain(d)
	return object{
		"id":   derive(referral.NilID, "taxonomy_term", info.System+"|"+string(d)).String(),
		"code": string(d), "name": info.Display, "description": info.Display + " (SDOH domain)", "taxonomy": info.System,
	}
}

func itoa(v int) string { return strconv.Itoa(v) }

func jsonNumber(s string) json.Number { return json.Number(s) }

// Load writes an imported dataset into network's directory in store, through
// directory.Load: idempotent (the same dataset twice writes nothing the second
// time), reporting what it added, updated, left alone and removed, keeping
// what the store knows and the feed does not (live capacities, access grants,
// confidential marks). With opts.Partial the dataset is taken as the records
// changed since the last sync (a feed fetched with modified_after), and
// nothing is removed. The dataset's records must all be of network.
func Load(ctx context.Context, store directory.Loader, network referral.ID, ds *Dataset, opts directory.LoadOptions) (directory.Report, error) {
	ctx, obs := newTel(opts.TracerProvider, opts.MeterProvider).begin(ctx, formatDataset, network)
	if ds == nil {
		err := referral.Invalid("dataset", "is required")
		obs.end(ctx, nil, err)
		return directory.Report{}, err
	}
	rep, err := directory.Load(ctx, store, network, directory.Records{Organizations: ds.Organizations, Services: ds.Services}, opts)
	obs.end(ctx, ds, err)
	return rep, err
}
