package lifecycle

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
)

// TestFiringSurvivesDerivedContexts checks a callback handed a context derived
// from the firing context (as stateless may do for actions) still finds the
// referral being acted on.
func TestFiringSurvivesDerivedContexts(t *testing.T) {
	codes := DefaultCodes()
	fc := newFiring(context.Background(), referral.Referral{Status: referral.StatusOnHold}, referral.Actor{}, Command{}, &codes)
	defer fc.release()
	type key struct{}
	derived := context.WithValue(fc, key{}, 1)
	f := firingFrom(derived)
	require.NotNil(t, f)
	require.Equal(t, referral.StatusOnHold, f.r.Status)
	require.Equal(t, 1, derived.Value(key{}))
	require.Nil(t, firingFrom(context.Background()))
}
