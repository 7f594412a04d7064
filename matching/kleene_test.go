package matching_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// oneService is a directory of one food service at the request's point, with
// the given rule.
func oneService(rule string) []referral.Service {
	s := exampleDirectory()[0]
	s.Eligibility = rule
	s.Capacity = nil
	return []referral.Service{s}
}

// person is a person who has given nothing but a place: every fact a rule may
// read is unknown until a test sets it.
func person() referral.Person {
	return referral.Person{}
}

func ageRequest(p referral.Person) matching.Request {
	req := exampleRequest()
	req.Person = p
	return req
}

// verdict is what a request says of the one service: "match", or the first
// exclusion reason as code: detail.
func verdict(t *testing.T, rule string, p referral.Person) string {
	t.Helper()
	ix, err := matching.New(context.Background(), oneService(rule), matching.Options{})
	require.NoError(t, err)
	res, err := ix.Match(context.Background(), ageRequest(p))
	require.NoError(t, err)
	want, err := ix.Snapshot().Scan(context.Background(), ageRequest(p))
	require.NoError(t, err)
	require.Equal(t, want, res, "index and scan agree")
	if len(res.Matches) == 1 {
		return "match"
	}
	require.Len(t, res.Excluded, 1)
	r := res.Excluded[0].Reasons[0]
	return r.Code + ": " + r.Detail
}

// A missing fact is unknown, not false: rules are evaluated in Kleene's
// three-valued logic, and an unknown verdict names the facts that would settle
// it.
func TestThreeValuedRules(t *testing.T) {
	yes, no := referral.Known(true), referral.Known(false)
	income := func(v float64) *float64 { return &v }
	born := referral.Date{Year: 1950, Month: time.January, Day: 1} // 76 at the request's as_of
	young := referral.Date{Year: 2000, Month: time.January, Day: 1}
	tests := []struct {
		name, rule string
		person     func(p *referral.Person)
		want       string
	}{
		// The case: a veteran qualifies whatever the income.
		{"true or unknown", "veteran || fpl_percent <= 138", func(p *referral.Person) { p.Veteran = yes }, "match"},
		{"false or unknown", "veteran || fpl_percent <= 138", func(p *referral.Person) { p.Veteran = no },
			"unknown-fact: eligibility rule needs fpl_percent"},
		{"unknown or unknown", "veteran || fpl_percent <= 138", func(p *referral.Person) {},
			"unknown-fact: eligibility rule needs fpl_percent, veteran"},
		{"false and unknown", "household_size >= 2 && fpl_percent <= 200", func(p *referral.Person) { p.HouseholdSize = 1 },
			"rule-failed: clause is false: household_size >= 2"},
		{"true and unknown", "household_size >= 2 && fpl_percent <= 200", func(p *referral.Person) { p.HouseholdSize = 3 },
			"unknown-fact: eligibility rule needs fpl_percent"},
		{"all known", "household_size >= 2 && fpl_percent <= 200", func(p *referral.Person) {
			p.HouseholdSize, p.IncomeAnnual, p.State = 3, income(20_000), "CA"
		}, "match"},
		{"not unknown", "!veteran", func(p *referral.Person) {}, "unknown-fact: eligibility rule needs veteran"},
		{"not false", "!veteran", func(p *referral.Person) { p.Veteran = no }, "match"},
		{"conditional on unknown, branches agree", "pregnant ? age < 90 : disabled", func(p *referral.Person) {
			p.BirthDate, p.Disabled = born, yes
		}, "match"},
		{"conditional on unknown, branches differ", "pregnant ? age < 50 : disabled", func(p *referral.Person) {
			p.BirthDate, p.Disabled = born, yes
		}, "unknown-fact: eligibility rule needs pregnant"},
		{"conditional on a known fact", "pregnant ? age < 50 : disabled", func(p *referral.Person) {
			p.Pregnant, p.BirthDate = yes, young
		}, "match"},
		{"absent attribute", `attributes["tribal"] == "yes" || age >= 65`, func(p *referral.Person) { p.BirthDate = born }, "match"},
		{"absent attribute decides", `attributes["tribal"] == "yes" || age >= 65`, func(p *referral.Person) { p.BirthDate = young },
			`unknown-fact: eligibility rule needs attributes["tribal"]`},
		{"present attribute", `attributes["tribal"] == "yes" || age >= 65`, func(p *referral.Person) {
			p.BirthDate, p.Attributes = young, map[string]string{"tribal": "no"}
		}, `rule-failed: rule is false: attributes["tribal"] == "yes" || age >= 65`},
		{"attribute as a field", `attributes.tribal == "yes"`, func(p *referral.Person) {}, `unknown-fact: eligibility rule needs attributes["tribal"]`},
		{"presence is known", `"tribal" in attributes`, func(p *referral.Person) {}, `rule-failed: rule is false: "tribal" in attributes`},
		{"no languages", `speaks("es") || has_need("food-insecurity")`, func(p *referral.Person) {}, "match"},
		{"no languages decides", `speaks("es")`, func(p *referral.Person) {}, "unknown-fact: eligibility rule needs languages"},
		{"empty text facts", `zip == "94612" || county == "Alameda" || state == "CA" || insurance == "medicaid"`, func(p *referral.Person) {},
			"unknown-fact: eligibility rule needs zip, county, state, insurance"},
		{"a known text fact settles it", `zip == "94612" || county == "Alameda"`, func(p *referral.Person) { p.County = "Alameda" }, "match"},
		{"needs and urgency are always known", `has_need("homelessness") || urgency == "emergent"`, func(p *referral.Person) {},
			`rule-failed: rule is false: has_need("homelessness") || urgency == "emergent"`},
		// A let binding keeps its body whole: unknown if any fact it reads is.
		{"let is evaluated whole", "let v = veteran; v || age >= 65", func(p *referral.Person) { p.BirthDate = born },
			"unknown-fact: eligibility rule needs veteran"},
		// Failures at run time report a position, never expr's message.
		{"failure after unknown", `veteran || int(attributes["n"]) > 3`, func(p *referral.Person) {
			p.Attributes = map[string]string{"n": "seven"}
		}, "rule-error: eligibility rule failed at run time (line 1, column 11)"},
		{"failure skipped by a true part", `veteran || int(attributes["n"]) > 3`, func(p *referral.Person) {
			p.Veteran, p.Attributes = yes, map[string]string{"n": "seven"}
		}, "match"},
		{"failure with every fact known", `int(attributes["n"]) > 3`, func(p *referral.Person) {
			p.Attributes = map[string]string{"n": "seven"}
		}, "rule-error: eligibility rule failed at run time (line 1, column 0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := person()
			tt.person(&p)
			require.Equal(t, tt.want, verdict(t, tt.rule, p))
		})
	}
}

// With Unknown "include", services whose eligibility unknown facts leave open
// come back in Result.Possible, ranked, each naming the facts to ask for;
// they are no longer listed as excluded. The default excludes them.
func TestPossiblyEligibleTier(t *testing.T) {
	ctx := context.Background()
	base := exampleDirectory()[0]
	mk := func(n byte, rule string, minAge int) referral.Service {
		s := base.Clone()
		s.ID[15], s.Locations[0].ID[15] = n, n
		s.Eligibility, s.MinimumAge = rule, minAge
		return s
	}
	dir := []referral.Service{
		mk(0x21, "veteran || fpl_percent <= 138", 0),  // income unknown, not a veteran: possible
		mk(0x22, "household_size >= 2 && veteran", 0), // false whatever: excluded
		mk(0x23, "", 18), // age limits, age unknown: possible
		mk(0x24, `attributes["tribal"] == "yes"`, 60),      // both unknown: possible, two facts
		mk(0x25, "veteran", 0),                             // known false: excluded
		mk(0x26, `has_need("food-insecurity")`, 0),         // a match
		mk(0x27, "fpl_percent <= 200", 0),                  // possible, but full
		mk(0x28, `int(attributes["n"]) > 0 || veteran`, 0), // fails at run time: excluded
	}
	dir[6].Capacity = &referral.Capacity{}
	ix, err := matching.New(ctx, dir, matching.Options{})
	require.NoError(t, err)
	req := exampleRequest()
	req.Person = referral.Person{HouseholdSize: 1, Veteran: referral.Known(false), State: "CA",
		Attributes: map[string]string{"n": "x"}}
	req.Full = matching.Exclude

	res, err := ix.Match(ctx, req)
	require.NoError(t, err)
	require.Nil(t, res.Possible, "the default is to exclude")
	require.Len(t, res.Matches, 1)
	require.Len(t, res.Excluded, len(dir)-1)

	req.Unknown = matching.UnknownInclude
	for _, explain := range []bool{true, false} {
		req.Explain = explain
		res, err = ix.Match(ctx, req)
		require.NoError(t, err)
		scan, err := ix.Snapshot().Scan(ctx, req)
		require.NoError(t, err)
		require.Equal(t, scan, res)
		require.Len(t, res.Matches, 1)
		require.Equal(t, dir[5].ID, res.Matches[0].Service)
		require.Empty(t, res.Matches[0].Unknown)
		possible := map[byte][]string{}
		for _, m := range res.Possible {
			possible[m.Service[15]] = m.Unknown
			require.Equal(t, dir[0].Organization, m.Organization)
			require.NotContains(t, m.Reasons, matching.Reason{Code: matching.ReasonEligible})
		}
		require.Equal(t, map[byte][]string{
			0x21: {"fpl_percent"},
			0x23: {"age"},
			0x24: {"age", `attributes["tribal"]`},
		}, possible)
		if !explain {
			require.Nil(t, res.Excluded)
			continue
		}
		excluded := map[byte]string{}
		for _, x := range res.Excluded {
			excluded[x.Service[15]] = x.Reasons[0].Code
		}
		require.Equal(t, map[byte]string{
			0x22: matching.ReasonRuleFailed, 0x25: matching.ReasonRuleFailed,
			0x27: matching.ReasonNoCapacity, 0x28: matching.ReasonRuleError,
		}, excluded)
	}

	// Possible matches are ranked and limited as matches are.
	req.Limit, req.Explain = 2, false
	res, err = ix.Match(ctx, req)
	require.NoError(t, err)
	require.Len(t, res.Possible, 2)
	require.GreaterOrEqual(t, res.Possible[0].Score, res.Possible[1].Score)
	require.Contains(t, res.Possible[0].Reasons, matching.Reason{Code: matching.ReasonUnknownFact, Detail: "eligibility rule needs fpl_percent"})
}

func TestUnknownPolicyValidated(t *testing.T) {
	req := exampleRequest()
	req.Unknown = "guess"
	var ve *referral.ValidationError
	require.ErrorAs(t, req.Validate(), &ve)
	require.Equal(t, "when_unknown", ve.Field)
}
