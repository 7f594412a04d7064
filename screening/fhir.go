package screening

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refkit/refkit/referral"
)

// FHIR code systems used in Observations.
const (
	SystemLOINC = "http://loinc.org"
	// LocalSystemPrefix, followed by the instrument id, is the code system of
	// an instrument's local codes when its definition names no System.
	LocalSystemPrefix         = "urn:refkit:screening:"
	SystemObservationCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
	SystemDataAbsentReason    = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
	SystemInterpretation      = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	// SystemUSCoreCategory holds US Core's categories, among them "sdoh", the
	// screening-assessment category every SDOH screening Observation carries.
	SystemUSCoreCategory = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category"
)

// Profiles the rendered resources claim in meta.profile.
const (
	// ProfileScreeningResponse is the SDOH Clinical Care IG's Observation
	// Screening Response (STU 2.3), claimed by the Observations of an SDOH
	// instrument whose code is LOINC, as its required binding wants.
	ProfileScreeningResponse = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-ObservationScreeningResponse"
	// ProfileScreeningAssessment is US Core 7's Observation Screening
	// Assessment, claimed by every other screening Observation.
	ProfileScreeningAssessment = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-screening-assessment"
	// ProfileQuestionnaireResponse is US Core 7's QuestionnaireResponse.
	ProfileQuestionnaireResponse = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-questionnaireresponse"
	// QuestionnairePrefix, followed by the instrument id, is the canonical of
	// the flat questionnaire refkit renders an instrument as, when the IG
	// publishes none of the same shape.
	QuestionnairePrefix = "https://refkit.dev/fhir/Questionnaire/"
)

// Coding is a FHIR R4 Coding.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// CodeableConcept is a FHIR R4 CodeableConcept.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Reference is a FHIR R4 Reference.
type Reference struct {
	Reference string `json:"reference,omitempty"`
}

// Meta is the part of FHIR R4 resource metadata refkit writes: the version,
// when it was last changed, and the profiles the resource claims.
type Meta struct {
	VersionID   string   `json:"versionId,omitempty"`
	LastUpdated string   `json:"lastUpdated,omitempty"`
	Profile     []string `json:"profile,omitempty"`
}

// Narrative is a resource's human-readable summary (FHIR R4 text): status
// "generated" and an XHTML div.
type Narrative struct {
	Status string `json:"status"`
	Div    string `json:"div"`
}

// Identifier is a FHIR R4 Identifier.
type Identifier struct {
	Use    string           `json:"use,omitempty"`
	Type   *CodeableConcept `json:"type,omitempty"`
	System string           `json:"system,omitempty"`
	Value  string           `json:"value,omitempty"`
}

// Annotation is a FHIR R4 Annotation: a note.
type Annotation struct {
	Text string `json:"text"`
}

// QuestionnaireResponse is the part of a FHIR R4 QuestionnaireResponse that
// screening reads and writes: items (nested groups are flattened on reading)
// and their answers.
type QuestionnaireResponse struct {
	ResourceType  string      `json:"resourceType"`
	ID            string      `json:"id,omitempty"`
	Meta          *Meta       `json:"meta,omitempty"`
	Text          *Narrative  `json:"text,omitempty"`
	Identifier    *Identifier `json:"identifier,omitempty"`
	Questionnaire string      `json:"questionnaire,omitempty"`
	Status        string      `json:"status,omitempty"`
	Subject       *Reference  `json:"subject,omitempty"`
	Authored      string      `json:"authored,omitempty"`
	Item          []QRItem    `json:"item,omitempty"`
}

// QRItem is a QuestionnaireResponse item. LinkID is the item's LOINC code, with
// or without a leading "/", or an LHC-Forms path such as "/96777-8/71802-3".
type QRItem struct {
	LinkID string     `json:"linkId"`
	Text   string     `json:"text,omitempty"`
	Answer []QRAnswer `json:"answer,omitempty"`
	Item   []QRItem   `json:"item,omitempty"`
}

// QRAnswer is one answer value: a LOINC answer coding, an integer, a decimal
// (accepted when it is a whole number) or a string (a choice item's code or
// display text, or a text item's answer).
type QRAnswer struct {
	ValueCoding  *Coding      `json:"valueCoding,omitempty"`
	ValueInteger *int         `json:"valueInteger,omitempty"`
	ValueDecimal *json.Number `json:"valueDecimal,omitempty"`
	ValueString  *string      `json:"valueString,omitempty"`
}

// Bounds on the items a QuestionnaireResponse may name, nesting included,
// beyond the document limits (questionnaireLimits) checked before decoding.
const (
	maxQRItems = 10000
	maxQRDepth = 10
)

// derivedItem is an item an instrument's FHIR form carries whose answer is
// computed from the others rather than asked: a QuestionnaireResponse may
// include it, and refkit checks it against its own scoring instead of taking
// it as an answer, and renders it as an Observation derived from the items.
type derivedItem struct {
	panel    string // the LOINC panel code of the instrument
	code     string
	display  string
	domain   referral.Domain // positive is "domain found", negative "not found"
	positive Coding
	negative Coding
}

// derivedItems are the derived items of the built-in instruments' panels.
// Hunger Vital Sign: 88124-3 "Food insecurity risk", at risk when either
// question is answered often or sometimes true, as the SDOH Clinical Care
// IG's questionnaire computes it (2.3.0,
// input/fsh/instances/SDOHCC-QuestionnaireHungerVitalSign.fsh,
// calculatedExpression on /88124-3; example
// SDOHCC-QuestionnaireResponseHungerVitalSignExample.fsh).
var derivedItems = []derivedItem{{
	panel: "88121-9", code: "88124-3", display: "Food insecurity risk [HVS]", domain: referral.FoodInsecurity,
	positive: Coding{System: SystemLOINC, Code: "LA19952-3", Display: "At risk"},
	negative: Coding{System: SystemLOINC, Code: "LA19983-8", Display: "No risk"},
}}

// derived returns the instrument's derived items.
func (in *Instrument) derived() []derivedItem {
	var out []derivedItem
	for _, d := range derivedItems {
		if in.Code != "" && d.panel == in.Code {
			out = append(out, d)
		}
	}
	return out
}

// questionnaires are the canonical URLs of questionnaires the IG publishes
// with the flat shape refkit renders: the Hunger Vital Sign (IG 2.3.0,
// input/fsh/instances/SDOHCC-QuestionnaireHungerVitalSign.fsh, linkIds
// "/88122-7", "/88123-5", "/88124-3").
var questionnaires = map[string]string{
	"88121-9": "http://hl7.org/fhir/us/sdoh-clinicalcare/Questionnaire/SDOHCC-QuestionnaireHungerVitalSign",
}

// Questionnaire is the canonical URL of the questionnaire a rendered
// QuestionnaireResponse of the instrument answers: the IG's where it
// publishes one of the same flat shape, otherwise refkit's own
// (QuestionnairePrefix + id, "|" + version when the instrument has one).
func (in *Instrument) Questionnaire() string {
	if q, ok := questionnaires[in.Code]; ok && in.Code != "" {
		return q
	}
	q := QuestionnairePrefix + in.ID
	if in.Version != "" {
		q += "|" + in.Version
	}
	return q
}

// ParseQuestionnaireResponse reads a FHIR R4 QuestionnaireResponse (JSON) into
// a Response. Group items without answers are descended into; an item whose
// linkId is the instrument's panel code is skipped. Items the instrument
// computes (its total, and derived items such as the Hunger Vital Sign's
// 88124-3 "Food insecurity risk") are accepted and checked against what
// scoring the other answers gives: a mismatch fails the response naming the
// item, never the value. An integer item takes valueInteger or a whole
// valueDecimal, a text item valueString. Any other unknown linkId, a repeated
// item or an answer that fits no option or breaks the item's bounds fails the
// whole response. The document is at most 4 MiB of strict I-JSON, nested and
// sized as a response to an instrument can be (see the package's limits), with
// at most 10,000 items nested at most 10 deep: anything else is refused before
// it is decoded.
func ParseQuestionnaireResponse(in *Instrument, data []byte) (*Response, error) {
	if err := checkDocument(data, "questionnaireResponse", questionnaireLimits); err != nil {
		return nil, err
	}
	var qr QuestionnaireResponse
	if err := json.Unmarshal(data, &qr); err != nil {
		return nil, referral.Invalid("questionnaireResponse", "is not a well-formed QuestionnaireResponse")
	}
	if qr.ResourceType != "QuestionnaireResponse" {
		return nil, referral.Invalid("resourceType", "must be QuestionnaireResponse")
	}
	r := in.NewResponse()
	p := qrParse{r: r, derived: in.derived()}
	if err := p.items(qr.Item, "item", 0); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return r, nil
}

// qrParse is one QuestionnaireResponse being read: the response it fills, and
// the computed items it must check once every answer is in.
type qrParse struct {
	r       *Response
	derived []derivedItem
	seen    int
	claims  []claim
}

// claim is a computed item's answer as the sender gave it.
type claim struct {
	id      string
	answers []QRAnswer
}

func (p *qrParse) items(items []QRItem, at string, depth int) error {
	if depth > maxQRDepth {
		return referral.Invalid(at, "nests groups too deeply")
	}
	r := p.r
	for i, it := range items {
		if p.seen++; p.seen > maxQRItems {
			return referral.Invalid("item", "has more than 10000 items")
		}
		field := at + "[" + strconv.Itoa(i) + "]"
		id := it.LinkID
		if k := strings.LastIndexByte(id, '/'); k >= 0 {
			id = id[k+1:]
		}
		if len(it.Answer) == 0 {
			if err := p.items(it.Item, field+".item", depth+1); err != nil {
				return err
			}
			continue
		}
		if id == r.in.Code {
			continue
		}
		if p.computed(id) {
			if slices.ContainsFunc(p.claims, func(c claim) bool { return c.id == id }) {
				return referral.Invalid("answers."+id, "is answered more than once")
			}
			p.claims = append(p.claims, claim{id: id, answers: it.Answer})
			continue
		}
		k, ok := r.in.byID[id]
		if !ok {
			return unknownItem(r.in, id)
		}
		tokens, err := qrTokens(&r.in.Items[k], it.Answer)
		if err != nil {
			return referral.Invalid("answers."+id, err.Error())
		}
		if err := r.Answer(id, tokens...); err != nil {
			return err
		}
		if len(it.Item) > 0 {
			if err := p.items(it.Item, field+".item", depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// computed reports whether id names an item scoring computes: the total or a
// derived item.
func (p *qrParse) computed(id string) bool {
	if t := p.r.in.Total; t != nil && t.Code != "" && id == t.Code {
		return true
	}
	return slices.ContainsFunc(p.derived, func(d derivedItem) bool { return d.code == id })
}

// check holds each computed item the sender gave to what the answers score.
func (p *qrParse) check() error {
	if len(p.claims) == 0 {
		return nil
	}
	res := p.r.Score()
	for _, c := range p.claims {
		bad := func(problem string) error { return referral.Invalid("answers."+c.id, problem) }
		if len(c.answers) != 1 {
			return bad("takes one answer, not several")
		}
		a := c.answers[0]
		if t := p.r.in.Total; t != nil && c.id == t.Code {
			var n int
			var err error
			switch {
			case a.ValueInteger != nil:
				n = *a.ValueInteger
			case a.ValueDecimal != nil:
				n, err = wholeNumber(a.ValueDecimal.String())
			default:
				err = errors.New("must be a number: valueInteger or valueDecimal")
			}
			if err != nil {
				return bad(err.Error())
			}
			if !res.Total.Set || res.Total.Value != n {
				return bad("does not match the total the other answers give")
			}
			continue
		}
		i := slices.IndexFunc(p.derived, func(d derivedItem) bool { return d.code == c.id })
		d := p.derived[i]
		code := ""
		switch {
		case a.ValueCoding != nil:
			code = a.ValueCoding.Code
		case a.ValueString != nil:
			code = *a.ValueString
		}
		var positive bool
		switch {
		case strings.EqualFold(code, d.positive.Code) || strings.EqualFold(code, d.positive.Display):
			positive = true
		case strings.EqualFold(code, d.negative.Code) || strings.EqualFold(code, d.negative.Display):
		default:
			return bad("is not one of the item's options")
		}
		if positive != slices.Contains(res.PositiveDomains, d.domain) {
			return bad("does not match what the other answers give")
		}
	}
	return nil
}

// qrTokens turns an item's FHIR answers into the strings Answer takes, holding
// each item type to the value types that fit it: a count given as valueString,
// or an address as valueInteger, is an error rather than a guess.
func qrTokens(item *Item, answers []QRAnswer) ([]string, error) {
	if len(answers) > maxOptions {
		return nil, errors.New("has too many answers")
	}
	tokens := make([]string, 0, len(answers))
	for _, a := range answers {
		var (
			tok  string
			kind ItemType // the item type this value fits; "" fits choice items
		)
		switch {
		case a.ValueCoding != nil && a.ValueCoding.Code != "":
			tok = a.ValueCoding.Code
		case a.ValueInteger != nil:
			tok, kind = strconv.Itoa(*a.ValueInteger), TypeInteger
		case a.ValueDecimal != nil:
			tok, kind = a.ValueDecimal.String(), TypeInteger
			if !item.freeEntry() {
				// Options are matched on integer values, written plainly.
				n, err := wholeNumber(tok)
				if err != nil {
					return nil, err
				}
				tok = strconv.Itoa(n)
			}
		case a.ValueString != nil:
			tok, kind = *a.ValueString, TypeText
		default:
			return nil, errors.New("needs valueCoding, valueInteger, valueDecimal or valueString")
		}
		switch {
		case item.Type == TypeInteger && kind != TypeInteger:
			return nil, errors.New("must be a number: valueInteger or valueDecimal")
		case item.Type == TypeText && kind != TypeText:
			return nil, errors.New("must be text: valueString")
		}
		tokens = append(tokens, tok)
	}
	return tokens, nil
}

// Observation is a FHIR R4 Observation in the shape of the SDOH Clinical Care
// IG's Observation Screening Response: categories survey, sdoh (for an SDOH
// instrument) and the SDOH domain, code the LOINC item or panel, value the
// answer or score, derived from the QuestionnaireResponse.
type Observation struct {
	ResourceType         string            `json:"resourceType"`
	ID                   string            `json:"id,omitempty"`
	Meta                 *Meta             `json:"meta,omitempty"`
	Text                 *Narrative        `json:"text,omitempty"`
	Identifier           []Identifier      `json:"identifier,omitempty"`
	Status               string            `json:"status"`
	Category             []CodeableConcept `json:"category"`
	Code                 CodeableConcept   `json:"code"`
	Subject              *Reference        `json:"subject,omitempty"`
	Focus                []Reference       `json:"focus,omitempty"`
	EffectiveDateTime    string            `json:"effectiveDateTime,omitempty"`
	Performer            []Reference       `json:"performer,omitempty"`
	ValueCodeableConcept *CodeableConcept  `json:"valueCodeableConcept,omitempty"`
	ValueInteger         *int              `json:"valueInteger,omitempty"`
	ValueString          *string           `json:"valueString,omitempty"`
	DataAbsentReason     *CodeableConcept  `json:"dataAbsentReason,omitempty"`
	Interpretation       []CodeableConcept `json:"interpretation,omitempty"`
	Note                 []Annotation      `json:"note,omitempty"`
	HasMember            []Reference       `json:"hasMember,omitempty"`
	DerivedFrom          []Reference       `json:"derivedFrom,omitempty"`
}

// ObservationOptions say how Observations render a response.
type ObservationOptions struct {
	// Prefix starts every Observation id: "<Prefix>-<n>", so members and
	// derivations can be linked.
	Prefix string
	// Subject is the FHIR reference of the person ("Patient/123"); empty
	// for none (the IG's profiles require one).
	Subject string
	// At is when the answers were given.
	At time.Time
	// Source is the reference of the QuestionnaireResponse the answers were
	// given in ("QuestionnaireResponse/123" or its urn:uuid); every
	// Observation is derivedFrom it. Empty for none.
	Source string
}

// Observations renders the response and its result as FHIR Observations: one
// per answered or declined item (a multiple-answer item gives one per option
// chosen; an integer item's carries valueInteger and a text item's the text
// as valueString, since the Observations are the person's record, unlike the
// Result), one per derived item the answers decide (the Hunger Vital Sign's
// food insecurity risk), then one for the instrument panel carrying the
// total, if any, and the positive domains as categories.
//
// Each claims the SDOH Clinical Care IG's Observation Screening Response when
// the instrument screens for an SDOH domain (a Gravity domain) and the
// Observation's code is LOINC, and US Core's Observation Screening Assessment
// otherwise; an SDOH instrument's Observations carry the sdoh category. The
// panel has the items as members; every Observation is derived from
// opts.Source.
func (r *Response) Observations(res *Result, opts ObservationOptions) []Observation {
	var subj *Reference
	if opts.Subject != "" {
		subj = &Reference{Reference: opts.Subject}
	}
	var source []Reference
	if opts.Source != "" {
		source = []Reference{{Reference: opts.Source}}
	}
	sdoh := r.in.screensSDOH()
	when := opts.At.UTC().Format(time.RFC3339)
	var out []Observation
	next := func() string { return opts.Prefix + "-" + strconv.Itoa(len(out)+1) }
	categories := func(domains ...referral.Domain) []CodeableConcept {
		cats := []CodeableConcept{{Coding: []Coding{{System: SystemObservationCategory, Code: "survey", Display: "Survey"}}}}
		if sdoh {
			cats = append(cats, CodeableConcept{Coding: []Coding{{System: SystemUSCoreCategory, Code: "sdoh", Display: "SDOH"}}})
		}
		for _, d := range domains {
			if d != "" {
				cats = append(cats, domainConcept(d))
			}
		}
		return cats
	}
	meta := func(code Coding) *Meta {
		if sdoh && code.System == SystemLOINC {
			return &Meta{Profile: []string{ProfileScreeningResponse}}
		}
		return &Meta{Profile: []string{ProfileScreeningAssessment}}
	}
	for i := range r.in.Items {
		it := &r.in.Items[i]
		if r.state[i] == unanswered {
			continue
		}
		code := Coding{System: r.in.codeSystem(it.ID), Code: it.ID, Display: it.Text}
		base := Observation{
			ResourceType: "Observation", Meta: meta(code), Status: "final", Category: categories(it.Domain),
			Code: CodeableConcept{Coding: []Coding{code}, Text: it.Text}, Subject: subj, EffectiveDateTime: when,
			DerivedFrom: source,
		}
		if r.state[i] == declined {
			o := base
			o.ID = next()
			o.DataAbsentReason = &CodeableConcept{Coding: []Coding{{System: SystemDataAbsentReason, Code: "asked-declined", Display: "Asked But Declined"}}}
			out = append(out, o)
			continue
		}
		switch it.Type {
		case TypeInteger:
			o, v := base, r.values[i]
			o.ID, o.ValueInteger = next(), &v
			out = append(out, o)
			continue
		case TypeText:
			o, v := base, r.texts[i]
			o.ID, o.ValueString = next(), &v
			out = append(out, o)
			continue
		}
		for k, opt := range it.Options {
			if r.selected[i]&(1<<k) == 0 {
				continue
			}
			o := base
			o.ID = next()
			o.ValueCodeableConcept = &CodeableConcept{Coding: []Coding{{System: r.in.codeSystem(opt.Code), Code: opt.Code, Display: opt.Display}}, Text: opt.Display}
			out = append(out, o)
		}
	}
	// A derived item is an Observation of its own, derived from the answers
	// it is computed from (the IG's example of 88124-3 has no performer).
	for _, d := range r.in.derived() {
		value, ok := r.derivedValue(d, res)
		if !ok {
			continue
		}
		o := Observation{
			ResourceType: "Observation", ID: next(), Status: "final", Category: categories(d.domain),
			Code:    CodeableConcept{Coding: []Coding{{System: SystemLOINC, Code: d.code, Display: d.display}}, Text: d.display},
			Subject: subj, EffectiveDateTime: when, DerivedFrom: slices.Clone(source),
			ValueCodeableConcept: &CodeableConcept{Coding: []Coding{value}, Text: value.Display},
		}
		o.Meta = meta(o.Code.Coding[0])
		for _, prev := range out {
			if slices.ContainsFunc(prev.Category, func(c CodeableConcept) bool { return hasCode(c, string(d.domain)) }) {
				o.DerivedFrom = append(o.DerivedFrom, Reference{Reference: "Observation/" + prev.ID})
			}
		}
		out = append(out, o)
	}
	// An instrument without a LOINC panel code (a host's own) still gets its
	// panel, coded with its id under its local system, so its total and
	// positive domains are not lost.
	panelCode := Coding{System: SystemLOINC, Code: r.in.Code, Display: r.in.Title}
	if r.in.Code == "" {
		panelCode = Coding{System: r.in.localSystem(), Code: r.in.ID, Display: r.in.Title}
	}
	panel := Observation{
		ResourceType: "Observation", ID: next(), Meta: meta(panelCode), Status: "final",
		Category:          categories(res.PositiveDomains...),
		Code:              CodeableConcept{Coding: []Coding{panelCode}, Text: r.in.Title},
		Subject:           subj,
		EffectiveDateTime: when,
		DerivedFrom:       slices.Clone(source),
	}
	for _, o := range out {
		panel.HasMember = append(panel.HasMember, Reference{Reference: "Observation/" + o.ID})
	}
	if res.Total.Set {
		v := res.Total.Value
		panel.ValueInteger = &v
		if r.in.Total.Code != "" {
			panel.Code.Coding = append(panel.Code.Coding, Coding{System: SystemLOINC, Code: r.in.Total.Code})
		}
	}
	interp := Coding{System: SystemInterpretation, Code: "NEG", Display: "Negative"}
	if len(res.PositiveDomains) > 0 || len(res.Flags) > 0 {
		interp = Coding{System: SystemInterpretation, Code: "POS", Display: "Positive"}
	}
	if res.Valid {
		panel.Interpretation = []CodeableConcept{{Coding: []Coding{interp}}}
	}
	return append(out, panel)
}

// derivedValue is a derived item's answer, when the answers decide it: any
// item screening for its domain answered (or declined, as the IG's form
// counts a "don't know" as an answer).
func (r *Response) derivedValue(d derivedItem, res *Result) (Coding, bool) {
	asked := false
	for i := range r.in.Items {
		if r.in.Items[i].Domain == d.domain && r.state[i] != unanswered {
			asked = true
		}
	}
	if !asked {
		return Coding{}, false
	}
	if slices.Contains(res.PositiveDomains, d.domain) {
		return d.positive, true
	}
	return d.negative, true
}

// QuestionnaireResponseOptions say how a rendered QuestionnaireResponse is
// labelled and what it holds.
type QuestionnaireResponseOptions struct {
	// ID is the resource's id.
	ID string
	// Subject is the FHIR reference of the person ("Patient/123").
	Subject string
	// At is when the answers were given (authored).
	At time.Time
	// Keep, if set, keeps only the items it accepts: the receiver of a
	// referral for one need gets the answers about that need, not the whole
	// screening (minimum necessary).
	Keep func(item *Item) bool
}

// QuestionnaireResponse renders the response as a FHIR R4 QuestionnaireResponse
// (US Core 7 profile) of the instrument's flat questionnaire (see
// Questionnaire): one item per answered item, linkId "/<item id>", with the
// chosen options as valueCoding, an integer as valueInteger and text as
// valueString, and the derived items the answers decide. An item declined
// without a "declined" option to record has no answer to render and is left
// out (its Observation records the refusal). The result reads back with
// ParseQuestionnaireResponse.
func (r *Response) QuestionnaireResponse(res *Result, opts QuestionnaireResponseOptions) QuestionnaireResponse {
	qr := QuestionnaireResponse{
		ResourceType: "QuestionnaireResponse", ID: opts.ID,
		Meta:          &Meta{Profile: []string{ProfileQuestionnaireResponse}},
		Questionnaire: r.in.Questionnaire(), Status: "completed",
		Authored: opts.At.UTC().Format(time.RFC3339),
	}
	if opts.Subject != "" {
		qr.Subject = &Reference{Reference: opts.Subject}
	}
	kept := func(it *Item) bool { return opts.Keep == nil || opts.Keep(it) }
	for i := range r.in.Items {
		it := &r.in.Items[i]
		if r.state[i] == unanswered || !kept(it) {
			continue
		}
		item := QRItem{LinkID: "/" + it.ID, Text: it.Text}
		switch {
		case it.Type == TypeInteger && r.state[i] == answered:
			v := r.values[i]
			item.Answer = []QRAnswer{{ValueInteger: &v}}
		case it.Type == TypeText && r.state[i] == answered:
			v := r.texts[i]
			item.Answer = []QRAnswer{{ValueString: &v}}
		default:
			for k, opt := range it.Options {
				if r.selected[i]&(1<<k) != 0 {
					item.Answer = append(item.Answer, QRAnswer{ValueCoding: &Coding{System: r.in.codeSystem(opt.Code), Code: opt.Code, Display: opt.Display}})
				}
			}
		}
		if len(item.Answer) > 0 {
			qr.Item = append(qr.Item, item)
		}
	}
	for _, d := range r.in.derived() {
		value, ok := r.derivedValue(d, res)
		if !ok || !slices.ContainsFunc(r.in.Items, func(it Item) bool { return it.Domain == d.domain && kept(&it) }) {
			continue
		}
		qr.Item = append(qr.Item, QRItem{LinkID: "/" + d.code, Text: d.display, Answer: []QRAnswer{{ValueCoding: &value}}})
	}
	return qr
}

// screensSDOH reports whether the instrument screens for a social need the
// Gravity Project names (SDOH Clinical Care IG category codes), which makes
// its Observations SDOH screening responses.
func (in *Instrument) screensSDOH() bool {
	for i := range in.Items {
		if info, ok := referral.LookupDomain(in.Items[i].Domain); ok && info.System == referral.SystemSDOHCC {
			return true
		}
	}
	return false
}

func hasCode(c CodeableConcept, code string) bool {
	return slices.ContainsFunc(c.Coding, func(cd Coding) bool { return cd.Code == code })
}

// codeSystem is the code system of one of the instrument's item or answer
// codes: LOINC for codes shaped as LOINC question or answer codes, the
// instrument's local system for the rest.
func (in *Instrument) codeSystem(code string) string {
	if loinc.MatchString(code) || loincAnswer.MatchString(code) {
		return SystemLOINC
	}
	return in.localSystem()
}

// localSystem is the code system of the instrument's local codes.
func (in *Instrument) localSystem() string {
	if in.System != "" {
		return in.System
	}
	return LocalSystemPrefix + in.ID
}

func domainConcept(d referral.Domain) CodeableConcept {
	info, ok := referral.LookupDomain(d)
	if !ok {
		return CodeableConcept{Text: string(d)}
	}
	return CodeableConcept{Coding: []Coding{{System: info.System, Code: string(d), Display: info.Display}}}
}
