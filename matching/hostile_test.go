package matching_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/rulecost/corpus"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

const hostileCorpus = "testdata/hostile_rules.txt"

// Every rule in the hostile corpus gets the verdict the corpus states: admitted
// with a worst-case cost within the limit, or rejected with a positioned
// *RuleError saying why.
func TestHostileRules(t *testing.T) {
	cases, err := corpus.Load(hostileCorpus)
	require.NoError(t, err)
	require.Greater(t, len(cases), 60)
	limits := matching.DefaultRuleLimits()
	for _, c := range cases {
		cost, err := limits.Check(c.Rule)
		if c.Reject == "" {
			require.NoError(t, err, "line %d", c.Line)
			require.Positive(t, cost, "line %d", c.Line)
			require.LessOrEqual(t, cost, limits.MaxCost, "line %d", c.Line)
			continue
		}
		require.Error(t, err, "line %d must be rejected", c.Line)
		require.ErrorContains(t, err, c.Reject, "line %d", c.Line)
		require.ErrorIs(t, err, referral.ErrInvalid, "line %d", c.Line)
		var re *matching.RuleError
		require.True(t, errors.As(err, &re), "line %d", c.Line)
		require.Equal(t, err, matching.CheckRule(c.Rule), "line %d: CheckRule uses the default limits", c.Line)
	}
}
