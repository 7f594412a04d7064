package screening

import (
	"github.com/refkit/refkit/internal/strictjson"
	"github.com/refkit/refkit/referral"
)

// Limits on the documents the parsers read, so that outside input costs what
// they allow however it is shaped: a response, a QuestionnaireResponse or an
// instrument definition is at most 4 MiB of strict I-JSON (UTF-8, no unpaired
// surrogate escapes, no member named twice in one object in any letter case,
// nothing after the document), nested no deeper and holding no more values
// than the largest the limits on instruments allow. Without them 4 MiB of
// empty objects decoded into hundreds of megabytes of items.
var (
	// A response is {"answers": {item: value or [values]}}: 200 items of at
	// most 64 answers each. ParseAnswers refuses a repeated item itself,
	// naming it.
	answersLimits = strictjson.Limits{Bytes: maxDocument, Depth: 3, Values: 20_000, Elements: 1000, Members: 1000, RepeatedNames: true}
	// A QuestionnaireResponse nests groups at most 10 deep, two JSON levels
	// each, and an answer three more; a response to 200 items holds a few
	// thousand values.
	questionnaireLimits = strictjson.Limits{Bytes: maxDocument, Depth: 32, Values: 50_000, Elements: 1000, Members: 100}
	// A definition has at most 200 items of 64 options and 200 rules.
	definitionLimits = strictjson.Limits{Bytes: maxDocument, Depth: 8, Values: 100_000, Elements: 1000, Members: 100}
)

// maxDocument is the size limit on every document the package parses.
const maxDocument = 4 << 20

// checkDocument applies limits to data; field names the document in the error.
func checkDocument(data []byte, field string, limits strictjson.Limits) error {
	if err := strictjson.Check(data, limits); err != nil {
		return referral.Invalid(field, err.Error())
	}
	return nil
}

// unknownItem is the error for an answer to an item the instrument does not
// have. The id comes from the input, so it is named only when it has the
// shape of a code: an error never carries text of any length, control
// characters, or words (someone's answer typed where an item id goes).
func unknownItem(in *Instrument, id string) error {
	if codeShaped(id) {
		return referral.Invalid("answers."+id, "is not an item of instrument "+in.ID)
	}
	return referral.Invalid("answers", "names an item instrument "+in.ID+" does not have")
}

// nameShaped reports whether s looks like a member name a developer typed:
// 1 to 64 ASCII letters, digits, hyphens or underscores.
func nameShaped(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// codeShaped reports whether s looks like an item code: 1 to 64 ASCII
// letters, digits, dots, hyphens, underscores or colons, with a digit or a
// hyphen among them (LOINC codes and kebab-case keys have one).
func codeShaped(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	marked := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '-':
			marked = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '.', c == '_', c == ':':
		default:
			return false
		}
	}
	return marked
}
