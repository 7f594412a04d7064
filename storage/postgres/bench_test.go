package postgres

import (
	"context"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/storagetest"
)

// benchNetwork is one fixture with an engine on it and the two parties' actors.
type benchNetwork struct {
	engine           *lifecycle.Engine
	f                *storagetest.Fixture
	sender, receiver referral.Actor
}

func newBenchNetwork(b *testing.B, s *Store, seed uint64) *benchNetwork {
	f := storagetest.NewFixture(b, s, seed)
	engine, err := lifecycle.New(lifecycle.Config{Store: s})
	require.NoError(b, err)
	return &benchNetwork{
		engine:   engine,
		f:        f,
		sender:   referral.Actor{Network: f.Network.ID, Organization: f.Sender.ID, User: "navigator", Role: referral.RoleStaff},
		receiver: referral.Actor{Network: f.Network.ID, Organization: f.Receiver.ID, User: "intake", Role: referral.RoleStaff},
	}
}

// loop closes one referral: create (a draft), send, accept, complete. Each is a
// durable transition: one conditional write of the referral with its event.
func (n *benchNetwork) loop(ctx context.Context) error {
	r, err := n.engine.Create(ctx, n.sender, lifecycle.CreateRequest{
		Person: n.f.Person.ID, Receiver: n.f.Receiver.ID,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
	})
	if err != nil {
		return err
	}
	if _, err := n.engine.Send(ctx, n.sender, r.ID); err != nil {
		return err
	}
	if _, err := n.engine.Accept(ctx, n.receiver, r.ID, ""); err != nil {
		return err
	}
	_, err = n.engine.Complete(ctx, n.receiver, r.ID, referral.Outcome{Code: "got-help"})
	return err
}

const transitionsPerLoop = 4

// BenchmarkTransitions measures durable transitions per second through
// lifecycle.Engine: one writer, then eight concurrent writers on one network
// (they serialise on its feed head) and on eight networks (they do not), with
// and without NOTIFY, and in portable mode (no NOTIFY, every call in an
// explicit transaction).
func BenchmarkTransitions(b *testing.B) {
	ctx := context.Background()
	for _, mode := range []struct {
		name string
		opts Options
	}{{"notify", Options{}}, {"no-notify", Options{NoNotify: true}}, {"portable", Options{Portable: true}}} {
		b.Run(mode.name+"/1-writer", func(b *testing.B) {
			s := openTest(b, mode.opts)
			n := newBenchNetwork(b, s, 1)
			for b.Loop() {
				if err := n.loop(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(transitionsPerLoop*b.N)/b.Elapsed().Seconds(), "transitions/s")
		})
		for _, networks := range []int{1, 8} {
			name := mode.name + "/8-writers-1-network"
			if networks > 1 {
				name = mode.name + "/8-writers-8-networks"
			}
			b.Run(name, func(b *testing.B) {
				opts := mode.opts
				opts.MaxConns = 16
				s := openTest(b, opts)
				nets := make([]*benchNetwork, networks)
				for i := range nets {
					nets[i] = newBenchNetwork(b, s, uint64(i+1))
				}
				var next atomic.Int64
				writers := 8
				b.SetParallelism((writers + 1) / 2) // ×GOMAXPROCS (2 here) goroutines
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					n := nets[int(next.Add(1))%len(nets)]
					for pb.Next() {
						if err := n.loop(ctx); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(transitionsPerLoop*b.N)/b.Elapsed().Seconds(), "transitions/s")
			})
		}
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
