package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// requireForeignScreening checks that err is the ErrInvalid naming need i's
// screening id (storage.ForeignScreening).
func requireForeignScreening(t *testing.T, err error, i int) {
	t.Helper()
	require.ErrorIs(t, err, referral.ErrInvalid)
	var ve *referral.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, storage.ForeignScreening(i).Error(), ve.Error())
}

// testCitedScreenings checks that a referral's needs cite only screenings of
// the referral's own person in its network, on create and on update, checked
// by the store itself, and that a refused write writes nothing.
func testCitedScreenings(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	g := NewFixture(t, s, 2)
	someoneElse := f.NewPerson()
	require.NoError(t, s.PutPerson(ctx, someoneElse))
	own := f.NewScreening(f.Person.ID)
	theirs := f.NewScreening(someoneElse.ID)
	otherNetwork := g.NewScreening(g.Person.ID)
	for _, sc := range []referral.Screening{own, theirs, otherNetwork} {
		require.NoError(t, s.PutScreening(ctx, sc))
	}
	citing := func(ids ...referral.ID) referral.Referral {
		r := f.NewReferral(referral.StatusRequested)
		r.Needs = nil
		for _, id := range ids {
			r.Needs = append(r.Needs, referral.Need{Domain: referral.FoodInsecurity, Urgency: referral.Urgent, Instrument: "ahc-hrsn", Screening: id})
		}
		return r
	}

	ok := f.Create(t, s, citing(own.ID, referral.NilID, own.ID))
	got, err := s.GetReferral(ctx, f.Network.ID, ok.ID)
	require.NoError(t, err)
	require.Equal(t, ok, got, "needs citing the person's own screening are stored")

	t.Run("create refuses a screening that is not the person's", func(t *testing.T) {
		var messages []string
		for _, tc := range []struct {
			name string
			r    referral.Referral
			need int
		}{
			{"unknown screening", citing(f.ID()), 0},
			{"another person's screening", citing(theirs.ID), 0},
			{"another network's screening", citing(otherNetwork.ID), 0},
			{"second need", citing(own.ID, theirs.ID), 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				feed := FeedAll(t, s, f.Network.ID, nil)
				_, _, err := s.CreateReferral(ctx, tc.r, CreatedEvent(tc.r))
				requireForeignScreening(t, err, tc.need)
				messages = append(messages, err.Error())
				_, err = s.GetReferral(ctx, f.Network.ID, tc.r.ID)
				require.ErrorIs(t, err, referral.ErrNotFound, "nothing is written")
				require.Equal(t, feed, FeedAll(t, s, f.Network.ID, nil))
			})
		}
		require.Equal(t, messages[0], messages[1], "an unknown screening and another person's read the same")
	})

	t.Run("an idempotent replay returns the first referral before screenings are checked", func(t *testing.T) {
		first := citing(own.ID)
		first.IdempotencyKey = "cited-1"
		first = f.Create(t, s, first)
		retry := citing(theirs.ID)
		retry.IdempotencyKey = first.IdempotencyKey
		got, created, err := s.CreateReferral(ctx, retry, CreatedEvent(retry))
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, first, got)
	})

	t.Run("update refuses a screening that is not the person's", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			mutate func(r *referral.Referral)
		}{
			{"needs changed to another person's screening", func(r *referral.Referral) { r.Needs[0].Screening = theirs.ID }},
			{"needs changed to an unknown screening", func(r *referral.Referral) { r.Needs[0].Screening = f.ID() }},
			{"person changed under the cited screening", func(r *referral.Referral) { r.Person = someoneElse.ID }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := snapshot(t, s, f.Network.ID, ok.ID)
				next, e := Next(before.r, referral.StatusAccepted, referral.EventAccepted)
				tc.mutate(&next)
				_, err := s.UpdateReferral(ctx, next, e)
				requireForeignScreening(t, err, 0)
				require.Equal(t, before, snapshot(t, s, f.Network.ID, ok.ID), "nothing is written")
			})
		}
	})

	t.Run("update keeps or changes needs to the person's own", func(t *testing.T) {
		moved, _ := f.Move(t, s, ok, referral.StatusAccepted, referral.EventAccepted)
		next, e := Next(moved, referral.StatusInProgress, referral.EventStarted)
		next.Person = someoneElse.ID
		next.Needs = []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine, Screening: theirs.ID}}
		_, err := s.UpdateReferral(ctx, next, e)
		require.NoError(t, err, "a new person with their own screening")
		got, err := s.GetReferral(ctx, f.Network.ID, ok.ID)
		require.NoError(t, err)
		require.Equal(t, next, got)
	})
}

// testLimits checks that every backend refuses the same oversized filters with
// the same ErrInvalid, before any query reaches its engine.
func testLimits(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	r := f.Create(t, s, f.NewReferral(referral.StatusRequested))
	list := func(statuses []referral.Status) ([]referral.Referral, error) {
		out, _, err := s.ListReferrals(ctx, storage.ReferralQuery{Network: f.Network.ID, Statuses: statuses})
		return out, err
	}

	every, err := list(referral.Statuses())
	require.NoError(t, err)
	require.Equal(t, []referral.Referral{r}, every, "a filter naming every status once is the largest allowed")

	many := make([]referral.Status, 100_000)
	for i := range many {
		many[i] = referral.Statuses()[i%storage.MaxStatuses]
	}
	repeated := []referral.Status{referral.StatusRequested, referral.StatusAccepted, referral.StatusRequested}
	for _, tc := range []struct {
		name     string
		statuses []referral.Status
		field    string
	}{
		{"a status filter longer than there are statuses", many, "statuses"},
		{"one status too many", append(referral.Statuses(), referral.StatusDraft), "statuses"},
		{"a repeated status", repeated, "statuses[2]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := list(tc.statuses)
			require.ErrorIs(t, err, referral.ErrInvalid)
			var ve *referral.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.field, ve.Field)
		})
	}
}

// testClose checks Close: it wakes feed followers, a second Close is harmless,
// and every call afterwards fails with storage.ErrClosed.
func testClose(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	r := f.Create(t, s, f.NewReferral(referral.StatusRequested))
	screening := f.NewScreening(f.Person.ID)
	require.NoError(t, s.PutScreening(ctx, screening))
	var woken <-chan struct{}
	notifier, canNotify := s.(storage.FeedNotifier)
	if canNotify {
		ch, err := notifier.FeedChanged(ctx, f.Network.ID)
		require.NoError(t, err)
		woken = ch
	}

	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "closing twice is harmless")
	if canNotify {
		select {
		case <-woken:
		case <-time.After(time.Minute):
			t.Fatal("Close wakes feed followers")
		}
	}

	fresh := f.NewReferral(referral.StatusDraft)
	next, e := Next(r, referral.StatusAccepted, referral.EventAccepted)
	calls := map[string]func() error{
		"PutNetwork":        func() error { return s.PutNetwork(ctx, referral.Network{ID: f.ID(), Name: "Late"}) },
		"GetNetwork":        func() error { _, err := s.GetNetwork(ctx, f.Network.ID); return err },
		"PutOrganization":   func() error { return s.PutOrganization(ctx, f.NewOrganization("Late agency")) },
		"GetOrganization":   func() error { _, err := s.GetOrganization(ctx, f.Network.ID, f.Sender.ID); return err },
		"ListOrganizations": func() error { _, _, err := s.ListOrganizations(ctx, f.Network.ID, storage.Page{}); return err },
		"PutService":        func() error { return s.PutService(ctx, f.NewService(f.Receiver.ID)) },
		"GetService":        func() error { _, err := s.GetService(ctx, f.Network.ID, f.Service.ID); return err },
		"ListServices":      func() error { _, _, err := s.ListServices(ctx, f.Network.ID, storage.Page{}); return err },
		"DeleteService":     func() error { return s.DeleteService(ctx, f.Network.ID, f.Service.ID) },
		"PutPerson":         func() error { return s.PutPerson(ctx, f.NewPerson()) },
		"GetPerson":         func() error { _, err := s.GetPerson(ctx, f.Network.ID, f.Person.ID); return err },
		"PutConsent":        func() error { return s.PutConsent(ctx, f.NewConsent(f.Person.ID, f.Other.ID, referral.ScopeView)) },
		"GetConsent":        func() error { _, err := s.GetConsent(ctx, f.Network.ID, f.Consent.ID); return err },
		"ListConsents":      func() error { _, err := s.ListConsents(ctx, f.Network.ID, f.Person.ID); return err },
		"PutScreening":      func() error { return s.PutScreening(ctx, f.NewScreening(f.Person.ID)) },
		"GetScreening":      func() error { _, err := s.GetScreening(ctx, f.Network.ID, screening.ID); return err },
		"ListScreenings":    func() error { _, err := s.ListScreenings(ctx, f.Network.ID, f.Person.ID); return err },
		"CreateReferral":    func() error { _, _, err := s.CreateReferral(ctx, fresh, CreatedEvent(fresh)); return err },
		"GetReferral":       func() error { _, err := s.GetReferral(ctx, f.Network.ID, r.ID); return err },
		"UpdateReferral":    func() error { _, err := s.UpdateReferral(ctx, next, e); return err },
		"ListReferrals": func() error {
			_, _, err := s.ListReferrals(ctx, storage.ReferralQuery{Network: f.Network.ID})
			return err
		},
		"ReferralEvents": func() error { _, err := s.ReferralEvents(ctx, f.Network.ID, r.ID); return err },
		"Feed":           func() error { _, err := s.Feed(ctx, storage.FeedQuery{Network: f.Network.ID}); return err },
		"DueReferrals":   func() error { _, err := s.DueReferrals(ctx, f.Now, 0); return err },
	}
	if canNotify {
		calls["FeedChanged"] = func() error { _, err := notifier.FeedChanged(ctx, f.Network.ID); return err }
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			require.ErrorIs(t, err, storage.ErrClosed)
			require.False(t, errors.Is(err, referral.ErrUnavailable), "retrying a closed store never helps")
		})
	}
	require.NoError(t, s.Close(), "Close after calls on a closed store is still harmless")
}
