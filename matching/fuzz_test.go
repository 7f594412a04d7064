package matching_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// FuzzRequest decodes arbitrary request JSON and matches it: invalid requests are
// rejected with a validation error, valid ones answered, and index and scan agree.
func FuzzRequest(f *testing.F) {
	seed, _ := json.Marshal(exampleRequest())
	f.Add(string(seed))
	f.Add(`{"needs":[{"domain":"food-insecurity","urgency":"routine"}],"near":{"latitude":91,"longitude":0},"radius_m":5}`)
	f.Add(`{"needs":[],"radius_m":-3}`)
	f.Add(`{"person":{"veteran":null,"attributes":{"a":"b"}},"needs":[{"domain":"food-insecurity","urgency":"routine"}],"near":{"latitude":37.8,"longitude":-122.27},"radius_m":20000,"when_unknown":"include","explain":true}`)
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
