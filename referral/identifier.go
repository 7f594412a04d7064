package referral

// Identifier is an identifier a record has in another system: a medical record
// number, an NPI, a tax id (FHIR Identifier, HSDS organization identifier).
type Identifier struct {
	// System is the namespace the value is unique in, an absolute URI such as
	// http://hl7.org/fhir/sid/us-npi.
	System string `json:"system"`
	// Value is the identifier itself.
	Value string `json:"value"`
	// Type says what kind of identifier it is, as an HL7 v2 table 0203 code
	// ("MR", "NPI", "TAX") where one fits; empty when not known.
	Type string `json:"type"`
}
