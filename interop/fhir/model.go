package fhir

import (
	"encoding/json"

	"github.com/refkit/refkit/internal/strictjson"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
)

// Profiles of the SDOH Clinical Care IG (STU 2.3, and the STU3 ballot for the
// enrollment and capacity profiles) and US Core 7 that exported resources
// claim.
const (
	ProfileServiceRequest = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ServiceRequest"
	ProfileTask           = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-TaskForReferralManagement"
	ProfileConsent        = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-Consent"
	ProfileProcedure      = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-Procedure"
	// ProfileEnrollment is the STU3 ballot's program enrollment status
	// Observation (input/fsh/profiles/SDOHCCObservationEnrollmentStatus.fsh).
	ProfileEnrollment = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ObservationProgramEnrollmentStatus"
	// ProfileHealthcareService is the STU3 ballot's HealthcareService for
	// referral management, which carries a service's capacity status.
	ProfileHealthcareService = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-HealthcareServiceForReferralManagement"
	ProfilePatient           = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
	ProfileOrganization      = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-organization"
)

// Code systems and codes exported resources use.
const (
	// SystemSDOHCC holds the SDOH categories, the output types
	// resulting-activity and additional-content, the enrollment statuses and
	// the capacity statuses.
	SystemSDOHCC = referral.SystemSDOHCC
	// SystemTaskCode holds "fulfill", the code of every referral Task.
	SystemTaskCode = "http://hl7.org/fhir/CodeSystem/task-code"
	// SystemSNOMED is SNOMED CT; the ServiceRequest code is 3457005 "Patient
	// referral", and completed referrals' procedures are SNOMED CT procedures.
	SystemSNOMED = "http://snomed.info/sct"
	// SystemUSCoreCategory holds "sdoh".
	SystemUSCoreCategory = screening.SystemUSCoreCategory
	// SystemReason holds refkit's reason codes (lifecycle.Codes): Task.statusReason.
	SystemReason = "https://refkit.dev/fhir/CodeSystem/reason"
	// SystemBusinessStatus holds refkit's business statuses
	// (referral.BusinessStatus): Task.businessStatus.
	SystemBusinessStatus = "https://refkit.dev/fhir/CodeSystem/business-status"
	// SystemOutcome holds refkit's outcome codes, which a completed Task
	// carries in an output of type OutputOutcome beside the IG's outputs.
	SystemOutcome = "https://refkit.dev/fhir/CodeSystem/outcome"
	// SystemOutputType holds "outcome", the type of that output.
	SystemOutputType = "https://refkit.dev/fhir/CodeSystem/output-type"
	// SystemRFC3986 is the identifier system of a URI value: refkit identifies
	// every resource it exports as urn:uuid:<uuid> under it.
	SystemRFC3986 = "urn:ietf:rfc:3986"

	systemActCode        = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	systemConsentScope   = "http://terminology.hl7.org/CodeSystem/consentscope"
	systemConsentAction  = "http://terminology.hl7.org/CodeSystem/consentaction"
	systemParticipation  = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	systemIdentifierType = "http://terminology.hl7.org/CodeSystem/v2-0203"
	systemContactPoint   = "http://hl7.org/fhir/contact-point-system"
	urlDataAbsentReason  = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
	urlCapacityStatus    = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ExtensionHealthcareServiceCapacityStatus"

	codeReferral          = "3457005"
	codeSocialService     = "410606002"
	codeFulfill           = "fulfill"
	codeResultingActivity = "resulting-activity"
	codeAdditionalContent = "additional-content"
	codeProgramEnrollment = "program-enrollment"
	// OutputOutcome is the code (in SystemOutputType) of the output that
	// carries refkit's outcome code.
	OutputOutcome = "outcome"
)

// Coding, CodeableConcept, Reference, Observation, QuestionnaireResponse,
// Meta, Narrative, Identifier and Annotation are the FHIR types package
// screening already models; the exchange uses them as they are.
type (
	Coding                = screening.Coding
	CodeableConcept       = screening.CodeableConcept
	Reference             = screening.Reference
	Observation           = screening.Observation
	QuestionnaireResponse = screening.QuestionnaireResponse
	Meta                  = screening.Meta
	Narrative             = screening.Narrative
	Identifier            = screening.Identifier
	Annotation            = screening.Annotation
)

// Period is a FHIR Period.
type Period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// Extension is a FHIR extension: a URL and one value, or nested extensions.
type Extension struct {
	URL                  string           `json:"url"`
	ValueCode            string           `json:"valueCode,omitempty"`
	ValueString          string           `json:"valueString,omitempty"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	Extension            []Extension      `json:"extension,omitempty"`
}

// ContactPoint is a FHIR ContactPoint.
type ContactPoint struct {
	System string `json:"system"`
	Value  string `json:"value"`
	Use    string `json:"use,omitempty"`
}

// ServiceRequest is the SDOHCC ServiceRequest for a referral.
type ServiceRequest struct {
	ResourceType    string            `json:"resourceType"`
	ID              string            `json:"id,omitempty"`
	Meta            *Meta             `json:"meta,omitempty"`
	Text            *Narrative        `json:"text,omitempty"`
	Identifier      []Identifier      `json:"identifier,omitempty"`
	Status          string            `json:"status"`
	Intent          string            `json:"intent"`
	Category        []CodeableConcept `json:"category,omitempty"`
	Priority        string            `json:"priority,omitempty"`
	Code            *CodeableConcept  `json:"code,omitempty"`
	Subject         *Reference        `json:"subject,omitempty"`
	AuthoredOn      string            `json:"authoredOn,omitempty"`
	Requester       *Reference        `json:"requester,omitempty"`
	Performer       []Reference       `json:"performer,omitempty"`
	ReasonReference []Reference       `json:"reasonReference,omitempty"`
	SupportingInfo  []Reference       `json:"supportingInfo,omitempty"`
}

// Task is the SDOHCC TaskForReferralManagement that tracks a referral.
type Task struct {
	ResourceType   string           `json:"resourceType"`
	ID             string           `json:"id,omitempty"`
	Meta           *Meta            `json:"meta,omitempty"`
	Text           *Narrative       `json:"text,omitempty"`
	Identifier     []Identifier     `json:"identifier,omitempty"`
	Status         string           `json:"status"`
	StatusReason   *CodeableConcept `json:"statusReason,omitempty"`
	BusinessStatus *CodeableConcept `json:"businessStatus,omitempty"`
	Intent         string           `json:"intent"`
	Priority       string           `json:"priority,omitempty"`
	Code           *CodeableConcept `json:"code,omitempty"`
	Focus          *Reference       `json:"focus,omitempty"`
	For            *Reference       `json:"for,omitempty"`
	AuthoredOn     string           `json:"authoredOn,omitempty"`
	LastModified   string           `json:"lastModified,omitempty"`
	Requester      *Reference       `json:"requester,omitempty"`
	Owner          *Reference       `json:"owner,omitempty"`
	Output         []TaskOutput     `json:"output,omitempty"`
}

// TaskOutput is one Task.output. A completed referral's outputs are the IG's
// (type resulting-activity: a Procedure reference and its code; type
// additional-content: an enrollment Observation) and refkit's outcome code
// (type OutputOutcome).
type TaskOutput struct {
	Type                 CodeableConcept  `json:"type"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	ValueReference       *Reference       `json:"valueReference,omitempty"`
}

// Consent is the SDOHCC Consent recording that the person allowed their
// information to be shared with the receiving organization.
type Consent struct {
	ResourceType     string            `json:"resourceType"`
	ID               string            `json:"id,omitempty"`
	Meta             *Meta             `json:"meta,omitempty"`
	Text             *Narrative        `json:"text,omitempty"`
	Identifier       []Identifier      `json:"identifier,omitempty"`
	Status           string            `json:"status"`
	Scope            *CodeableConcept  `json:"scope,omitempty"`
	Category         []CodeableConcept `json:"category,omitempty"`
	Patient          *Reference        `json:"patient,omitempty"`
	DateTime         string            `json:"dateTime,omitempty"`
	Organization     []Reference       `json:"organization,omitempty"`
	SourceAttachment *Attachment       `json:"sourceAttachment,omitempty"`
	SourceReference  *Reference        `json:"sourceReference,omitempty"`
	PolicyRule       *CodeableConcept  `json:"policyRule,omitempty"`
	Provision        *Provision        `json:"provision,omitempty"`
}

// Attachment is a FHIR Attachment; a Consent's source is the record refkit holds.
type Attachment struct {
	Title    string `json:"title,omitempty"`
	URL      string `json:"url,omitempty"`
	Creation string `json:"creation,omitempty"`
}

// Provision is the permit a Consent grants.
type Provision struct {
	Type   string            `json:"type,omitempty"`
	Period *Period           `json:"period,omitempty"`
	Actor  []ProvisionActor  `json:"actor,omitempty"`
	Action []CodeableConcept `json:"action,omitempty"`
}

// ProvisionActor names who the provision is for and in what role.
type ProvisionActor struct {
	Role      CodeableConcept `json:"role"`
	Reference Reference       `json:"reference"`
}

// Patient is the US Core Patient of the person referred: the identifiers,
// name, administrative gender and birth date the receiving organization needs
// to find them, nothing more.
type Patient struct {
	ResourceType string       `json:"resourceType"`
	ID           string       `json:"id,omitempty"`
	Meta         *Meta        `json:"meta,omitempty"`
	Text         *Narrative   `json:"text,omitempty"`
	Identifier   []Identifier `json:"identifier,omitempty"`
	Name         []HumanName  `json:"name,omitempty"`
	Gender       string       `json:"gender,omitempty"`
	BirthDate    string       `json:"birthDate,omitempty"`
}

// HumanName is a FHIR HumanName. A name refkit does not know is an empty name
// with the data-absent-reason extension, as US Core asks.
type HumanName struct {
	Extension []Extension `json:"extension,omitempty"`
	Family    string      `json:"family,omitempty"`
	Given     []string    `json:"given,omitempty"`
}

// Organization is a US Core Organization: a sending or receiving
// organization, or the provider of a service.
type Organization struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id,omitempty"`
	Meta         *Meta          `json:"meta,omitempty"`
	Text         *Narrative     `json:"text,omitempty"`
	Identifier   []Identifier   `json:"identifier,omitempty"`
	Active       bool           `json:"active"`
	Name         string         `json:"name"`
	Telecom      []ContactPoint `json:"telecom,omitempty"`
}

// Procedure is the SDOHCC Procedure a completed referral reports: what the
// receiving organization did, coded from Codes.Procedures.
type Procedure struct {
	ResourceType      string           `json:"resourceType"`
	ID                string           `json:"id,omitempty"`
	Meta              *Meta            `json:"meta,omitempty"`
	Text              *Narrative       `json:"text,omitempty"`
	Identifier        []Identifier     `json:"identifier,omitempty"`
	BasedOn           []Reference      `json:"basedOn,omitempty"`
	Status            string           `json:"status"`
	Category          *CodeableConcept `json:"category,omitempty"`
	Code              *CodeableConcept `json:"code,omitempty"`
	Subject           *Reference       `json:"subject,omitempty"`
	PerformedDateTime string           `json:"performedDateTime,omitempty"`
	Performer         []ProcedureActor `json:"performer,omitempty"`
	ReasonReference   []Reference      `json:"reasonReference,omitempty"`
	Note              []Annotation     `json:"note,omitempty"`
	Outcome           *CodeableConcept `json:"outcome,omitempty"`
}

// ProcedureActor is a Procedure's performer.
type ProcedureActor struct {
	Actor Reference `json:"actor"`
}

// HealthcareService is the IG's HealthcareService for referral management
// (STU3 ballot): a service and its capacity status, the answer to a capacity
// inquiry made before a referral.
type HealthcareService struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id,omitempty"`
	Meta         *Meta             `json:"meta,omitempty"`
	Text         *Narrative        `json:"text,omitempty"`
	Extension    []Extension       `json:"extension,omitempty"`
	Identifier   []Identifier      `json:"identifier,omitempty"`
	Active       bool              `json:"active"`
	ProvidedBy   *Reference        `json:"providedBy,omitempty"`
	Category     []CodeableConcept `json:"category,omitempty"`
	Type         []CodeableConcept `json:"type,omitempty"`
	Name         string            `json:"name,omitempty"`
	Telecom      []ContactPoint    `json:"telecom,omitempty"`
}

// Bundle is a FHIR Bundle: a collection holding one referral's resources
// (or, with Options.Transaction, a transaction that creates or updates them on
// a FHIR server), or a searchset answering a capacity inquiry.
type Bundle struct {
	ResourceType string  `json:"resourceType"`
	Type         string  `json:"type"`
	Timestamp    string  `json:"timestamp,omitempty"`
	Total        *int    `json:"total,omitempty"`
	Entry        []Entry `json:"entry,omitempty"`
}

// Entry is one Bundle entry. Resource is a *ServiceRequest, *Task, *Consent,
// *Patient, *Organization, *Observation, *QuestionnaireResponse, *Procedure
// or *HealthcareService; a parsed entry of any other type is kept as its
// json.RawMessage.
type Entry struct {
	FullURL  string        `json:"fullUrl,omitempty"`
	Resource any           `json:"resource"`
	Search   *EntrySearch  `json:"search,omitempty"`
	Request  *EntryRequest `json:"request,omitempty"`
}

// EntrySearch says why a searchset entry is there: a match, or an include.
type EntrySearch struct {
	Mode string `json:"mode"`
}

// EntryRequest is how a transaction entry is applied: POST with ifNoneExist
// (a conditional create) or PUT to a conditional URL (create or update).
type EntryRequest struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	IfNoneExist string `json:"ifNoneExist,omitempty"`
}

// UnmarshalJSON decodes the resource into its struct by resourceType.
func (e *Entry) UnmarshalJSON(data []byte) error {
	var raw struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Search   *EntrySearch    `json:"search"`
		Request  *EntryRequest   `json:"request"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	e.FullURL, e.Search, e.Request = raw.FullURL, raw.Search, raw.Request
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(raw.Resource, &head); err != nil {
		return err
	}
	var res any
	switch head.ResourceType {
	case "ServiceRequest":
		res = new(ServiceRequest)
	case "Task":
		res = new(Task)
	case "Consent":
		res = new(Consent)
	case "Patient":
		res = new(Patient)
	case "Organization":
		res = new(Organization)
	case "Observation":
		res = new(Observation)
	case "QuestionnaireResponse":
		res = new(QuestionnaireResponse)
	case "Procedure":
		res = new(Procedure)
	case "HealthcareService":
		res = new(HealthcareService)
	case "":
		return referral.Invalid("entry.resource.resourceType", "is required")
	default:
		e.Resource = raw.Resource
		return nil
	}
	if err := json.Unmarshal(raw.Resource, res); err != nil {
		return err
	}
	e.Resource = res
	return nil
}

// ServiceRequest returns the bundle's first ServiceRequest, or nil.
func (b *Bundle) ServiceRequest() *ServiceRequest { return first[*ServiceRequest](b) }

// Task returns the bundle's first Task, or nil.
func (b *Bundle) Task() *Task { return first[*Task](b) }

// Consents returns the bundle's Consents.
func (b *Bundle) Consents() []*Consent { return all[*Consent](b) }

// Observations returns the bundle's Observations.
func (b *Bundle) Observations() []*Observation { return all[*Observation](b) }

// Patient returns the bundle's first Patient, or nil.
func (b *Bundle) Patient() *Patient { return first[*Patient](b) }

// Organizations returns the bundle's Organizations.
func (b *Bundle) Organizations() []*Organization { return all[*Organization](b) }

// Procedures returns the bundle's Procedures.
func (b *Bundle) Procedures() []*Procedure { return all[*Procedure](b) }

// QuestionnaireResponses returns the bundle's QuestionnaireResponses.
func (b *Bundle) QuestionnaireResponses() []*QuestionnaireResponse {
	return all[*QuestionnaireResponse](b)
}

// HealthcareServices returns the bundle's HealthcareServices.
func (b *Bundle) HealthcareServices() []*HealthcareService { return all[*HealthcareService](b) }

func first[T any](b *Bundle) T {
	var zero T
	for _, e := range b.Entry {
		if r, ok := e.Resource.(T); ok {
			return r
		}
	}
	return zero
}

func all[T any](b *Bundle) []T {
	var out []T
	for _, e := range b.Entry {
		if r, ok := e.Resource.(T); ok {
			out = append(out, r)
		}
	}
	return out
}

// limits bound what the parsers accept, so that a hostile peer can make a
// receiver neither buffer a document without end nor decode a small one into
// millions of values (4 MiB of empty objects in Task.output decoded to 400 MB
// before they were bounded): at most 4 MiB, nested at most 32 deep (refkit's
// own resources nest 10), and at most 100,000 values (an exported referral
// with fifty screenings' Observations holds about 35,000). The document must
// be strict I-JSON besides: UTF-8, no unpaired surrogate escapes, no member
// named twice in one object (in any letter case, which encoding/json would
// read as the same element), nothing after the resource.
var limits = strictjson.Limits{Bytes: 4 << 20, Depth: 32, Values: 100_000, Elements: 10_000, Members: 100}

// maxEntries bounds a parsed bundle's entries: a referral's bundle has a few
// dozen.
const maxEntries = 1000

// ParseBundle reads a Bundle (JSON). A malformed document, or one beyond the
// parsers' limits (4 MiB, nesting 32 deep, 100,000 values, 1,000 entries,
// strict I-JSON), is an error wrapping referral.ErrInvalid; Validate checks
// the profiles' required elements.
func ParseBundle(data []byte) (*Bundle, error) {
	var b Bundle
	if err := decode(data, "bundle", &b); err != nil {
		return nil, err
	}
	if b.ResourceType != "Bundle" {
		return nil, referral.Invalid("resourceType", "must be Bundle")
	}
	if len(b.Entry) > maxEntries {
		return nil, referral.Invalid("bundle.entry", "has more than 1000 entries")
	}
	return &b, nil
}

// decode checks data against the limits, then decodes it into v. field names
// the document in errors, which never quote it.
func decode(data []byte, field string, v any) error {
	if err := strictjson.Check(data, limits); err != nil {
		return referral.Invalid(field, err.Error())
	}
	if err := json.Unmarshal(data, v); err != nil {
		return referral.Invalid(field, "is not a well-formed FHIR JSON resource")
	}
	return nil
}
