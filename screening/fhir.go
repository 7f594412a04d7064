package screening

import (
	"encoding/json"
	"errors"
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

// QuestionnaireResponse is the part of a FHIR R4 QuestionnaireResponse that
// screening reads: items (nested groups are flattened) and their answers.
type QuestionnaireResponse struct {
	ResourceType  string     `json:"resourceType"`
	ID            string     `json:"id,omitempty"`
	Questionnaire string     `json:"questionnaire,omitempty"`
	Status        string     `json:"status,omitempty"`
	Subject       *Reference `json:"subject,omitempty"`
	Authored      string     `json:"authored,omitempty"`
	Item          []QRItem   `json:"item,omitempty"`
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

// ParseQuestionnaireResponse reads a FHIR R4 QuestionnaireResponse (JSON) into
// a Response. Group items without answers are descended into; an item whose
// linkId is the instrument's panel or total code is skipped, since scoring
// computes those. An integer item takes valueInteger or a whole valueDecimal, a
// text item valueString. Any other unknown linkId, a repeated item or an
// answer that fits no option or breaks the item's bounds fails the whole
// response. The document is at most 4 MiB of strict I-JSON, nested and sized
// as a response to an instrument can be (see the package's limits): anything
// else is refused before it is decoded.
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
	if err := r.addQRItems(qr.Item, "item", 0); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Response) addQRItems(items []QRItem, at string, depth int) error {
	if depth > 10 {
		return referral.Invalid(at, "nests groups too deeply")
	}
	for i, it := range items {
		field := at + "[" + strconv.Itoa(i) + "]"
		id := it.LinkID
		if k := strings.LastIndexByte(id, '/'); k >= 0 {
			id = id[k+1:]
		}
		if len(it.Answer) == 0 {
			if err := r.addQRItems(it.Item, field+".item", depth+1); err != nil {
				return err
			}
			continue
		}
		if id == r.in.Code || (r.in.Total != nil && id == r.in.Total.Code) {
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
			if err := r.addQRItems(it.Item, field+".item", depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// qrTokens turns an item's FHIR answers into the strings Answer takes, holding
// each item type to the value types that fit it: a count given as valueString,
// or an address as valueInteger, is an error rather than a guess.
func qrTokens(item *Item, answers []QRAnswer) ([]string, error) {
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
// IG's screening response: category survey plus the SDOH domain, code the LOINC
// item or panel, value the answer or score.
type Observation struct {
	ResourceType         string            `json:"resourceType"`
	ID                   string            `json:"id,omitempty"`
	Status               string            `json:"status"`
	Category             []CodeableConcept `json:"category"`
	Code                 CodeableConcept   `json:"code"`
	Subject              *Reference        `json:"subject,omitempty"`
	EffectiveDateTime    string            `json:"effectiveDateTime,omitempty"`
	ValueCodeableConcept *CodeableConcept  `json:"valueCodeableConcept,omitempty"`
	ValueInteger         *int              `json:"valueInteger,omitempty"`
	ValueString          *string           `json:"valueString,omitempty"`
	DataAbsentReason     *CodeableConcept  `json:"dataAbsentReason,omitempty"`
	Interpretation       []CodeableConcept `json:"interpretation,omitempty"`
	HasMember            []Reference       `json:"hasMember,omitempty"`
}

// Observations renders the response and its result as FHIR Observations: one
// per answered or declined item (a multiple-answer item gives one per option
// chosen; an integer item's carries valueInteger and a text item's the text
// as valueString, since the Observations are the person's record, unlike the
// Result), then one for the instrument panel carrying the total, if any, and
// the positive domains as categories. subject is a FHIR reference such as
// "Patient/123" ("" for none); ids are "<prefix>-<n>" so members can be linked.
func (r *Response) Observations(res *Result, prefix, subject string, at time.Time) []Observation {
	var subj *Reference
	if subject != "" {
		subj = &Reference{Reference: subject}
	}
	when := at.UTC().Format(time.RFC3339)
	survey := CodeableConcept{Coding: []Coding{{System: SystemObservationCategory, Code: "survey", Display: "Survey"}}}
	var out []Observation
	next := func() string { return prefix + "-" + strconv.Itoa(len(out)+1) }
	for i := range r.in.Items {
		it := &r.in.Items[i]
		if r.state[i] == unanswered {
			continue
		}
		cats := []CodeableConcept{survey}
		if it.Domain != "" {
			cats = append(cats, domainConcept(it.Domain))
		}
		base := Observation{
			ResourceType: "Observation", Status: "final", Category: cats,
			Code:    CodeableConcept{Coding: []Coding{{System: r.in.codeSystem(it.ID), Code: it.ID, Display: it.Text}}, Text: it.Text},
			Subject: subj, EffectiveDateTime: when,
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
	// An instrument without a LOINC panel code (a host's own) still gets its
	// panel, coded with its id under its local system, so its total and
	// positive domains are not lost.
	panelCode := Coding{System: SystemLOINC, Code: r.in.Code, Display: r.in.Title}
	if r.in.Code == "" {
		panelCode = Coding{System: r.in.localSystem(), Code: r.in.ID, Display: r.in.Title}
	}
	panel := Observation{
		ResourceType: "Observation", ID: next(), Status: "final",
		Category:          []CodeableConcept{survey},
		Code:              CodeableConcept{Coding: []Coding{panelCode}, Text: r.in.Title},
		Subject:           subj,
		EffectiveDateTime: when,
	}
	for _, d := range res.PositiveDomains {
		panel.Category = append(panel.Category, domainConcept(d))
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
