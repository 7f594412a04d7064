package matching_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// sentinels are values no result, error or explanation may ever contain: each
// goes through one person field a rule can read.
var sentinels = struct {
	attr, zip, county, insurance, lang, state, income string
}{
	attr: "SENTINEL-ATTRIBUTE-7Q3", zip: "SENTINEL-ZIP-4K2", county: "SENTINEL-COUNTY-9W1",
	insurance: "SENTINEL-INSURANCE-2H8", lang: "qqsentinellang", state: "QX", income: "734519",
}

// privacyRules fail at run time on the sentinel values, where expr's own
// message would quote them, or are false or unknown, where an explanation
// could be tempted to.
var privacyRules = []string{
	`int(attributes["s"]) > 0`,
	`int(zip) > 0`,
	`float(county) > 0`,
	`int(insurance) > 0`,
	`int(languages[0]) > 0`,
	`int(state) > 1`,
	`int(string(income_annual) + "x") > 0`,
	`languages[9] == "x"`,
	`household_size % (age - age) == 0`,
	`veteran || int(zip) > 0`,               // fails in the three-valued skeleton
	`pregnant ? int(county) > 0 : disabled`, // the same, under a conditional
	`attributes["s"] == "no" && zip == "no"`,
	`attributes["missing"] == "x" || county == "nowhere"`,
	`any(keys(attributes), {int(attributes[#]) > 0})`,
}

// No personal value reaches a result, an explanation or an error, whatever the
// rules do with it, on either path, with every option.
func TestNoPersonalValueInResults(t *testing.T) {
	ctx := context.Background()
	base := exampleDirectory()[0]
	var dir []referral.Service
	for i, rule := range privacyRules {
		s := base.Clone()
		s.ID[15], s.Locations[0].ID[15] = byte(0x40+i), byte(0x40+i)
		s.Eligibility = rule
		dir = append(dir, s)
	}
	ix, err := matching.New(ctx, dir, matching.Options{})
	require.NoError(t, err)
	income := 734519.25
	req := exampleRequest()
	req.Person = referral.Person{
		GivenName: "SENTINEL-GIVEN", FamilyName: "SENTINEL-FAMILY",
		BirthDate: referral.Date{Year: 1961, Month: time.July, Day: 9}, HouseholdSize: 2, IncomeAnnual: &income,
		Zip: sentinels.zip, County: sentinels.county, State: sentinels.state, Insurance: sentinels.insurance,
		Languages:  []string{sentinels.lang},
		Attributes: map[string]string{"s": sentinels.attr, "other": sentinels.attr + "-2"},
	}
	errorsSeen := 0
	for _, explain := range []bool{false, true} {
		for _, unknown := range []matching.Unknown{matching.UnknownExclude, matching.UnknownInclude} {
			req.Explain, req.Unknown = explain, unknown
			for name, run := range map[string]func(context.Context, matching.Request) (matching.Result, error){
				"index": ix.Snapshot().Match, "scan": ix.Snapshot().Scan,
			} {
				res, err := run(ctx, req)
				require.NoError(t, err)
				out, err := json.Marshal(res)
				require.NoError(t, err)
				noSentinel(t, fmt.Sprintf("%s explain=%v unknown=%s", name, explain, unknown), string(out)+fmt.Sprintf("%+v", res))
				errorsSeen += strings.Count(string(out), matching.ReasonRuleError)
			}
		}
	}
	require.Positive(t, errorsSeen, "the rules must fail at run time, or the test proves nothing")

	// Invalid requests are refused without quoting the value either.
	bad := req
	bad.Person.State = sentinels.county
	_, err = ix.Match(ctx, bad)
	require.Error(t, err)
	noSentinel(t, "validation", err.Error())
	bad = req
	bad.Person.Attributes = map[string]string{"s": strings.Repeat(sentinels.attr, 100)}
	_, err = ix.Match(ctx, bad)
	require.Error(t, err)
	noSentinel(t, "validation", err.Error())
}

func noSentinel(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range []string{sentinels.attr, sentinels.zip, sentinels.county, sentinels.insurance,
		sentinels.lang, sentinels.state, sentinels.income, "SENTINEL"} {
		require.NotContains(t, text, s, "%s: a personal value leaked", where)
	}
}

// A match carries the service's organization, so a referral needs no second
// lookup that a concurrent update could change.
func TestMatchCarriesOrganization(t *testing.T) {
	ctx := context.Background()
	dir := exampleDirectory()
	ix, err := matching.New(ctx, dir, matching.Options{})
	require.NoError(t, err)
	req := exampleRequest()
	req.Person.Veteran = referral.Known(true)
	res, err := ix.Match(ctx, req)
	require.NoError(t, err)
	require.Len(t, res.Matches, 2)
	for _, m := range res.Matches {
		s, ok := ix.Snapshot().Service(m.Service)
		require.True(t, ok)
		require.Equal(t, s.Organization, m.Organization)
	}
	require.NoError(t, ix.Update(ctx, matching.Remove(dir[0].ID)))
	require.Equal(t, dir[0].Organization, res.Matches[0].Organization, "the result stands after the service is removed")
	b, err := json.Marshal(res.Matches[0])
	require.NoError(t, err)
	require.Contains(t, string(b), `"organization_id":"`+dir[0].Organization.String()+`"`)
}
