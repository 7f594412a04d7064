package lifecycle_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
)

// TestNetworkDeadlines: one engine on one store applies each network's own
// deadlines when a referral is sent and when the sweep runs; a network with no
// entry uses Options.Deadlines.
func TestNetworkDeadlines(t *testing.T) {
	a := newEnv(t, nil)
	b := newEnvOn(t, a.store, nil)
	fallback := lifecycle.Deadlines{Acknowledge: 24 * time.Hour, ExpireAfter: 0}
	strict := lifecycle.Deadlines{Acknowledge: time.Hour, Accept: 4 * time.Hour, ExpireAfter: -1}
	engine, err := lifecycle.New(a.store, a.store, lifecycle.Options{
		Now: a.clock.Now, Deadlines: fallback,
		NetworkDeadlines: map[referral.ID]lifecycle.Deadlines{b.network: strict},
	})
	require.NoError(t, err)
	require.Equal(t, fallback, engine.Deadlines(a.network))
	require.Equal(t, strict, engine.Deadlines(b.network))

	ra, err := engine.Create(a.ctx, a.senderA, a.request(true))
	require.NoError(t, err)
	rb, err := engine.Create(b.ctx, b.senderA, b.request(true))
	require.NoError(t, err)
	now := a.clock.Now()
	tests := []struct {
		name                    string
		got                     referral.Referral
		acknowledgeBy, acceptBy time.Time
	}{
		{"network without an entry", ra, now.Add(24 * time.Hour), time.Time{}},
		{"network with its own deadlines", rb, now.Add(time.Hour), now.Add(4 * time.Hour)},
	}
	for _, tc := range tests {
		require.Equal(t, tc.acknowledgeBy, tc.got.AcknowledgeBy, tc.name)
		require.Equal(t, tc.acceptBy, tc.got.AcceptBy, tc.name)
	}

	// Two hours on, only b's referral is overdue: it is escalated and, with a
	// negative grace, never expired.
	res, err := engine.Sweep(a.ctx, now.Add(2*time.Hour))
	require.NoError(t, err)
	require.Equal(t, lifecycle.SweepResult{Escalated: 1}, res)
	// A day on, a's referral expires at its deadline (zero grace); b's stays.
	res, err = engine.Sweep(a.ctx, now.Add(25*time.Hour))
	require.NoError(t, err)
	require.Equal(t, lifecycle.SweepResult{Expired: 1}, res)
	gotA, err := engine.Get(a.ctx, a.senderA, ra.ID)
	require.NoError(t, err)
	require.Equal(t, referral.StatusCancelled, gotA.Status)
	gotB, err := engine.Get(b.ctx, b.senderA, rb.ID)
	require.NoError(t, err)
	require.Equal(t, referral.StatusRequested, gotB.Status)
	require.True(t, gotB.NextDeadline.IsZero(), "escalated with no expiry: nothing more to sweep")
}

func TestNetworkDeadlinesRejectsBadEntries(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name    string
		entries map[referral.ID]lifecycle.Deadlines
	}{
		{"zero network id", map[referral.ID]lifecycle.Deadlines{referral.NilID: {Acknowledge: time.Hour}}},
		{"negative acknowledge", map[referral.ID]lifecycle.Deadlines{e.network: {Acknowledge: -time.Hour}}},
		{"negative accept", map[referral.ID]lifecycle.Deadlines{e.network: {Accept: -time.Minute}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lifecycle.New(e.store, e.store, lifecycle.Options{NetworkDeadlines: tc.entries})
			require.ErrorIs(t, err, referral.ErrInvalid)
		})
	}
}
