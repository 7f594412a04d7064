package api

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage/memory"
)

// TestFollowersBounded: however many networks ask, at most MaxNetworks have
// followers; the oldest is stopped to make room, and started again when
// asked for. After close, none is started.
func TestFollowersBounded(t *testing.T) {
	store := memory.New()
	defer store.Close()
	f := newFollowers(store, time.Now, true, nil, slog.New(slog.DiscardHandler))
	ids := referral.NewIDGenerator(time.Now, nil)
	var first *netFollowers
	networks := make([]referral.ID, MaxNetworks+10)
	for i := range networks {
		networks[i] = ids.MustNew()
		n, err := f.get(networks[i])
		require.NoError(t, err)
		if i == 0 {
			first = n
		}
		again, err := f.get(networks[i])
		require.NoError(t, err)
		require.Same(t, n, again)
	}
	require.Len(t, f.m, MaxNetworks)
	require.Len(t, f.order, MaxNetworks)
	require.Error(t, first.ctx.Err(), "the oldest network's followers were stopped")
	require.Nil(t, f.lookup(networks[0]))
	restarted, err := f.get(networks[0])
	require.NoError(t, err)
	require.NotSame(t, first, restarted)
	require.NoError(t, restarted.ctx.Err())
	require.Len(t, f.m, MaxNetworks)

	f.close()
	require.Error(t, restarted.ctx.Err())
	_, err = f.get(ids.MustNew())
	require.ErrorIs(t, err, referral.ErrUnavailable)
}
