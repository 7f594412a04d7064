package storagetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// Benchmark runs one workload against the backend newStore builds, so that
// figures for different backends come from the same operations on the same
// data. Every sub-benchmark gets a fresh, empty store. A backend calls it from
// its own benchmark, once per configuration worth comparing:
//
//	func BenchmarkStore(b *testing.B) { storagetest.Benchmark(b, newStore) }
//
// The workload, each reported per operation and as a rate:
//   - Loop: one writer closes referrals through the storage API as the
//     lifecycle does: CreateReferral, then UpdateReferral to requested,
//     accepted and completed. Four durable writes a loop (writes/s).
//   - Loop8: eight writers do the same in one network, where the feed's order
//     makes writers of one network wait for one another.
//   - Loop8Networks: eight writers, each in its own network.
//   - Get: GetReferral of a random referral among 1,000.
//   - WorkQueue: a receiver's open referrals (ListReferrals by receiver and two
//     statuses), the first page of 100, among 10,000 referrals of which a
//     tenth are open.
//   - Feed: the whole feed of a network holding 7,000 events (2,500 referrals),
//     read in pages of storage.MaxLimit (events/s).
//   - FeedVisible: the same feed as the receiver sees it (storage.Visibility,
//     consents consulted).
func Benchmark(b *testing.B, newStore func(b *testing.B) storage.Store) {
	b.Run("Loop", func(b *testing.B) { benchLoop(b, newStore(b), 1, false) })
	b.Run("Loop8", func(b *testing.B) { benchLoop(b, newStore(b), 8, false) })
	b.Run("Loop8Networks", func(b *testing.B) { benchLoop(b, newStore(b), 8, true) })
	b.Run("Get", func(b *testing.B) { benchGet(b, newStore(b)) })
	b.Run("WorkQueue", func(b *testing.B) { benchWorkQueue(b, newStore(b)) })
	b.Run("Feed", func(b *testing.B) { benchFeed(b, newStore(b), false) })
	b.Run("FeedVisible", func(b *testing.B) { benchFeed(b, newStore(b), true) })
}

// writesPerLoop is how many durable writes closeLoop makes.
const writesPerLoop = 4

// benchIDs mints ids for records the benchmarks create, unique across the
// goroutines of one process.
type benchIDs struct {
	mu  sync.Mutex
	gen *referral.IDGenerator
}

func newBenchIDs() *benchIDs {
	var tick atomic.Int64
	clock := func() time.Time { return Epoch.Add(time.Duration(tick.Add(1)) * time.Microsecond) }
	return &benchIDs{gen: referral.NewIDGenerator(clock, nil)}
}

func (g *benchIDs) next() referral.ID {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gen.MustNew()
}

// closeLoop writes one referral's life as the lifecycle would: created as a
// draft, sent, accepted, completed.
func closeLoop(ctx context.Context, s storage.Store, f *Fixture, id referral.ID) error {
	r := f.NewReferral(referral.StatusDraft)
	r.ID = id
	stored, created, err := s.CreateReferral(ctx, r, CreatedEvent(r))
	if err != nil {
		return err
	}
	if !created {
		return fmt.Errorf("referral %s was not created", id)
	}
	r = stored
	steps := []struct {
		to  referral.Status
		typ referral.EventType
	}{
		{referral.StatusRequested, referral.EventSent},
		{referral.StatusAccepted, referral.EventAccepted},
		{referral.StatusCompleted, referral.EventCompleted},
	}
	for _, st := range steps {
		n, e := Next(r, st.to, st.typ)
		if st.to == referral.StatusCompleted {
			n.Outcome = &referral.Outcome{Code: "got-help"}
		}
		if _, err := s.UpdateReferral(ctx, n, e); err != nil {
			return err
		}
		r = n
	}
	return nil
}

func benchLoop(b *testing.B, s storage.Store, writers int, ownNetworks bool) {
	ctx := context.Background()
	fixtures := make([]*Fixture, writers)
	for i := range fixtures {
		if i == 0 || ownNetworks {
			fixtures[i] = NewFixture(b, s, uint64(1000+i))
		} else {
			fixtures[i] = fixtures[0]
		}
	}
	ids := newBenchIDs()
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	if writers == 1 {
		for b.Loop() {
			if err := closeLoop(ctx, s, fixtures[0], ids.next()); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		// Each goroutine takes loops from a shared counter, so b.N loops are
		// spread over exactly `writers` goroutines whatever GOMAXPROCS is.
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func(f *Fixture) {
				defer wg.Done()
				for next.Add(1) <= int64(b.N) {
					if err := closeLoop(ctx, s, f, ids.next()); err != nil {
						errs <- err
						return
					}
				}
			}(fixtures[w])
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(writesPerLoop*b.N)/time.Since(start).Seconds(), "writes/s")
}

// seed stores n referrals of f, every tenth sent (requested) and the rest
// completed, and returns them as stored.
func seed(b *testing.B, s storage.Store, f *Fixture, n int) []referral.Referral {
	ctx := context.Background()
	out := make([]referral.Referral, 0, n)
	for i := range n {
		r := f.Create(b, s, f.NewReferral(referral.StatusRequested))
		if i%10 != 0 {
			r, _ = f.Move(b, s, r, referral.StatusAccepted, referral.EventAccepted)
			n, e := Next(r, referral.StatusCompleted, referral.EventCompleted)
			n.Outcome = &referral.Outcome{Code: "got-help"}
			_, err := s.UpdateReferral(ctx, n, e)
			require.NoError(b, err)
			r = n
		}
		out = append(out, r)
	}
	return out
}

func benchGet(b *testing.B, s storage.Store) {
	ctx := context.Background()
	f := NewFixture(b, s, 1)
	refs := seed(b, s, f, 1000)
	i := 0
	b.ResetTimer()
	for b.Loop() {
		i = (i*7919 + 1) % len(refs) // a fixed, scattered order
		if _, err := s.GetReferral(ctx, f.Network.ID, refs[i].ID); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

func benchWorkQueue(b *testing.B, s storage.Store) {
	ctx := context.Background()
	f := NewFixture(b, s, 1)
	seed(b, s, f, 10_000)
	q := storage.ReferralQuery{
		Network: f.Network.ID, Receiver: f.Receiver.ID,
		Statuses: []referral.Status{referral.StatusRequested, referral.StatusAccepted},
		Page:     storage.Page{Limit: 100},
	}
	b.ResetTimer()
	for b.Loop() {
		page, _, err := s.ListReferrals(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(page) != 100 {
			b.Fatalf("a page of %d referrals, want 100", len(page))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}

func benchFeed(b *testing.B, s storage.Store, visible bool) {
	ctx := context.Background()
	f := NewFixture(b, s, 1)
	// 250 referrals still requested (one event each) and 2,250 completed (three).
	const events = 250*1 + 2250*3
	seed(b, s, f, 2500)
	var v *storage.Visibility
	if visible {
		v = &storage.Visibility{Organization: f.Receiver.ID, At: f.Now}
	}
	b.ResetTimer()
	read := 0
	for b.Loop() {
		var after int64
		start := read
		for {
			page, err := s.Feed(ctx, storage.FeedQuery{Network: f.Network.ID, After: after, Limit: storage.MaxLimit, Visible: v})
			if err != nil {
				b.Fatal(err)
			}
			read += len(page)
			if len(page) < storage.MaxLimit {
				break
			}
			after = page[len(page)-1].Position
		}
		if read-start != events {
			b.Fatalf("read %d events, want %d", read-start, events)
		}
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "events/s")
}
