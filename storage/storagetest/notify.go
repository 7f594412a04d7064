package storagetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// testFeedNotifier checks storage.FeedNotifier for backends that implement it: a
// channel wakes at the next append to its own network's feed, and only then.
func testFeedNotifier(t *testing.T, s storage.Store) {
	n, ok := s.(storage.FeedNotifier)
	if !ok {
		t.Skip("the backend does not implement storage.FeedNotifier")
	}
	ctx := context.Background()
	f := NewFixture(t, s, 1)
	other := NewFixture(t, s, 2)

	_, err := n.FeedChanged(ctx, f.ID())
	require.ErrorIs(t, err, referral.ErrNotFound)

	woken := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	ch, err := n.FeedChanged(ctx, f.Network.ID)
	require.NoError(t, err)
	require.False(t, woken(ch))

	other.Create(t, s, other.NewReferral(referral.StatusRequested))
	require.False(t, woken(ch), "an append in another network does not wake")

	r := f.Create(t, s, f.NewReferral(referral.StatusRequested))
	require.True(t, woken(ch), "a create wakes")

	ch, err = n.FeedChanged(ctx, f.Network.ID)
	require.NoError(t, err)
	require.False(t, woken(ch), "a new channel waits for the next append")
	stale, staleEvent := Next(r, referral.StatusAccepted, referral.EventAccepted)
	stale.Version, staleEvent.Sequence = r.Version+2, r.Version+2
	_, err = s.UpdateReferral(ctx, stale, staleEvent)
	require.ErrorIs(t, err, referral.ErrConflict)
	require.False(t, woken(ch), "a rejected write does not wake")

	next, e := Next(r, referral.StatusAccepted, referral.EventAccepted)
	_, err = s.UpdateReferral(ctx, next, e)
	require.NoError(t, err)
	require.True(t, woken(ch), "an update wakes")
}
