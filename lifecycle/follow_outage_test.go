package lifecycle_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/memory"
)

// flakyStore is the memory store during a database failover: while down is
// above zero, each Feed and FeedChanged call fails with ErrUnavailable and
// counts down.
type flakyStore struct {
	*memory.Store
	mu    sync.Mutex
	down  int
	fails int
	final error
}

func (f *flakyStore) fail() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.final != nil {
		return f.final
	}
	if f.down == 0 {
		return nil
	}
	f.down--
	f.fails++
	return fmt.Errorf("the leader is gone: %w", referral.ErrUnavailable)
}

func (f *flakyStore) outage(calls int) {
	f.mu.Lock()
	f.down = calls
	f.mu.Unlock()
}

func (f *flakyStore) Feed(ctx context.Context, q storage.FeedQuery) ([]referral.Event, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.Feed(ctx, q)
}

func (f *flakyStore) FeedChanged(ctx context.Context, network referral.ID) (<-chan struct{}, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.FeedChanged(ctx, network)
}

// pollingFlakyStore hides FeedChanged, so Follow polls the flaky feed.
type pollingFlakyStore struct {
	storage.Store
	flaky *flakyStore
}

func (p pollingFlakyStore) Feed(ctx context.Context, q storage.FeedQuery) ([]referral.Event, error) {
	return p.flaky.Feed(ctx, q)
}

// TestFollowThroughOutage: a store that is unavailable for a while (a
// failover) does not end Follow; it resumes from its cursor and delivers every
// event once, in order. An error that is not unavailability still ends it.
func TestFollowThroughOutage(t *testing.T) {
	tests := []struct {
		name    string
		polling bool
	}{
		{"woken by the store", false},
		{"polling", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flaky := &flakyStore{Store: memory.New()}
			var store storage.Store = flaky
			if tc.polling {
				store = pollingFlakyStore{Store: flaky, flaky: flaky}
			}
			e := newEnvOn(t, store, func(c *lifecycle.Options) { c.PollInterval = time.Millisecond })
			first := e.create(t)

			ctx, cancel := context.WithCancel(e.ctx)
			defer cancel()
			got := make(chan referral.Event, 64)
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
				case <-time.After(time.Minute):
					t.Fatal("no event within a minute")
					return referral.Event{}
				}
			}
			require.Equal(t, first.ID, next().Referral)

			flaky.outage(4)
			second := e.create(t)
			_, err := e.engine.Acknowledge(e.ctx, e.receiverA, first.ID)
			require.NoError(t, err)
			var seen []referral.Event
			for range 2 {
				seen = append(seen, next())
			}
			require.Equal(t, second.ID, seen[0].Referral)
			require.Equal(t, referral.EventAcknowledged, seen[1].Type)
			require.Less(t, seen[0].Position, seen[1].Position)
			flaky.mu.Lock()
			require.Positive(t, flaky.fails, "the follower met the outage")
			flaky.mu.Unlock()

			flaky.mu.Lock()
			flaky.final = fmt.Errorf("closing: %w", storage.ErrClosed)
			flaky.mu.Unlock()
			_, err = e.engine.Accept(e.ctx, e.receiverA, first.ID, "")
			require.NoError(t, err)
			err = <-done
			require.ErrorIs(t, err, storage.ErrClosed, "any other error ends Follow")
			require.Empty(t, got, "nothing was delivered twice")
		})
	}
}

// leasingStore is the memory store with leases, as on a database several
// processes share.
type leasingStore struct {
	*memory.Store
	mu      sync.Mutex
	holders map[string]string
}

func (l *leasingStore) Lease(_ context.Context, name, holder string, _ time.Duration) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.holders[name]; ok && h != holder {
		return false, nil
	}
	l.holders[name] = holder
	return true, nil
}

// TestSweepLeased: on a store with leases only the holder of SweepLease
// sweeps; on one without, every caller does.
func TestSweepLeased(t *testing.T) {
	deadlines := lifecycle.Deadlines{Acknowledge: time.Hour, ExpireAfter: 0}
	t.Run("one holder sweeps", func(t *testing.T) {
		store := &leasingStore{Store: memory.New(), holders: map[string]string{}}
		e := newEnvOn(t, store, func(c *lifecycle.Options) { c.Deadlines = deadlines })
		r := e.create(t)
		e.clock.Advance(2 * time.Hour)

		res, swept, err := e.engine.SweepLeased(e.ctx, e.clock.Now(), "process-b", time.Minute)
		require.NoError(t, err)
		require.True(t, swept, "a free lease is taken")
		require.Equal(t, lifecycle.SweepResult{Expired: 1}, res)

		second := e.create(t)
		e.clock.Advance(2 * time.Hour)
		res, swept, err = e.engine.SweepLeased(e.ctx, e.clock.Now(), "process-a", time.Minute)
		require.NoError(t, err)
		require.False(t, swept, "another process holds the lease")
		require.Equal(t, lifecycle.SweepResult{}, res)
		got, err := e.engine.Get(e.ctx, e.senderA, second.ID)
		require.NoError(t, err)
		require.Equal(t, referral.StatusRequested, got.Status, "nothing was swept")
		got, err = e.engine.Get(e.ctx, e.senderA, r.ID)
		require.NoError(t, err)
		require.Equal(t, referral.StatusCancelled, got.Status)
	})

	t.Run("a store without leases always sweeps", func(t *testing.T) {
		e := newEnv(t, func(c *lifecycle.Options) { c.Deadlines = deadlines })
		e.create(t)
		e.clock.Advance(2 * time.Hour)
		for _, holder := range []string{"process-a", "process-b"} {
			_, swept, err := e.engine.SweepLeased(e.ctx, e.clock.Now(), holder, time.Minute)
			require.NoError(t, err)
			require.True(t, swept)
		}
	})
}
