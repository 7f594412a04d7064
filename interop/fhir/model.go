package fhir

import (
	"encoding/json"

	"github.com/refkit/refkit/internal/strictjson"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
)

// Profiles, code systems and codes of the SDOH Clinical Care IG and FHIR R4
// that exported resources use.
const (
	ProfileServiceRequest = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ServiceRequest"
	ProfileTask           = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-TaskForReferralManagement"
	ProfileConsent        = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-Consent"

	// SystemSDOHCC holds the SDOH categories and the "resulting-activity" output type.
	SystemSDOHCC = referral.SystemSDOHCC
	// SystemTaskCode holds "fulfill", the code of every referral Task.
	SystemTaskCode = "http://hl7.org/fhir/CodeSystem/task-code"
	// SystemSNOMED is SNOMED CT; the ServiceRequest code is 3457005 "Patient referral".
	SystemSNOMED = "http://snomed.info/sct"
	// SystemReason holds refkit's reason codes (lifecycle.Codes): Task.statusReason
	// and Task.businessStatus.
	SystemReason = "https://refkit.dev/fhir/CodeSystem/reason"
	// SystemOutcome holds refkit's outcome codes: Task.output.
	SystemOutcome = "https://refkit.dev/fhir/CodeSystem/outcome"

	systemActCode       = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	systemConsentScope  = "http://terminology.hl7.org/CodeSystem/consentscope"
	systemConsentAction = "http://terminology.hl7.org/CodeSystem/consentaction"
	systemParticipation = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"

	codeReferral          = "3457005"
	codeFulfill           = "fulfill"
	codeResultingActivity = "resulting-activity"
)

// Coding, CodeableConcept, Reference and Observation are the FHIR types package
// screening already models; the exchange uses them as they are.
type (
	Coding          = screening.Coding
	CodeableConcept = screening.CodeableConcept
	Reference       = screening.Reference
	Observation     = screening.Observation
)

// Meta is a resource's metadata: versionId carries the referral's version so a
// receiver's update can be checked against it.
type Meta struct {
	VersionID   string   `json:"versionId,omitempty"`
	LastUpdated string   `json:"lastUpdated,omitempty"`
	Profile     []string `json:"profile,omitempty"`
}

// Period is a FHIR Period.
type Period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// ServiceRequest is the SDOHCC ServiceRequest for a referral.
type ServiceRequest struct {
	ResourceType    string            `json:"resourceType"`
	ID              string            `json:"id,omitempty"`
	Meta            *Meta             `json:"meta,omitempty"`
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

// TaskOutput is one Task.output; refkit writes the outcome as the SDOHCC
// PerformedActivityCode slice (type resulting-activity, a CodeableConcept value).
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

// Patient is the person referred: identifiers and the name and birth date the
// receiving organization needs to find them, nothing more.
type Patient struct {
	ResourceType string      `json:"resourceType"`
	ID           string      `json:"id,omitempty"`
	Name         []HumanName `json:"name,omitempty"`
	BirthDate    string      `json:"birthDate,omitempty"`
}

// HumanName is a FHIR HumanName.
type HumanName struct {
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
}

// Organization is a sending or receiving organization.
type Organization struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id,omitempty"`
	Active       bool   `json:"active"`
	Name         string `json:"name"`
}

// Bundle is a FHIR Bundle of type collection holding one referral's resources.
type Bundle struct {
	ResourceType string  `json:"resourceType"`
	Type         string  `json:"type"`
	Timestamp    string  `json:"timestamp,omitempty"`
	Entry        []Entry `json:"entry,omitempty"`
}

// Entry is one Bundle entry. Resource is a *ServiceRequest, *Task, *Consent,
// *Patient, *Organization or *Observation; a parsed entry of any other type is
// kept as its json.RawMessage.
type Entry struct {
	FullURL  string `json:"fullUrl,omitempty"`
	Resource any    `json:"resource"`
}

// UnmarshalJSON decodes the resource into its struct by resourceType.
func (e *Entry) UnmarshalJSON(data []byte) error {
	var raw struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
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
	case "":
		return referral.Invalid("entry.resource.resourceType", "is required")
	default:
		e.FullURL, e.Resource = raw.FullURL, raw.Resource
		return nil
	}
	if err := json.Unmarshal(raw.Resource, res); err != nil {
		return err
	}
	e.FullURL, e.Resource = raw.FullURL, res
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

// ParseBundle reads a Bundle (JSON). A malformed document, or one beyond the
// parsers' limits (4 MiB, nesting 32 deep, 100,000 values, strict I-JSON), is
// an error wrapping referral.ErrInvalid; Validate checks the profiles'
// required elements.
func ParseBundle(data []byte) (*Bundle, error) {
	var b Bundle
	if err := decode(data, "bundle", &b); err != nil {
		return nil, err
	}
	if b.ResourceType != "Bundle" {
		return nil, referral.Invalid("resourceType", "must be Bundle")
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
