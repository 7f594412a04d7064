package screening

import (
	"context"
	"strconv"
	"time"

	"github.com/refkit/refkit/referral"
)

// Score is a number that may be absent; it encodes in JSON as a number or null.
type Score struct {
	Value int
	Set   bool
}

// MarshalJSON encodes the value, or null when unset.
func (s Score) MarshalJSON() ([]byte, error) {
	if !s.Set {
		return []byte("null"), nil
	}
	return strconv.AppendInt(nil, int64(s.Value), 10), nil
}

// UnmarshalJSON decodes a number or null.
func (s *Score) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = Score{}
		return nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return referral.Invalid("score", "must be an integer or null")
	}
	*s = Score{Value: n, Set: true}
	return nil
}

// Item states reported in ItemResult.Status.
const (
	StatusAnswered   = "answered"
	StatusDeclined   = "declined"
	StatusUnanswered = "unanswered"
)

// ItemResult is the item-level detail of a result. A text item's answer never
// appears here (it may be an address): its Status says only that it was
// answered.
type ItemResult struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Status string `json:"status"`
	// Value is the item's score or, for an integer item, the number given;
	// null when unanswered or the item has none.
	Value Score `json:"value"`
	// Answers are the codes of the options chosen.
	Answers []string `json:"answers,omitempty"`
}

// Result is what scoring one response produced.
type Result struct {
	Instrument string `json:"instrument"`
	Version    string `json:"instrument_version"`
	// Total is null when the instrument has no total or an item of it is missing.
	Total Score `json:"total"`
	// Band names the total's range; "" when there is no total or no band fits.
	Band string `json:"band"`
	// Valid is false when a required item is missing or a rule failed to run.
	Valid bool `json:"valid"`
	// Missing lists, in item order, required items without a usable answer and
	// any item the person declined.
	Missing         []string          `json:"missing"`
	PositiveDomains []referral.Domain `json:"positive_domains"`
	Flags           []string          `json:"flags"`
	// Needs has one need per positive domain, at the highest urgency of the
	// rules that found it.
	Needs []referral.Need `json:"needs"`
	// Indeterminate lists rules that could not be decided because an item they
	// read is missing; such a rule neither fires nor counts as negative.
	Indeterminate []string     `json:"indeterminate"`
	Items         []ItemResult `json:"items"`
}

// Score scores the response into a new Result.
func (r *Response) Score() Result {
	res := Result{Missing: []string{}, PositiveDomains: []referral.Domain{}, Flags: []string{},
		Needs: []referral.Need{}, Indeterminate: []string{}}
	r.ScoreInto(&res)
	return res
}

// ScoreInto scores the response into res, reusing res's slices: with a Result
// that has been used before, it does not allocate. It records the screening
// metrics (see the package doc's Telemetry) but no span, having no context
// to place one in: ScoreContext does both.
func (r *Response) ScoreInto(res *Result) {
	ins := meter.Get()
	if ins == nil {
		r.score(res)
		return
	}
	start := time.Now()
	r.score(res)
	ins.record(context.Background(), r.in, res, start)
}

// ScoreContext is ScoreInto inside a span, a child of ctx's, that names the
// instrument and counts its items and the positive domains, never an answer.
func (r *Response) ScoreContext(ctx context.Context, res *Result) {
	tr := tracer.Get()
	if tr == nil {
		r.ScoreInto(res)
		return
	}
	ctx, span := tr.Start(ctx, "screening score")
	ins := meter.Get()
	start := time.Now()
	r.score(res)
	if ins != nil {
		ins.record(ctx, r.in, res, start)
	}
	if span.IsRecording() {
		span.SetAttributes(attrInstrument.String(r.in.ID), attrItems.Int(len(r.in.Items)),
			attrPositiveDomains.Int(len(res.PositiveDomains)), attrValid.Bool(res.Valid))
	}
	span.End()
}

// score is ScoreInto, unobserved.
func (r *Response) score(res *Result) {
	in := r.in
	res.Instrument, res.Version = in.ID, in.Version
	res.Total, res.Band, res.Valid = Score{}, "", true
	res.Missing = res.Missing[:0]
	res.PositiveDomains = res.PositiveDomains[:0]
	res.Flags = res.Flags[:0]
	res.Needs = res.Needs[:0]
	res.Indeterminate = res.Indeterminate[:0]
	if cap(res.Items) < len(in.Items) {
		res.Items = make([]ItemResult, len(in.Items))
	}
	res.Items = res.Items[:len(in.Items)]

	for i := range in.Items {
		it := &in.Items[i]
		ir := &res.Items[i]
		ir.ID, ir.Key, ir.Value = it.ID, it.Key, Score{}
		ir.Answers = ir.Answers[:0]
		switch r.state[i] {
		case answered:
			ir.Status = StatusAnswered
			if it.valued && !it.Multiple {
				ir.Value = Score{Value: r.values[i], Set: true}
			}
		case declined:
			ir.Status = StatusDeclined
		default:
			ir.Status = StatusUnanswered
		}
		for o, set := 0, r.selected[i]; set != 0; o, set = o+1, set>>1 {
			if set&1 != 0 {
				ir.Answers = append(ir.Answers, it.Options[o].Code)
			}
		}
		if r.state[i] != answered && (it.Required || r.state[i] == declined) {
			res.Missing = append(res.Missing, it.ID)
			if it.Required {
				res.Valid = false
			}
		}
	}

	// Rules are decided first and applied afterwards in definition order: a
	// tally total counts rules, and total_at_least rules read the total.
	var outcome [maxRules]uint8
	var run *runner
	for k := range in.rules {
		if in.rules[k].kind != ruleTotal {
			outcome[k] = r.decide(&in.rules[k], Score{}, &run)
		}
	}
	if in.Total != nil {
		res.Total = r.total(outcome[:len(in.rules)])
		if res.Total.Set {
			for _, b := range in.Bands {
				if res.Total.Value >= b.Min && res.Total.Value <= b.Max {
					res.Band = b.Name
					break
				}
			}
		}
	}
	for k := range in.rules {
		if in.rules[k].kind == ruleTotal {
			outcome[k] = r.decide(&in.rules[k], res.Total, &run)
		}
	}
	if run != nil {
		run.values = nil
		runners.Put(run)
	}

	for k := range in.rules {
		rule := &in.Rules[k]
		switch outcome[k] {
		case outcomeUndecided:
			res.Indeterminate = append(res.Indeterminate, rule.ID)
			if in.rules[k].kind == ruleExpr && r.allAnswered(in.rules[k].items) {
				// Every item was there, so the program itself failed.
				res.Valid = false
			}
			continue
		case outcomeFails:
			continue
		}
		if rule.Flag != "" && !containsString(res.Flags, rule.Flag) {
			res.Flags = append(res.Flags, rule.Flag)
		}
		if rule.Domain != "" {
			res.addNeed(rule.Domain, rule.Urgency, in.ID)
		}
	}
}

// Outcomes of a rule.
const (
	outcomeUndecided uint8 = iota
	outcomeFails
	outcomeHolds
)

func (r *Response) decide(cr *compiledRule, total Score, run **runner) uint8 {
	ok, decided := r.evaluate(cr, total, run)
	switch {
	case !decided:
		return outcomeUndecided
	case ok:
		return outcomeHolds
	}
	return outcomeFails
}

// total computes the instrument's total: the sum of its items' values, or the
// number of its counted rules that hold. It is unset when an item is missing
// or a counted rule is undecided.
func (r *Response) total(outcome []uint8) Score {
	in := r.in
	sum := 0
	for _, i := range in.total {
		if r.state[i] != answered {
			return Score{}
		}
		sum += r.values[i]
	}
	for _, k := range in.counted {
		switch outcome[k] {
		case outcomeUndecided:
			return Score{}
		case outcomeHolds:
			sum++
		}
	}
	return Score{Value: sum, Set: true}
}

func (res *Result) addNeed(d referral.Domain, u referral.Urgency, instrument string) {
	for i := range res.Needs {
		if res.Needs[i].Domain == d {
			if u.Rank() > res.Needs[i].Urgency.Rank() {
				res.Needs[i].Urgency = u
			}
			return
		}
	}
	res.PositiveDomains = append(res.PositiveDomains, d)
	res.Needs = append(res.Needs, referral.Need{Domain: d, Urgency: u, Instrument: instrument})
}

func (r *Response) allAnswered(items []int) bool {
	for _, i := range items {
		if r.state[i] != answered {
			return false
		}
	}
	return true
}

// evaluate decides one rule: holds is meaningful only when decided.
func (r *Response) evaluate(cr *compiledRule, total Score, run **runner) (holds, decided bool) {
	switch cr.kind {
	case ruleAnswers:
		missing := false
		for _, m := range cr.matches {
			if r.state[m.item] != answered {
				missing = true
				continue
			}
			if r.selected[m.item]&m.options != 0 {
				return true, true
			}
		}
		return false, !missing
	case ruleSum:
		sum := 0
		for _, i := range cr.items {
			if r.state[i] != answered {
				return false, false
			}
			sum += r.values[i]
		}
		return sum >= cr.atLeast, true
	case ruleTotal:
		if !total.Set {
			return false, false
		}
		return total.Value >= cr.atLeast, true
	case ruleExpr:
		if !r.allAnswered(cr.items) {
			return false, false
		}
		if *run == nil {
			*run = runners.Get().(*runner)
			(*run).values = r.values
		}
		return (*run).run(cr.program)
	}
	return false, false
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Screening converts the result into the stored form, with the needs pointing
// back to the screening id. Its Answers hold the option codes chosen and the
// numbers given to integer items; text answers are not in the Result, so they
// are not stored.
func (res Result) Screening(id, network, person referral.ID, at time.Time) referral.Screening {
	s := referral.Screening{
		ID:         id,
		Network:    network,
		Person:     person,
		Instrument: res.Instrument,
		Version:    res.Version,
		At:         at,
		Band:       res.Band,
		Valid:      res.Valid,
	}
	if res.Total.Set {
		t := float64(res.Total.Value)
		s.Total = &t
	}
	if len(res.Missing) > 0 {
		s.Missing = append([]string(nil), res.Missing...)
	}
	if len(res.PositiveDomains) > 0 {
		s.PositiveDomains = append([]referral.Domain(nil), res.PositiveDomains...)
	}
	if len(res.Flags) > 0 {
		s.Flags = append([]string(nil), res.Flags...)
	}
	for _, n := range res.Needs {
		n.Screening = id
		s.Needs = append(s.Needs, n)
	}
	for _, it := range res.Items {
		var given []string
		switch {
		case len(it.Answers) > 0:
			given = append(given, it.Answers...)
		case it.Status == StatusAnswered && it.Value.Set:
			// An integer item: the number is the answer. Text answers are not
			// in the Result, so they are not stored either.
			given = []string{strconv.Itoa(it.Value.Value)}
		default:
			continue
		}
		if s.Answers == nil {
			s.Answers = map[string][]string{}
		}
		s.Answers[it.ID] = given
	}
	return s
}
