package screening

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/refkit/refkit/internal/strictjson"
	"github.com/refkit/refkit/internal/telemetry"
	"github.com/refkit/refkit/referral"
)

// Limits on a definition, so that a host loading instruments from an untrusted
// source cannot make scoring arbitrarily slow.
const (
	maxItems   = 200
	maxOptions = 64 // a multi-select answer is a 64-bit set of options
	maxRules   = 200
	maxExpr    = 2000
	// maxMagnitude bounds integer answers and their min and max, so that a
	// value fits FHIR's 32-bit integer and sums of values cannot overflow.
	maxMagnitude = 1_000_000_000
	// maxText is the longest text answer an item may allow, in characters,
	// and the limit of a text item that states none.
	maxText = 1024
)

// ItemType is how an item is answered: by choosing among its options, or by
// free entry of a whole number or of text.
type ItemType string

// Item types. An empty Type means TypeChoice.
const (
	// TypeChoice items are answered with one (or, if Multiple, several) of
	// their Options.
	TypeChoice ItemType = "choice"
	// TypeInteger items are answered with a whole number between Min and Max;
	// the number is the item's value, usable by sums, totals and expressions.
	TypeInteger ItemType = "integer"
	// TypeText items are answered with free text of at most MaxLength
	// characters. The text has no value: such an item is answered, declined
	// or missing, and its text never appears in a Result or an error.
	TypeText ItemType = "text"
)

// Instrument is a screening instrument: its items, answer options and scoring
// rules. Build one with Parse (or take a built-in from Default); the exported
// fields are its definition and must not be changed after parsing.
type Instrument struct {
	// ID is the short name used to select the instrument ("phq-9").
	ID      string `json:"id"`
	Version string `json:"version"`
	Title   string `json:"title"`
	// Code is the LOINC code of the instrument's panel, if it has one.
	Code string `json:"code,omitempty"`
	// System is the code system (an absolute URI) of the instrument's local
	// codes: item ids and answer codes not shaped as LOINC codes, and the
	// panel of an instrument without a LOINC Code. FHIR output labels those
	// codes with it; empty means LocalSystemPrefix followed by the ID.
	System    string `json:"system,omitempty"`
	Publisher string `json:"publisher,omitempty"`
	// Sources cite where the items and scoring rules come from.
	Sources []string `json:"sources,omitempty"`
	// MissingRule states, for people, how the instrument treats missing and
	// declined answers; the behaviour itself follows from Required, Total and Rules.
	MissingRule string `json:"missing_rule,omitempty"`
	Items       []Item `json:"items"`
	// Total, when set, sums item values or counts rules that hold into a
	// score (nil: no total).
	Total *Total `json:"total,omitempty"`
	// Bands name ranges of the total; they need a Total.
	Bands []Band `json:"bands,omitempty"`
	Rules []Rule `json:"rules,omitempty"`

	byID    map[string]int
	hasText bool // a response needs room for text answers
	rules   []compiledRule
	total   []int // item indexes summed into the total
	counted []int // rule indexes counted into the total
	// tel labels the instrument's measurements (its id), built once.
	tel telemetry.Opts
}

// Item is one question.
type Item struct {
	// ID is the item's LOINC question code where it has one, else a local code.
	ID string `json:"id"`
	// Key is a readable, stable name ("living-situation").
	Key  string `json:"key"`
	Text string `json:"text"`
	// Domain is the SDOH category the item screens for, used as the category of
	// its FHIR Observation; empty when none fits.
	Domain referral.Domain `json:"domain,omitempty"`
	// Multiple allows several options in one answer ("select all that apply").
	Multiple bool `json:"multiple,omitempty"`
	// Required items make the screen invalid when unanswered or declined.
	Required bool `json:"required,omitempty"`
	// Resolved at parse time and read on every answer and score, so kept next
	// to the flags above, in the same word.
	valued bool // its answer has a value: an integer item, or every answerable option has one
	free   bool // an integer or text item
	// Type is TypeChoice (or empty) for an item with Options, or the value
	// type of a free-entry item, which has no options.
	Type ItemType `json:"type,omitempty"`
	// Options are the allowed answers of a choice item.
	Options []Option `json:"options,omitempty"`
	// Min and Max bound an integer item's answer, inclusively; an absent
	// bound is the engine's limit of ±1,000,000,000.
	Min *int `json:"min,omitempty"`
	Max *int `json:"max,omitempty"`
	// MaxLength bounds a text item's answer in characters (Unicode code
	// points); 0 means the engine's limit of 1024.
	MaxLength int `json:"max_length,omitempty"`

	lo, hi int // an integer item's bounds, resolved
}

// freeEntry reports whether the item is answered by a value rather than options.
func (it *Item) freeEntry() bool { return it.free }

// Option is one allowed answer.
type Option struct {
	// Code is the LOINC answer code (LA...), or a local code where LOINC has none.
	Code    string `json:"code"`
	Display string `json:"display"`
	// Value is the option's score; nil when the publisher gives it none.
	Value *int `json:"value,omitempty"`
	// Declined marks "I choose not to answer": the item counts as missing.
	Declined bool `json:"declined,omitempty"`
	// Exclusive options ("None of the above") cannot be combined with others.
	Exclusive bool `json:"exclusive,omitempty"`
}

// Total is an instrument's score: either the sum of item values (Items) or a
// tally of the rules that hold (Rules), such as PRAPARE's count of risk
// answers. Exactly one of Items and Rules is set.
type Total struct {
	// Code is the LOINC code of the total score, if any.
	Code string `json:"code,omitempty"`
	// Items are summed; each is an integer item or a single-answer choice
	// item whose options all have values. The total is computed only when
	// every one is answered.
	Items []string `json:"items,omitempty"`
	// Rules are counted, one point each that holds. The total is computed only
	// when every one is decided, so a declined or unanswered item never counts
	// as "no risk". A counted rule needs neither a domain nor a flag, and
	// cannot itself test the total.
	Rules []string `json:"rules,omitempty"`
}

// Band is a named, inclusive range of the total.
type Band struct {
	Name string `json:"name"`
	Min  int    `json:"min"`
	Max  int    `json:"max"`
}

// Rule marks a domain positive or raises a flag, or both, when its condition
// holds; a rule that a tally total counts may do neither. Exactly one of
// Answers, Sum, TotalAtLeast and Expr is the condition.
type Rule struct {
	ID      string           `json:"id"`
	Domain  referral.Domain  `json:"domain,omitempty"`
	Flag    string           `json:"flag,omitempty"`
	Urgency referral.Urgency `json:"urgency"`
	// Answers holds when any listed item, a choice item, was answered with one
	// of its codes.
	Answers []AnswerMatch `json:"answers,omitempty"`
	// Sum holds when every listed item is answered and their values add up to
	// at least AtLeast.
	Sum *Sum `json:"sum,omitempty"`
	// TotalAtLeast holds when the total was computed and is at least this.
	TotalAtLeast *int `json:"total_at_least,omitempty"`
	// Expr is an expr-lang boolean expression; item("<id>") is the value of an
	// answered item. The rule is not evaluated unless every item it names has a
	// value.
	Expr string `json:"expr,omitempty"`
}

// AnswerMatch is one item and the answer codes that count.
type AnswerMatch struct {
	Item  string   `json:"item"`
	Codes []string `json:"codes"`
}

// Sum is a threshold on the sum of item values.
type Sum struct {
	Items   []string `json:"items"`
	AtLeast int      `json:"at_least"`
}

var (
	kebab = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	loinc = regexp.MustCompile(`^[0-9]{1,7}-[0-9]$`)
	// loincAnswer matches LOINC answer codes (LA11-6).
	loincAnswer = regexp.MustCompile(`^LA[0-9]{1,8}-[0-9]$`)
)

// Parse decodes and validates an instrument definition and compiles its rules.
// source names the definition in errors. Errors are *DefinitionError values
// carrying line, column and JSON path, and wrap referral.ErrInvalid. The
// definition is at most 4 MiB of strict I-JSON, nested and sized as the
// limits on instruments allow (see the package's limits): anything else is
// refused before it is decoded.
func Parse(source string, data []byte) (*Instrument, error) {
	if err := strictjson.Check(data, definitionLimits); err != nil {
		var se *strictjson.Error
		errors.As(err, &se)
		line, col := lineColumn(data, int64(se.Offset))
		// Syntax errors read as they always have: "malformed JSON: ...".
		problem := strings.Replace(se.Problem, "is malformed JSON: ", "malformed JSON: ", 1)
		return nil, &DefinitionError{Source: source, Line: line, Column: col, Problem: problem}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var in Instrument
	if err := dec.Decode(&in); err != nil {
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return nil, &DefinitionError{Source: source, Path: field, Problem: "is not a field of an instrument definition"}
		}
		if err.Error() == "EOF" {
			return nil, &DefinitionError{Source: source, Problem: "is empty"}
		}
		return nil, position(source, data, err)
	}
	if dec.More() {
		off := dec.InputOffset()
		line, col := lineColumn(data, off)
		return nil, &DefinitionError{Source: source, Line: line, Column: col, Problem: "has data after the instrument object"}
	}
	if err := in.compile(); err != nil {
		return nil, position(source, data, err)
	}
	return &in, nil
}

// compile validates the definition and builds the lookup tables and rule
// programs that scoring uses.
func (in *Instrument) compile() error {
	root := path{}
	if !kebab.MatchString(in.ID) || len(in.ID) > 64 {
		return problem(root.key("id"), "must be lower-case kebab-case of 1 to 64 characters")
	}
	if strings.TrimSpace(in.Version) == "" {
		return problem(root.key("version"), "is required")
	}
	if strings.TrimSpace(in.Title) == "" {
		return problem(root.key("title"), "is required")
	}
	for _, f := range []struct {
		name, value string
	}{{"version", in.Version}, {"title", in.Title}, {"publisher", in.Publisher}, {"missing_rule", in.MissingRule}} {
		if err := plainText(root.key(f.name), f.value); err != nil {
			return err
		}
	}
	for i, src := range in.Sources {
		if err := plainText(root.key("sources").index(i), src); err != nil {
			return err
		}
	}
	if in.Code != "" && !loinc.MatchString(in.Code) {
		return problem(root.key("code"), "must be a LOINC code such as 44249-1")
	}
	if in.System != "" {
		if u, err := url.Parse(in.System); err != nil || !u.IsAbs() || len(in.System) > 255 {
			return problem(root.key("system"), "must be an absolute URI such as https://clinic.example.org/codes")
		}
		if in.System == SystemLOINC {
			return problem(root.key("system"), "is for local codes: LOINC-shaped codes are labelled LOINC already")
		}
	}
	if len(in.Items) == 0 {
		return problem(root.key("items"), "needs at least one item")
	}
	if len(in.Items) > maxItems {
		return problem(root.key("items"), "has more than %d items", maxItems)
	}
	in.byID = make(map[string]int, len(in.Items))
	keys := make(map[string]bool, len(in.Items))
	for i := range in.Items {
		if err := in.compileItem(root.key("items").index(i), i, keys); err != nil {
			return err
		}
	}
	if err := in.compileTotal(root); err != nil {
		return err
	}
	if len(in.Rules) > maxRules {
		return problem(root.key("rules"), "has more than %d rules", maxRules)
	}
	ids := make(map[string]bool, len(in.Rules))
	in.rules = make([]compiledRule, len(in.Rules))
	for i := range in.Rules {
		at := root.key("rules").index(i)
		r := &in.Rules[i]
		if !kebab.MatchString(r.ID) || len(r.ID) > 64 {
			return problem(at.key("id"), "must be lower-case kebab-case of 1 to 64 characters")
		}
		if ids[r.ID] {
			return problem(at.key("id"), "repeats rule %s", r.ID)
		}
		ids[r.ID] = true
		cr, err := in.compileRule(at, r)
		if err != nil {
			return err
		}
		in.rules[i] = cr
	}
	if err := in.countedRules(root); err != nil {
		return err
	}
	in.tel = telemetry.NewOpts(attrInstrument.String(in.ID))
	return nil
}

// countedRules resolves the ids of the rules a tally total counts.
func (in *Instrument) countedRules(root path) error {
	if in.Total == nil || len(in.Total.Rules) == 0 {
		return nil
	}
	at := root.key("total").key("rules")
	in.counted = make([]int, 0, len(in.Total.Rules))
	for j, id := range in.Total.Rules {
		k := slices.IndexFunc(in.Rules, func(r Rule) bool { return r.ID == id })
		switch {
		case k < 0:
			return problem(at.index(j), "names no rule of this instrument")
		case slices.Contains(in.counted, k):
			return problem(at.index(j), "repeats rule %s", id)
		case in.rules[k].kind == ruleTotal:
			return problem(at.index(j), "names rule %s, which tests the total it would be counted in", id)
		}
		in.counted = append(in.counted, k)
	}
	return nil
}

// counts reports whether the tally total counts the rule with the id.
func (in *Instrument) counts(id string) bool {
	return in.Total != nil && slices.Contains(in.Total.Rules, id)
}

func (in *Instrument) compileItem(at path, i int, keys map[string]bool) error {
	it := &in.Items[i]
	if strings.TrimSpace(it.ID) == "" || len(it.ID) > 64 || strings.ContainsAny(it.ID, " /\"") || strings.ContainsFunc(it.ID, unicode.IsControl) {
		return problem(at.key("id"), "must be a LOINC or local code without spaces, slashes, quotes or control characters")
	}
	if _, dup := in.byID[it.ID]; dup {
		return problem(at.key("id"), "repeats item %s", it.ID)
	}
	in.byID[it.ID] = i
	if !kebab.MatchString(it.Key) || len(it.Key) > 64 {
		return problem(at.key("key"), "must be lower-case kebab-case of 1 to 64 characters")
	}
	if keys[it.Key] {
		return problem(at.key("key"), "repeats key %s", it.Key)
	}
	keys[it.Key] = true
	if strings.TrimSpace(it.Text) == "" {
		return problem(at.key("text"), "is required")
	}
	if err := plainText(at.key("text"), it.Text); err != nil {
		return err
	}
	if it.Domain != "" {
		if err := it.Domain.Validate(); err != nil {
			return problem(at.key("domain"), "is not a registered domain code")
		}
	}
	switch it.Type {
	case "", TypeChoice:
		if it.Min != nil || it.Max != nil || it.MaxLength != 0 {
			return problem(at, "has min, max or max_length, which only free-entry items take")
		}
	case TypeInteger, TypeText:
		it.free = true
		in.hasText = in.hasText || it.Type == TypeText
		return compileFreeEntry(at, it)
	default:
		return problem(at.key("type"), "must be choice, integer or text")
	}
	if len(it.Options) == 0 {
		return problem(at.key("options"), "needs at least one option")
	}
	if len(it.Options) > maxOptions {
		return problem(at.key("options"), "has more than %d options", maxOptions)
	}
	codes := make(map[string]bool, len(it.Options))
	displays := make(map[string]bool, len(it.Options))
	values := map[int]bool{}
	it.valued = true
	for j, o := range it.Options {
		oat := at.key("options").index(j)
		if strings.TrimSpace(o.Code) == "" || len(o.Code) > 64 {
			return problem(oat.key("code"), "is required")
		}
		if strings.ContainsFunc(o.Code, unicode.IsControl) {
			return problem(oat.key("code"), "must not contain control characters")
		}
		if err := plainText(oat.key("display"), o.Display); err != nil {
			return err
		}
		if codes[o.Code] {
			return problem(oat.key("code"), "repeats answer code %s", o.Code)
		}
		codes[o.Code] = true
		d := strings.ToLower(strings.TrimSpace(o.Display))
		if d == "" {
			return problem(oat.key("display"), "is required")
		}
		if displays[d] {
			return problem(oat.key("display"), "repeats another option's display text")
		}
		displays[d] = true
		if o.Exclusive && !it.Multiple {
			return problem(oat.key("exclusive"), "is only meaningful on a multiple-answer item")
		}
		if o.Declined && o.Value != nil {
			return problem(oat.key("value"), "must be absent on a declined option")
		}
		if o.Value != nil {
			if *o.Value < 0 || *o.Value > 100000 {
				return problem(oat.key("value"), "must be between 0 and 100000")
			}
			values[*o.Value] = true
		} else if !o.Declined {
			it.valued = false
		}
	}
	return nil
}

// compileFreeEntry checks an integer or text item and resolves its bounds.
func compileFreeEntry(at path, it *Item) error {
	if len(it.Options) > 0 {
		return problem(at.key("options"), "must be absent on a %s item, which is answered by free entry", it.Type)
	}
	if it.Multiple {
		return problem(at.key("multiple"), "is only meaningful on a choice item")
	}
	if it.Type == TypeText {
		if it.Min != nil || it.Max != nil {
			return problem(at, "has min or max, which only integer items take")
		}
		if it.MaxLength < 0 || it.MaxLength > maxText {
			return problem(at.key("max_length"), "must be between 1 and %d", maxText)
		}
		return nil
	}
	if it.MaxLength != 0 {
		return problem(at.key("max_length"), "is only meaningful on a text item")
	}
	it.lo, it.hi = -maxMagnitude, maxMagnitude
	for _, b := range []struct {
		name string
		v    *int
		dst  *int
	}{{"min", it.Min, &it.lo}, {"max", it.Max, &it.hi}} {
		if b.v == nil {
			continue
		}
		if *b.v < -maxMagnitude || *b.v > maxMagnitude {
			return problem(at.key(b.name), "must be between %d and %d", -maxMagnitude, maxMagnitude)
		}
		*b.dst = *b.v
	}
	if it.lo > it.hi {
		return problem(at, "has min above max")
	}
	it.valued = true
	return nil
}

// plainText refuses control characters other than tab, line feed and
// carriage return in a definition's text: it is shown to people and written
// into FHIR resources. (The document is UTF-8 already: Parse checks.)
func plainText(at path, s string) error {
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' }) {
		return problem(at, "must not contain control characters")
	}
	return nil
}

// textLimit is the longest answer a text item takes, in characters.
func (it *Item) textLimit() int {
	if it.MaxLength > 0 {
		return it.MaxLength
	}
	return maxText
}

func (in *Instrument) compileTotal(root path) error {
	if in.Total == nil {
		if len(in.Bands) > 0 {
			return problem(root.key("bands"), "need a total")
		}
		return nil
	}
	at := root.key("total")
	if in.Total.Code != "" && !loinc.MatchString(in.Total.Code) {
		return problem(at.key("code"), "must be a LOINC code")
	}
	switch {
	case len(in.Total.Items) > 0 && len(in.Total.Rules) > 0:
		return problem(at, "needs items or rules, not both")
	case len(in.Total.Rules) > 0:
		// Rule ids are resolved once the rules are compiled (countedRules).
	case len(in.Total.Items) == 0:
		return problem(at.key("items"), "needs at least one item")
	default:
		idx, err := in.valuedItems(at.key("items"), in.Total.Items)
		if err != nil {
			return err
		}
		in.total = idx
	}
	names := map[string]bool{}
	for i, b := range in.Bands {
		bat := root.key("bands").index(i)
		if !kebab.MatchString(b.Name) {
			return problem(bat.key("name"), "must be lower-case kebab-case")
		}
		if names[b.Name] {
			return problem(bat.key("name"), "repeats band %s", b.Name)
		}
		names[b.Name] = true
		if b.Min > b.Max {
			return problem(bat, "has min above max")
		}
		if i > 0 && b.Min <= in.Bands[i-1].Max {
			return problem(bat.key("min"), "must be above the previous band's max: bands are ascending and do not overlap")
		}
	}
	return nil
}

// valuedItems resolves item ids that must carry numeric values.
func (in *Instrument) valuedItems(at path, ids []string) ([]int, error) {
	out := make([]int, 0, len(ids))
	seen := map[int]bool{}
	for j, id := range ids {
		i, ok := in.byID[id]
		if !ok {
			return nil, problem(at.index(j), "names no item of this instrument")
		}
		if seen[i] {
			return nil, problem(at.index(j), "repeats item %s", id)
		}
		seen[i] = true
		if !in.Items[i].valued || in.Items[i].Multiple {
			return nil, problem(at.index(j), "names item %s, which has no numeric values", id)
		}
		out = append(out, i)
	}
	return out, nil
}

// Item returns the item with the given id (LOINC code or local code) or key.
func (in *Instrument) Item(id string) (Item, bool) {
	i, ok := in.index(id)
	if !ok {
		return Item{}, false
	}
	return in.Items[i], true
}

func (in *Instrument) index(id string) (int, bool) {
	if i, ok := in.byID[id]; ok {
		return i, true
	}
	for i := range in.Items {
		if in.Items[i].Key == id {
			return i, true
		}
	}
	return 0, false
}

// Clone returns a deep copy of the instrument. The copy scores exactly as the
// original; changing it changes nothing else, which is how a Registry keeps
// the instruments it hands out, the built-in ones included, from being
// altered under other callers. What Parse compiled is shared: nothing ever
// writes it after Parse.
func (in *Instrument) Clone() *Instrument {
	c := *in
	c.Sources = slices.Clone(in.Sources)
	c.Items = slices.Clone(in.Items)
	for i := range c.Items {
		it := &c.Items[i]
		it.Options = slices.Clone(it.Options)
		for j := range it.Options {
			it.Options[j].Value = clonePtr(it.Options[j].Value)
		}
		it.Min, it.Max = clonePtr(it.Min), clonePtr(it.Max)
	}
	if in.Total != nil {
		t := *in.Total
		t.Items, t.Rules = slices.Clone(t.Items), slices.Clone(t.Rules)
		c.Total = &t
	}
	c.Bands = slices.Clone(in.Bands)
	c.Rules = slices.Clone(in.Rules)
	for i := range c.Rules {
		r := &c.Rules[i]
		r.Answers = slices.Clone(r.Answers)
		for j := range r.Answers {
			r.Answers[j].Codes = slices.Clone(r.Answers[j].Codes)
		}
		if r.Sum != nil {
			s := *r.Sum
			s.Items = slices.Clone(s.Items)
			r.Sum = &s
		}
		r.TotalAtLeast = clonePtr(r.TotalAtLeast)
	}
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
