package postgres

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/storagetest"
)

// BenchmarkStore runs the workload every backend runs (storagetest.Benchmark),
// with NOTIFY (the default), without, and in portable mode (no NOTIFY, every
// call in an explicit transaction). The pool has room for the eight
// concurrent writers.
func BenchmarkStore(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts Options
	}{{"notify", Options{MaxConns: 16}}, {"no-notify", Options{MaxConns: 16, NoNotify: true}},
		{"portable", Options{MaxConns: 16, Portable: true}}} {
		b.Run(mode.name, func(b *testing.B) {
			storagetest.Benchmark(b, func(b *testing.B) storage.Store { return openTest(b, mode.opts) })
		})
	}
}

// BenchmarkFeedCatchUp reads a feed of 1,000,000 events from position 0 in
// pages of storage.MaxLimit, as a partner system catching up does. Building
// the feed takes a while, so it runs only with REFKIT_BENCH_FEED=1.
func BenchmarkFeedCatchUp(b *testing.B) {
	if os.Getenv("REFKIT_BENCH_FEED") != "1" {
		b.Skip("set REFKIT_BENCH_FEED=1 to build and read a 1,000,000-event feed")
	}
	const events, referrals = 1_000_000, 1000
	ctx := context.Background()
	s := openTest(b, Options{})
	f := storagetest.NewFixture(b, s, 1)
	refs := make([]referral.Referral, referrals)
	for i := range refs {
		refs[i] = f.Create(b, s, f.NewReferral(referral.StatusInProgress))
	}
	// The created events hold positions 1..referrals; notes follow them, copied
	// in bulk as the store would have numbered them.
	i := 0
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"network_id", "position", "referral_id", "sequence", "doc"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == events-referrals {
				return nil, nil
			}
			r := refs[i%referrals]
			e := referral.Event{
				Network: r.Network, Referral: r.ID, Sequence: int64(2 + i/referrals), Type: referral.EventNote,
				Actor: referral.Actor{Network: r.Network, Organization: r.Receiver, User: "case-worker", Role: referral.RoleStaff},
				At:    f.Now, From: r.Status, To: r.Status, Note: "called the client back",
			}
			doc, err := eventDoc(e)
			if err != nil {
				return nil, err
			}
			i++
			return []any{uid(r.Network), int64(referrals + i), uid(r.ID), e.Sequence, doc}, nil
		}))
	require.NoError(b, err)
	_, err = s.pool.Exec(ctx, `UPDATE feed_heads SET position = $2 WHERE network_id = $1`, uid(f.Network.ID), int64(events))
	require.NoError(b, err)
	_, err = s.pool.Exec(ctx, `ANALYZE events`)
	require.NoError(b, err)

	b.ResetTimer()
	for b.Loop() {
		var after int64
		read := 0
		for {
			page, err := s.Feed(ctx, storage.FeedQuery{Network: f.Network.ID, After: after, Limit: storage.MaxLimit})
			if err != nil {
				b.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			read += len(page)
			after = page[len(page)-1].Position
		}
		if read != events {
			b.Fatalf("read %d events, want %d", read, events)
		}
	}
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "rows/s")
}
