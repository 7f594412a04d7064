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

// Validate checks the bundle against the elements FHIR R4, US Core 7 and the
// SDOH Clinical Care IG make mandatory for the profiles refkit emits (min
// cardinalities, fixed and pattern values, required bindings refkit can check
// offline, and the invariants that apply), that every entry has a fullUrl,
// and that every reference to a resource type the bundle carries resolves to
// one of its entries (as FHIR R4 resolves references in a bundle: by fullUrl,
// or relative to a RESTful fullUrl's base). It returns every problem found,
// joined; each is a *referral.ValidationError naming the entry and element,
// so errors.Is(err, referral.ErrInvalid) holds. It is a receiver's quick
// check of what it is sent; refkit's own tests hold its exports to the
// profiles rule by rule.
func (b *Bundle) Validate() error {
	v := &validator{have: map[string]bool{}}
	if b.ResourceType != "Bundle" {
		v.add("resourceType", "must be Bundle")
	}
	switch b.Type {
	case "collection", "searchset":
	case "transaction":
		v.transaction = true
	default:
		v.add("type", "must be collection, transaction or searchset")
	}
	seen := map[string]bool{}
	for i, e := range b.Entry {
		kind, id := identity(e.Resource)
		at := "entry[" + strconv.Itoa(i) + "]"
		switch {
		case kind == "":
			v.add(at+".resource", "is not a resource refkit exchanges")
			continue
		case e.FullURL == "":
			v.add(at+".fullUrl", "is required")
		case seen[e.FullURL]:
			v.add(at+".fullUrl", "repeats another entry's (bdl-7)")
		}
		seen[e.FullURL] = true
		v.have[e.FullURL] = true
		switch {
		case id == "" && !v.transaction:
			v.add(at+".resource.id", "is required")
		case id != "" && v.have[kind+"/"+id]:
			v.add(at+".resource.id", "repeats another entry's "+kind)
		case id != "":
			v.have[kind+"/"+id] = true
		}
		v.kinds = append(v.kinds, kind)
		if v.transaction != (e.Request != nil) {
			v.add(at+".request", "is required in a transaction and only there (bdl-3)")
		}
	}
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
		case *Patient:
			v.patient(at+"patient", r)
		case *Organization:
			if strings.TrimSpace(r.Name) == "" {
				v.add(at+"organization.name", "is required")
			}
			if !r.Active {
				v.add(at+"organization.active", "must be true")
			}
		case *Procedure:
			v.procedure(at+"procedure", r)
		case *QuestionnaireResponse:
			v.required(at+"questionnaireResponse.questionnaire", r.Questionnaire != "")
			v.code(at+"questionnaireResponse.status", r.Status, "in-progress", "completed", "amended", "entered-in-error", "stopped")
			v.reference(at+"questionnaireResponse.subject", r.Subject, "Patient")
		case *HealthcareService:
			v.healthcareService(at+"healthcareService", r)
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
	case *QuestionnaireResponse:
		return "QuestionnaireResponse", r.ID
	case *Procedure:
		return "Procedure", r.ID
	case *HealthcareService:
		return "HealthcareService", r.ID
	}
	return "", ""
}

type validator struct {
	problems    []error
	have        map[string]bool // fullUrls, and Type/id, of the entries
	kinds       []string        // the resource types the bundle carries
	transaction bool
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

// reference checks a required reference to one of kinds. A urn:uuid must be
// an entry's fullUrl; a relative reference to a type the bundle carries must
// be one of its entries; an absolute URL may point outside the bundle.
func (v *validator) reference(field string, r *Reference, kinds ...string) {
	if !v.required(field, r != nil && r.Reference != "") {
		return
	}
	if strings.HasPrefix(r.Reference, "urn:") {
		if !v.have[r.Reference] {
			v.add(field, "does not resolve to an entry of the bundle")
		}
		return
	}
	if strings.Contains(r.Reference, "://") {
		return
	}
	kind, _, ok := strings.Cut(r.Reference, "/")
	if !ok || !slices.Contains(kinds, kind) {
		v.add(field, "must reference a "+strings.Join(kinds, " or "))
		return
	}
	if slices.Contains(v.kinds, kind) && !v.have[r.Reference] {
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

func (v *validator) profile(field string, m *Meta, profile string) {
	if !hasProfile(m, profile) {
		v.add(field, "must claim "+profile)
	}
}

func hasProfile(m *Meta, profile string) bool { return m != nil && slices.Contains(m.Profile, profile) }

var requestPriorities = []string{"routine", "urgent", "asap", "stat"}

// sdohCategories checks that codings in the SDOHCC code system are Gravity
// categories (the SDOHCC slices' required binding).
func (v *validator) sdohCategories(field string, codings []Coding) {
	for _, cd := range codings {
		if cd.System != SystemSDOHCC {
			continue
		}
		if info, ok := referral.LookupDomain(referral.Domain(cd.Code)); !ok || info.System != SystemSDOHCC {
			v.add(field, "is not in the SDOHCC SDOH category value set")
		}
	}
}

// serviceRequest checks SDOHCC-ServiceRequest: status, intent, subject and
// code are mandatory; categories in the SDOHCC code system must be Gravity
// categories (required binding of the SDOH slice).
func (v *validator) serviceRequest(at string, r *ServiceRequest) {
	v.profile(at+".meta.profile", r.Meta, ProfileServiceRequest)
	v.code(at+".status", r.Status, "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown")
	v.code(at+".intent", r.Intent, "proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option")
	v.concept(at+".code", r.Code)
	v.reference(at+".subject", r.Subject, "Patient", "Group", "Location")
	if r.Priority != "" {
		v.code(at+".priority", r.Priority, requestPriorities...)
	}
	for i, c := range r.Category {
		f := at + ".category[" + strconv.Itoa(i) + "]"
		if v.concept(f, &c) {
			v.sdohCategories(f, c.Coding)
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

// task checks SDOHCC-TaskForReferralManagement: a status from the IG's
// referral Task statuses, intent fixed to order, code fulfill, focus, for,
// authoredOn and requester mandatory; statusReason needs its text; outputs
// of the IG's types carry their value; and the base invariant inv-1
// (lastModified not before authoredOn).
func (v *validator) task(at string, t *Task) {
	v.profile(at+".meta.profile", t.Meta, ProfileTask)
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
		switch {
		case hasCoding(&o.Type, SystemSDOHCC, codeResultingActivity), hasCoding(&o.Type, SystemSDOHCC, codeAdditionalContent),
			hasCoding(&o.Type, SystemOutputType, OutputOutcome):
		default:
			v.add(f+".type", "must be resulting-activity or additional-content ("+SystemSDOHCC+") or refkit's outcome")
		}
		switch {
		case o.ValueCodeableConcept != nil && o.ValueReference != nil:
			v.add(f+".value[x]", "must have one type")
		case o.ValueCodeableConcept != nil:
			v.concept(f+".valueCodeableConcept", o.ValueCodeableConcept)
		case o.ValueReference != nil:
			v.reference(f+".valueReference", o.ValueReference, "Procedure", "Observation", "Goal", "Condition", "QuestionnaireResponse", "CarePlan")
		default:
			v.add(f+".value[x]", "is required")
		}
	}
}

// consent checks SDOHCC-Consent: status, scope, the IDSCL category, patient,
// dateTime, exactly one organization and one source are mandatory; the base
// invariant ppc-1 wants a policy rule; provision actors need role and reference.
func (v *validator) consent(at string, c *Consent) {
	v.profile(at+".meta.profile", c.Meta, ProfileConsent)
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

// observation checks the screening responses package screening writes
// (status, survey category, code, subject, effective time, and a value, a
// data-absent reason or members; the sdoh category when it claims the SDOHCC
// profile) and enrollment Observations (the sdoh and program-enrollment
// categories and a value).
func (v *validator) observation(at string, o *Observation) {
	v.code(at+".status", o.Status, "registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown")
	category := func(system, code string) bool {
		return slices.ContainsFunc(o.Category, func(c CodeableConcept) bool { return hasCoding(&c, system, code) })
	}
	switch {
	case hasProfile(o.Meta, ProfileEnrollment):
		if !category(SystemUSCoreCategory, "sdoh") || !category(SystemSDOHCC, codeProgramEnrollment) {
			v.add(at+".category", "must include sdoh and program-enrollment")
		}
		v.required(at+".value[x]", o.ValueCodeableConcept != nil)
	default:
		if !category(screening.SystemObservationCategory, "survey") {
			v.add(at+".category", "must include survey")
		}
		if hasProfile(o.Meta, screening.ProfileScreeningResponse) && !category(SystemUSCoreCategory, "sdoh") {
			v.add(at+".category", "must include sdoh (SDOH-Obs-4)")
		}
		if o.ValueCodeableConcept == nil && o.ValueInteger == nil && o.ValueString == nil && o.DataAbsentReason == nil && len(o.HasMember) == 0 {
			v.add(at+".value[x]", "is required unless dataAbsentReason or hasMember is given (us-core-2)")
		}
	}
	v.concept(at+".code", &o.Code)
	v.reference(at+".subject", o.Subject, "Patient", "Group", "Location")
	v.dateTime(at+".effectiveDateTime", o.EffectiveDateTime, true)
	for i := range o.HasMember {
		v.reference(at+".hasMember["+strconv.Itoa(i)+"]", &o.HasMember[i], "Observation", "QuestionnaireResponse")
	}
	for i := range o.DerivedFrom {
		v.reference(at+".derivedFrom["+strconv.Itoa(i)+"]", &o.DerivedFrom[i], "Observation", "QuestionnaireResponse", "DocumentReference")
	}
}

// patient checks US Core Patient: identifiers with system and value, a name
// (or its data-absent reason), and an administrative gender.
func (v *validator) patient(at string, p *Patient) {
	v.profile(at+".meta.profile", p.Meta, ProfilePatient)
	if v.required(at+".identifier", len(p.Identifier) > 0) {
		for i, id := range p.Identifier {
			v.required(at+".identifier["+strconv.Itoa(i)+"].system", id.System != "")
			v.required(at+".identifier["+strconv.Itoa(i)+"].value", id.Value != "")
		}
	}
	v.required(at+".name", len(p.Name) > 0)
	v.code(at+".gender", p.Gender, "male", "female", "other", "unknown")
}

// procedure checks SDOHCC-Procedure: status, code and subject, and
// us-core-7 (performed when completed or in progress).
func (v *validator) procedure(at string, p *Procedure) {
	v.profile(at+".meta.profile", p.Meta, ProfileProcedure)
	v.code(at+".status", p.Status, "preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown")
	v.concept(at+".code", p.Code)
	v.reference(at+".subject", p.Subject, "Patient", "Group")
	if (p.Status == "completed" || p.Status == "in-progress") && p.PerformedDateTime == "" {
		v.add(at+".performed[x]", "is required when completed or in progress (us-core-7)")
	}
}

// healthcareService checks the IG's HealthcareService for referral
// management: the capacity status, active, the sdoh category, type and name.
func (v *validator) healthcareService(at string, h *HealthcareService) {
	v.profile(at+".meta.profile", h.Meta, ProfileHealthcareService)
	if !h.Active {
		v.add(at+".active", "must be true")
	}
	if capacityStatus(h) == nil {
		v.add(at+".extension", "must carry the capacity status")
	}
	if !slices.ContainsFunc(h.Category, func(c CodeableConcept) bool { return hasCoding(&c, SystemUSCoreCategory, "sdoh") }) {
		v.add(at+".category", "must include sdoh")
	}
	v.required(at+".type", len(h.Type) == 1)
	v.required(at+".name", h.Name != "")
}
