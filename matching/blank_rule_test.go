package matching_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// A rule of only white space is refused by the index as CheckRule, the HSDS
// importer and the scenario loader refuse it, rather than read as no rule
// (everyone eligible): only the empty string means that. Before, matching.New
// and Update admitted it silently.
func TestBlankRuleIsRefused(t *testing.T) {
	ctx := context.Background()
	s := exampleDirectory()[0]
	s.Eligibility = " \n\t "
	require.ErrorIs(t, matching.CheckRule(s.Eligibility), referral.ErrInvalid)
	_, err := matching.New(ctx, []referral.Service{s}, matching.Options{})
	require.ErrorIs(t, err, referral.ErrInvalid)
	require.ErrorContains(t, err, "rule is empty")
	ix, err := matching.New(ctx, nil, matching.Options{})
	require.NoError(t, err)
	require.ErrorIs(t, ix.Update(ctx, matching.Put(s)), referral.ErrInvalid)
	s.Eligibility = ""
	require.NoError(t, ix.Update(ctx, matching.Put(s)), "the empty rule is no rule")
}
