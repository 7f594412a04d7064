package matching

import (
	"math/bits"
	"strconv"
	"strings"

	"github.com/refkit/refkit/referral"
)

// ruleOutcome is one rule's result for one request.
type ruleOutcome struct {
	state  uint8
	reason Reason
}

const (
	rulePass uint8 = iota + 1
	ruleFail
	ruleUnknown
	ruleErr
)

// evalRule evaluates each distinct program at most once per request: the outcome
// is memoized in the scratch slot of the program, stamped with the request's
// generation, so no map and no clearing is needed.
func (s *Snapshot) evalRule(q *query, sc *scratch, idx int32) ruleOutcome {
	if sc.ruleGen[idx] == sc.gen {
		return sc.ruleOut[idx]
	}
	ru := s.programs[idx]
	var out ruleOutcome
	if missing := ru.facts & q.unknown; missing != 0 {
		out = ruleOutcome{ruleUnknown, Reason{ReasonUnknownFact, unknownFactText[missing]}}
	} else {
		if q.boxed == nil {
			q.boxed = q.env // boxed once per request, not once per program
		}
		ok, err := s.rules.eval(ru.program, q.boxed)
		switch {
		case err != nil:
			out = ruleOutcome{ruleErr, Reason{ReasonRuleError, firstLine(err.Error())}}
		case ok:
			out = ruleOutcome{state: rulePass}
		default:
			out = ruleOutcome{ruleFail, Reason{ReasonRuleFailed, s.failedClause(q, ru)}}
		}
	}
	sc.ruleGen[idx] = sc.gen
	sc.ruleOut[idx] = out
	return out
}

// unknownFactText is the unknown-fact detail for every mask of missing facts,
// built once so a request never formats it.
var unknownFactText = func() []string {
	out := make([]string, 1<<len(factNames))
	for m := 1; m < len(out); m++ {
		out[m] = "eligibility rule needs " + factList(uint8(m))
	}
	return out
}()

// failedClause names the first top-level clause of a conjunction that is false;
// only computed when explaining.
func (s *Snapshot) failedClause(q *query, ru *rule) string {
	if !q.req.Explain {
		return ""
	}
	for _, c := range ru.clauses {
		if ok, err := s.rules.eval(c.program, q.boxed); err == nil && !ok {
			return c.falseText
		}
	}
	return ru.falseText
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func full(c *referral.Capacity) bool { return c != nil && c.Available <= 0 && c.Waitlist <= 0 }

func ageBand(minAge, maxAge int) string {
	switch {
	case maxAge == 0:
		return "minimum age " + strconv.Itoa(minAge)
	case minAge == 0:
		return "maximum age " + strconv.Itoa(maxAge)
	}
	return "ages " + strconv.Itoa(minAge) + " to " + strconv.Itoa(maxAge)
}

// why holds the reasons the index path excluded a candidate, one bit each, in the
// order their Reasons are reported. Reasons are only built, as Reason values, for
// the exclusions a request returns.
type why uint8

const (
	whyInactive why = 1 << iota
	whyDomain
	whyOutOfRadius
	whyNoCapacity
	whyAgeUnknown
	whyAgeLimit
	whyRule
)

// profile is what never changes about a service between capacity updates and the
// index path reads for every candidate: its own conditions (rule, age limits) and
// the static inputs of its score. It is copied next to each of the service's
// locations and area entries, so filtering and scoring a candidate read memory
// in order instead of the service table at random.
type profile struct {
	rule           int32 // index into Snapshot.programs, -1 for none
	langs          int32 // index into Snapshot.langSets
	minAge, maxAge uint8 // HSDS ages are at most 150
	timed          bool  // has opening hours
	// shared is set when the service may be offered more than once (several
	// locations, or an area): only then do its candidates need de-duplicating.
	shared bool
}

func profileOf(e *svc, locations int) profile {
	return profile{rule: e.rule, langs: e.langSet, minAge: uint8(e.minAge), maxAge: uint8(e.maxAge),
		timed: e.hours != nil, shared: locations > 1 || e.hasArea}
}

// admits applies, for the explain-off path, the checks that depend on the service
// alone (capacity, age limits, rule) before a candidate is recorded. Activity and
// domains are filtered earlier, from the location's own copy of them.
func (s *Snapshot) admits(q *query, sc *scratch, svc int32, lim profile) bool {
	return s.serviceWhy(q, sc, svc, lim, true) == 0
}

// verdict returns every reason a candidate is excluded; 0 means it matches.
func (s *Snapshot) verdict(q *query, sc *scratch, c *candidate) why {
	var w why
	if c.status != 0 {
		w |= whyInactive
	}
	if c.overlap.empty() {
		w |= whyDomain
	}
	if c.loc >= 0 && c.h > q.hRadius {
		w |= whyOutOfRadius
	}
	return w | s.serviceWhy(q, sc, c.svc, c.prof, false)
}

// serviceWhy checks capacity, age limits and the rule, in the order the reasons
// are reported; with stopEarly it returns at the first failure and so evaluates
// no rule for a service already excluded.
func (s *Snapshot) serviceWhy(q *query, sc *scratch, svc int32, lim profile, stopEarly bool) why {
	var w why
	if q.req.Full == Exclude && s.caps.class(svc) == capFull {
		if w |= whyNoCapacity; stopEarly {
			return w
		}
	}
	if lim.minAge > 0 || lim.maxAge > 0 {
		switch {
		case q.unknown&factAge != 0:
			w |= whyAgeUnknown
		case q.env.Age < int(lim.minAge) || (lim.maxAge > 0 && q.env.Age > int(lim.maxAge)):
			w |= whyAgeLimit
		}
		if w != 0 && stopEarly {
			return w
		}
	}
	if lim.rule >= 0 && s.evalRule(q, sc, lim.rule).state != rulePass {
		w |= whyRule
	}
	return w
}

// reasons appends the Reasons of the bits in w to out, with the details the
// reference path gives them.
func (s *Snapshot) reasons(out []Reason, sc *scratch, c *candidate, w why, kmText string) []Reason {
	for w != 0 {
		bit := why(1) << bits.TrailingZeros8(uint8(w))
		w &^= bit
		switch bit {
		case whyInactive:
			out = append(out, Reason{ReasonInactive, string(s.statuses[c.status])})
		case whyDomain:
			out = append(out, s.domainReason(c.svc))
		case whyOutOfRadius:
			out = append(out, Reason{ReasonOutOfRadius, kmText})
		case whyNoCapacity:
			out = append(out, Reason{Code: ReasonNoCapacity})
		case whyAgeUnknown:
			out = append(out, Reason{ReasonUnknownFact, "age limits need age"})
		case whyAgeLimit:
			out = append(out, Reason{ReasonAgeLimit, s.services[c.svc].ageText})
		case whyRule:
			out = append(out, sc.ruleOut[c.prof.rule].reason)
		}
	}
	return out
}
