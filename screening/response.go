package screening

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/refkit/refkit/referral"
)

// Answer states of an item in a Response.
const (
	unanswered uint8 = iota
	answered
	declined
)

// Response holds one person's answers to one instrument, resolved to option
// indexes and values when they are set so that scoring reads fixed slices
// only. Text answers are kept, by reference, only for Observations. A Response
// is not safe for concurrent use; Reset makes it reusable.
type Response struct {
	in       *Instrument
	state    []uint8
	values   []int
	selected []uint64
	texts    []string
}

// NewResponse returns an empty response to the instrument.
func (in *Instrument) NewResponse() *Response {
	n := len(in.Items)
	r := &Response{in: in, state: make([]uint8, n), values: make([]int, n), selected: make([]uint64, n)}
	if in.hasText {
		// Only instruments with text items pay for clearing them on Reset.
		r.texts = make([]string, n)
	}
	return r
}

// Instrument returns the instrument the response answers.
func (r *Response) Instrument() *Instrument { return r.in }

// Reset clears every answer.
func (r *Response) Reset() {
	clear(r.state)
	clear(r.values)
	clear(r.selected)
	clear(r.texts)
}

// Answer records the answer to an item, named by id or key. Each answer to a
// choice item is an option's LOINC answer code, its display text
// (case-insensitive) or its numeric value written as an integer; several
// answers are allowed only on a multiple-answer item. An integer item takes one
// whole number within its bounds ("4"; "4.0" is the same number); a text item
// takes one non-blank text of at most its maximum length, without control
// characters other than tab, line feed and carriage return (which FHIR strings
// allow). The text is kept by reference, not copied. An item can be answered
// once. Errors wrap referral.ErrInvalid and name the item, never the answer
// given.
func (r *Response) Answer(item string, answers ...string) error {
	i, ok := r.in.index(item)
	if !ok {
		return unknownItem(r.in, item)
	}
	it := &r.in.Items[i]
	// The field name is built only on failure, so a valid answer allocates nothing.
	bad := func(problem string) error { return referral.Invalid("answers."+it.ID, problem) }
	if r.state[i] != unanswered {
		return bad("is answered more than once")
	}
	if len(answers) == 0 {
		return bad("has no answer")
	}
	if len(answers) > 1 && !it.Multiple {
		return bad("takes one answer, not several")
	}
	if it.free {
		return r.answerFreeEntry(i, it, answers[0], bad)
	}
	var set uint64
	for _, a := range answers {
		o, err := resolveOption(it, a)
		if err != nil {
			return bad(err.Error())
		}
		if set&(1<<o) != 0 {
			return bad("repeats an option")
		}
		set |= 1 << o
	}
	value, isDeclined := 0, false
	for o := range it.Options {
		if set&(1<<o) == 0 {
			continue
		}
		opt := &it.Options[o]
		if (opt.Exclusive || opt.Declined) && set != 1<<o {
			return bad("combines an exclusive option with others")
		}
		isDeclined = isDeclined || opt.Declined
		if opt.Value != nil {
			value += *opt.Value
		}
	}
	r.selected[i] = set
	r.values[i] = value
	r.state[i] = answered
	if isDeclined {
		r.state[i] = declined
	}
	return nil
}

// answerFreeEntry records the one answer to an integer or text item.
func (r *Response) answerFreeEntry(i int, it *Item, a string, bad func(string) error) error {
	if it.Type == TypeText {
		if err := checkText(it, a); err != nil {
			return bad(err.Error())
		}
		r.texts[i], r.state[i] = a, answered
		return nil
	}
	n, err := wholeNumber(a)
	switch {
	case err == errOutOfRange || err == nil && (n < it.lo || n > it.hi):
		return bad(fmt.Sprintf("has a value out of the item's range %d to %d", it.lo, it.hi))
	case err != nil:
		return bad(err.Error())
	}
	r.values[i], r.state[i] = n, answered
	return nil
}

// Decline records that the person chose not to answer an item. The item counts
// as missing, never as zero.
func (r *Response) Decline(item string) error {
	i, ok := r.in.index(item)
	if !ok {
		return unknownItem(r.in, item)
	}
	if r.state[i] != unanswered {
		return referral.Invalid("answers."+r.in.Items[i].ID, "is answered more than once")
	}
	r.state[i] = declined
	r.selected[i] = 0
	for o, opt := range r.in.Items[i].Options {
		if opt.Declined {
			r.selected[i] = 1 << o
		}
	}
	return nil
}

var (
	errNotOption  = errors.New("is not one of the item's options")
	errOutOfRange = errors.New("has a value out of the item's range")
	errAmbiguous  = errors.New("has a value shared by several options: answer with a code or text")
	errNotWhole   = errors.New("must be a whole number")
	errBlank      = errors.New("has no answer: leave a text item out when it is unanswered")
	errControl    = errors.New("contains control characters")
	errNotUTF8    = errors.New("is not valid UTF-8 text")
)

// wholeNumber reads an integer answer. A number written with a fraction or an
// exponent is accepted when it is whole ("4.0", "1e3"), since FHIR decimals and
// JSON numbers may be written so.
func wholeNumber(a string) (int, error) {
	a = strings.TrimSpace(a)
	if n, err := strconv.ParseInt(a, 10, 64); err == nil {
		if n < -maxMagnitude || n > maxMagnitude {
			return 0, errOutOfRange
		}
		return int(n), nil
	}
	f, err := strconv.ParseFloat(a, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) || math.IsInf(f, 0):
		return 0, errOutOfRange
	case err != nil || f != math.Trunc(f): // NaN fails the comparison too
		return 0, errNotWhole
	case f < -maxMagnitude || f > maxMagnitude:
		return 0, errOutOfRange
	}
	return int(f), nil
}

// checkText validates a text answer without copying it.
func checkText(it *Item, a string) error {
	if strings.TrimSpace(a) == "" {
		return errBlank
	}
	n, limit := 0, it.textLimit()
	for k, c := range a {
		if c == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(a[k:]); size == 1 {
				return errNotUTF8
			}
		}
		if unicode.IsControl(c) && c != '\t' && c != '\n' && c != '\r' {
			return errControl
		}
		if n++; n > limit {
			return fmt.Errorf("is longer than %d characters", limit)
		}
	}
	return nil
}

// resolveOption finds the option an answer names: code first, then display
// text, then numeric value.
func resolveOption(it *Item, a string) (int, error) {
	a = strings.TrimSpace(a)
	for o := range it.Options {
		if strings.EqualFold(it.Options[o].Code, a) {
			return o, nil
		}
	}
	for o := range it.Options {
		if strings.EqualFold(strings.TrimSpace(it.Options[o].Display), a) {
			return o, nil
		}
	}
	n, err := strconv.Atoi(a)
	if err != nil {
		if f, ferr := strconv.ParseFloat(a, 64); ferr == nil && f == f {
			return 0, errOutOfRange
		}
		return 0, errNotOption
	}
	found, lo, hi, has := -1, 0, 0, false
	for o := range it.Options {
		v := it.Options[o].Value
		if v == nil {
			continue
		}
		if !has || *v < lo {
			lo = *v
		}
		if !has || *v > hi {
			hi = *v
		}
		has = true
		if *v == n {
			if found >= 0 {
				return 0, errAmbiguous
			}
			found = o
		}
	}
	switch {
	case found >= 0:
		return found, nil
	case !has:
		return 0, errNotOption
	case n < lo || n > hi:
		return 0, errOutOfRange
	}
	return 0, errNotOption
}

// ParseAnswers reads {"answers": {"<item id>": <answer>, ...}} where an answer
// to a choice item is a string (code or display text), an integer value, null
// (not answered) or, for a multiple-answer item, an array of those; an answer
// to an integer item is a JSON number and to a text item a JSON string (or
// null). A duplicate item, an unknown item or an answer that fits no option or
// breaks the item's bounds fails the whole response. The document is at most
// 4 MiB of strict I-JSON (see the package's limits): anything else is refused
// before it is decoded.
func ParseAnswers(in *Instrument, data []byte) (*Response, error) {
	if err := checkDocument(data, "response", answersLimits); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := expectDelim(dec, '{', "response"); err != nil {
		return nil, err
	}
	r := in.NewResponse()
	seenAnswers := false
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, malformed("response")
		}
		switch k {
		case "answers":
			if seenAnswers {
				return nil, referral.Invalid("answers", "appears more than once")
			}
			seenAnswers = true
			if err := parseAnswerObject(dec, r); err != nil {
				return nil, err
			}
		default:
			// A misspelt member is named, so the developer sees it; anything
			// not shaped as a name is not repeated back.
			if key, _ := k.(string); nameShaped(key) {
				return nil, referral.Invalid(key, "is not a field of a response: expected answers")
			}
			return nil, referral.Invalid("response", "has a member other than answers")
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, malformed("response")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, referral.Invalid("response", "has data after the response object")
	}
	if !seenAnswers {
		return nil, referral.Invalid("answers", "is required")
	}
	return r, nil
}

func parseAnswerObject(dec *json.Decoder, r *Response) error {
	if err := expectDelim(dec, '{', "answers"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return malformed("answers")
		}
		key, _ := kt.(string)
		i, ok := r.in.index(key)
		if !ok {
			return unknownItem(r.in, key)
		}
		id := r.in.Items[i].ID
		if seen[id] {
			return referral.Invalid("answers."+id, "is answered more than once")
		}
		seen[id] = true
		if it := &r.in.Items[i]; it.freeEntry() {
			s, null, err := freeEntryToken(dec, it, "answers."+id)
			if err != nil {
				return err
			}
			if !null {
				if err := r.Answer(id, s); err != nil {
					return err
				}
			}
			continue
		}
		tokens, null, err := answerTokens(dec, "answers."+id)
		if err != nil {
			return err
		}
		if null {
			continue
		}
		if err := r.Answer(id, tokens...); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return malformed("answers")
	}
	return nil
}

// freeEntryToken reads the answer to an integer item, which must be a JSON
// number, or to a text item, which must be a JSON string: "4" is not taken for
// a count, nor 4 for an address.
func freeEntryToken(dec *json.Decoder, it *Item, field string) (string, bool, error) {
	t, err := dec.Token()
	if err != nil {
		return "", false, malformed(field)
	}
	switch v := t.(type) {
	case nil:
		return "", true, nil
	case json.Number:
		if it.Type == TypeInteger {
			return v.String(), false, nil
		}
	case string:
		if it.Type == TypeText {
			return v, false, nil
		}
	}
	if it.Type == TypeInteger {
		return "", false, referral.Invalid(field, "must be a number")
	}
	return "", false, referral.Invalid(field, "must be text")
}

// answerTokens reads one answer value: a scalar or an array of scalars.
func answerTokens(dec *json.Decoder, field string) ([]string, bool, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, false, malformed(field)
	}
	if t == nil {
		return nil, true, nil
	}
	if d, ok := t.(json.Delim); ok {
		if d != '[' {
			return nil, false, referral.Invalid(field, "must be a code, text, number or an array of them")
		}
		var out []string
		for dec.More() {
			et, err := dec.Token()
			if err != nil {
				return nil, false, malformed(field)
			}
			s, err := scalar(et, field)
			if err != nil {
				return nil, false, err
			}
			out = append(out, s)
			if len(out) > maxOptions {
				return nil, false, referral.Invalid(field, "has too many answers")
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, false, malformed(field)
		}
		if len(out) == 0 {
			return nil, false, referral.Invalid(field, "has no answer")
		}
		return out, false, nil
	}
	s, err := scalar(t, field)
	if err != nil {
		return nil, false, err
	}
	return []string{s}, false, nil
}

func scalar(t json.Token, field string) (string, error) {
	switch v := t.(type) {
	case string:
		return v, nil
	case json.Number:
		if _, err := v.Int64(); err != nil {
			return "", referral.Invalid(field, errOutOfRange.Error())
		}
		return v.String(), nil
	}
	return "", referral.Invalid(field, "must be a code, text, number or an array of them")
}

func expectDelim(dec *json.Decoder, want json.Delim, field string) error {
	t, err := dec.Token()
	if err != nil {
		return malformed(field)
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return referral.Invalid(field, "must be a JSON object")
	}
	return nil
}

func malformed(field string) error {
	return referral.Invalid(field, "is not well-formed JSON")
}
