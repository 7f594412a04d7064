package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/storagetest"
)

// benchEngine returns a lifecycle engine on a fresh store file with the given
// synchronous mode, and the sending and receiving actors of its fixture.
func benchEngine(b *testing.B, sync string) (*lifecycle.Engine, *Store, *storagetest.Fixture, referral.Actor, referral.Actor) {
	b.Helper()
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), Options{Synchronous: sync})
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	f := storagetest.NewFixture(b, s, 1)
	var tick atomic.Int64
	clock := func() time.Time { return f.Now.Add(time.Duration(tick.Add(1)) * time.Microsecond) }
	ids := referral.NewIDGenerator(clock, rand.NewChaCha8([32]byte{0xbe}))
	engine, err := lifecycle.New(s, s, lifecycle.Options{Now: clock, IDs: ids})
	require.NoError(b, err)
	sender := referral.Actor{Network: f.Network.ID, Organization: f.Sender.ID, User: "navigator", Role: referral.RoleStaff}
	receiver := referral.Actor{Network: f.Network.ID, Organization: f.Receiver.ID, User: "intake", Role: referral.RoleStaff}
	return engine, s, f, sender, receiver
}

// closeLoop runs one referral through create, send, accept and complete: four
// durable transitions. Its need cites screening, unless that is zero.
func closeLoop(ctx context.Context, e *lifecycle.Engine, f *storagetest.Fixture, sender, receiver referral.Actor, screening referral.ID) error {
	r, err := e.Create(ctx, sender, lifecycle.CreateRequest{
		Person: f.Person.ID, Receiver: f.Receiver.ID,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent, Screening: screening}},
	})
	if err != nil {
		return err
	}
	if _, err := e.Send(ctx, sender, r.ID); err != nil {
		return err
	}
	if _, err := e.Accept(ctx, receiver, r.ID, ""); err != nil {
		return err
	}
	_, err = e.Complete(ctx, receiver, r.ID, referral.Outcome{Code: "got-help"})
	return err
}

// BenchmarkStore runs the workload every backend runs (storagetest.Benchmark),
// with synchronous=NORMAL (the default) and FULL.
func BenchmarkStore(b *testing.B) {
	for _, sync := range []string{SyncNormal, SyncFull} {
		b.Run("sync="+sync, func(b *testing.B) {
			storagetest.Benchmark(b, func(b *testing.B) storage.Store {
				s, err := Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), Options{Synchronous: sync})
				require.NoError(b, err)
				b.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

// BenchmarkTransitionsCitingScreening closes loops through lifecycle.Engine
// (synchronous=NORMAL, one writer), without and with a need that cites the
// person's screening, which every write checks: the cost of keeping other
// people's screenings out of a referral.
func BenchmarkTransitionsCitingScreening(b *testing.B) {
	for _, cite := range []bool{false, true} {
		b.Run(fmt.Sprintf("cites=%v", cite), func(b *testing.B) {
			engine, store, f, sender, receiver := benchEngine(b, SyncNormal)
			ctx := b.Context()
			var screening referral.ID
			if cite {
				sc := f.NewScreening(f.Person.ID)
				require.NoError(b, store.PutScreening(ctx, sc))
				screening = sc.ID
			}
			for b.Loop() {
				if err := closeLoop(ctx, engine, f, sender, receiver, screening); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(4*b.N)/b.Elapsed().Seconds(), "transitions/s")
		})
	}
}

// BenchmarkFeedCatchUp reads a 1,000,000-event feed from the start, a page of
// storage.MaxLimit at a time. The setup writes a 1M-event file, so it runs only
// with REFKIT_BENCH_FEED=1.
func BenchmarkFeedCatchUp(b *testing.B) {
	if os.Getenv("REFKIT_BENCH_FEED") != "1" {
		b.Skip("set REFKIT_BENCH_FEED=1 to build the 1,000,000-event feed")
	}
	const referrals, perReferral = 10_000, 100
	ctx := b.Context()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "feed.db"), Options{})
	require.NoError(b, err)
	defer s.Close()
	f := storagetest.NewFixture(b, s, 1)
	require.NoError(b, bulkEvents(ctx, s, f, referrals, perReferral))

	b.ResetTimer()
	var rows int
	for b.Loop() {
		rows = 0
		var after int64
		for {
			page, err := s.Feed(ctx, storage.FeedQuery{Network: f.Network.ID, After: after, Limit: storage.MaxLimit})
			if err != nil {
				b.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			rows += len(page)
			after = page[len(page)-1].Position
		}
	}
	if rows != referrals*perReferral {
		b.Fatalf("read %d events, want %d", rows, referrals*perReferral)
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// bulkEvents writes n referrals with per events each (notes after the
// created event) in one transaction, the fast way to a large feed.
func bulkEvents(ctx context.Context, s *Store, f *storagetest.Fixture, n, per int) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for range n {
			r := f.NewReferral(referral.StatusInProgress)
			r.Version = int64(per)
			data, err := encode(r)
			if err != nil {
				return err
			}
			if _, err := s.txExec(ctx, tx, qInsertReferral, blob(r.ID), blob(r.Network), blob(r.Sender),
				blob(r.Receiver), blob(r.Person), string(r.Status), nanos(r.Created), nanos(r.NextDeadline),
				nullText(r.IdempotencyKey), r.Version, data); err != nil {
				return err
			}
			e := storagetest.CreatedEvent(r)
			for seq := 1; seq <= per; seq++ {
				e.Sequence = int64(seq)
				if seq > 1 {
					e.Type, e.From, e.Note = referral.EventNote, r.Status, "checked in"
				}
				if _, err := s.appendEvent(ctx, tx, e); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
