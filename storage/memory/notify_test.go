package memory_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
)

func TestCloseWakesFeedFollowers(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	network := referral.Network{ID: referral.NewID(), Name: "Network"}
	require.NoError(t, s.PutNetwork(ctx, network))
	ch, err := s.FeedChanged(ctx, network.ID)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	select {
	case <-ch:
	default:
		t.Fatal("closing the store must wake followers")
	}
	_, err = s.FeedChanged(ctx, network.ID)
	require.ErrorIs(t, err, storage.ErrClosed)
}
