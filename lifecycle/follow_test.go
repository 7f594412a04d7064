package lifecycle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
)

// pollingStore hides the memory store's FeedNotifier, so Follow has to poll.
type pollingStore struct{ storage.Store }

func TestFollow(t *testing.T) {
	tests := []struct {
		name  string
		store storage.Store
		edit  func(*lifecycle.Options)
	}{
		{"woken by the store", memory.New(), nil},
		{"polling a store that cannot notify", pollingStore{memory.New()}, func(c *lifecycle.Options) {
			c.PollInterval = time.Millisecond
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvOn(t, tc.store, tc.edit)
			first := e.create(t) // before the follower starts: read from the backlog

			ctx, cancel := context.WithCancel(e.ctx)
			defer cancel()
			got := make(chan referral.Event, 16)
			done := make(chan error, 1)
			go func() {
				done <- e.engine.Follow(ctx, e.receiverA, 0, func(ev referral.Event) error {
					got <- ev
					return nil
				})
			}()
			next := func() referral.Event {
				select {
				case ev := <-got:
					return ev
				case <-time.After(5 * time.Second):
					t.Fatal("no event within 5s")
					return referral.Event{}
				}
			}
			require.Equal(t, first.ID, next().Referral)

			_, err := e.engine.Create(e.ctx, e.senderA, e.request(false)) // a draft: invisible to the receiver
			require.NoError(t, err)
			_, err = e.engine.Acknowledge(e.ctx, e.receiverA, first.ID)
			require.NoError(t, err)
			ev := next()
			require.Equal(t, referral.EventAcknowledged, ev.Type)
			_, err = e.engine.Accept(e.ctx, e.receiverA, first.ID, "")
			require.NoError(t, err)
			require.Equal(t, referral.EventAccepted, next().Type)

			cancel()
			err = <-done
			require.ErrorIs(t, err, context.Canceled)
			require.Empty(t, got, "nothing the receiver may not see was delivered")
		})
	}
}

func TestFollowStopsOnCallbackError(t *testing.T) {
	e := newEnv(t, nil)
	e.create(t)
	e.create(t)
	stop := errors.New("partner system is down")
	calls := 0
	err := e.engine.Follow(e.ctx, e.receiverA, 0, func(referral.Event) error {
		calls++
		return stop
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, calls)

	err = e.engine.Follow(e.ctx, referral.Actor{Network: e.network, Role: referral.RoleStaff}, 0, func(referral.Event) error { return nil })
	require.ErrorIs(t, err, referral.ErrInvalid)
}
