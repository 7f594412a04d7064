package hsds

import (
	"fmt"

	"github.com/refkit/refkit/referral"
)

// Options control an import.
type Options struct {
	// Network is the network every imported record belongs to (required).
	Network referral.ID
	// Taxonomy maps taxonomy terms to SDOH domains; nil uses OpenEligibility().
	Taxonomy *TaxonomyMap
	// Strict aborts the import at the first record that cannot be mapped.
	Strict bool
	// AgeRule writes minimum_age and maximum_age into the eligibility rule instead
	// of Service.MinimumAge and MaximumAge.
	AgeRule bool
}

func (o Options) validate() error { return o.Network.Require("network_id") }

func (o Options) taxonomy() *TaxonomyMap {
	if o.Taxonomy != nil {
		return o.Taxonomy
	}
	return OpenEligibility()
}

// Dataset is an imported directory, or one to export.
type Dataset struct {
	Organizations []referral.Organization `json:"organizations"`
	Services      []referral.Service      `json:"services"`
	// Problems lists every record that could not be mapped, in the order found.
	Problems []Problem `json:"problems,omitempty"`
	// Sources maps each ID derived from an HSDS id that was not a UUIDv7 to that id
	// as given, so an export can write the original ids again.
	Sources map[referral.ID]string `json:"sources,omitempty"`
}

// Problem is one HSDS record that could not be mapped and was left out of the
// import. It is also the error a strict import returns.
type Problem struct {
	// Record is the HSDS record type: service, organization, location,
	// service_at_location, service_area, schedule, language, attribute, address,
	// taxonomy_term, phone.
	Record string `json:"record"`
	// ID is the record's HSDS id as given; empty when the record has none.
	ID string `json:"id,omitempty"`
	// Reason says what is wrong, without the offending value.
	Reason string `json:"reason"`
}

func (p *Problem) Error() string {
	id := p.ID
	if id == "" {
		id = "(no id)"
	}
	return fmt.Sprintf("refkit: invalid input: hsds %s %s not imported: %s", p.Record, id, p.Reason)
}

// Unwrap makes errors.Is(err, referral.ErrInvalid) hold.
func (p *Problem) Unwrap() error { return referral.ErrInvalid }

// RuleTaxonomy names the taxonomy of the attribute that carries a refkit
// eligibility rule (term code "eligibility-rule", rule text in the value).
const RuleTaxonomy = "https://refkit.dev/hsds/taxonomy"

const ruleCode = "eligibility-rule"
