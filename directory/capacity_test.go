package directory_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// referrals is a network with a clinic that refers to the pantry (sample
// organization 1), a person who consented, and an engine.
type referrals struct {
	t      testing.TB
	s      store
	engine *lifecycle.Engine
	clinic referral.Actor
	pantry referral.Actor
	person referral.ID
}

func newReferrals(t testing.TB, s store) *referrals {
	t.Helper()
	ctx := context.Background()
	putNetwork(t, s)
	recs := sample()
	recs.Services[0].Capacity = &referral.Capacity{Available: 3, Maximum: 3}
	recs.Services[2].Organization = id(1) // a second pantry service, without capacity
	_, err := directory.Load(ctx, s, network, recs, directory.LoadOptions{Now: func() time.Time { return epoch }})
	require.NoError(t, err)
	person := id(500)
	require.NoError(t, s.PutPerson(ctx, referral.Person{ID: person, Network: network, GivenName: "Pat"}))
	require.NoError(t, s.PutConsent(ctx, referral.Consent{ID: id(501), Network: network, Person: person, Grantee: id(1),
		Scope: referral.ScopeReferral, Period: referral.Period{Start: epoch.Add(-time.Hour)}}))
	clk := &clock{now: epoch}
	engine, err := lifecycle.New(s, s, lifecycle.Options{Now: clk.Now})
	require.NoError(t, err)
	return &referrals{
		t: t, s: s, engine: engine, person: person,
		clinic: referral.Actor{Network: network, Organization: id(2), User: "dr-lee", Role: referral.RoleStaff},
		pantry: referral.Actor{Network: network, Organization: id(1), User: "intake", Role: referral.RoleStaff},
	}
}

// send refers the person to service (zero: no service) and returns its id.
func (r *referrals) send(service referral.ID) referral.ID {
	r.t.Helper()
	ref, err := r.engine.Create(context.Background(), r.clinic, lifecycle.CreateRequest{
		Person: r.person, Receiver: id(1), Service: service, Send: true,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
	})
	require.NoError(r.t, err)
	return ref.ID
}

func (r *referrals) available() int {
	r.t.Helper()
	svc, err := r.s.GetService(context.Background(), network, id(10))
	require.NoError(r.t, err)
	return svc.Capacity.Available
}

// TestCapacityKeeper: accepting takes a place, leaving acceptance frees it,
// each event once; the change reaches an Index through the directory feed.
func TestCapacityKeeper(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s, _ := b.open(t)
			r := newReferrals(t, s)
			keeper, err := directory.NewCapacityKeeper(s, network, directory.KeeperOptions{})
			require.NoError(t, err)
			ix, err := directory.NewIndex(ctx, s, network, directory.IndexOptions{})
			require.NoError(t, err)
			e := r.engine
			step := func(name string, applied, available int, do func() error) {
				t.Helper()
				require.NoError(t, do(), name)
				n, err := keeper.Sync(ctx)
				require.NoError(t, err, name)
				require.Equal(t, applied, n, name)
				require.Equal(t, available, r.available(), name)
				_, err = ix.Sync(ctx)
				require.NoError(t, err)
				svc, ok := ix.Matching().Snapshot().Service(id(10))
				require.True(t, ok)
				require.Equal(t, available, svc.Capacity.Available, "%s: the index follows", name)
			}
			first, second, third := r.send(id(10)), r.send(id(10)), r.send(id(10))
			unserved, untracked := r.send(referral.NilID), r.send(id(12))
			nothing := func() error { return nil }
			step("sent", 0, 3, nothing)
			step("accept the first", 1, 2, func() error { _, err := e.Accept(ctx, r.pantry, first, ""); return err })
			step("accept the second", 1, 1, func() error { _, err := e.Accept(ctx, r.pantry, second, ""); return err })
			step("start, hold and resume keep the place", 0, 1, func() error {
				if _, err := e.Start(ctx, r.pantry, second); err != nil {
					return err
				}
				if _, err := e.Hold(ctx, r.pantry, second, "waitlisted", ""); err != nil {
					return err
				}
				_, err := e.Resume(ctx, r.pantry, second)
				return err
			})
			step("complete frees it", 1, 2, func() error {
				_, err := e.Complete(ctx, r.pantry, second, referral.Outcome{Code: "got-help"})
				return err
			})
			step("a request to cancel keeps the place", 0, 2, func() error {
				_, err := e.RequestCancel(ctx, r.clinic, first, "no-longer-needed", "")
				return err
			})
			step("the receiver's confirmation frees it", 1, 3, func() error {
				_, err := e.ConfirmCancel(ctx, r.pantry, first, "")
				return err
			})
			step("a decline changes nothing", 0, 3, func() error {
				_, err := e.Decline(ctx, r.pantry, third, "not-eligible", "")
				return err
			})
			step("no service, or no capacity, changes nothing", 0, 3, func() error {
				if _, err := e.Accept(ctx, r.pantry, unserved, ""); err != nil {
					return err
				}
				_, err := e.Accept(ctx, r.pantry, untracked, "")
				return err
			})

			// Read again, by this keeper or a new one (a restart, another
			// process): nothing is applied twice.
			n, err := keeper.Sync(ctx)
			require.NoError(t, err)
			require.Zero(t, n)
			again, err := directory.NewCapacityKeeper(s, network, directory.KeeperOptions{})
			require.NoError(t, err)
			n, err = again.Sync(ctx)
			require.NoError(t, err)
			require.Zero(t, n)
			require.Equal(t, 3, r.available())
		})
	}
}

// TestCapacityKeeperRun: a running keeper and a running index carry an accept
// to matching without the host writing anything but the referral.
func TestCapacityKeeperRun(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			s, _ := b.open(t)
			r := newReferrals(t, s)
			keeper, err := directory.NewCapacityKeeper(s, network, directory.KeeperOptions{PollInterval: 10 * time.Millisecond})
			require.NoError(t, err)
			ix, err := directory.NewIndex(ctx, s, network, directory.IndexOptions{})
			require.NoError(t, err)
			kept, followed := make(chan error, 1), make(chan error, 1)
			go func() { kept <- keeper.Run(ctx) }()
			go func() { followed <- ix.Run(ctx) }()
			ref := r.send(id(10))
			_, err = r.engine.Accept(ctx, r.pantry, ref, "")
			require.NoError(t, err)
			deadline := time.Now().Add(time.Minute)
			for {
				if svc, ok := ix.Matching().Snapshot().Service(id(10)); ok && svc.Capacity.Available == 2 {
					break
				}
				require.True(t, time.Now().Before(deadline), "the accept did not reach the index")
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			require.ErrorIs(t, <-kept, context.Canceled)
			require.ErrorIs(t, <-followed, context.Canceled)
		})
	}
}

// TestCapacityKeeperStart: After starts a keeper past referrals the published
// capacities already count; a stored cursor wins over it.
func TestCapacityKeeperStart(t *testing.T) {
	ctx := context.Background()
	s, _ := backends[0].open(t)
	r := newReferrals(t, s)
	old := r.send(id(10))
	_, err := r.engine.Accept(ctx, r.pantry, old, "")
	require.NoError(t, err)
	events, err := s.Feed(ctx, storage.FeedQuery{Network: network, Limit: storage.MaxLimit})
	require.NoError(t, err)
	keeper, err := directory.NewCapacityKeeper(s, network, directory.KeeperOptions{After: events[len(events)-1].Position})
	require.NoError(t, err)
	n, err := keeper.Sync(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "the accept before After is not counted")
	_, err = r.engine.Complete(ctx, r.pantry, old, referral.Outcome{Code: "got-help"})
	require.NoError(t, err)
	n, err = keeper.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 3, r.available(), "capped at the maximum")

	for _, bad := range []directory.KeeperOptions{{After: -1}, {PollInterval: -time.Second}} {
		_, err := directory.NewCapacityKeeper(s, network, bad)
		require.ErrorIs(t, err, referral.ErrInvalid)
	}
	_, err = directory.NewCapacityKeeper(nil, network, directory.KeeperOptions{})
	require.ErrorIs(t, err, referral.ErrInvalid)
	_, err = directory.NewCapacityKeeper(s, referral.NilID, directory.KeeperOptions{})
	require.ErrorIs(t, err, referral.ErrInvalid)
	unknown, err := directory.NewCapacityKeeper(s, id(999), directory.KeeperOptions{})
	require.NoError(t, err)
	_, err = unknown.Sync(ctx)
	require.ErrorIs(t, err, referral.ErrNotFound)
}
