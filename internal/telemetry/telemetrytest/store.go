package telemetrytest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
	"github.com/refkit/refkit/storage/storagetest"
)

// StoreFlow writes and reads, through s, a sentinel person with a consent
// and a screening that hold sentinels, and a referral whose events carry
// sentinel notes and user ids: every store call a lifecycle makes, and one
// that fails (a person that does not exist, referral.ErrNotFound). It returns
// the fixture and the referral, sent.
func StoreFlow(t testing.TB, s storage.Store) (*storagetest.Fixture, referral.Referral) {
	t.Helper()
	ctx := context.Background()
	f := storagetest.NewFixture(t, s, 17)
	person := Person(f.ID(), f.Network.ID)
	require.NoError(t, s.PutPerson(ctx, person))
	consent := f.NewConsent(person.ID, f.Receiver.ID, referral.ScopeReferral)
	consent.Document = "urn:qzxv:consent-form"
	require.NoError(t, s.PutConsent(ctx, consent))
	sc := f.NewScreening(person.ID)
	sc.Answers = map[string][]string{"addr": {Note}, "size": {IncomeText}}
	require.NoError(t, s.PutScreening(ctx, sc))

	r := f.NewReferral(referral.StatusDraft)
	r.Person, r.SenderUser = person.ID, User
	created := storagetest.CreatedEvent(r)
	created.Note, created.Actor.User = Note, User
	stored, ok, err := s.CreateReferral(ctx, r, created)
	require.NoError(t, err)
	require.True(t, ok)
	next, ev := storagetest.Next(stored, referral.StatusRequested, referral.EventSent)
	ev.Note, ev.Actor.User = Note, User
	_, err = s.UpdateReferral(ctx, next, ev)
	require.NoError(t, err)
	r = next

	_, err = s.GetReferral(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	list, _, err := s.ListReferrals(ctx, storage.ReferralQuery{Network: f.Network.ID})
	require.NoError(t, err)
	require.Len(t, list, 1)
	events, err := s.Feed(ctx, storage.FeedQuery{Network: f.Network.ID})
	require.NoError(t, err)
	require.Len(t, events, 2)
	_, err = s.ReferralEvents(ctx, f.Network.ID, r.ID)
	require.NoError(t, err)
	_, err = s.GetPerson(ctx, f.Network.ID, person.ID)
	require.NoError(t, err)
	_, err = s.ListConsents(ctx, f.Network.ID, person.ID)
	require.NoError(t, err)
	_, err = s.ListScreenings(ctx, f.Network.ID, person.ID)
	require.NoError(t, err)
	_, err = s.GetPerson(ctx, f.Network.ID, f.ID())
	require.ErrorIs(t, err, referral.ErrNotFound)
	return f, r
}
