package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// testErasePerson: ErasePerson removes a person's personal data from the
// person, their screenings, consents, referral outcomes and event notes, in
// one write, and keeps every id, status, count, position and sequence, so the
// feed and metrics are unchanged. Another person's records are untouched.
func testErasePerson(t *testing.T, s storage.Store) {
	ctx := context.Background()
	eraser, ok := s.(storage.Eraser)
	require.True(t, ok, "every backend implements storage.Eraser")
	f := NewFixture(t, s, 71)
	other := f.NewPerson()
	require.NoError(t, s.PutPerson(ctx, other))
	otherScreening := f.NewScreening(other.ID)
	require.NoError(t, s.PutScreening(ctx, otherScreening))

	sc := f.NewScreening(f.Person.ID)
	require.NoError(t, s.PutScreening(ctx, sc))
	view := f.NewConsent(f.Person.ID, f.Other.ID, referral.ScopeView)
	view.Document = "https://consents.example.org/signed/1"
	require.NoError(t, s.PutConsent(ctx, view))
	ended := f.NewConsent(f.Person.ID, f.Other.ID, referral.ScopeReferral)
	ended.Revoked = f.Now.Add(-time.Hour)
	require.NoError(t, s.PutConsent(ctx, ended))

	r := f.NewReferral(referral.StatusRequested)
	r.Needs[0].Screening = sc.ID
	r = f.Create(t, s, r)
	n, e := Next(r, referral.StatusCompleted, referral.EventCompleted)
	n.Outcome = &referral.Outcome{Code: "got-help", Note: "picked up groceries for the family"}
	e.Note = "spoke with the person at home"
	_, err := s.UpdateReferral(ctx, n, e)
	require.NoError(t, err)
	note, ev := Next(n, referral.StatusCompleted, referral.EventNote)
	note.Updated = n.Updated
	ev.Note, ev.At = "thanks for the follow-up", n.Updated
	_, err = s.UpdateReferral(ctx, note, ev)
	require.NoError(t, err)
	otherRef := f.NewReferral(referral.StatusRequested)
	otherRef.Person = other.ID
	otherRef = f.Create(t, s, otherRef)
	o2, oe := Next(otherRef, referral.StatusRequested, referral.EventAcknowledged)
	oe.Note = "the other person's note"
	_, err = s.UpdateReferral(ctx, o2, oe)
	require.NoError(t, err)

	feedBefore := FeedAll(t, s, f.Network.ID, nil)
	at := f.Now.Add(2 * time.Hour)

	tests := []struct {
		name   string
		person referral.ID
		want   storage.Erasure
	}{
		{"first erasure", f.Person.ID, storage.Erasure{Screenings: 1, Consents: 2, Referrals: 1, Events: 2}},
		{"erasing again changes nothing more", f.Person.ID, storage.Erasure{}},
	}
	for _, tc := range tests {
		got, err := eraser.ErasePerson(ctx, f.Network.ID, tc.person, at)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, got, tc.name)
	}

	p, err := s.GetPerson(ctx, f.Network.ID, f.Person.ID)
	require.NoError(t, err)
	require.Equal(t, referral.Person{ID: f.Person.ID, Network: f.Network.ID, Created: f.Person.Created, Updated: at, Erased: at}, normPerson(p))

	gotSc, err := s.GetScreening(ctx, f.Network.ID, sc.ID)
	require.NoError(t, err)
	require.Empty(t, gotSc.Answers)
	require.Nil(t, gotSc.Total)
	require.Empty(t, gotSc.Band)
	require.Empty(t, gotSc.Flags)
	require.Empty(t, gotSc.Missing)
	require.Equal(t, sc.Needs, gotSc.Needs, "needs stay: referrals cite them")
	require.Equal(t, sc.PositiveDomains, gotSc.PositiveDomains)

	consents, err := s.ListConsents(ctx, f.Network.ID, f.Person.ID)
	require.NoError(t, err)
	require.Len(t, consents, 3)
	for _, c := range consents {
		require.Empty(t, c.Document)
		require.False(t, c.Revoked.IsZero(), "no consent stays in force")
		require.False(t, c.Permits(c.Grantee, c.Scope, at), "no consent permits anything after erasure")
		if c.ID == ended.ID {
			require.True(t, c.Revoked.Equal(ended.Revoked), "a consent revoked before keeps its revocation time")
		}
	}

	got, err := s.GetReferral(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	require.Equal(t, note.Version, got.Version, "erasure is not a lifecycle write")
	require.Equal(t, referral.StatusCompleted, got.Status)
	require.Equal(t, &referral.Outcome{Code: "got-help"}, got.Outcome, "the outcome code stays for metrics")

	feedAfter := FeedAll(t, s, f.Network.ID, nil)
	require.Len(t, feedAfter, len(feedBefore))
	for i := range feedBefore {
		before, after := feedBefore[i], feedAfter[i]
		require.Equal(t, before.Position, after.Position)
		require.Equal(t, before.Sequence, after.Sequence)
		require.Equal(t, before.Type, after.Type)
		if after.Referral == r.ID {
			require.Empty(t, after.Note, "notes of the person's referrals are blanked")
			continue
		}
		require.Equal(t, before.Note, after.Note, "other people's events are untouched")
	}
	history, err := s.ReferralEvents(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	status, version, err := referral.Replay(history)
	require.NoError(t, err, "the redacted history still replays")
	require.Equal(t, got.Status, status)
	require.Equal(t, got.Version, version)

	otherGot, err := s.GetPerson(ctx, f.Network.ID, other.ID)
	require.NoError(t, err)
	require.Equal(t, other.GivenName, otherGot.GivenName)
	require.True(t, otherGot.Erased.IsZero())
	otherSc, err := s.GetScreening(ctx, f.Network.ID, otherScreening.ID)
	require.NoError(t, err)
	require.Equal(t, otherScreening.Answers, otherSc.Answers)

	for _, bad := range []struct {
		name            string
		network, person referral.ID
		want            error
	}{
		{"unknown person", f.Network.ID, f.ID(), referral.ErrNotFound},
		{"another network", f.ID(), other.ID, referral.ErrNotFound},
		{"no person id", f.Network.ID, referral.NilID, referral.ErrInvalid},
	} {
		_, err := eraser.ErasePerson(ctx, bad.network, bad.person, at)
		require.ErrorIs(t, err, bad.want, bad.name)
	}
	otherGot, err = s.GetPerson(ctx, f.Network.ID, other.ID)
	require.NoError(t, err)
	require.Equal(t, other.FamilyName, otherGot.FamilyName, "a refused erasure writes nothing")
}

// normPerson puts a stored person's times in UTC, as the suite compares them.
func normPerson(p referral.Person) referral.Person {
	p.Created, p.Updated, p.Erased = p.Created.UTC(), p.Updated.UTC(), p.Erased.UTC()
	return p
}
