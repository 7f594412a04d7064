package directory_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/directory"
	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
)

// request asks for food help near the sample's services.
func request() matching.Request {
	return matching.Request{
		Needs:   []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
		Near:    &referral.Point{Latitude: 39.96, Longitude: -83.0},
		RadiusM: 5000, Full: matching.Exclude, Explain: true,
	}
}

// matched returns the ids of the services a result matches, in rank order.
func matched(t testing.TB, res matching.Result) []referral.ID {
	t.Helper()
	var out []referral.ID
	for _, m := range res.Matches {
		out = append(out, m.Service)
	}
	return out
}

func match(t testing.TB, ix *directory.Index, req matching.Request) matching.Result {
	t.Helper()
	res, err := ix.Match(context.Background(), req)
	require.NoError(t, err)
	return res
}

// TestIndexFollowsTheStore: every kind of directory write reaches the index
// through the feed, capacity included, and Sync reports what it applied.
func TestIndexFollowsTheStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s, _ := b.open(t)
			d := s
			putNetwork(t, s)
			_, err := directory.Load(ctx, s, network, sample(), directory.LoadOptions{})
			require.NoError(t, err)
			ix, err := directory.NewIndex(ctx, s, network, directory.IndexOptions{})
			require.NoError(t, err)
			require.Equal(t, head(t, s), ix.Position())
			require.ElementsMatch(t, []referral.ID{id(10), id(11), id(12)}, matched(t, match(t, ix, request())))
			n, err := ix.Sync(ctx)
			require.NoError(t, err)
			require.Zero(t, n)

			// A new service, a full one, a deleted one.
			require.NoError(t, s.PutService(ctx, service(13, id(2), "delivery")))
			require.NoError(t, d.SetCapacity(ctx, network, id(10), &referral.Capacity{Available: 0}))
			require.NoError(t, s.DeleteService(ctx, network, id(11)))
			require.ElementsMatch(t, []referral.ID{id(10), id(11), id(12)}, matched(t, match(t, ix, request())), "not applied yet")
			n, err = ix.Sync(ctx)
			require.NoError(t, err)
			require.Equal(t, 3, n)
			require.Equal(t, head(t, s), ix.Position())
			require.ElementsMatch(t, []referral.ID{id(12), id(13)}, matched(t, match(t, ix, request())))

			// Capacity alone goes through the cheap path and back.
			require.NoError(t, d.SetCapacity(ctx, network, id(10), &referral.Capacity{Available: 3}))
			_, err = ix.Sync(ctx)
			require.NoError(t, err)
			require.ElementsMatch(t, []referral.ID{id(10), id(12), id(13)}, matched(t, match(t, ix, request())))
			svc, ok := ix.Matching().Snapshot().Service(id(10))
			require.True(t, ok)
			require.Equal(t, 3, svc.Capacity.Available)
		})
	}
}

// TestIndexFromTheHead: an index built while writers write misses nothing:
// whatever its records did not show is above the head it starts from.
func TestIndexFromTheHead(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s, _ := b.open(t)
			putNetwork(t, s)
			_, err := directory.Load(ctx, s, network, sample(), directory.LoadOptions{})
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() {
				for i := range 20 {
					if err := s.PutService(ctx, service(100+i, id(1), "extra")); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			ix, err := directory.NewIndex(ctx, s, network, directory.IndexOptions{})
			require.NoError(t, err)
			require.NoError(t, <-done)
			_, err = ix.Sync(ctx)
			require.NoError(t, err)
			require.Equal(t, 23, ix.Matching().Snapshot().Len())
		})
	}
}

// TestIndexRun: Run applies changes as they come, woken by the store, and
// Wait returns once a position is applied.
func TestIndexRun(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			s, _ := b.open(t)
			d := s
			putNetwork(t, s)
			_, err := directory.Load(ctx, s, network, sample(), directory.LoadOptions{})
			require.NoError(t, err)
			ix, err := directory.NewIndex(ctx, s, network, directory.IndexOptions{})
			require.NoError(t, err)
			ran := make(chan error, 1)
			go func() { ran <- ix.Run(ctx) }()
			for i := range 5 {
				require.NoError(t, d.SetCapacity(ctx, network, id(12), &referral.Capacity{Available: i}))
				wait, stop := context.WithTimeout(ctx, time.Minute)
				require.NoError(t, ix.Wait(wait, head(t, s)))
				stop()
				svc, ok := ix.Matching().Snapshot().Service(id(12))
				require.True(t, ok)
				require.Equal(t, i, svc.Capacity.Available)
			}
			cancel()
			require.ErrorIs(t, <-ran, context.Canceled)
			late, stop := context.WithTimeout(t.Context(), time.Millisecond)
			defer stop()
			require.ErrorIs(t, ix.Wait(late, ix.Position()+1), context.DeadlineExceeded)
		})
	}
}

// TestIndexLeavesOutWhatMatchingRefuses: a service whose rule matching
// refuses (a host can store one) is left out, not the directory; fixing it
// brings it in, breaking it again takes it out.
func TestIndexLeavesOutWhatMatchingRefuses(t *testing.T) {
	ctx := context.Background()
	s, _ := backends[0].open(t)
	putNetwork(t, s)
	recs := sample()
	recs.Services[1].Eligibility = "age >"
	_, err := directory.Load(ctx, s, network, recs, directory.LoadOptions{})
	require.NoError(t, err)
	ix, err := directory.NewIndex(ctx, s, network, directory.IndexOptions{})
	require.NoError(t, err)
	require.ElementsMatch(t, []referral.ID{id(10), id(12)}, matched(t, match(t, ix, request())))
	skipped := ix.Skipped()
	require.Len(t, skipped, 1)
	var re *matching.RuleError
	require.True(t, errors.As(skipped[id(11)], &re))

	fixed := recs.Services[1]
	fixed.Eligibility = "household_size >= 1"
	require.NoError(t, s.PutService(ctx, fixed))
	_, err = ix.Sync(ctx)
	require.NoError(t, err)
	require.Empty(t, ix.Skipped())
	req := request()
	req.Person.HouseholdSize = 2
	require.ElementsMatch(t, []referral.ID{id(10), id(11), id(12)}, matched(t, match(t, ix, req)))

	fixed.Eligibility = "(("
	require.NoError(t, s.PutService(ctx, fixed))
	require.NoError(t, s.PutService(ctx, service(13, id(1), "also new")))
	_, err = ix.Sync(ctx)
	require.NoError(t, err)
	require.Contains(t, ix.Skipped(), id(11))
	require.ElementsMatch(t, []referral.ID{id(10), id(12), id(13)}, matched(t, match(t, ix, req)), "the rest of the page applied")

	require.NoError(t, s.DeleteService(ctx, network, id(11)))
	_, err = ix.Sync(ctx)
	require.NoError(t, err)
	require.Empty(t, ix.Skipped(), "a deleted service is no longer skipped")
}

// TestIndexDisclosesByGrants: a confidential location's exact distance goes to
// its organization's staff and to those it grants access, as the store holds
// the grants now.
func TestIndexDisclosesByGrants(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s, _ := b.open(t)
			putNetwork(t, s)
			recs := sample()
			recs.Services[0].Locations[0].Confidential = true
			_, err := directory.Load(ctx, s, network, recs, directory.LoadOptions{})
			require.NoError(t, err)
			ix, err := directory.NewIndex(ctx, s, network, directory.IndexOptions{})
			require.NoError(t, err)
			shown := func(viewer *referral.Actor) string {
				req := request()
				req.Viewer = viewer
				res := match(t, ix, req)
				i := slices.IndexFunc(res.Matches, func(m matching.Match) bool { return m.Service == id(10) })
				require.GreaterOrEqual(t, i, 0)
				return res.Matches[i].Vicinity
			}
			own := &referral.Actor{Network: network, Organization: id(1), Role: referral.RoleStaff}
			clinic := &referral.Actor{Network: network, Organization: id(2), Role: referral.RoleStaff}
			require.Empty(t, shown(own))
			require.NotEmpty(t, shown(clinic))
			require.NotEmpty(t, shown(nil))

			o, err := s.GetOrganization(ctx, network, id(1))
			require.NoError(t, err)
			o.ConfidentialAccess = []referral.ID{id(2)}
			require.NoError(t, s.PutOrganization(ctx, o))
			require.NotEmpty(t, shown(clinic), "not applied yet")
			_, err = ix.Sync(ctx)
			require.NoError(t, err)
			require.Empty(t, shown(clinic), "granted")
			require.NotEmpty(t, shown(nil))

			o.ConfidentialAccess = nil
			require.NoError(t, s.PutOrganization(ctx, o))
			_, err = ix.Sync(ctx)
			require.NoError(t, err)
			require.NotEmpty(t, shown(clinic), "revoked")
		})
	}
}

// TestIndexRefuses: bad arguments and unknown networks are errors.
func TestIndexRefuses(t *testing.T) {
	ctx := context.Background()
	s, _ := backends[0].open(t)
	_, err := directory.NewIndex(ctx, s, network, directory.IndexOptions{})
	require.ErrorIs(t, err, referral.ErrNotFound)
	_, err = directory.NewIndex(ctx, nil, network, directory.IndexOptions{})
	require.ErrorIs(t, err, referral.ErrInvalid)
	putNetwork(t, s)
	_, err = directory.NewIndex(ctx, s, referral.NilID, directory.IndexOptions{})
	require.ErrorIs(t, err, referral.ErrInvalid)
	_, err = directory.NewIndex(ctx, s, network, directory.IndexOptions{Matching: matching.Options{Resolution: 2}})
	require.ErrorIs(t, err, referral.ErrInvalid)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = directory.NewIndex(cancelled, s, network, directory.IndexOptions{})
	require.ErrorIs(t, err, context.Canceled)
}
