package fhir

import (
	"html"
	"strconv"
	"strings"
)

// Narratives. FHIR R4 recommends every DomainResource carry a human-readable
// summary (dom-6); refkit generates a short one from the resource's own
// elements, so a narrative never says more than the resource it sits in (a
// Patient's says the name, nothing else). Every piece is XHTML-escaped: names
// and answers are hostile text (txt-1 allows only plain XHTML).

const xhtmlNS = `<div xmlns="http://www.w3.org/1999/xhtml">`

// narrative is a generated narrative of one paragraph per line.
func narrative(lines ...string) *Narrative {
	var b strings.Builder
	b.WriteString(xhtmlNS)
	for _, l := range lines {
		if l == "" {
			continue
		}
		b.WriteString("<p>")
		b.WriteString(html.EscapeString(l))
		b.WriteString("</p>")
	}
	b.WriteString("</div>")
	return &Narrative{Status: "generated", Div: b.String()}
}

// display is the human-readable text of a concept: its text, else its first
// coding's display, else its first code.
func display(c *CodeableConcept) string {
	if c == nil {
		return ""
	}
	if c.Text != "" {
		return c.Text
	}
	for _, cd := range c.Coding {
		if cd.Display != "" {
			return cd.Display
		}
	}
	for _, cd := range c.Coding {
		if cd.Code != "" {
			return cd.Code
		}
	}
	return ""
}

// observationNarrative says what an Observation records: its question and
// answer, or how many answers a panel groups.
func observationNarrative(o *Observation) *Narrative {
	value := ""
	switch {
	case o.ValueCodeableConcept != nil:
		value = display(o.ValueCodeableConcept)
	case o.ValueInteger != nil:
		value = strconv.Itoa(*o.ValueInteger)
	case o.ValueString != nil:
		value = *o.ValueString
	case o.DataAbsentReason != nil:
		value = display(o.DataAbsentReason)
	}
	line := display(&o.Code)
	if value != "" {
		line += ": " + value
	}
	members := ""
	if n := len(o.HasMember); n > 0 {
		members = strconv.Itoa(n) + " answers"
	}
	return narrative(line, members)
}

// questionnaireResponseNarrative says which questionnaire was answered.
func questionnaireResponseNarrative(qr *QuestionnaireResponse, title string) *Narrative {
	return narrative("Answers to " + title + ": " + strconv.Itoa(len(qr.Item)) + " items")
}

// patientNarrative names the person, or says the name is not recorded.
func patientNarrative(p *Patient) *Narrative {
	var parts []string
	for _, n := range p.Name {
		parts = append(parts, n.Given...)
		if n.Family != "" {
			parts = append(parts, n.Family)
		}
	}
	if len(parts) == 0 {
		return narrative("Patient (name not recorded)")
	}
	return narrative(strings.Join(parts, " "))
}
