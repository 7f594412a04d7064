package fhir_test

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
	"github.com/refkit/refkit/storage/memory"
)

// network is a clinic that screened a person for food insecurity and referred
// them to a food bank, on a fixed clock, with the exchange on top.
type network struct {
	store               *memory.Store
	engine              *lifecycle.Engine
	x                   *fhir.Exchange
	ids                 *referral.IDGenerator
	clinic, foodBank    referral.Actor
	person, screenID    referral.ID
	needs               []referral.Need
	advance             func(time.Duration)
	now                 func() time.Time
	otherOrg, consentID referral.ID
}

// baseURL is the FHIR endpoint the fixture's exchange names its resources
// under, so references read Type/id.
const baseURL = "https://fhir.example.org/r4"

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// seededReader is a deterministic entropy source for ids.
type seededReader struct{ r *rand.ChaCha8 }

func (s seededReader) Read(p []byte) (int, error) { return s.r.Read(p) }

func newNetwork() *network {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ids := referral.NewIDGenerator(clock, seededReader{rand.NewChaCha8([32]byte{7})})
	store := memory.New()
	netID, clinic, foodBank, other, person := ids.MustNew(), ids.MustNew(), ids.MustNew(), ids.MustNew(), ids.MustNew()
	must(store.PutNetwork(ctx, referral.Network{ID: netID, Name: "Lake County Referral Network"}))
	must(store.PutOrganization(ctx, referral.Organization{ID: clinic, Network: netID, Name: "Lakeside Clinic"}))
	must(store.PutOrganization(ctx, referral.Organization{ID: foodBank, Network: netID, Name: "North Food Bank"}))
	must(store.PutOrganization(ctx, referral.Organization{ID: other, Network: netID, Name: "East Shelter"}))
	must(store.PutPerson(ctx, referral.Person{ID: person, Network: netID, GivenName: "Ana", FamilyName: "Diaz", BirthDate: referral.Date{Year: 1980, Month: time.May, Day: 4}}))
	consentID := ids.MustNew()
	must(store.PutConsent(ctx, referral.Consent{ID: consentID, Network: netID, Person: person, Grantee: foodBank, Scope: referral.ScopeReferral, Created: now}))

	reg, err := screening.Builtin()
	must(err)
	in, err := reg.Lookup("hunger-vital-sign")
	must(err)
	resp, err := screening.ParseAnswers(in, []byte(`{"answers":{"88122-7":"Often true","88123-5":"Never true"}}`))
	must(err)
	screenID := ids.MustNew()
	s := resp.Score().Screening(screenID, netID, person, now)
	must(store.PutScreening(ctx, s))

	engine, err := lifecycle.New(store, store, lifecycle.Options{Now: clock, IDs: ids})
	must(err)
	x, err := fhir.New(engine, store, store, fhir.Options{Now: clock, BaseURL: baseURL})
	must(err)
	return &network{
		store: store, engine: engine, x: x, ids: ids,
		clinic:   referral.Actor{Network: netID, Organization: clinic, User: "dr-lee", Role: referral.RoleStaff},
		foodBank: referral.Actor{Network: netID, Organization: foodBank, User: "intake", Role: referral.RoleStaff},
		person:   person, screenID: screenID, needs: s.Needs, otherOrg: other, consentID: consentID,
		advance: func(d time.Duration) { now = now.Add(d) }, now: clock,
	}
}

// refer creates and sends the referral from the clinic to the food bank.
func (n *network) refer() referral.Referral {
	r, err := n.engine.Create(context.Background(), n.clinic, lifecycle.CreateRequest{
		Person: n.person, Receiver: n.foodBank.Organization, Needs: n.needs, Send: true,
	})
	must(err)
	return r
}

// service adds a pantry of the food bank's with the given capacity (nil: not
// tracked) and returns its id.
func (n *network) service(c *referral.Capacity) referral.ID {
	svc := referral.Service{
		ID: n.ids.MustNew(), Network: n.clinic.Network, Organization: n.foodBank.Organization,
		Name: "Weekly pantry", Status: referral.ServiceActive, Email: "pantry@food.example.org",
		Domains: []referral.Domain{referral.FoodInsecurity, referral.MentalHealth}, Capacity: c,
		Locations: []referral.Location{{ID: n.ids.MustNew(), Latitude: 41.9, Longitude: -87.6}},
	}
	must(n.store.PutService(context.Background(), svc))
	return svc.ID
}
