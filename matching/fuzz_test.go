package matching_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// FuzzRule feeds arbitrary texts to the rule compiler and evaluates whatever
// compiles: neither may panic, and a rejection is always a typed invalid-input error.
func FuzzRule(f *testing.F) {
	for _, s := range []string{
		"age >= 18", `has_need("food-insecurity") && speaks("es")`, "fpl_percent <= 138 || veteran",
		`attributes["a"] == "b"`, `any(needs, # == "x")`, `len(languages) > 0 ? true : false`,
		`age >`, `1/0 == 1`, `map(1..1000000, #) != nil`, `"a" matches "("`, `let x = age; x > 3`,
	} {
		f.Add(s)
	}
	dir := exampleDirectory()
	req := exampleRequest()
	req.Person.Attributes = map[string]string{"a": "b"}
	f.Fuzz(func(t *testing.T, rule string) {
		err := matching.CheckRule(rule)
		if err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		d := []referral.Service{dir[0].Clone()}
		d[0].Eligibility = rule
		ix, err := matching.New(context.Background(), d, matching.Options{})
		require.NoError(t, err)
		_, err = ix.Match(context.Background(), req)
		require.NoError(t, err)
	})
}

// FuzzRequest decodes arbitrary request JSON and matches it: invalid requests are
// rejected with a validation error, valid ones answered, and index and scan agree.
func FuzzRequest(f *testing.F) {
	seed, _ := json.Marshal(exampleRequest())
	f.Add(string(seed))
	f.Add(`{"needs":[{"domain":"food-insecurity","urgency":"routine"}],"near":{"latitude":91,"longitude":0},"radius_m":5}`)
	f.Add(`{"needs":[],"radius_m":-3}`)
	f.Add(`{"needs":[{"domain":"food-insecurity","urgency":"emergent"}],"near":{"latitude":-89.9,"longitude":179.99},"radius_m":1000000,"explain":true}`)
	ix, err := matching.New(context.Background(), exampleDirectory(), matching.Options{})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body string) {
		var req matching.Request
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		got, err := ix.Snapshot().Match(context.Background(), req)
		if err != nil {
			require.ErrorIs(t, err, referral.ErrInvalid)
			return
		}
		want, err := ix.Snapshot().Scan(context.Background(), req)
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}
