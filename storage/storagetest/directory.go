package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

func testNetworks(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)

	got, err := s.GetNetwork(ctx, f.Network.ID)
	require.NoError(t, err)
	require.Equal(t, f.Network, got)

	renamed := f.Network
	renamed.Name = "Tri-County Network"
	require.NoError(t, s.PutNetwork(ctx, renamed))
	got, err = s.GetNetwork(ctx, f.Network.ID)
	require.NoError(t, err)
	require.Equal(t, renamed, got)

	_, err = s.GetNetwork(ctx, f.ID())
	require.ErrorIs(t, err, referral.ErrNotFound)
}

func testOrganizations(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)

	got, err := s.GetOrganization(ctx, f.Network.ID, f.Sender.ID)
	require.NoError(t, err)
	require.Equal(t, f.Sender, got)

	changed := f.Sender
	changed.Description = "Primary care and screening"
	changed.Updated = f.Now.Add(time.Hour)
	require.NoError(t, s.PutOrganization(ctx, changed))
	got, err = s.GetOrganization(ctx, f.Network.ID, f.Sender.ID)
	require.NoError(t, err)
	require.Equal(t, changed, got)

	_, err = s.GetOrganization(ctx, f.Network.ID, f.ID())
	require.ErrorIs(t, err, referral.ErrNotFound)

	// Listing pages through every organization in id order.
	want := []referral.Organization{changed, f.Receiver, f.Other}
	for range 4 {
		o := f.NewOrganization("Extra agency")
		require.NoError(t, s.PutOrganization(ctx, o))
		want = append(want, o)
	}
	slices.SortFunc(want, func(x, y referral.Organization) int { return x.ID.Compare(y.ID) })
	var all []referral.Organization
	var after referral.ID
	for {
		page, next, err := s.ListOrganizations(ctx, f.Network.ID, storage.Page{After: after, Limit: 3})
		require.NoError(t, err)
		all = append(all, page...)
		if next.IsZero() {
			break
		}
		require.Len(t, page, 3)
		after = next
	}
	require.Equal(t, want, all)

	page, next, err := s.ListOrganizations(ctx, f.Network.ID, storage.Page{})
	require.NoError(t, err)
	require.Equal(t, want, page)
	require.True(t, next.IsZero())
}

func testServices(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)

	got, err := s.GetService(ctx, f.Network.ID, f.Service.ID)
	require.NoError(t, err)
	require.Equal(t, f.Service, got, "locations, areas, schedules and capacity round-trip")

	changed := f.Service.Clone()
	changed.Capacity = nil
	changed.Locations = append(changed.Locations, referral.Location{ID: f.ID(), Latitude: 40.65, Longitude: -73.95})
	changed.Status = referral.ServiceTemporarilyClosed
	require.NoError(t, s.PutService(ctx, changed))
	got, err = s.GetService(ctx, f.Network.ID, f.Service.ID)
	require.NoError(t, err)
	require.Equal(t, changed, got)

	virtual := f.NewService(f.Other.ID)
	virtual.Locations = nil
	virtual.ServiceAreas = []referral.ServiceArea{{Kind: referral.AreaVirtual}}
	virtual.Schedules = nil
	require.NoError(t, s.PutService(ctx, virtual))

	list, next, err := s.ListServices(ctx, f.Network.ID, storage.Page{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []referral.Service{changed}, list)
	require.Equal(t, changed.ID, next)
	list, next, err = s.ListServices(ctx, f.Network.ID, storage.Page{After: next, Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []referral.Service{virtual}, list)
	require.True(t, next.IsZero())

	require.NoError(t, s.DeleteService(ctx, f.Network.ID, f.Service.ID))
	_, err = s.GetService(ctx, f.Network.ID, f.Service.ID)
	require.ErrorIs(t, err, referral.ErrNotFound)
	require.ErrorIs(t, s.DeleteService(ctx, f.Network.ID, f.Service.ID), referral.ErrNotFound)
	list, _, err = s.ListServices(ctx, f.Network.ID, storage.Page{})
	require.NoError(t, err)
	require.Equal(t, []referral.Service{virtual}, list)
}

func testPersons(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)

	got, err := s.GetPerson(ctx, f.Network.ID, f.Person.ID)
	require.NoError(t, err)
	require.Equal(t, f.Person, got)

	bare := referral.Person{ID: f.ID(), Network: f.Network.ID}
	require.NoError(t, s.PutPerson(ctx, bare))
	got, err = s.GetPerson(ctx, f.Network.ID, bare.ID)
	require.NoError(t, err)
	require.Equal(t, bare, got, "a person with only ids round-trips")

	changed := f.Person.Clone()
	changed.Languages = []string{"en"}
	changed.Attributes = map[string]string{"tribal_member": "yes", "preferred_contact": "sms"}
	changed.IncomeAnnual = nil
	require.NoError(t, s.PutPerson(ctx, changed))
	got, err = s.GetPerson(ctx, f.Network.ID, f.Person.ID)
	require.NoError(t, err)
	require.Equal(t, changed, got)

	_, err = s.GetPerson(ctx, f.Network.ID, f.ID())
	require.ErrorIs(t, err, referral.ErrNotFound)
}

func testConsents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)

	got, err := s.GetConsent(ctx, f.Network.ID, f.Consent.ID)
	require.NoError(t, err)
	require.Equal(t, f.Consent, got)

	view := f.NewConsent(f.Person.ID, f.Other.ID, referral.ScopeView)
	view.Period.End = f.Now.Add(30 * 24 * time.Hour)
	require.NoError(t, s.PutConsent(ctx, view))

	// Revoking is a put with Revoked set; the consent stays on record.
	revoked := f.Consent
	revoked.Revoked = f.Now.Add(time.Hour)
	require.NoError(t, s.PutConsent(ctx, revoked))
	got, err = s.GetConsent(ctx, f.Network.ID, f.Consent.ID)
	require.NoError(t, err)
	require.Equal(t, revoked, got)
	require.True(t, got.Permits(f.Receiver.ID, referral.ScopeReferral, f.Now))
	require.False(t, got.Permits(f.Receiver.ID, referral.ScopeReferral, f.Now.Add(2*time.Hour)))

	other := f.NewPerson()
	require.NoError(t, s.PutPerson(ctx, other))
	require.NoError(t, s.PutConsent(ctx, f.NewConsent(other.ID, f.Receiver.ID, referral.ScopeView)))

	list, err := s.ListConsents(ctx, f.Network.ID, f.Person.ID)
	require.NoError(t, err)
	require.Equal(t, []referral.Consent{revoked, view}, list, "the person's consents only, in id order")

	list, err = s.ListConsents(ctx, f.Network.ID, f.ID())
	require.NoError(t, err)
	require.Empty(t, list)

	_, err = s.GetConsent(ctx, f.Network.ID, f.ID())
	require.ErrorIs(t, err, referral.ErrNotFound)
}

func testScreenings(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)

	first := f.NewScreening(f.Person.ID)
	require.NoError(t, s.PutScreening(ctx, first))
	got, err := s.GetScreening(ctx, f.Network.ID, first.ID)
	require.NoError(t, err)
	require.Equal(t, first, got)

	// Results are immutable: a second put with the same id is a conflict and
	// changes nothing.
	again := first.Clone()
	again.Band = "negative"
	require.ErrorIs(t, s.PutScreening(ctx, again), referral.ErrConflict)
	got, err = s.GetScreening(ctx, f.Network.ID, first.ID)
	require.NoError(t, err)
	require.Equal(t, first, got)

	second := f.NewScreening(f.Person.ID)
	second.At = f.Now.Add(24 * time.Hour)
	second.Total = nil
	second.Answers = nil
	require.NoError(t, s.PutScreening(ctx, second))
	someoneElse := f.NewPerson()
	require.NoError(t, s.PutPerson(ctx, someoneElse))
	require.NoError(t, s.PutScreening(ctx, f.NewScreening(someoneElse.ID)))

	list, err := s.ListScreenings(ctx, f.Network.ID, f.Person.ID)
	require.NoError(t, err)
	require.Equal(t, []referral.Screening{first, second}, list)

	list, err = s.ListScreenings(ctx, f.Network.ID, f.ID())
	require.NoError(t, err)
	require.Empty(t, list)

	_, err = s.GetScreening(ctx, f.Network.ID, f.ID())
	require.ErrorIs(t, err, referral.ErrNotFound)
}

// testValidation checks that invalid input is ErrInvalid and writes nothing.
func testValidation(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	notFound := func(get func() error) func(t *testing.T) {
		return func(t *testing.T) { require.ErrorIs(t, get(), referral.ErrNotFound) }
	}

	network := referral.Network{ID: f.ID()}
	org := f.NewOrganization("")
	svc := f.NewService(f.Receiver.ID)
	svc.Domains = []referral.Domain{"no-such-domain"}
	badSchedule := f.NewService(f.Receiver.ID)
	badSchedule.Schedules[0].ClosesAt = "8 pm"
	person := f.NewPerson()
	person.State = "new york"
	consent := f.NewConsent(f.Person.ID, f.Other.ID, "everything")
	screening := f.NewScreening(f.Person.ID)
	screening.Instrument = ""
	ref := f.NewReferral(referral.StatusDraft)
	ref.Needs = nil
	renamed := f.Sender
	renamed.Name = " "

	tests := []struct {
		name    string
		write   func() error
		written func(t *testing.T)
	}{
		{"network without name", func() error { return s.PutNetwork(ctx, network) },
			notFound(func() error { _, err := s.GetNetwork(ctx, network.ID); return err })},
		{"organization without name", func() error { return s.PutOrganization(ctx, org) },
			notFound(func() error { _, err := s.GetOrganization(ctx, f.Network.ID, org.ID); return err })},
		{"service with an unknown domain", func() error { return s.PutService(ctx, svc) },
			notFound(func() error { _, err := s.GetService(ctx, f.Network.ID, svc.ID); return err })},
		{"service with a malformed closing time", func() error { return s.PutService(ctx, badSchedule) },
			notFound(func() error { _, err := s.GetService(ctx, f.Network.ID, badSchedule.ID); return err })},
		{"person with a bad state code", func() error { return s.PutPerson(ctx, person) },
			notFound(func() error { _, err := s.GetPerson(ctx, f.Network.ID, person.ID); return err })},
		{"consent with an unknown scope", func() error { return s.PutConsent(ctx, consent) },
			notFound(func() error { _, err := s.GetConsent(ctx, f.Network.ID, consent.ID); return err })},
		{"screening without instrument", func() error { return s.PutScreening(ctx, screening) },
			notFound(func() error { _, err := s.GetScreening(ctx, f.Network.ID, screening.ID); return err })},
		{"referral without needs", func() error { _, _, err := s.CreateReferral(ctx, ref, CreatedEvent(ref)); return err },
			notFound(func() error { _, err := s.GetReferral(ctx, f.Network.ID, ref.ID); return err })},
		{"replacing an organization with an invalid one", func() error { return s.PutOrganization(ctx, renamed) },
			func(t *testing.T) {
				got, err := s.GetOrganization(ctx, f.Network.ID, f.Sender.ID)
				require.NoError(t, err)
				require.Equal(t, f.Sender, got)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.write(), referral.ErrInvalid)
			tc.written(t)
		})
	}

	limits := []struct {
		name string
		call func(limit int) error
	}{
		{"ListOrganizations", func(l int) error {
			_, _, err := s.ListOrganizations(ctx, f.Network.ID, storage.Page{Limit: l})
			return err
		}},
		{"ListServices", func(l int) error {
			_, _, err := s.ListServices(ctx, f.Network.ID, storage.Page{Limit: l})
			return err
		}},
		{"ListReferrals", func(l int) error {
			_, _, err := s.ListReferrals(ctx, storage.ReferralQuery{Network: f.Network.ID, Page: storage.Page{Limit: l}})
			return err
		}},
		{"Feed", func(l int) error {
			_, err := s.Feed(ctx, storage.FeedQuery{Network: f.Network.ID, Limit: l})
			return err
		}},
		{"DueReferrals", func(l int) error {
			_, err := s.DueReferrals(ctx, f.Now, l)
			return err
		}},
	}
	for _, tc := range limits {
		t.Run(tc.name+" limit", func(t *testing.T) {
			require.ErrorIs(t, tc.call(-1), referral.ErrInvalid)
			require.ErrorIs(t, tc.call(storage.MaxLimit+1), referral.ErrInvalid)
			require.NoError(t, tc.call(storage.MaxLimit))
			require.NoError(t, tc.call(0))
		})
	}

	t.Run("listing without network", func(t *testing.T) {
		_, _, err := s.ListOrganizations(ctx, referral.NilID, storage.Page{})
		require.ErrorIs(t, err, referral.ErrInvalid)
		_, _, err = s.ListServices(ctx, referral.NilID, storage.Page{})
		require.ErrorIs(t, err, referral.ErrInvalid)
		_, _, err = s.ListReferrals(ctx, storage.ReferralQuery{})
		require.ErrorIs(t, err, referral.ErrInvalid)
		_, err = s.Feed(ctx, storage.FeedQuery{})
		require.ErrorIs(t, err, referral.ErrInvalid)
	})

	t.Run("listing an unknown network is empty", func(t *testing.T) {
		unknown := f.ID()
		orgs, next, err := s.ListOrganizations(ctx, unknown, storage.Page{})
		require.NoError(t, err)
		require.Empty(t, orgs)
		require.True(t, next.IsZero())
		svcs, _, err := s.ListServices(ctx, unknown, storage.Page{})
		require.NoError(t, err)
		require.Empty(t, svcs)
		refs, _, err := s.ListReferrals(ctx, storage.ReferralQuery{Network: unknown})
		require.NoError(t, err)
		require.Empty(t, refs)
		events, err := s.Feed(ctx, storage.FeedQuery{Network: unknown})
		require.NoError(t, err)
		require.Empty(t, events)
	})
}

// testReferences checks the foreign-key style rules: a record naming a network,
// organization or person that does not exist where it must is ErrNotFound and is
// not written.
func testReferences(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := NewFixture(t, s, 1)
	g := NewFixture(t, s, 2)
	missing := f.ID()

	orgNoNetwork := f.NewOrganization("Orphan agency")
	orgNoNetwork.Network = missing
	svcNoOrg := f.NewService(missing)
	svcForeignOrg := f.NewService(g.Receiver.ID)
	personNoNetwork := f.NewPerson()
	personNoNetwork.Network = missing
	consentNoPerson := f.NewConsent(missing, f.Other.ID, referral.ScopeView)
	consentNoGrantee := f.NewConsent(f.Person.ID, missing, referral.ScopeView)
	consentForeignGrantee := f.NewConsent(f.Person.ID, g.Other.ID, referral.ScopeView)
	consentForeignPerson := f.NewConsent(g.Person.ID, f.Other.ID, referral.ScopeView)
	screeningNoPerson := f.NewScreening(missing)
	screeningForeignPerson := f.NewScreening(g.Person.ID)
	refNoNetwork := f.NewReferral(referral.StatusDraft)
	refNoNetwork.Network = missing

	tests := []struct {
		name  string
		write func() error
		get   func() error
	}{
		{"organization in an unknown network", func() error { return s.PutOrganization(ctx, orgNoNetwork) },
			func() error { _, err := s.GetOrganization(ctx, missing, orgNoNetwork.ID); return err }},
		{"service of an unknown organization", func() error { return s.PutService(ctx, svcNoOrg) },
			func() error { _, err := s.GetService(ctx, f.Network.ID, svcNoOrg.ID); return err }},
		{"service of another network's organization", func() error { return s.PutService(ctx, svcForeignOrg) },
			func() error { _, err := s.GetService(ctx, f.Network.ID, svcForeignOrg.ID); return err }},
		{"person in an unknown network", func() error { return s.PutPerson(ctx, personNoNetwork) },
			func() error { _, err := s.GetPerson(ctx, missing, personNoNetwork.ID); return err }},
		{"consent of an unknown person", func() error { return s.PutConsent(ctx, consentNoPerson) },
			func() error { _, err := s.GetConsent(ctx, f.Network.ID, consentNoPerson.ID); return err }},
		{"consent for an unknown grantee", func() error { return s.PutConsent(ctx, consentNoGrantee) },
			func() error { _, err := s.GetConsent(ctx, f.Network.ID, consentNoGrantee.ID); return err }},
		{"consent for another network's grantee", func() error { return s.PutConsent(ctx, consentForeignGrantee) },
			func() error { _, err := s.GetConsent(ctx, f.Network.ID, consentForeignGrantee.ID); return err }},
		{"consent of another network's person", func() error { return s.PutConsent(ctx, consentForeignPerson) },
			func() error { _, err := s.GetConsent(ctx, f.Network.ID, consentForeignPerson.ID); return err }},
		{"screening of an unknown person", func() error { return s.PutScreening(ctx, screeningNoPerson) },
			func() error { _, err := s.GetScreening(ctx, f.Network.ID, screeningNoPerson.ID); return err }},
		{"screening of another network's person", func() error { return s.PutScreening(ctx, screeningForeignPerson) },
			func() error { _, err := s.GetScreening(ctx, f.Network.ID, screeningForeignPerson.ID); return err }},
		{"referral in an unknown network", func() error {
			_, _, err := s.CreateReferral(ctx, refNoNetwork, CreatedEvent(refNoNetwork))
			return err
		}, func() error { _, err := s.GetReferral(ctx, missing, refNoNetwork.ID); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.write(), referral.ErrNotFound)
			require.ErrorIs(t, tc.get(), referral.ErrNotFound, "nothing is written")
		})
	}
}

// testCrossNetwork checks that nothing crosses networks: lookups in the wrong
// network are ErrNotFound and an id taken in one network is ErrConflict in
// another.
func testCrossNetwork(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a := NewFixture(t, s, 1)
	b := NewFixture(t, s, 2)
	screening := a.NewScreening(a.Person.ID)
	require.NoError(t, s.PutScreening(ctx, screening))
	ref := a.Create(t, s, a.NewReferral(referral.StatusRequested))
	wrong := b.Network.ID

	lookups := []struct {
		name string
		get  func() error
	}{
		{"organization", func() error { _, err := s.GetOrganization(ctx, wrong, a.Sender.ID); return err }},
		{"service", func() error { _, err := s.GetService(ctx, wrong, a.Service.ID); return err }},
		{"person", func() error { _, err := s.GetPerson(ctx, wrong, a.Person.ID); return err }},
		{"consent", func() error { _, err := s.GetConsent(ctx, wrong, a.Consent.ID); return err }},
		{"screening", func() error { _, err := s.GetScreening(ctx, wrong, screening.ID); return err }},
		{"referral", func() error { _, err := s.GetReferral(ctx, wrong, ref.ID); return err }},
		{"referral events", func() error { _, err := s.ReferralEvents(ctx, wrong, ref.ID); return err }},
		{"service delete", func() error { return s.DeleteService(ctx, wrong, a.Service.ID) }},
		{"referral update", func() error {
			n, e := Next(ref, referral.StatusAccepted, referral.EventAccepted)
			n.Network, e.Network, e.Actor.Network = wrong, wrong, wrong
			_, err := s.UpdateReferral(ctx, n, e)
			return err
		}},
	}
	for _, tc := range lookups {
		t.Run("get "+tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.get(), referral.ErrNotFound)
		})
	}
	_, err := s.GetService(ctx, a.Network.ID, a.Service.ID)
	require.NoError(t, err, "a delete in the wrong network removes nothing")
	got, err := s.GetReferral(ctx, a.Network.ID, ref.ID)
	require.NoError(t, err)
	require.Equal(t, ref, got, "an update in the wrong network changes nothing")

	consents, err := s.ListConsents(ctx, wrong, a.Person.ID)
	require.NoError(t, err)
	require.Empty(t, consents)
	screenings, err := s.ListScreenings(ctx, wrong, a.Person.ID)
	require.NoError(t, err)
	require.Empty(t, screenings)

	org := a.Other
	org.Network = wrong
	svc := a.Service.Clone()
	svc.Network, svc.Organization = wrong, b.Receiver.ID
	person := a.Person.Clone()
	person.Network = wrong
	consent := b.NewConsent(b.Person.ID, b.Other.ID, referral.ScopeView)
	consent.ID = a.Consent.ID
	sc := b.NewScreening(b.Person.ID)
	sc.ID = screening.ID
	r := b.NewReferral(referral.StatusDraft)
	r.ID = ref.ID

	reuses := []struct {
		name  string
		write func() error
		check func(t *testing.T)
	}{
		{"organization", func() error { return s.PutOrganization(ctx, org) }, func(t *testing.T) {
			got, err := s.GetOrganization(ctx, a.Network.ID, org.ID)
			require.NoError(t, err)
			require.Equal(t, a.Other, got)
		}},
		{"service", func() error { return s.PutService(ctx, svc) }, func(t *testing.T) {
			got, err := s.GetService(ctx, a.Network.ID, svc.ID)
			require.NoError(t, err)
			require.Equal(t, a.Service, got)
		}},
		{"person", func() error { return s.PutPerson(ctx, person) }, func(t *testing.T) {
			got, err := s.GetPerson(ctx, a.Network.ID, person.ID)
			require.NoError(t, err)
			require.Equal(t, a.Person, got)
		}},
		{"consent", func() error { return s.PutConsent(ctx, consent) }, func(t *testing.T) {
			got, err := s.GetConsent(ctx, a.Network.ID, consent.ID)
			require.NoError(t, err)
			require.Equal(t, a.Consent, got)
		}},
		{"screening", func() error { return s.PutScreening(ctx, sc) }, func(t *testing.T) {
			got, err := s.GetScreening(ctx, a.Network.ID, sc.ID)
			require.NoError(t, err)
			require.Equal(t, screening, got)
		}},
		{"referral", func() error { _, _, err := s.CreateReferral(ctx, r, CreatedEvent(r)); return err }, func(t *testing.T) {
			got, err := s.GetReferral(ctx, a.Network.ID, r.ID)
			require.NoError(t, err)
			require.Equal(t, ref, got)
			_, err = s.GetReferral(ctx, wrong, r.ID)
			require.ErrorIs(t, err, referral.ErrNotFound)
		}},
	}
	for _, tc := range reuses {
		t.Run("reuse "+tc.name+" id", func(t *testing.T) {
			require.ErrorIs(t, tc.write(), referral.ErrConflict)
			tc.check(t)
		})
	}
}
