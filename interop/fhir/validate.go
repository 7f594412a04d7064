package fhir

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
)

// Validate checks the bundle against the elements FHIR R4 and the SDOH Clinical
// Care IG make mandatory for the profiles refkit emits (min cardinalities,
// fixed and pattern values, required bindings refkit can check offline, and the
// base invariants that apply), and that every relative reference resolves to a
// resource in the bundle. It returns every problem found, joined; each is a
// *referral.ValidationError naming the entry and element, so errors.Is(err,
// referral.ErrInvalid) holds.
func (b *Bundle) Validate() error {
	v := &validator{}
	if b.ResourceType != "Bundle" {
		v.add("resourceType", "must be Bundle")
	}
	if b.Type != "collection" {
		v.add("type", "must be collection")
	}
	have := map[string]bool{}
	for i, e := range b.Entry {
		kind, id := identity(e.Resource)
		at := "entry[" + strconv.Itoa(i) + "]"
		switch {
		case kind == "":
			v.add(at+".resource", "is not a resource refkit exchanges")
			continue
		case id == "":
			v.add(at+".resource.id", "is required")
		case have[kind+"/"+id]:
			v.add(at+".resource.id", "repeats another entry's "+kind)
		}
		have[kind+"/"+id] = true
	}
	v.have = have
	for i, e := range b.Entry {
		at := "entry[" + strconv.Itoa(i) + "]."
		switch r := e.Resource.(type) {
		case *ServiceRequest:
			v.serviceRequest(at+"serviceRequest", r)
		case *Task:
			v.task(at+"task", r)
		case *Consent:
			v.consent(at+"consent", r)
		case *Observation:
			v.observation(at+"observation", r)
		case *Organization:
			if strings.TrimSpace(r.Name) == "" {
				v.add(at+"organization.name", "is required")
			}
		}
	}
	return errors.Join(v.problems...)
}

func identity(res any) (kind, id string) {
	switch r := res.(type) {
	case *ServiceRequest:
		return "ServiceRequest", r.ID
	case *Task:
		return "Task", r.ID
	case *Consent:
		return "Consent", r.ID
	case *Patient:
		return "Patient", r.ID
	case *Organization:
		return "Organization", r.ID
	case *Observation:
		return "Observation", r.ID
	}
	return "", ""
}

type validator struct {
	problems []error
	have     map[string]bool
}

func (v *validator) add(field, problem string) {
	v.problems = append(v.problems, referral.Invalid(field, problem))
}

// required reports a missing element.
func (v *validator) required(field string, present bool) bool {
	if !present {
		v.add(field, "is required")
	}
	return present
}

// reference checks a required reference to one of kinds; a relative reference
// must resolve in the bundle.
func (v *validator) reference(field string, r *Reference, kinds ...string) {
	if !v.required(field, r != nil && r.Reference != "") {
		return
	}
	kind, _, ok := strings.Cut(r.Reference, "/")
	if strings.Contains(r.Reference, "://") || strings.HasPrefix(r.Reference, "urn:") {
		return
	}
	if !ok || !slices.Contains(kinds, kind) {
		v.add(field, "must reference a "+strings.Join(kinds, " or "))
		return
	}
	if !v.have[r.Reference] {
		v.add(field, "does not resolve to an entry of the bundle")
	}
}

func (v *validator) concept(field string, c *CodeableConcept) bool {
	return v.required(field, c != nil && (len(c.Coding) > 0 || c.Text != ""))
}

func (v *validator) code(field, value string, allowed ...string) {
	if v.required(field, value != "") && !slices.Contains(allowed, value) {
		v.add(field, "is not one of "+strings.Join(allowed, ", "))
	}
}

func (v *validator) dateTime(field, value string, required bool) (time.Time, bool) {
	if value == "" {
		if required {
			v.add(field, "is required")
		}
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		v.add(field, "must be a FHIR dateTime with a time zone")
		return time.Time{}, false
	}
	return t, true
}

func hasProfile(m *Meta, profile string) bool { return m != nil && slices.Contains(m.Profile, profile) }

var requestPriorities = []string{"routine", "urgent", "asap", "stat"}

// serviceRequest checks SDOHCC-ServiceRequest: status, intent, subject and
// code are mandatory; categories in the SDOHCC code system must be Gravity
// categories (required binding of the SDOH slice).
func (v *validator) serviceRequest(at string, r *ServiceRequest) {
	if !hasProfile(r.Meta, ProfileServiceRequest) {
		v.add(at+".meta.profile", "must claim "+ProfileServiceRequest)
	}
	v.code(at+".status", r.Status, "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown")
	v.code(at+".intent", r.Intent, "proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option")
	v.concept(at+".code", r.Code)
	v.reference(at+".subject", r.Subject, "Patient", "Group", "Location")
	if r.Priority != "" {
		v.code(at+".priority", r.Priority, requestPriorities...)
	}
	for i, c := range r.Category {
		f := at + ".category[" + strconv.Itoa(i) + "]"
		if !v.concept(f, &c) {
			continue
		}
		for _, cd := range c.Coding {
			if cd.System != SystemSDOHCC {
				continue
			}
			if info, ok := referral.LookupDomain(referral.Domain(cd.Code)); !ok || info.System != SystemSDOHCC {
				v.add(f, "is not in the SDOHCC SDOH category value set")
			}
		}
	}
	if r.Requester != nil {
		v.reference(at+".requester", r.Requester, "Organization", "Practitioner", "PractitionerRole", "Patient", "RelatedPerson", "Device")
	}
	for i := range r.Performer {
		v.reference(at+".performer["+strconv.Itoa(i)+"]", &r.Performer[i], "Organization", "HealthcareService", "Practitioner", "PractitionerRole", "CareTeam", "Patient", "RelatedPerson", "Device")
	}
	for i := range r.ReasonReference {
		v.reference(at+".reasonReference["+strconv.Itoa(i)+"]", &r.ReasonReference[i], "Observation", "Condition", "DiagnosticReport", "DocumentReference")
	}
	for i := range r.SupportingInfo {
		v.reference(at+".supportingInfo["+strconv.Itoa(i)+"]", &r.SupportingInfo[i], "Consent", "Observation", "Condition", "QuestionnaireResponse")
	}
	v.dateTime(at+".authoredOn", r.AuthoredOn, false)
}

var taskStatuses = func() []string {
	var out []string
	for _, s := range referral.Statuses() {
		out = append(out, string(s))
	}
	return out
}()

// task checks SDOHCC-TaskForReferralManagement: status, intent fixed to order,
// code fulfill, focus, for, authoredOn and requester mandatory; statusReason
// needs its text; outputs follow the resulting-activity slices; and the base
// invariant inv-1 (lastModified not before authoredOn).
func (v *validator) task(at string, t *Task) {
	if !hasProfile(t.Meta, ProfileTask) {
		v.add(at+".meta.profile", "must claim "+ProfileTask)
	}
	v.code(at+".status", t.Status, taskStatuses...)
	v.code(at+".intent", t.Intent, "order")
	if v.concept(at+".code", t.Code) && !hasCoding(t.Code, SystemTaskCode, codeFulfill) {
		v.add(at+".code", "must be fulfill ("+SystemTaskCode+")")
	}
	v.reference(at+".focus", t.Focus, "ServiceRequest")
	v.reference(at+".for", t.For, "Patient", "RelatedPerson", "Group")
	v.reference(at+".requester", t.Requester, "Organization", "PractitionerRole")
	if t.Owner != nil {
		v.reference(at+".owner", t.Owner, "Organization", "PractitionerRole", "Practitioner", "HealthcareService", "CareTeam", "Patient", "RelatedPerson", "Device")
	}
	if t.Priority != "" {
		v.code(at+".priority", t.Priority, requestPriorities...)
	}
	if t.StatusReason != nil && t.StatusReason.Text == "" {
		v.add(at+".statusReason.text", "is required")
	}
	if t.BusinessStatus != nil {
		v.concept(at+".businessStatus", t.BusinessStatus)
	}
	authored, okA := v.dateTime(at+".authoredOn", t.AuthoredOn, true)
	modified, okM := v.dateTime(at+".lastModified", t.LastModified, false)
	if okA && okM && modified.Before(authored) {
		v.add(at+".lastModified", "must not be before authoredOn (inv-1)")
	}
	for i, o := range t.Output {
		f := at + ".output[" + strconv.Itoa(i) + "]"
		if !hasCoding(&o.Type, SystemSDOHCC, codeResultingActivity) {
			v.add(f+".type", "must be resulting-activity ("+SystemSDOHCC+")")
		}
		switch {
		case o.ValueCodeableConcept != nil && o.ValueReference != nil:
			v.add(f+".value[x]", "must have one type")
		case o.ValueCodeableConcept != nil:
			v.concept(f+".valueCodeableConcept", o.ValueCodeableConcept)
		case o.ValueReference != nil:
			v.required(f+".valueReference", o.ValueReference.Reference != "")
		default:
			v.add(f+".value[x]", "is required")
		}
	}
}

// consent checks SDOHCC-Consent: status, scope, the IDSCL category, patient,
// dateTime, exactly one organization and one source are mandatory; the base
// invariant ppc-1 wants a policy rule; provision actors need role and reference.
func (v *validator) consent(at string, c *Consent) {
	if !hasProfile(c.Meta, ProfileConsent) {
		v.add(at+".meta.profile", "must claim "+ProfileConsent)
	}
	v.code(at+".status", c.Status, "draft", "proposed", "active", "rejected", "inactive", "entered-in-error")
	v.concept(at+".scope", c.Scope)
	if !slices.ContainsFunc(c.Category, func(cc CodeableConcept) bool { return hasCoding(&cc, systemActCode, "IDSCL") }) {
		v.add(at+".category", "must include IDSCL ("+systemActCode+")")
	}
	v.reference(at+".patient", c.Patient, "Patient")
	v.dateTime(at+".dateTime", c.DateTime, true)
	if len(c.Organization) != 1 {
		v.add(at+".organization", "must hold exactly one organization")
	} else {
		v.reference(at+".organization[0]", &c.Organization[0], "Organization")
	}
	if (c.SourceAttachment == nil) == (c.SourceReference == nil) {
		v.add(at+".source[x]", "must be given once, as an attachment or a reference")
	}
	v.concept(at+".policyRule", c.PolicyRule)
	if c.Provision != nil {
		for i := range c.Provision.Actor {
			a := &c.Provision.Actor[i]
			f := at + ".provision.actor[" + strconv.Itoa(i) + "]"
			v.concept(f+".role", &a.Role)
			v.reference(f+".reference", &a.Reference, "Organization", "Practitioner", "PractitionerRole", "Patient", "RelatedPerson", "Group", "CareTeam", "Device")
		}
	}
}

// observation checks the screening-response elements package screening writes:
// status, the survey category, code, subject, effective time, and a value, a
// data-absent reason or members.
func (v *validator) observation(at string, o *Observation) {
	v.code(at+".status", o.Status, "registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown")
	if !slices.ContainsFunc(o.Category, func(c CodeableConcept) bool { return hasCoding(&c, screening.SystemObservationCategory, "survey") }) {
		v.add(at+".category", "must include survey")
	}
	v.concept(at+".code", &o.Code)
	v.reference(at+".subject", o.Subject, "Patient", "Group", "Location")
	v.dateTime(at+".effectiveDateTime", o.EffectiveDateTime, true)
	if o.ValueCodeableConcept == nil && o.ValueInteger == nil && o.ValueString == nil && o.DataAbsentReason == nil && len(o.HasMember) == 0 {
		v.add(at+".value[x]", "is required unless dataAbsentReason or hasMember is given")
	}
	for i := range o.HasMember {
		v.reference(at+".hasMember["+strconv.Itoa(i)+"]", &o.HasMember[i], "Observation", "QuestionnaireResponse")
	}
}
