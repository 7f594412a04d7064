package matching

import (
	"math/bits"
	"strconv"

	"github.com/refkit/refkit/referral"
)

// ruleOutcome is one rule's result for one request.
type ruleOutcome struct {
	state uint8
	// missing are, for an unknown result, the facts that would settle it.
	missing facts
	// reason is the exclusion reason, with its detail only when the request
	// reports it (explanations, or the possibly-eligible tier).
	reason Reason
}

const (
	rulePass uint8 = iota + 1
	ruleFail
	ruleUnknown
	ruleErr
	// ruleStopped is the outcome of a rule not evaluated because the request
	// was cancelled; the request's result is discarded.
	ruleStopped
)

// evalRule evaluates each distinct program at most once per request: the outcome
// is memoized in the scratch slot of the program, stamped with the request's
// generation, so no map and no clearing is needed.
func (s *Snapshot) evalRule(q *query, sc *scratch, idx int32) ruleOutcome {
	if sc.ruleGen[idx] == sc.gen {
		return sc.ruleOut[idx]
	}
	out := s.judgeRule(q, s.programs[idx])
	sc.ruleGen[idx] = sc.gen
	sc.ruleOut[idx] = out
	return out
}

// judgeRule evaluates one rule for a request: as one program when every fact it
// reads is known, else through its three-valued skeleton. The context is
// checked before every evaluation: each is bounded by the rule limits, so a
// cancelled request stops within one rule's worst case.
func (s *Snapshot) judgeRule(q *query, ru *rule) ruleOutcome {
	if q.cancelled() {
		return ruleOutcome{state: ruleStopped}
	}
	if testHookEval != nil {
		testHookEval()
	}
	unknown := facts{named: q.unknown}
	if ru.attrKeys != nil {
		unknown.attrs = ru.missingAttributes(q.req.Person.Attributes)
	}
	var t truth
	var missing facts
	var err error
	switch {
	case ru.facts.and(unknown).empty() && ru.native != nil:
		t = truthOf(ru.native(&q.env))
	case ru.facts.and(unknown).empty():
		var ok bool
		if ok, err = s.rules.run(ru.program, q.box()); err != nil {
			t = isError
		} else {
			t = truthOf(ok)
		}
	case ru.skeleton != nil:
		t, missing, err = s.rules.judge(ru.skeleton, q.box(), &q.env, unknown)
	default:
		t, missing = isUnknown, ru.facts.and(unknown)
	}
	switch t {
	case isTrue:
		return ruleOutcome{state: rulePass}
	case isFalse:
		return ruleOutcome{state: ruleFail, reason: Reason{ReasonRuleFailed, s.failedClause(q, ru, unknown)}}
	case isUnknown:
		out := ruleOutcome{state: ruleUnknown, missing: missing, reason: Reason{Code: ReasonUnknownFact}}
		if q.req.Explain || q.possible {
			out.reason.Detail = ru.unknownText(missing)
		}
		return out
	}
	return ruleOutcome{state: ruleErr, reason: Reason{ReasonRuleError, ru.errorText(err)}}
}

// box returns the request's Env boxed for the VM: once per request, not once
// per program, and not at all when native forms decide every rule.
func (q *query) box() any {
	if q.boxed == nil {
		q.boxed = q.env
	}
	return q.boxed
}

// testHookEval, when set by a test, runs before every rule evaluation.
var testHookEval func()

// failedClause names the first top-level clause of a conjunction that is false;
// only computed when explaining.
func (s *Snapshot) failedClause(q *query, ru *rule, unknown facts) string {
	if !q.req.Explain {
		return ""
	}
	for _, c := range ru.clauses {
		if t, _, _ := s.rules.judge(c.node, q.box(), &q.env, unknown); t == isFalse {
			return c.falseText
		}
	}
	return ru.falseText
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
	whyRuleUnknown
)

// whyUnknown are the reasons a candidate may still be eligible for: the facts
// that would settle them are unknown.
const whyUnknown = whyAgeUnknown | whyRuleUnknown

// possible reports whether a candidate excluded for w goes to the request's
// possibly-eligible tier.
func (q *query) possibleFor(w why) bool { return q.possible && w&^whyUnknown == 0 }

// profile is what never changes about a service between capacity updates and the
// index path reads for every candidate: its own conditions (rule, age limits),
// its status and the static inputs of its score. It is copied next to each of the
// service's locations and area entries, so filtering and scoring a candidate read
// memory in order instead of the service table at random. Sixteen bytes: a site
// with it is one 64-byte record.
type profile struct {
	rule           int32 // index into Snapshot.programs, -1 for none
	langs          int32 // index into Snapshot.langSets
	doms           int32 // index into Snapshot.domLists: the domains as the service lists them
	minAge, maxAge uint8 // HSDS ages are at most 150
	status         uint8 // index into Snapshot.statuses: 0 is active
	flags          profileFlags
}

// profileFlags are a profile's yes-or-no facts.
type profileFlags uint8

const (
	// flagTimed: the service has opening hours.
	flagTimed profileFlags = 1 << iota
	// flagShared: the service may be offered more than once (several
	// locations, or an area), so its candidates need de-duplicating.
	flagShared
	// flagPlaced: the service has a location with coordinates, so an area
	// that serves the person loses to a location within the radius.
	flagPlaced
)

func (p profile) timed() bool  { return p.flags&flagTimed != 0 }
func (p profile) shared() bool { return p.flags&flagShared != 0 }
func (p profile) placed() bool { return p.flags&flagPlaced != 0 }

// profileOf is the profile of e, a service with locations locations of which
// placed have coordinates, and status the index of its status.
func profileOf(e *svc, locations, placed int, status uint8) profile {
	p := profile{rule: e.rule, langs: e.langSet, doms: e.doms, minAge: uint8(e.minAge), maxAge: uint8(e.maxAge), status: status}
	if e.hours != nil {
		p.flags |= flagTimed
	}
	if locations > 1 || e.hasArea {
		p.flags |= flagShared
	}
	if placed > 0 {
		p.flags |= flagPlaced
	}
	return p
}

// admits applies, for the explain-off path, the checks that depend on the service
// alone (capacity, age limits, rule) before a candidate is recorded. Activity and
// domains are filtered earlier, from the location's own copy of them. It returns
// the candidate's reasons and whether it is kept: as a match (w is 0) or as a
// possible match.
func (s *Snapshot) admits(q *query, sc *scratch, svc int32, lim profile) (w why, keep bool) {
	w = s.serviceWhy(q, sc, svc, lim, true)
	return w, w == 0 || q.possibleFor(w)
}

// verdict returns every reason a candidate is excluded; 0 means it matches.
func (s *Snapshot) verdict(q *query, sc *scratch, c *candidate) why {
	var w why
	if c.prof.status != 0 {
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
// are reported; with stopEarly it returns at the first failure that excludes the
// candidate from every tier, and so evaluates no rule for a service already
// excluded.
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
		if w != 0 && stopEarly && !q.possibleFor(w) {
			return w
		}
	}
	if lim.rule >= 0 {
		switch s.evalRule(q, sc, lim.rule).state {
		case rulePass:
		case ruleUnknown:
			w |= whyRuleUnknown
		default:
			w |= whyRule
		}
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
			out = append(out, Reason{ReasonInactive, string(s.statuses[c.prof.status])})
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
		case whyRule, whyRuleUnknown:
			out = append(out, sc.ruleOut[c.prof.rule].reason)
		}
	}
	return out
}
