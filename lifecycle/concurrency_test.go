package lifecycle_test

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// TestConcurrentCommands races many goroutines issuing commands on a few referrals
// through the engine. Exactly the successful commands must be recorded: every
// history replays to its referral's stored status and version.
func TestConcurrentCommands(t *testing.T) {
	const goroutines, referrals = 16, 8
	commands := 1000
	if testing.Short() {
		commands = 200
	}
	e := newEnv(t, nil)
	ids := make([]referral.ID, referrals)
	for i := range ids {
		ids[i] = e.walk(t, accept, start).ID
	}
	var ok, conflicts, stale atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			for range commands {
				id := ids[rng.IntN(referrals)]
				r, err := e.engine.Get(e.ctx, e.receiverA, id)
				if err != nil {
					t.Errorf("get: %v", err)
					return
				}
				switch {
				case rng.IntN(10) == 0:
					_, err = e.engine.AddNote(e.ctx, e.senderA, id, "checking in")
				case r.Status == referral.StatusInProgress:
					_, err = e.engine.Hold(e.ctx, e.receiverA, id, "", "")
				default:
					_, err = e.engine.Resume(e.ctx, e.receiverA, id)
				}
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, referral.ErrConflict):
					conflicts.Add(1)
				case errors.Is(err, referral.ErrInvalidTransition):
					stale.Add(1) // another goroutine moved it between our read and command
				default:
					t.Errorf("command: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, goroutines*commands, ok.Load()+conflicts.Load()+stale.Load())
	t.Logf("%d succeeded, %d conflicts, %d stale", ok.Load(), conflicts.Load(), stale.Load())

	var events int64
	for _, id := range ids {
		r, err := e.engine.Get(e.ctx, e.senderA, id)
		require.NoError(t, err)
		history, err := e.engine.History(e.ctx, e.senderA, id)
		require.NoError(t, err)
		status, version, err := referral.Replay(history)
		require.NoError(t, err)
		require.Equal(t, r.Status, status)
		require.Equal(t, r.Version, version)
		events += int64(len(history))
	}
	// Each referral was created and walked through accept and start: 3 events each.
	require.Equal(t, int64(referrals*3)+ok.Load(), events, "nothing lost, nothing duplicated")

	var total int
	for after := int64(0); ; {
		page, err := e.store.Feed(e.ctx, storage.FeedQuery{Network: e.network, After: after, Limit: storage.MaxLimit})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		total += len(page)
		after = page[len(page)-1].Position
	}
	require.EqualValues(t, events, total)
}

// BenchmarkTransition measures one command (load, authorize, fire, conditional
// write of referral + event) on the memory store.
func BenchmarkTransition(b *testing.B) {
	e := newEnv(b, nil)
	r := e.walk(b, accept, start)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var err error
		if i%2 == 0 {
			_, err = e.engine.Hold(e.ctx, e.receiverA, r.ID, "", "")
		} else {
			_, err = e.engine.Resume(e.ctx, e.receiverA, r.ID)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transitions/s")
}

// BenchmarkTransitionParallel runs commands on distinct referrals from every core.
func BenchmarkTransitionParallel(b *testing.B) {
	e := newEnv(b, nil)
	var next atomic.Int64
	pool := make([]referral.ID, 64)
	for i := range pool {
		pool[i] = e.walk(b, accept, start).ID
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := pool[next.Add(1)%int64(len(pool))]
		hold := true
		for pb.Next() {
			var err error
			if hold {
				_, err = e.engine.Hold(e.ctx, e.receiverA, id, "", "")
			} else {
				_, err = e.engine.Resume(e.ctx, e.receiverA, id)
			}
			if err != nil && !errors.Is(err, referral.ErrConflict) && !errors.Is(err, referral.ErrInvalidTransition) {
				b.Fatal(err)
			}
			hold = !hold
		}
	})
}
