package adversarial

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/rulecost/corpus"
	"github.com/refkit/refkit/interop/hsds"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/simulation"
)

// largestPerson is the largest person a match request may carry (matching's
// limits): the facts an admitted rule's worst case is stated for.
func largestPerson() referral.Person {
	income := 1e12
	p := referral.Person{
		BirthDate: referral.Date{Year: 1900, Month: 1, Day: 1}, HouseholdSize: 100, IncomeAnnual: &income,
		Zip: strings.Repeat("9", 100), County: strings.Repeat("c", 100), State: "OH", Insurance: strings.Repeat("i", 100),
		Veteran: referral.Known(true), Pregnant: referral.Known(true), Disabled: referral.Known(true),
		Attributes: map[string]string{},
	}
	for i := range 50 {
		p.Languages = append(p.Languages, fmt.Sprintf("x-lang%02d", i))
	}
	for i := range 100 {
		p.Attributes[fmt.Sprintf("%064d", i)] = strings.Repeat("v", 1000)
	}
	return p
}

// ruleCost bounds what evaluating one admitted rule against the largest person
// may allocate: its worst case is 10,000 steps, and the VM's memory budget
// caps what the steps build.
const ruleCost = 16 << 20

// TestHostileRulesEverywhere feeds the hostile-rule corpus to every way a rule
// enters refkit: matching.New, Index.Update, the HSDS importer and the
// scenario loader. Each gives the corpus's verdict (a service whose rule text
// is not even a valid record field is refused as invalid input first), every
// refusal wraps ErrInvalid, a refused update leaves the index as it was, and
// an admitted rule runs against the largest person within a bounded
// allocation and stops for a cancelled context.
func TestHostileRulesEverywhere(t *testing.T) {
	cases, err := corpus.Load("../../matching/testdata/hostile_rules.txt")
	require.NoError(t, err)
	require.NotEmpty(t, cases)
	ctx := context.Background()
	network, org := referral.NewID(), referral.NewID()
	service := func(rule string) referral.Service {
		return referral.Service{
			ID: referral.NewID(), Network: network, Organization: org, Name: "Pantry", Status: referral.ServiceActive,
			Domains: []referral.Domain{referral.FoodInsecurity}, Eligibility: rule,
			Locations: []referral.Location{{ID: referral.NewID(), Latitude: 39.96, Longitude: -82.99}},
		}
	}
	plain := service("")
	ix, err := matching.New(ctx, []referral.Service{plain}, matching.Options{})
	require.NoError(t, err)
	req := matching.Request{
		Person: largestPerson(), Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
		Near: &referral.Point{Latitude: 39.96, Longitude: -82.99}, RadiusM: 5000, Explain: true, Unknown: matching.UnknownInclude,
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()

	for _, c := range cases {
		name := fmt.Sprintf("line %d", c.Line)
		svc := service(c.Rule)
		admitted := c.Reject == "" && svc.Validate() == nil

		one, err := matching.New(ctx, []referral.Service{svc}, matching.Options{})
		verdict(t, name+": matching.New", admitted, err)
		err = ix.Update(ctx, matching.Put(svc))
		verdict(t, name+": Index.Update", admitted, err)
		if err != nil {
			_, ok := ix.Snapshot().Service(svc.ID)
			require.False(t, ok, "%s: a refused update changed the index", name)
		}
		if admitted {
			var res matching.Result
			cost := allocated(func() { res, err = one.Match(ctx, req) })
			require.NoError(t, err, name)
			require.Equal(t, 1, len(res.Matches)+len(res.Possible)+len(res.Excluded), "%s: the service is matched, possible or excluded with its reasons", name)
			require.LessOrEqual(t, cost, uint64(ruleCost), "%s: one admitted rule allocated %d bytes", name, cost)
			_, err = one.Match(cancelled, req)
			require.ErrorIs(t, err, context.Canceled, name)
			require.NoError(t, ix.Update(ctx, matching.Remove(svc.ID)))
		}

		// The JSON carriers can hold only valid UTF-8 text unchanged.
		if !utf8.ValidString(c.Rule) {
			continue
		}
		err = importHSDS(ctx, c.Rule)
		verdict(t, name+": HSDS import", admitted, err)
		_, err = simulation.Parse(scenarioWithRule(t, c.Rule))
		verdict(t, name+": the scenario loader", admitted, err)
	}
}

// verdict checks an entry point's answer for a rule: admitted, or refused with
// ErrInvalid.
func verdict(t *testing.T, where string, admitted bool, err error) {
	t.Helper()
	if admitted {
		require.NoError(t, err, where)
		return
	}
	require.ErrorIs(t, err, referral.ErrInvalid, where)
}

// importHSDS imports one HSDS service carrying rule as its eligibility-rule
// attribute, strictly (a service it cannot map fails the import).
func importHSDS(ctx context.Context, rule string) error {
	value, err := json.Marshal(rule)
	if err != nil {
		return err
	}
	doc := `{"contents":[{"id":"s1","name":"Pantry","status":"active","organization":{"id":"o1","name":"Org"},` +
		`"service_at_locations":[{"id":"l1","location":{"id":"l2","name":"Hall","latitude":30.27,"longitude":-97.74}}],` +
		`"attributes":[{"id":"t1","taxonomy_term":{"id":"t2","name":"Food Pantry","taxonomy":"Open Eligibility"}},` +
		`{"id":"t3","value":` + string(value) + `,"taxonomy_term":{"id":"t4","code":"eligibility-rule","name":"Rule","taxonomy":"` +
		hsds.RuleTaxonomy + `"}}]}]}`
	_, err = hsds.ReadJSON(ctx, bytes.NewReader([]byte(doc)), hsds.Options{Network: referral.NewID(), Strict: true})
	return err
}

// scenarioWithRule is a small scenario whose one service has rule as its
// eligibility.
func scenarioWithRule(t *testing.T, rule string) []byte {
	value, err := json.Marshal(rule)
	require.NoError(t, err)
	return []byte(`{"name":"x","start":"2026-01-05T00:00:00Z","duration":"1d","population":{"size":10,` +
		`"centres":[{"latitude":41.88,"longitude":-87.63,"sd_km":3,"weight":1,"state":"IL","county":"Cook"}],` +
		`"age":{"kind":"uniform","min":18,"max":80},"household_size":{"kind":"fixed","value":3}},` +
		`"screening":{"instrument":"hunger-vital-sign","coverage":1,"prevalence":[{"domain":"food-insecurity","p":0.4}]},` +
		`"sites":[{"name":"clinic","latitude":41.88,"longitude":-87.63,"rate_per_day":20}],` +
		`"services":[{"name":"pantry","latitude":41.89,"longitude":-87.62,"domains":["food-insecurity"],"eligibility":` + string(value) + `,` +
		`"capacity":{"slots":3,"waitlist":5},"service_time":{"kind":"exponential","mean":12}}],` +
		`"partners":{"acknowledge_after":{"kind":"exponential","mean":4},"decide_after":{"kind":"exponential","mean":8},` +
		`"contact_after":{"kind":"exponential","mean":12},"reach":0.9},` +
		`"policy":{"radius_km":10,"when_full":"rank","accept_within":"48h","sweep_every":"1h","max_rereferrals":1}}`)
}
