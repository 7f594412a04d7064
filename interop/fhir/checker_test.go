package fhir_test

// The conformance checker: the constraints the SDOH Clinical Care IG (STU 2.3
// at tag 2.3.0, and its STU3 ballot on master for the enrollment and capacity
// profiles), US Core 7.0.0 and FHIR R4 put on every resource refkit emits,
// one rule each, citing the source it encodes. It reads the JSON on the wire,
// not refkit's structs, so what it checks is what a partner's validator
// sees. Sources are files of HL7/fhir-sdoh-clinicalcare (tag 2.3.0 unless
// "master") and HL7/US-Core (tag 7.0.0), or pages of the FHIR R4
// specification. Bindings to external terminologies are checked as far as
// can be done offline: the code system, and the code's shape.

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// obj is a JSON object.
type obj = map[string]any

func objOf(v any) obj { o, _ := v.(obj); return o }

func str(o obj, key string) string { s, _ := o[key].(string); return s }

func list(o obj, key string) []any { a, _ := o[key].([]any); return a }

func objs(o obj, key string) []obj {
	var out []obj
	for _, v := range list(o, key) {
		if m := objOf(v); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// codings returns a CodeableConcept's codings.
func codings(cc obj) []obj { return objs(cc, "coding") }

func hasCode(cc obj, system, code string) bool {
	return slices.ContainsFunc(codings(cc), func(c obj) bool { return str(c, "system") == system && str(c, "code") == code })
}

func anyCode(ccs []obj, system, code string) bool {
	return slices.ContainsFunc(ccs, func(cc obj) bool { return hasCode(cc, system, code) })
}

func profiles(res obj) []string {
	var out []string
	for _, p := range list(objOf(res["meta"]), "profile") {
		if s, ok := p.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func claims(res obj, profile string) bool { return slices.Contains(profiles(res), profile) }

// The IG's and US Core's profiles and code systems the rules name.
const (
	pTask          = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-TaskForReferralManagement"
	pServiceReq    = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ServiceRequest"
	pConsent       = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-Consent"
	pProcedure     = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-Procedure"
	pOSR           = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ObservationScreeningResponse"
	pEnrollment    = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ObservationProgramEnrollmentStatus"
	pHCS           = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-HealthcareServiceForReferralManagement"
	pScreeningAsmt = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-screening-assessment"
	pPatient       = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
	pOrganization  = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-organization"
	pQR            = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-questionnaireresponse"

	csSDOHCC     = "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
	csUSCoreCat  = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category"
	csObsCat     = "http://terminology.hl7.org/CodeSystem/observation-category"
	csTaskCode   = "http://hl7.org/fhir/CodeSystem/task-code"
	csLOINC      = "http://loinc.org"
	csActCode    = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	csRefkitBS   = "https://refkit.dev/fhir/CodeSystem/business-status"
	urlDAR       = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
	urlCapacity  = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ExtensionHealthcareServiceCapacityStatus"
	csUCUM       = "http://unitsofmeasure.org"
	csNPI        = "http://hl7.org/fhir/sid/us-npi"
	csCLIA       = "urn:oid:2.16.840.1.113883.4.7"
	csNAIC       = "urn:oid:2.16.840.1.113883.6.300"
	csConsentSc  = "http://terminology.hl7.org/CodeSystem/consentscope"
	csSNOMED     = "http://snomed.info/sct"
	csServiceCat = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category"
)

// sdohCategories is SDOHCCValueSetSDOHCategory
// (input/fsh/valuesets/SDOHCCValueSetSDOHCategory.fsh).
var sdohCategories = []string{
	"sdoh-category-unspecified", "food-insecurity", "housing-instability", "homelessness", "inadequate-housing",
	"transportation-insecurity", "financial-insecurity", "material-hardship", "educational-attainment",
	"employment-status", "veteran-status", "stress", "social-connection", "intimate-partner-violence", "elder-abuse",
	"personal-health-literacy", "health-insurance-coverage-status", "medical-cost-burden", "digital-literacy",
	"digital-access", "utility-insecurity", "incarceration-status", "language-access",
}

// procedureSystems are the systems of US Core Procedure Codes
// (US-Core input/resources-yaml/valueset-us-core-procedure-code.yml).
var procedureSystems = []string{
	csSNOMED, "http://www.ama-assn.org/go/cpt", "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
	"http://www.cms.gov/Medicare/Coding/ICD10", "http://www.ada.org/cdt", csLOINC,
}

var (
	loincCode     = regexp.MustCompile(`^[0-9]{1,7}-[0-9]$`)
	fhirID        = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	fhirDate      = regexp.MustCompile(`^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$`)
	fhirDateTime  = regexp.MustCompile(`^[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?)?)?$`)
	snomedConcept = regexp.MustCompile(`^[1-9][0-9]{5,17}$`)
	restfulURL    = regexp.MustCompile(`^(https?://.+)/([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$`)
)

// entry is a bundle entry as the checker sees it.
type entry struct {
	index   int
	fullURL string
	res     obj
	kind    string
}

// checked is a bundle under check: its entries, found by fullUrl.
type checked struct {
	bundle  obj
	entries []entry
	byURL   map[string]*entry
	// external allows references outside the bundle (the IG's own examples
	// reference resources they do not carry).
	external bool
}

// resolve finds the entry a reference in e names, as FHIR R4 resolves
// references in a bundle (R4 bundle.html#references): an absolute URL or URN
// is an entry's fullUrl; a relative Type/id is taken against the base of e's
// fullUrl when that is a RESTful URL, and otherwise means nothing within the
// bundle.
func (c *checked) resolve(e *entry, ref string) *entry {
	if strings.HasPrefix(ref, "#") {
		return nil
	}
	if strings.Contains(ref, ":") {
		return c.byURL[ref]
	}
	if m := restfulURL.FindStringSubmatch(e.fullURL); m != nil {
		return c.byURL[m[1]+"/"+ref]
	}
	return nil
}

// target is the resource type a reference names: the resolved entry's, or
// the type in a literal Type/id.
func (c *checked) target(e *entry, ref string) (string, *entry) {
	if t := c.resolve(e, ref); t != nil {
		return t.kind, t
	}
	if strings.HasPrefix(ref, "urn:") {
		return "", nil
	}
	parts := strings.Split(strings.TrimSuffix(ref, "/"), "/")
	if i := slices.Index(parts, "_history"); i > 0 {
		parts = parts[:i]
	}
	if len(parts) < 2 {
		return "", nil
	}
	return parts[len(parts)-2], nil
}

// rule is one constraint, with where it comes from.
type rule struct {
	id, source string
	// kind is the resource type it applies to, "Bundle" for the bundle.
	kind string
	// applies narrows it further (a profile claimed, say); nil is always.
	applies func(res obj) bool
	// check returns what is wrong, or "".
	check func(c *checked, e *entry) string
}

// violation is a rule a bundle breaks.
type violation struct {
	rule, where, problem string
}

func (v violation) String() string { return v.rule + " at " + v.where + ": " + v.problem }

// check runs every rule (but those skipped) over a bundle's JSON.
func check(data []byte, skip ...string) ([]violation, error) {
	var b obj
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, err
	}
	return checkBundle(b, false, skip...), nil
}

func checkBundle(b obj, external bool, skip ...string) []violation {
	c := &checked{bundle: b, byURL: map[string]*entry{}, external: external}
	for i, v := range list(b, "entry") {
		eo := objOf(v)
		res := objOf(eo["resource"])
		c.entries = append(c.entries, entry{index: i, fullURL: str(eo, "fullUrl"), res: res, kind: str(res, "resourceType")})
	}
	for i := range c.entries {
		if u := c.entries[i].fullURL; u != "" {
			c.byURL[u] = &c.entries[i]
		}
	}
	var out []violation
	for _, r := range rules {
		if slices.Contains(skip, r.id) {
			continue
		}
		if r.kind == "Bundle" {
			if p := r.check(c, &entry{index: -1, res: b, kind: "Bundle"}); p != "" {
				out = append(out, violation{r.id, "Bundle", p})
			}
			continue
		}
		for i := range c.entries {
			e := &c.entries[i]
			if e.kind != r.kind || (r.applies != nil && !r.applies(e.res)) {
				continue
			}
			if p := r.check(c, e); p != "" {
				out = append(out, violation{r.id, fmt.Sprintf("entry[%d] %s", e.index, e.kind), p})
			}
		}
	}
	return out
}

// references lists every Reference.reference in a resource, with its path.
func references(v any, path string, out *[]string) {
	switch t := v.(type) {
	case obj:
		for k, val := range t {
			if k == "reference" {
				if s, ok := val.(string); ok {
					*out = append(*out, s)
				}
				continue
			}
			references(val, path+"."+k, out)
		}
	case []any:
		for _, val := range t {
			references(val, path, out)
		}
	}
}

// refOK checks a reference element: present when required, to one of kinds.
func refOK(c *checked, e *entry, ref obj, required bool, kinds ...string) string {
	s := str(ref, "reference")
	if s == "" {
		if required {
			return "is required"
		}
		return ""
	}
	kind, _ := c.target(e, s)
	if kind == "" {
		if c.external {
			return ""
		}
		return "does not resolve"
	}
	if !slices.Contains(kinds, kind) {
		return "references a " + kind + ", not a " + strings.Join(kinds, " or ")
	}
	return ""
}

func oneOf(v string, allowed ...string) string {
	if v == "" {
		return "is required"
	}
	if !slices.Contains(allowed, v) {
		return v + " is not one of " + strings.Join(allowed, ", ")
	}
	return ""
}

// sdohCodings checks that codings of the SDOHCC system are SDOH categories.
func sdohCodings(ccs []obj) string {
	for _, cc := range ccs {
		for _, cd := range codings(cc) {
			if str(cd, "system") == csSDOHCC && !slices.Contains(sdohCategories, str(cd, "code")) {
				return str(cd, "code") + " is not in SDOHCCValueSetSDOHCategory"
			}
		}
	}
	return ""
}

// procedureCode checks a CodeableConcept has a coding in US Core Procedure
// Codes, SNOMED CT codes being concept ids.
func procedureCode(cc obj) string {
	if cc == nil {
		return "is required"
	}
	for _, cd := range codings(cc) {
		if slices.Contains(procedureSystems, str(cd, "system")) && str(cd, "code") != "" &&
			(str(cd, "system") != csSNOMED || snomedConcept.MatchString(str(cd, "code"))) {
			return ""
		}
	}
	return "has no coding from US Core Procedure Codes"
}

// xhtmlAllowed are the elements FHIR R4 narrative allows (R4
// narrative.html#xhtml: txt-1 allows only basic HTML, no scripts or forms).
var xhtmlAllowed = []string{"div", "p", "b", "i", "em", "strong", "small", "big", "tt", "code", "pre", "br", "hr",
	"span", "a", "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
	"col", "colgroup", "h1", "h2", "h3", "h4", "h5", "h6", "sub", "sup", "img", "blockquote", "cite", "abbr", "acronym",
	"address", "bdo", "q", "samp", "var", "kbd", "dfn", "ins", "del"}

// xhtmlProblem checks a narrative div (R4 txt-1, txt-2, and the div's
// namespace).
func xhtmlProblem(div string) string {
	dec := xml.NewDecoder(strings.NewReader(div))
	depth, text := 0, false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "is not well-formed XHTML"
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 && (t.Name.Local != "div" || t.Name.Space != "http://www.w3.org/1999/xhtml") {
				return "must be an XHTML div"
			}
			if !slices.Contains(xhtmlAllowed, t.Name.Local) {
				return "uses the element " + t.Name.Local + " narrative does not allow (txt-1)"
			}
			for _, a := range t.Attr {
				if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") {
					return "has an event attribute (txt-1)"
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth > 0 && strings.TrimSpace(string(t)) != "" {
				text = true
			}
		}
	}
	if !text {
		return "has no text (txt-2)"
	}
	return ""
}

func isOSR(res obj) bool           { return claims(res, pOSR) }
func isScreeningAsmt(res obj) bool { return claims(res, pOSR) || claims(res, pScreeningAsmt) }
func isEnrollment(res obj) bool    { return claims(res, pEnrollment) }

const (
	srcTask  = "SDOHCC-TaskForReferralManagement (input/fsh/profiles/SDOHCCTaskForReferralManagement.fsh)"
	srcSR    = "SDOHCC-ServiceRequest (input/fsh/profiles/SDOHCCServiceRequest.fsh)"
	srcCons  = "SDOHCC-Consent (input/fsh/profiles/SDOHCCConsent.fsh)"
	srcOSR   = "SDOHCC-ObservationScreeningResponse (input/fsh/profiles/SDOHCCObservationScreeningResponse.fsh)"
	srcUSSA  = "US Core Observation Screening Assessment (US-Core input/resources-yaml/StructureDefinition-us-core-observation-screening-assessment.yml)"
	srcPat   = "US Core Patient (US-Core input/resources-yaml/StructureDefinition-us-core-patient.yml)"
	srcOrg   = "US Core Organization (US-Core input/resources-yaml/StructureDefinition-us-core-organization.yml)"
	srcQR    = "US Core QuestionnaireResponse (US-Core input/resources-yaml/StructureDefinition-us-core-questionnaireresponse.yml)"
	srcProc  = "SDOHCC-Procedure (input/fsh/profiles/SDOHCCProcedure.fsh)"
	srcEnrol = "SDOHCC-ObservationProgramEnrollmentStatus (master: input/fsh/profiles/SDOHCCObservationEnrollmentStatus.fsh)"
	srcHCS   = "SDOHCC-HealthcareServiceForReferralManagement (master: input/fsh/profiles/SDOHCCHealthcareServiceForReferralManagement.fsh)"
	srcR4B   = "FHIR R4 Bundle (bundle.html)"
	srcR4D   = "FHIR R4 DomainResource (domainresource.html, narrative.html)"
)

// rules is the checker.
var rules = []rule{
	// Bundle.
	{"bundle-fullurl", srcR4B + ": every entry has a fullUrl, urn:uuid when the resource has no RESTful address", "Bundle", nil, func(c *checked, _ *entry) string {
		for _, e := range c.entries {
			if e.fullURL == "" {
				return fmt.Sprintf("entry[%d] has no fullUrl", e.index)
			}
		}
		return ""
	}},
	{"bdl-7", srcR4B + ": fullUrl is unique", "Bundle", nil, func(c *checked, _ *entry) string {
		seen := map[string]bool{}
		for _, e := range c.entries {
			if seen[e.fullURL] {
				return "fullUrl repeats"
			}
			seen[e.fullURL] = true
		}
		return ""
	}},
	{"bdl-8", srcR4B + ": fullUrl is not a version-specific reference", "Bundle", nil, func(c *checked, _ *entry) string {
		for _, e := range c.entries {
			if strings.Contains(e.fullURL, "/_history/") {
				return "fullUrl is version specific"
			}
		}
		return ""
	}},
	{"bdl-3", srcR4B + ": entry.request is mandatory in a transaction and prohibited otherwise", "Bundle", nil, func(c *checked, _ *entry) string {
		tx := str(c.bundle, "type") == "transaction"
		for _, v := range list(c.bundle, "entry") {
			if (objOf(objOf(v)["request"]) != nil) != tx {
				return "entry.request does not match the bundle type"
			}
		}
		return ""
	}},
	{"fullurl-matches-id", srcR4B + ": a RESTful fullUrl agrees with the resource's type and id", "Bundle", nil, func(c *checked, _ *entry) string {
		for _, e := range c.entries {
			if m := restfulURL.FindStringSubmatch(e.fullURL); m != nil && (m[2] != e.kind || m[3] != str(e.res, "id")) {
				return fmt.Sprintf("entry[%d] fullUrl disagrees with the resource", e.index)
			}
		}
		return ""
	}},
	{"references-resolve", srcR4B + " (#references): every reference resolves to an entry", "Bundle", nil, func(c *checked, _ *entry) string {
		if c.external {
			return ""
		}
		for i := range c.entries {
			e := &c.entries[i]
			var refs []string
			references(e.res, "", &refs)
			for _, ref := range refs {
				if c.resolve(e, ref) == nil {
					return fmt.Sprintf("entry[%d] references %s, which does not resolve", e.index, ref)
				}
			}
		}
		return ""
	}},
	{"transaction-request", srcR4B + " (http.html#transaction): a transaction entry creates (POST Type, ifNoneExist identifier=...) or updates (PUT Type?identifier=...) by identifier, its fullUrl a urn:uuid", "Bundle", nil, func(c *checked, _ *entry) string {
		if str(c.bundle, "type") != "transaction" {
			return ""
		}
		for _, v := range list(c.bundle, "entry") {
			eo := objOf(v)
			req, res := objOf(eo["request"]), objOf(eo["resource"])
			kind := str(res, "resourceType")
			switch str(req, "method") {
			case "POST":
				if str(req, "url") != kind || !strings.HasPrefix(str(req, "ifNoneExist"), "identifier=") {
					return "a POST entry is not a conditional create of its type"
				}
			case "PUT":
				if !strings.HasPrefix(str(req, "url"), kind+"?identifier=") {
					return "a PUT entry is not a conditional update of its type"
				}
			default:
				return "entry.request.method is not POST or PUT"
			}
			if !strings.HasPrefix(str(eo, "fullUrl"), "urn:uuid:") {
				return "a transaction entry's fullUrl is not a urn:uuid"
			}
		}
		return ""
	}},
	{"resource-id", "FHIR R4 datatypes.html#id: ids are 1 to 64 of A-Z a-z 0-9 - .", "Bundle", nil, func(c *checked, _ *entry) string {
		for _, e := range c.entries {
			if id, ok := e.res["id"].(string); ok && !fhirID.MatchString(id) {
				return fmt.Sprintf("entry[%d] id is not a FHIR id", e.index)
			}
		}
		return ""
	}},

	// Every resource.
	{"dom-6", srcR4D + ": a resource should have a narrative", "", nil, nil},
	{"txt-1", srcR4D + ": the narrative is an XHTML div of basic HTML, with text (txt-1, txt-2)", "", nil, nil},
	{"meta-profile", "refkit: every resource claims the profile it conforms to in meta.profile", "", nil, nil},

	// Task.
	{"task-status-binding", srcTask + ": status from SDOHCCValueSetReferralTaskStatus (required), which excludes ready and received (input/fsh/valuesets/SDOHCCValueSetReferralTaskStatus.fsh)", "Task", nil, func(_ *checked, e *entry) string {
		return oneOf(str(e.res, "status"), "draft", "requested", "accepted", "rejected", "cancelled", "in-progress", "on-hold", "failed", "completed", "entered-in-error")
	}},
	{"task-intent", srcTask + ": intent = order (exactly)", "Task", nil, func(_ *checked, e *entry) string { return oneOf(str(e.res, "intent"), "order") }},
	{"task-code", srcTask + ": code 1.. = task-code#fulfill", "Task", nil, func(_ *checked, e *entry) string {
		if !hasCode(objOf(e.res["code"]), csTaskCode, "fulfill") {
			return "code is not fulfill"
		}
		return ""
	}},
	{"task-focus", srcTask + ": focus 1.. only Reference(SDOHCCServiceRequest)", "Task", nil, func(c *checked, e *entry) string {
		return refOK(c, e, objOf(e.res["focus"]), true, "ServiceRequest")
	}},
	{"task-for", srcTask + ": for 1.. only Reference(RelatedPerson or Group or USCorePatientProfile)", "Task", nil, func(c *checked, e *entry) string {
		return refOK(c, e, objOf(e.res["for"]), true, "Patient", "RelatedPerson", "Group")
	}},
	{"task-authoredOn", srcTask + ": authoredOn 1..", "Task", nil, func(_ *checked, e *entry) string {
		if !fhirDateTime.MatchString(str(e.res, "authoredOn")) || str(e.res, "authoredOn") == "" {
			return "authoredOn is missing or not a dateTime"
		}
		return ""
	}},
	{"task-requester", srcTask + ": requester 1.. only Reference(SDOHCCPractitionerRole or USCoreOrganizationProfile)", "Task", nil, func(c *checked, e *entry) string {
		return refOK(c, e, objOf(e.res["requester"]), true, "PractitionerRole", "Organization")
	}},
	{"task-statusReason-text", srcTask + ": statusReason.text 1..", "Task", nil, func(_ *checked, e *entry) string {
		if sr := objOf(e.res["statusReason"]); sr != nil && str(sr, "text") == "" {
			return "statusReason has no text"
		}
		return ""
	}},
	{"task-statusReason-when", srcTask + ": statusReason ^comment, a rejected, cancelled, on-hold or failed Task should carry statusReason.text", "Task", nil, func(_ *checked, e *entry) string {
		switch str(e.res, "status") {
		case "rejected", "cancelled", "on-hold", "failed":
			if str(objOf(e.res["statusReason"]), "text") == "" {
				return "a " + str(e.res, "status") + " Task has no statusReason.text"
			}
		}
		return ""
	}},
	{"task-output-activity-reference", srcTask + ": output[PerformedActivityReference] (type resulting-activity) valueReference 1..1 only Reference(SDOHCCProcedure)", "Task", nil, func(c *checked, e *entry) string {
		for _, o := range objs(e.res, "output") {
			if !hasCode(objOf(o["type"]), csSDOHCC, "resulting-activity") || o["valueReference"] == nil {
				continue
			}
			ref := str(objOf(o["valueReference"]), "reference")
			if p := refOK(c, e, objOf(o["valueReference"]), true, "Procedure"); p != "" {
				return "resulting-activity " + p
			}
			if t := c.resolve(e, ref); t != nil && !claims(t.res, pProcedure) {
				return "resulting-activity references a Procedure that does not claim SDOHCC-Procedure"
			}
		}
		return ""
	}},
	{"task-output-activity-code", srcTask + ": output[PerformedActivityCode] valueCodeableConcept from USCoreProcedureCodes (required)", "Task", nil, func(_ *checked, e *entry) string {
		for _, o := range objs(e.res, "output") {
			if hasCode(objOf(o["type"]), csSDOHCC, "resulting-activity") && o["valueCodeableConcept"] != nil {
				if p := procedureCode(objOf(o["valueCodeableConcept"])); p != "" {
					return "resulting-activity code " + p
				}
			}
		}
		return ""
	}},
	{"task-output-additional-content", srcTask + " (master): output[AdditionalContent] valueReference only Reference(enrollment status, assessment, screening response, Goal, Condition, QuestionnaireResponse, CarePlan)", "Task", nil, func(c *checked, e *entry) string {
		for _, o := range objs(e.res, "output") {
			if !hasCode(objOf(o["type"]), csSDOHCC, "additional-content") {
				continue
			}
			if p := refOK(c, e, objOf(o["valueReference"]), true, "Observation", "Goal", "Condition", "QuestionnaireResponse", "CarePlan"); p != "" {
				return "additional-content " + p
			}
		}
		return ""
	}},
	{"inv-1", "FHIR R4 Task inv-1: last modified date must be greater than or equal to authored-on date", "Task", nil, func(_ *checked, e *entry) string {
		a, m := str(e.res, "authoredOn"), str(e.res, "lastModified")
		if a != "" && m != "" && m < a {
			return "lastModified is before authoredOn"
		}
		return ""
	}},
	{"task-priority", "FHIR R4 Task.priority (required binding request-priority)", "Task", nil, func(_ *checked, e *entry) string {
		if p := str(e.res, "priority"); p != "" {
			return oneOf(p, "routine", "urgent", "asap", "stat")
		}
		return ""
	}},
	{"task-businessStatus", "refkit: a business status coded in refkit's system is one of the referral's status (lifecycle's substates)", "Task", nil, func(_ *checked, e *entry) string {
		within := map[string][]string{
			"acknowledged": {"requested"}, "waitlisted": {"accepted"}, "scheduled": {"accepted", "in-progress"},
			"no-show": {"accepted", "in-progress"}, "cancel-requested": {"accepted", "in-progress", "on-hold"},
			"cancel-refused": {"accepted", "in-progress", "on-hold"},
		}
		for _, cd := range codings(objOf(e.res["businessStatus"])) {
			if str(cd, "system") == csRefkitBS && !slices.Contains(within[str(cd, "code")], str(e.res, "status")) {
				return "business status " + str(cd, "code") + " is not one of a " + str(e.res, "status") + " Task"
			}
		}
		return ""
	}},

	// ServiceRequest.
	{"sr-status", srcSR + ": status (required binding request-status, FHIR R4)", "ServiceRequest", nil, func(_ *checked, e *entry) string {
		return oneOf(str(e.res, "status"), "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown")
	}},
	{"sr-intent", srcSR + ": intent (required binding request-intent, FHIR R4)", "ServiceRequest", nil, func(_ *checked, e *entry) string {
		return oneOf(str(e.res, "intent"), "proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option")
	}},
	{"sr-code", srcSR + ": code 1..1 (US Core ServiceRequest) from USCoreProcedureCodes (required)", "ServiceRequest", nil, func(_ *checked, e *entry) string {
		return procedureCode(objOf(e.res["code"]))
	}},
	{"sr-subject", srcSR + ": subject 1..1 only Reference(Group or USCorePatientProfile or USCoreLocationProfile)", "ServiceRequest", nil, func(c *checked, e *entry) string {
		return refOK(c, e, objOf(e.res["subject"]), true, "Patient", "Group", "Location")
	}},
	{"sr-category-sdohcc", srcSR + ": category[SDOHCC] from SDOHCCValueSetSDOHCategory (required)", "ServiceRequest", nil, func(_ *checked, e *entry) string {
		return sdohCodings(objs(e.res, "category"))
	}},
	{"sr-priority", "FHIR R4 ServiceRequest.priority (required binding request-priority)", "ServiceRequest", nil, func(_ *checked, e *entry) string {
		if p := str(e.res, "priority"); p != "" {
			return oneOf(p, "routine", "urgent", "asap", "stat")
		}
		return ""
	}},
	{"sr-reasonReference", srcSR + ": reasonReference (SupportedReasonReference: SDOHCCCondition, ObservationScreeningResponse, ObservationAssessment)", "ServiceRequest", nil, func(c *checked, e *entry) string {
		for _, r := range objs(e.res, "reasonReference") {
			if p := refOK(c, e, r, true, "Observation", "Condition", "DiagnosticReport", "DocumentReference"); p != "" {
				return "reasonReference " + p
			}
		}
		return ""
	}},
	{"sr-supportingInfo", srcSR + ": supportingInfo[SupportedSupportingInfo] only Reference(SDOHCCConsent)", "ServiceRequest", nil, func(c *checked, e *entry) string {
		for _, r := range objs(e.res, "supportingInfo") {
			if t := c.resolve(e, str(r, "reference")); t != nil && t.kind == "Consent" && !claims(t.res, pConsent) {
				return "supportingInfo references a Consent that does not claim SDOHCC-Consent"
			}
		}
		return ""
	}},
	{"sr-specimen-bodySite", srcSR + ": specimen ..0, bodySite ..0", "ServiceRequest", nil, func(_ *checked, e *entry) string {
		if e.res["specimen"] != nil || e.res["bodySite"] != nil {
			return "has a specimen or a body site"
		}
		return ""
	}},

	// Consent.
	{"consent-status", srcCons + ": status (required binding consent-state-codes, FHIR R4)", "Consent", nil, func(_ *checked, e *entry) string {
		return oneOf(str(e.res, "status"), "draft", "proposed", "active", "rejected", "inactive", "entered-in-error")
	}},
	{"consent-scope", srcCons + ": scope 1..1 (FHIR R4)", "Consent", nil, func(_ *checked, e *entry) string {
		if len(codings(objOf(e.res["scope"]))) == 0 {
			return "scope is missing"
		}
		return ""
	}},
	{"consent-category-idscl", srcCons + ": category[IDSCL] 1..1 = v3-ActCode#IDSCL", "Consent", nil, func(_ *checked, e *entry) string {
		n := 0
		for _, cc := range objs(e.res, "category") {
			if hasCode(cc, csActCode, "IDSCL") {
				n++
			}
		}
		if n != 1 {
			return "has no IDSCL category (or several)"
		}
		return ""
	}},
	{"consent-patient", srcCons + ": patient 1.. only Reference(USCorePatientProfile)", "Consent", nil, func(c *checked, e *entry) string {
		return refOK(c, e, objOf(e.res["patient"]), true, "Patient")
	}},
	{"consent-dateTime", srcCons + ": dateTime 1..", "Consent", nil, func(_ *checked, e *entry) string {
		if str(e.res, "dateTime") == "" || !fhirDateTime.MatchString(str(e.res, "dateTime")) {
			return "dateTime is missing or malformed"
		}
		return ""
	}},
	{"consent-organization", srcCons + ": organization 1..1 only Reference(USCoreOrganizationProfile)", "Consent", nil, func(c *checked, e *entry) string {
		orgs := objs(e.res, "organization")
		if len(orgs) != 1 {
			return "must have exactly one organization"
		}
		return refOK(c, e, orgs[0], true, "Organization")
	}},
	{"consent-source", srcCons + ": source[x] 1.. (one of sourceAttachment, sourceReference)", "Consent", nil, func(_ *checked, e *entry) string {
		if (e.res["sourceAttachment"] == nil) == (e.res["sourceReference"] == nil) {
			return "must have one source"
		}
		return ""
	}},
	{"ppc-1", "FHIR R4 Consent ppc-1: either a policy or a policyRule", "Consent", nil, func(_ *checked, e *entry) string {
		if e.res["policy"] == nil && e.res["policyRule"] == nil {
			return "has neither policy nor policyRule"
		}
		return ""
	}},
	{"ppc-2", "FHIR R4 Consent ppc-2: if scope is patient-privacy there must be a patient", "Consent", nil, func(_ *checked, e *entry) string {
		if hasCode(objOf(e.res["scope"]), csConsentSc, "patient-privacy") && e.res["patient"] == nil {
			return "a privacy consent without a patient"
		}
		return ""
	}},

	// Patient.
	{"patient-identifier", srcPat + ": identifier 1..*", "Patient", nil, func(_ *checked, e *entry) string {
		if len(objs(e.res, "identifier")) == 0 {
			return "has no identifier"
		}
		return ""
	}},
	{"patient-identifier-system-value", srcPat + ": identifier.system 1..1, identifier.value 1..1", "Patient", nil, func(_ *checked, e *entry) string {
		for _, id := range objs(e.res, "identifier") {
			if str(id, "system") == "" || str(id, "value") == "" {
				return "an identifier lacks its system or value"
			}
		}
		return ""
	}},
	{"patient-name", srcPat + ": name 1..*", "Patient", nil, func(_ *checked, e *entry) string {
		if len(objs(e.res, "name")) == 0 {
			return "has no name"
		}
		return ""
	}},
	{"us-core-6", srcPat + ": us-core-6, a name has family or given, or else the data-absent-reason extension", "Patient", nil, func(_ *checked, e *entry) string {
		for _, n := range objs(e.res, "name") {
			has := str(n, "family") != "" || len(list(n, "given")) > 0
			dar := slices.ContainsFunc(objs(n, "extension"), func(x obj) bool { return str(x, "url") == urlDAR })
			if has == dar {
				return "a name is neither given nor declared absent (or both)"
			}
		}
		return ""
	}},
	{"patient-gender", srcPat + ": gender 1..1 from administrative-gender (required); unknown for data refkit lacks (US-Core general-requirements.md, Missing Data)", "Patient", nil, func(_ *checked, e *entry) string {
		return oneOf(str(e.res, "gender"), "male", "female", "other", "unknown")
	}},
	{"patient-birthDate", "FHIR R4 Patient.birthDate is a date", "Patient", nil, func(_ *checked, e *entry) string {
		if b := str(e.res, "birthDate"); b != "" && !fhirDate.MatchString(b) {
			return "birthDate is not a date"
		}
		return ""
	}},

	// Organization.
	{"organization-active", srcOrg + ": active 1..1", "Organization", nil, func(_ *checked, e *entry) string {
		if _, ok := e.res["active"].(bool); !ok {
			return "active is missing"
		}
		return ""
	}},
	{"organization-name", srcOrg + ": name 1..1", "Organization", nil, func(_ *checked, e *entry) string {
		if strings.TrimSpace(str(e.res, "name")) == "" {
			return "name is missing"
		}
		return ""
	}},
	{"us-core-16-17", srcOrg + ": us-core-16 and us-core-17, an NPI is 10 digits with a valid check digit", "Organization", nil, func(_ *checked, e *entry) string {
		for _, id := range objs(e.res, "identifier") {
			if str(id, "system") == csNPI && !luhnNPI(str(id, "value")) {
				return "an NPI fails its check"
			}
		}
		return ""
	}},
	{"us-core-18", srcOrg + ": us-core-18, a CLIA number is 2 digits, D, 7 digits", "Organization", nil, func(_ *checked, e *entry) string {
		for _, id := range objs(e.res, "identifier") {
			if str(id, "system") == csCLIA && !regexp.MustCompile(`^[0-9]{2}D[0-9]{7}$`).MatchString(str(id, "value")) {
				return "a CLIA number is malformed"
			}
		}
		return ""
	}},
	{"us-core-19", srcOrg + ": us-core-19, an NAIC code is 5 digits", "Organization", nil, func(_ *checked, e *entry) string {
		for _, id := range objs(e.res, "identifier") {
			if str(id, "system") == csNAIC && !regexp.MustCompile(`^[0-9]{5}$`).MatchString(str(id, "value")) {
				return "an NAIC code is malformed"
			}
		}
		return ""
	}},

	// Screening Observations.
	{"osr-status", srcOSR + ": status from SDOHCCValueSetObservationStatus (required): final, corrected, entered-in-error, unknown", "Observation", isOSR, func(_ *checked, e *entry) string {
		return oneOf(str(e.res, "status"), "final", "corrected", "entered-in-error", "unknown")
	}},
	{"osr-category-count", srcOSR + ": category 2..*", "Observation", isOSR, func(_ *checked, e *entry) string {
		if len(objs(e.res, "category")) < 2 {
			return "has fewer than two categories"
		}
		return ""
	}},
	{"ussa-category-survey", srcUSSA + ": category[survey] 1..1 = observation-category#survey", "Observation", isScreeningAsmt, func(_ *checked, e *entry) string {
		n := 0
		for _, cc := range objs(e.res, "category") {
			if hasCode(cc, csObsCat, "survey") {
				n++
			}
		}
		if n != 1 {
			return "has no survey category (or several)"
		}
		return ""
	}},
	{"SDOH-Obs-4", srcOSR + ": SDOH-Obs-4 (input/fsh/invariants/SDOH-Obs-4.fsh), at least one category is us-core-category#sdoh", "Observation", isOSR, func(_ *checked, e *entry) string {
		if !anyCode(objs(e.res, "category"), csUSCoreCat, "sdoh") {
			return "has no sdoh category"
		}
		return ""
	}},
	{"osr-category-sdohcc", srcOSR + ": category[SDOHCC] from SDOHCCValueSetSDOHCategory (required)", "Observation", isOSR, func(_ *checked, e *entry) string {
		return sdohCodings(objs(e.res, "category"))
	}},
	{"osr-code", srcOSR + ": code from USCoreSurveyCodes (required): LOINC survey codes", "Observation", isOSR, func(_ *checked, e *entry) string {
		for _, cd := range codings(objOf(e.res["code"])) {
			if str(cd, "system") == csLOINC && loincCode.MatchString(str(cd, "code")) {
				return ""
			}
		}
		return "code has no LOINC coding"
	}},
	{"ussa-subject", srcOSR + ": subject 1.. only Reference(USCorePatientProfile)", "Observation", isScreeningAsmt, func(c *checked, e *entry) string {
		return refOK(c, e, objOf(e.res["subject"]), true, "Patient")
	}},
	{"us-core-1", srcUSSA + ": effective[x] 1.. (SDOHCC) as dateTime or Period, a dateTime to the day at least (us-core-1)", "Observation", isScreeningAsmt, func(_ *checked, e *entry) string {
		if p := objOf(e.res["effectivePeriod"]); p != nil {
			return ""
		}
		d := str(e.res, "effectiveDateTime")
		if len(d) < 10 || !fhirDateTime.MatchString(d) {
			return "effective is missing or not a dateTime to the day"
		}
		return ""
	}},
	{"us-core-2", srcUSSA + ": us-core-2, without component or hasMember a value or a dataAbsentReason", "Observation", isScreeningAsmt, func(_ *checked, e *entry) string {
		if e.res["component"] != nil || e.res["hasMember"] != nil || e.res["dataAbsentReason"] != nil {
			return ""
		}
		for k := range e.res {
			if strings.HasPrefix(k, "value") {
				return ""
			}
		}
		return "has no value, dataAbsentReason or members"
	}},
	{"us-core-3", srcUSSA + ": us-core-3, a Quantity value uses UCUM", "Observation", nil, func(_ *checked, e *entry) string {
		if q := objOf(e.res["valueQuantity"]); q != nil && str(q, "system") != "" && str(q, "system") != csUCUM {
			return "a quantity is not UCUM"
		}
		return ""
	}},
	{"osr-bodySite-specimen", srcOSR + ": bodySite ..0, specimen ..0", "Observation", isOSR, func(_ *checked, e *entry) string {
		if e.res["bodySite"] != nil || e.res["specimen"] != nil {
			return "has a body site or a specimen"
		}
		return ""
	}},
	{"ussa-hasMember", srcUSSA + ": hasMember only Reference(us-core-observation-screening-assessment or QuestionnaireResponse or MolecularSequence)", "Observation", isScreeningAsmt, func(c *checked, e *entry) string {
		for _, r := range objs(e.res, "hasMember") {
			if p := refOK(c, e, r, true, "Observation", "QuestionnaireResponse", "MolecularSequence"); p != "" {
				return "hasMember " + p
			}
			if t := c.resolve(e, str(r, "reference")); t != nil && t.kind == "Observation" && !isScreeningAsmt(t.res) {
				return "a member is not a screening assessment"
			}
		}
		return ""
	}},
	{"ussa-derivedFrom", srcOSR + ": derivedFrom only Reference(USCoreDocumentReferenceProfile or USCoreQuestionnaireResponseProfile or USCoreObservationScreeningAssessmentProfile)", "Observation", isScreeningAsmt, func(c *checked, e *entry) string {
		for _, r := range objs(e.res, "derivedFrom") {
			if p := refOK(c, e, r, true, "DocumentReference", "QuestionnaireResponse", "Observation"); p != "" {
				return "derivedFrom " + p
			}
		}
		return ""
	}},
	{"osr-derivedFrom-qr", "refkit, after the IG's examples (input/fsh/instances/SDOHCC-ObservationResponse*.fsh): a screening response is derivedFrom the QuestionnaireResponse in the bundle", "Observation", isScreeningAsmt, func(c *checked, e *entry) string {
		for _, r := range objs(e.res, "derivedFrom") {
			if t := c.resolve(e, str(r, "reference")); (t != nil && t.kind == "QuestionnaireResponse") || (t == nil && c.external) {
				return ""
			}
		}
		return "is not derived from a QuestionnaireResponse"
	}},

	// Enrollment Observation.
	{"enrollment-category-sdoh", srcEnrol + ": category[us-core] 1..* (sdoh, SDOH-Obs-4)", "Observation", isEnrollment, func(_ *checked, e *entry) string {
		if !anyCode(objs(e.res, "category"), csUSCoreCat, "sdoh") {
			return "has no sdoh category"
		}
		return ""
	}},
	{"enrollment-category", srcEnrol + ": category[enrollment] = SDOHCC#program-enrollment", "Observation", isEnrollment, func(_ *checked, e *entry) string {
		if !anyCode(objs(e.res, "category"), csSDOHCC, "program-enrollment") {
			return "has no program-enrollment category"
		}
		return ""
	}},
	{"enrollment-value", srcEnrol + ": value[x] 1.. from SDOHCCValueSetProgramEnrollmentStatus (master: input/fsh/valuesets/SDOHCCValueSetEnrollmentStatus.fsh)", "Observation", isEnrollment, func(_ *checked, e *entry) string {
		v := objOf(e.res["valueCodeableConcept"])
		for _, code := range []string{"enrolled", "not-enrolled", "not-enrolled-on-waitlist"} {
			if hasCode(v, csSDOHCC, code) {
				return ""
			}
		}
		return "value is not an enrollment status"
	}},
	{"enrollment-subject", srcEnrol + ": subject 1..1 (US Core Simple Observation)", "Observation", isEnrollment, func(c *checked, e *entry) string {
		return refOK(c, e, objOf(e.res["subject"]), true, "Patient", "Group", "Device", "Location")
	}},
	{"enrollment-status", "FHIR R4 Observation.status (required binding observation-status)", "Observation", isEnrollment, func(_ *checked, e *entry) string {
		return oneOf(str(e.res, "status"), "registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown")
	}},

	// QuestionnaireResponse.
	{"qr-questionnaire", srcQR + ": questionnaire 1..1 (SDC QuestionnaireResponse, its base)", "QuestionnaireResponse", nil, func(_ *checked, e *entry) string {
		if str(e.res, "questionnaire") == "" {
			return "questionnaire is missing"
		}
		return ""
	}},
	{"qr-status", "FHIR R4 QuestionnaireResponse.status 1..1 (required binding)", "QuestionnaireResponse", nil, func(_ *checked, e *entry) string {
		return oneOf(str(e.res, "status"), "in-progress", "completed", "amended", "entered-in-error", "stopped")
	}},
	{"qr-subject", srcQR + ": subject 1..1", "QuestionnaireResponse", nil, func(c *checked, e *entry) string {
		return refOK(c, e, objOf(e.res["subject"]), true, "Patient", "Group", "RelatedPerson", "Practitioner", "Organization", "Device", "Location")
	}},
	{"qr-authored", srcQR + ": authored (must support), a dateTime", "QuestionnaireResponse", nil, func(_ *checked, e *entry) string {
		if a := str(e.res, "authored"); a == "" || !fhirDateTime.MatchString(a) {
			return "authored is missing or not a dateTime"
		}
		return ""
	}},
	{"qr-items", srcQR + ": item.linkId 1..1, an answer has one value[x]; FHIR R4 qrs-1 (an item has answers or items, not both) and qrs-2 (linkIds are distinct among siblings)", "QuestionnaireResponse", nil, func(_ *checked, e *entry) string {
		return qrItems(objs(e.res, "item"))
	}},

	// Procedure.
	{"procedure-status", srcProc + ": status from EventStatus (required)", "Procedure", nil, func(_ *checked, e *entry) string {
		return oneOf(str(e.res, "status"), "preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown")
	}},
	{"procedure-code", srcProc + ": code 1.. from USCoreProcedureCodes (required)", "Procedure", nil, func(_ *checked, e *entry) string {
		return procedureCode(objOf(e.res["code"]))
	}},
	{"procedure-subject", srcProc + ": subject 1..1 (FHIR R4) only Reference(USCorePatientProfile)", "Procedure", nil, func(c *checked, e *entry) string {
		return refOK(c, e, objOf(e.res["subject"]), true, "Patient")
	}},
	{"us-core-7", srcProc + ": us-core-7, performed[x] when completed or in progress", "Procedure", nil, func(_ *checked, e *entry) string {
		if s := str(e.res, "status"); s == "completed" || s == "in-progress" {
			for k := range e.res {
				if strings.HasPrefix(k, "performed") {
					return ""
				}
			}
			return "a " + s + " Procedure has no performed[x]"
		}
		return ""
	}},
	{"procedure-category-sdohcc", srcProc + ": category.coding[SDOHCC] from SDOHCCValueSetSDOHCategory (required)", "Procedure", nil, func(_ *checked, e *entry) string {
		if c := objOf(e.res["category"]); c != nil {
			return sdohCodings([]obj{c})
		}
		return ""
	}},
	{"procedure-basedOn", srcProc + ": basedOn[SupportedBasedOn] only Reference(SDOHCCServiceRequest or USCoreCarePlanProfile)", "Procedure", nil, func(c *checked, e *entry) string {
		for _, r := range objs(e.res, "basedOn") {
			if p := refOK(c, e, r, true, "ServiceRequest", "CarePlan"); p != "" {
				return "basedOn " + p
			}
		}
		return ""
	}},

	// HealthcareService.
	{"hcs-capacity-status", srcHCS + ": extension[capacity-status] 1..1 with capacityStatus 1..1 (a CodeableConcept, extensible binding SDOHCCValueSetCapacityStatus) and capacityNotes 0..1 (a string)", "HealthcareService", nil, func(_ *checked, e *entry) string {
		var found []obj
		for _, x := range objs(e.res, "extension") {
			if str(x, "url") == urlCapacity {
				found = append(found, x)
			}
		}
		if len(found) != 1 {
			return "has no capacity status extension (or several)"
		}
		status, notes := 0, 0
		for _, sub := range objs(found[0], "extension") {
			switch str(sub, "url") {
			case "capacityStatus":
				status++
				v := objOf(sub["valueCodeableConcept"])
				if v == nil {
					return "capacityStatus is not a CodeableConcept"
				}
				for _, cd := range codings(v) {
					if str(cd, "system") == csSDOHCC && !slices.Contains([]string{"capacity", "no-capacity", "waitlist", "additional-assessment-required"}, str(cd, "code")) {
						return "capacityStatus codes no capacity status"
					}
				}
				if len(codings(v)) == 0 && str(v, "text") == "" {
					return "capacityStatus is empty"
				}
			case "capacityNotes":
				notes++
				if _, ok := sub["valueString"].(string); !ok {
					return "capacityNotes is not a string"
				}
			}
		}
		if status != 1 || notes > 1 {
			return "capacityStatus must appear once and capacityNotes at most once"
		}
		return ""
	}},
	{"hcs-active", srcHCS + ": active 1.. = true (exactly)", "HealthcareService", nil, func(_ *checked, e *entry) string {
		if a, ok := e.res["active"].(bool); !ok || !a {
			return "active is not true"
		}
		return ""
	}},
	{"hcs-category", srcHCS + ": category 1.., category.coding[ServiceCategory] 1..1 from SDOHCCValueSetServiceCategory (us-core-category#sdoh)", "HealthcareService", nil, func(_ *checked, e *entry) string {
		n := 0
		for _, cc := range objs(e.res, "category") {
			for _, cd := range codings(cc) {
				if str(cd, "system") == csServiceCat && str(cd, "code") == "sdoh" {
					n++
				}
			}
		}
		if n != 1 {
			return "has no sdoh service category (or several)"
		}
		return ""
	}},
	{"hcs-category-sdohcc", srcHCS + ": category.coding[SDOHCC] from SDOHCCValueSetSDOHCategory (required)", "HealthcareService", nil, func(_ *checked, e *entry) string {
		return sdohCodings(objs(e.res, "category"))
	}},
	{"hcs-type", srcHCS + ": type 1..1", "HealthcareService", nil, func(_ *checked, e *entry) string {
		if len(objs(e.res, "type")) != 1 {
			return "must have exactly one type"
		}
		return ""
	}},
	{"hcs-name", srcHCS + ": name 1..", "HealthcareService", nil, func(_ *checked, e *entry) string {
		if str(e.res, "name") == "" {
			return "name is missing"
		}
		return ""
	}},
	{"hcs-providedBy", "FHIR R4 HealthcareService.providedBy only Reference(Organization)", "HealthcareService", nil, func(c *checked, e *entry) string {
		return refOK(c, e, objOf(e.res["providedBy"]), false, "Organization")
	}},
}

// domainResources are the kinds the resource-wide rules apply to.
var domainResources = []string{"ServiceRequest", "Task", "Consent", "Patient", "Organization", "Observation", "QuestionnaireResponse", "Procedure", "HealthcareService"}

func init() {
	// The resource-wide rules apply to every kind: one rule each, run per kind.
	var expanded []rule
	for _, r := range rules {
		if r.kind != "" {
			expanded = append(expanded, r)
			continue
		}
		for _, kind := range domainResources {
			r := r
			r.kind = kind
			switch r.id {
			case "dom-6":
				r.check = func(_ *checked, e *entry) string {
					if t := objOf(e.res["text"]); t == nil || str(t, "div") == "" || str(t, "status") == "" {
						return "has no narrative"
					}
					return ""
				}
			case "txt-1":
				r.check = func(_ *checked, e *entry) string {
					if t := objOf(e.res["text"]); t != nil {
						return xhtmlProblem(str(t, "div"))
					}
					return ""
				}
			case "meta-profile":
				r.check = func(_ *checked, e *entry) string {
					if len(profiles(e.res)) == 0 {
						return "claims no profile"
					}
					return ""
				}
			}
			expanded = append(expanded, r)
		}
	}
	rules = expanded
}

// qrItems checks QuestionnaireResponse items, nested.
func qrItems(items []obj) string {
	seen := map[string]bool{}
	for _, it := range items {
		link := str(it, "linkId")
		if link == "" {
			return "an item has no linkId"
		}
		if seen[link] {
			return "linkId " + link + " repeats among siblings (qrs-2)"
		}
		seen[link] = true
		if it["answer"] != nil && it["item"] != nil {
			return "an item has both answers and items (qrs-1)"
		}
		for _, a := range objs(it, "answer") {
			n := 0
			for k := range a {
				if strings.HasPrefix(k, "value") {
					n++
				}
			}
			if n != 1 {
				return "an answer does not have exactly one value"
			}
			if p := qrItems(objs(a, "item")); p != "" {
				return p
			}
		}
		if p := qrItems(objs(it, "item")); p != "" {
			return p
		}
	}
	return ""
}

// luhnNPI is us-core-17 as its FHIRPath computes it.
func luhnNPI(s string) bool {
	if !regexp.MustCompile(`^[0-9]{10}$`).MatchString(s) {
		return false
	}
	sum := 24
	for i, r := range s {
		d := int(r - '0')
		if i%2 == 0 {
			if d < 5 {
				d *= 2
			} else {
				d = d*2 - 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
