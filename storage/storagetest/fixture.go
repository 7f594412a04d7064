package storagetest

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// Epoch is the instant fixtures start from. Every time the suite writes is UTC
// with at most millisecond precision, so the suite can compare records with
// require.Equal whichever zone a backend returns times in (storage.Store allows
// UTC for all of them).
var Epoch = time.Date(2025, time.March, 3, 9, 0, 0, 0, time.UTC)

// Fixture is one network's worth of consistent records, stored in a backend: a
// sending and a receiving organization, a third organization with no part in the
// referrals, a person who consented to share with the receiver, and a service the
// receiver offers. Tests build referrals on it with NewReferral, Create and Move.
type Fixture struct {
	Network  referral.Network
	Sender   referral.Organization
	Receiver referral.Organization
	Other    referral.Organization
	Person   referral.Person
	// Consent is Person's referral-scope consent for Receiver.
	Consent referral.Consent
	Service referral.Service
	// Now is the fixture's clock reading: records are created at it.
	Now time.Time

	ids *referral.IDGenerator
}

// NewFixture stores a fresh fixture in s. Its ids come from a generator seeded
// with seed, so they are the same on every run, and fixtures with different seeds
// never share an id: give each fixture in one store its own seed.
func NewFixture(t testing.TB, s storage.Store, seed uint64) *Fixture {
	t.Helper()
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	f := &Fixture{
		Now: Epoch,
		ids: referral.NewIDGenerator(func() time.Time { return Epoch }, rand.NewChaCha8(key)),
	}
	f.Network = referral.Network{ID: f.ID(), Name: "County Care Network", Created: f.Now}
	f.Sender = f.NewOrganization("Riverside Clinic")
	f.Receiver = f.NewOrganization("Eastside Food Bank")
	f.Other = f.NewOrganization("Hilltop Housing")
	f.Person = f.NewPerson()
	f.Consent = f.NewConsent(f.Person.ID, f.Receiver.ID, referral.ScopeReferral)
	f.Service = f.NewService(f.Receiver.ID)

	ctx := context.Background()
	require.NoError(t, s.PutNetwork(ctx, f.Network))
	for _, o := range []referral.Organization{f.Sender, f.Receiver, f.Other} {
		require.NoError(t, s.PutOrganization(ctx, o))
	}
	require.NoError(t, s.PutPerson(ctx, f.Person))
	require.NoError(t, s.PutConsent(ctx, f.Consent))
	require.NoError(t, s.PutService(ctx, f.Service))
	return f
}

// ID returns the fixture's next id.
func (f *Fixture) ID() referral.ID { return f.ids.MustNew() }

// NewOrganization returns a new, unstored organization in the fixture's network.
func (f *Fixture) NewOrganization(name string) referral.Organization {
	return referral.Organization{
		ID: f.ID(), Network: f.Network.ID, Name: name, Email: "intake@example.org",
		Phone: "+1-555-0100", Created: f.Now, Updated: f.Now,
	}
}

// NewPerson returns a new, unstored person in the fixture's network, with every
// reference-typed field set so copy-in/copy-out is exercised.
func (f *Fixture) NewPerson() referral.Person {
	income := 23500.0
	return referral.Person{
		ID: f.ID(), Network: f.Network.ID, GivenName: "Alex", FamilyName: "Example",
		BirthDate: referral.Date{Year: 1980, Month: time.April, Day: 12}, HouseholdSize: 3,
		IncomeAnnual: &income, Languages: []string{"es", "en"},
		Location: &referral.Point{Latitude: 40.71, Longitude: -74.0}, Zip: "10001",
		County: "New York", State: "NY", Insurance: "medicaid",
		Attributes: map[string]string{"tribal_member": "no"}, Created: f.Now, Updated: f.Now,
	}
}

// NewConsent returns a new, unstored consent, active from a day before Now with
// no end.
func (f *Fixture) NewConsent(person, grantee referral.ID, scope referral.ConsentScope) referral.Consent {
	return referral.Consent{
		ID: f.ID(), Network: f.Network.ID, Person: person, Grantee: grantee, Scope: scope,
		Period: referral.Period{Start: f.Now.Add(-24 * time.Hour)}, Created: f.Now,
	}
}

// NewService returns a new, unstored service of org with a location (and
// address), service areas, a schedule and capacity.
func (f *Fixture) NewService(org referral.ID) referral.Service {
	return referral.Service{
		ID: f.ID(), Network: f.Network.ID, Organization: org, Name: "Emergency groceries",
		Status: referral.ServiceActive, Domains: []referral.Domain{referral.FoodInsecurity, referral.MaterialHardship},
		Eligibility: "household_size >= 1", MinimumAge: 18, Languages: []string{"en", "es"},
		Capacity: &referral.Capacity{Available: 12, Waitlist: 4},
		Locations: []referral.Location{{
			ID: f.ID(), Name: "Main pantry", Latitude: 40.7128, Longitude: -74.006,
			Address: &referral.Address{Address1: "1 Main St", City: "New York", StateProvince: "NY", PostalCode: "10001", Country: "US"},
		}},
		ServiceAreas: []referral.ServiceArea{
			{Kind: referral.AreaCounty, Values: []string{"New York", "Kings"}},
			{Kind: referral.AreaPolygon, Polygon: []referral.Point{{Latitude: 40.7, Longitude: -74.1}, {Latitude: 40.8, Longitude: -74.0}, {Latitude: 40.7, Longitude: -73.9}}},
		},
		Schedules: []referral.Schedule{{ByDay: []string{"MO", "WE", "FR"}, OpensAt: "09:00", ClosesAt: "17:00", Timezone: "America/New_York"}},
		Created:   f.Now, Updated: f.Now,
	}
}

// NewScreening returns a new, unstored screening result for person.
func (f *Fixture) NewScreening(person referral.ID) referral.Screening {
	total := 7.0
	return referral.Screening{
		ID: f.ID(), Network: f.Network.ID, Person: person, Instrument: "ahc-hrsn", Version: "2017",
		At: f.Now, Total: &total, Band: "positive", Valid: true, Missing: []string{"q9"},
		PositiveDomains: []referral.Domain{referral.FoodInsecurity}, Flags: []string{"urgent"},
		Needs:   []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent, Instrument: "ahc-hrsn"}},
		Answers: map[string][]string{"q1": {"often"}, "q2": {"sometimes", "often"}},
	}
}

// NewReferral returns a new, unstored referral from Sender to Receiver for
// Person, in status, at Version 1.
func (f *Fixture) NewReferral(status referral.Status) referral.Referral {
	return referral.Referral{
		ID: f.ID(), Network: f.Network.ID, Person: f.Person.ID,
		Needs:  []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent, Instrument: "ahc-hrsn"}},
		Sender: f.Sender.ID, SenderUser: "navigator-1", Receiver: f.Receiver.ID,
		Service: f.Service.ID, Location: f.Service.Locations[0].ID,
		Status: status, Priority: referral.Urgent, Created: f.Now, Updated: f.Now, Version: 1,
	}
}

// CreatedEvent returns the first event of r, as CreateReferral takes it.
func CreatedEvent(r referral.Referral) referral.Event {
	return referral.Event{
		Network: r.Network, Referral: r.ID, Sequence: 1, Type: referral.EventCreated,
		Actor: referral.Actor{Network: r.Network, Organization: r.Sender, User: "navigator-1", Role: referral.RoleStaff},
		At:    r.Created, To: r.Status,
	}
}

// Next returns r moved to status to (a minute after its last update) with the
// event recording it, as UpdateReferral takes them: Version and Sequence one
// above r's, From r's status.
func Next(r referral.Referral, to referral.Status, typ referral.EventType) (referral.Referral, referral.Event) {
	n := r.Clone()
	n.Status = to
	n.Version++
	n.Updated = r.Updated.Add(time.Minute)
	e := referral.Event{
		Network: n.Network, Referral: n.ID, Sequence: n.Version, Type: typ,
		Actor: referral.Actor{Network: n.Network, Organization: n.Receiver, User: "case-worker", Role: referral.RoleStaff},
		At:    n.Updated, From: r.Status, To: to,
	}
	return n, e
}

// Create stores r with its created event and fails t unless it was created.
func (f *Fixture) Create(t testing.TB, s storage.Store, r referral.Referral) referral.Referral {
	t.Helper()
	stored, created, err := s.CreateReferral(context.Background(), r, CreatedEvent(r))
	require.NoError(t, err)
	require.True(t, created)
	return stored
}

// Move applies Next(r, to, typ) to s, fails t on error, and returns the stored
// referral and its event.
func (f *Fixture) Move(t testing.TB, s storage.Store, r referral.Referral, to referral.Status, typ referral.EventType) (referral.Referral, referral.Event) {
	t.Helper()
	n, e := Next(r, to, typ)
	stored, err := s.UpdateReferral(context.Background(), n, e)
	require.NoError(t, err)
	return n, stored
}

// FeedAll pages through a network's whole feed (a few events per call, so paging
// is exercised), checking that positions strictly increase across pages.
func FeedAll(t testing.TB, s storage.Store, network referral.ID, v *storage.Visibility) []referral.Event {
	t.Helper()
	var all []referral.Event
	var after int64
	for {
		page, err := s.Feed(context.Background(), storage.FeedQuery{Network: network, After: after, Limit: 7, Visible: v})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 7)
		for _, e := range page {
			require.Greater(t, e.Position, after, "feed positions must strictly increase")
			after = e.Position
		}
		all = append(all, page...)
		if len(page) < 7 {
			return all
		}
	}
}

// ListAll pages through ListReferrals(q) with pages of size limit, checking that
// ids strictly increase, that no page is empty unless the listing is, and that
// the last cursor is zero.
func ListAll(t testing.TB, s storage.Store, q storage.ReferralQuery, limit int) []referral.Referral {
	t.Helper()
	var all []referral.Referral
	q.Page = storage.Page{Limit: limit}
	size := limit
	if size == 0 {
		size = storage.DefaultLimit
	}
	for {
		page, next, err := s.ListReferrals(context.Background(), q)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), size)
		for _, r := range page {
			if n := len(all); n > 0 {
				require.Equal(t, -1, all[n-1].ID.Compare(r.ID), "referrals must come in strictly increasing id order")
			}
			all = append(all, r)
		}
		if next.IsZero() {
			return all
		}
		require.NotEmpty(t, page, "a page with a next cursor must not be empty")
		require.Equal(t, page[len(page)-1].ID, next, "the cursor is the last id of the page")
		q.Page.After = next
	}
}
