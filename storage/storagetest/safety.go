package storagetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// testAliasing checks that values are copied in and out: mutating an argument
// after a call, or a result after it returned, never changes what is stored.
func testAliasing(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)

	t.Run("service", func(t *testing.T) {
		in := f.NewService(f.Receiver.ID)
		want := in.Clone()
		require.NoError(t, s.PutService(ctx, in))
		scribbleService(&in)
		out, err := s.GetService(ctx, f.Network.ID, want.ID)
		require.NoError(t, err)
		require.Equal(t, want, out)
		scribbleService(&out)
		listed, _, err := s.ListServices(ctx, f.Network.ID, storage.Page{})
		require.NoError(t, err)
		for i := range listed {
			scribbleService(&listed[i])
		}
		out, err = s.GetService(ctx, f.Network.ID, want.ID)
		require.NoError(t, err)
		require.Equal(t, want, out)
	})

	t.Run("person", func(t *testing.T) {
		in := f.NewPerson()
		want := in.Clone()
		require.NoError(t, s.PutPerson(ctx, in))
		scribblePerson(&in)
		out, err := s.GetPerson(ctx, f.Network.ID, want.ID)
		require.NoError(t, err)
		require.Equal(t, want, out)
		scribblePerson(&out)
		out, err = s.GetPerson(ctx, f.Network.ID, want.ID)
		require.NoError(t, err)
		require.Equal(t, want, out)
	})

	t.Run("screening", func(t *testing.T) {
		in := f.NewScreening(f.Person.ID)
		want := in.Clone()
		require.NoError(t, s.PutScreening(ctx, in))
		scribbleScreening(&in)
		out, err := s.GetScreening(ctx, f.Network.ID, want.ID)
		require.NoError(t, err)
		require.Equal(t, want, out)
		scribbleScreening(&out)
		listed, err := s.ListScreenings(ctx, f.Network.ID, f.Person.ID)
		require.NoError(t, err)
		for i := range listed {
			scribbleScreening(&listed[i])
		}
		out, err = s.GetScreening(ctx, f.Network.ID, want.ID)
		require.NoError(t, err)
		require.Equal(t, want, out)
	})

	t.Run("referral", func(t *testing.T) {
		in := f.NewReferral(referral.StatusRequested)
		in.Outcome = &referral.Outcome{Code: "pending-review"}
		want := in.Clone()
		created, _, err := s.CreateReferral(ctx, in, CreatedEvent(in))
		require.NoError(t, err)
		scribbleReferral(&in)
		scribbleReferral(&created)
		out, err := s.GetReferral(ctx, f.Network.ID, want.ID)
		require.NoError(t, err)
		require.Equal(t, want, out)

		next, e := Next(out, referral.StatusAccepted, referral.EventAccepted)
		want = next.Clone()
		_, err = s.UpdateReferral(ctx, next, e)
		require.NoError(t, err)
		scribbleReferral(&next)
		scribbleReferral(&out)
		listed, _, err := s.ListReferrals(ctx, storage.ReferralQuery{Network: f.Network.ID})
		require.NoError(t, err)
		for i := range listed {
			scribbleReferral(&listed[i])
		}
		due, err := s.DueReferrals(ctx, f.Now.Add(time.Hour), 0)
		require.NoError(t, err)
		for i := range due {
			scribbleReferral(&due[i])
		}
		out, err = s.GetReferral(ctx, f.Network.ID, want.ID)
		require.NoError(t, err)
		require.Equal(t, want, out)
	})

	t.Run("consents", func(t *testing.T) {
		listed, err := s.ListConsents(ctx, f.Network.ID, f.Person.ID)
		require.NoError(t, err)
		require.NotEmpty(t, listed)
		listed[0].Scope = referral.ScopeView
		got, err := s.GetConsent(ctx, f.Network.ID, f.Consent.ID)
		require.NoError(t, err)
		require.Equal(t, f.Consent, got)
	})
}

func scribbleService(s *referral.Service) {
	s.Domains[0] = referral.Homelessness
	s.Languages[0] = "fr"
	s.Capacity.Available = -1
	s.Locations[0].Name = "scribbled"
	s.Locations[0].Address.City = "scribbled"
	s.ServiceAreas[0].Values[0] = "scribbled"
	s.ServiceAreas[1].Polygon[0].Latitude = 1
	s.Schedules[0].ByDay[0] = "SU"
}

func scribblePerson(p *referral.Person) {
	p.Languages[0] = "fr"
	p.Attributes["tribal_member"] = "scribbled"
	p.Attributes["added"] = "scribbled"
	*p.IncomeAnnual = 1
	p.Location.Latitude = 1
}

func scribbleScreening(s *referral.Screening) {
	*s.Total = -1
	s.Missing[0] = "scribbled"
	s.PositiveDomains[0] = referral.Homelessness
	s.Flags[0] = "scribbled"
	s.Needs[0].Urgency = referral.Routine
	s.Answers["q1"][0] = "scribbled"
	s.Answers["q3"] = []string{"scribbled"}
}

func scribbleReferral(r *referral.Referral) {
	if len(r.Needs) > 0 {
		r.Needs[0].Domain = referral.Homelessness
	}
	if r.Outcome != nil {
		r.Outcome.Code = "scribbled"
	}
}

// testContext checks that every call fails on a cancelled context with
// context.Canceled in the chain, and that writes write nothing.
func testContext(t *testing.T, s storage.Store) {
	live := t.Context()
	f := NewFixture(t, s, 1)
	r := f.Create(t, s, f.NewReferral(referral.StatusRequested))
	cancelled, cancel := context.WithCancel(live)
	cancel()
	ctx := cancelled

	org := f.NewOrganization("Late agency")
	fresh := f.NewReferral(referral.StatusDraft)
	next, e := Next(r, referral.StatusAccepted, referral.EventAccepted)
	screening := f.NewScreening(f.Person.ID)
	calls := []struct {
		name string
		call func() error
	}{
		{"PutNetwork", func() error { return s.PutNetwork(ctx, referral.Network{ID: f.ID(), Name: "Late"}) }},
		{"GetNetwork", func() error { _, err := s.GetNetwork(ctx, f.Network.ID); return err }},
		{"PutOrganization", func() error { return s.PutOrganization(ctx, org) }},
		{"GetOrganization", func() error { _, err := s.GetOrganization(ctx, f.Network.ID, f.Sender.ID); return err }},
		{"ListOrganizations", func() error { _, _, err := s.ListOrganizations(ctx, f.Network.ID, storage.Page{}); return err }},
		{"PutService", func() error { return s.PutService(ctx, f.NewService(f.Receiver.ID)) }},
		{"GetService", func() error { _, err := s.GetService(ctx, f.Network.ID, f.Service.ID); return err }},
		{"ListServices", func() error { _, _, err := s.ListServices(ctx, f.Network.ID, storage.Page{}); return err }},
		{"DeleteService", func() error { return s.DeleteService(ctx, f.Network.ID, f.Service.ID) }},
		{"PutPerson", func() error { return s.PutPerson(ctx, f.NewPerson()) }},
		{"GetPerson", func() error { _, err := s.GetPerson(ctx, f.Network.ID, f.Person.ID); return err }},
		{"PutConsent", func() error { return s.PutConsent(ctx, f.NewConsent(f.Person.ID, f.Other.ID, referral.ScopeView)) }},
		{"GetConsent", func() error { _, err := s.GetConsent(ctx, f.Network.ID, f.Consent.ID); return err }},
		{"ListConsents", func() error { _, err := s.ListConsents(ctx, f.Network.ID, f.Person.ID); return err }},
		{"PutScreening", func() error { return s.PutScreening(ctx, screening) }},
		{"GetScreening", func() error { _, err := s.GetScreening(ctx, f.Network.ID, screening.ID); return err }},
		{"ListScreenings", func() error { _, err := s.ListScreenings(ctx, f.Network.ID, f.Person.ID); return err }},
		{"CreateReferral", func() error { _, _, err := s.CreateReferral(ctx, fresh, CreatedEvent(fresh)); return err }},
		{"GetReferral", func() error { _, err := s.GetReferral(ctx, f.Network.ID, r.ID); return err }},
		{"UpdateReferral", func() error { _, err := s.UpdateReferral(ctx, next, e); return err }},
		{"ListReferrals", func() error {
			_, _, err := s.ListReferrals(ctx, storage.ReferralQuery{Network: f.Network.ID})
			return err
		}},
		{"ReferralEvents", func() error { _, err := s.ReferralEvents(ctx, f.Network.ID, r.ID); return err }},
		{"Feed", func() error { _, err := s.Feed(ctx, storage.FeedQuery{Network: f.Network.ID}); return err }},
		{"DueReferrals", func() error { _, err := s.DueReferrals(ctx, f.Now, 0); return err }},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.call(), context.Canceled)
		})
	}

	// Nothing the cancelled writes carried was stored.
	_, err := s.GetOrganization(live, f.Network.ID, org.ID)
	require.ErrorIs(t, err, referral.ErrNotFound)
	_, err = s.GetService(live, f.Network.ID, f.Service.ID)
	require.NoError(t, err)
	_, err = s.GetScreening(live, f.Network.ID, screening.ID)
	require.ErrorIs(t, err, referral.ErrNotFound)
	_, err = s.GetReferral(live, f.Network.ID, fresh.ID)
	require.ErrorIs(t, err, referral.ErrNotFound)
	got, err := s.GetReferral(live, f.Network.ID, r.ID)
	require.NoError(t, err)
	require.Equal(t, r, got)
}

// Workload sizes for the concurrency test.
const (
	concurrentReferrals = 20
	concurrentWorkers   = 16
	commandsPerWorker   = 1000
	// commandsPerWorkerShort keeps the -short run quick without giving up on
	// contention: every worker still runs.
	commandsPerWorkerShort = 100
)

// testConcurrency runs many writers against a few referrals. Lost races are
// ErrConflict and nothing else; afterwards every referral's events replay to it,
// and the event count and feed account for every successful write exactly once.
func testConcurrency(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	refs := make([]referral.ID, concurrentReferrals)
	for i := range refs {
		refs[i] = f.Create(t, s, f.NewReferral(referral.StatusInProgress)).ID
	}
	commands := commandsPerWorker
	if testing.Short() {
		commands = commandsPerWorkerShort
	}

	var updated, conflicts atomic.Int64
	var failMu sync.Mutex
	var failure error
	fail := func(err error) {
		failMu.Lock()
		defer failMu.Unlock()
		if failure == nil {
			failure = err
		}
	}
	var wg sync.WaitGroup
	for w := range concurrentWorkers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 0x5eed))
			for range commands {
				id := refs[rng.IntN(len(refs))]
				r, err := s.GetReferral(ctx, f.Network.ID, id)
				if err != nil {
					fail(err)
					return
				}
				to, typ := referral.StatusOnHold, referral.EventHeld
				switch {
				case rng.IntN(5) == 0:
					to, typ = r.Status, referral.EventNote
				case r.Status == referral.StatusOnHold:
					to, typ = referral.StatusInProgress, referral.EventResumed
				}
				next, e := Next(r, to, typ)
				_, err = s.UpdateReferral(ctx, next, e)
				switch {
				case err == nil:
					updated.Add(1)
				case errors.Is(err, referral.ErrConflict):
					conflicts.Add(1)
				default:
					fail(err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, failure)
	require.Positive(t, updated.Load())
	require.EqualValues(t, concurrentWorkers*commands, updated.Load()+conflicts.Load())
	t.Logf("%d updates, %d conflicts", updated.Load(), conflicts.Load())

	total := 0
	for _, id := range refs {
		r, err := s.GetReferral(ctx, f.Network.ID, id)
		require.NoError(t, err)
		events, err := s.ReferralEvents(ctx, f.Network.ID, id)
		require.NoError(t, err)
		status, version, err := referral.Replay(events)
		require.NoError(t, err)
		require.Equal(t, r.Status, status, "events replay to the stored status")
		require.Equal(t, r.Version, version, "events replay to the stored version")
		total += len(events)
	}
	require.EqualValues(t, int64(concurrentReferrals)+updated.Load(), total, "nothing lost or duplicated")

	feed := FeedAll(t, s, f.Network.ID, nil)
	require.Len(t, feed, total)
	type eventKey struct {
		referral referral.ID
		sequence int64
	}
	seen := make(map[eventKey]bool, len(feed))
	for _, e := range feed {
		k := eventKey{e.Referral, e.Sequence}
		require.False(t, seen[k], "the feed holds each event once")
		seen[k] = true
	}
}
