package adversarial

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/refkit/refkit/internal/backendtest"
	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/lifecycle"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// epoch is when every world starts; the clock moves only when a test moves it.
var epoch = time.Date(2025, time.March, 3, 9, 0, 0, 0, time.UTC)

// backend opens an empty store of one kind, closed (and, on PostgreSQL,
// dropped) when the test ends.
type backend struct {
	name string
	open func(t *testing.T) storage.Store
}

// backends are every store refkit ships: the access rules are pushed into the
// stores' queries, so they are checked on each. PostgreSQL needs
// REFKIT_TEST_POSTGRES_URL and skips, saying so, without it.
var backends = func() []backend {
	var out []backend
	for _, b := range backendtest.All(backendtest.Options{}) {
		out = append(out, backend{b.Name, func(t *testing.T) storage.Store { s, _ := b.Open(t); return s }})
	}
	return out
}()

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// world is one network (and a second one, to cross into) stored in a backend,
// with every party the access rules distinguish:
//
//   - sender and receiver: the two organizations of each referral;
//   - third: an organization with no part in it and no consent;
//   - viewer: holds the person's active view consent;
//   - lapsed: held a view consent whose period has ended;
//   - pending: holds a view consent whose period has not begun;
//   - revoked: held a view consent the person withdrew;
//   - referrer: holds the person's referral-scope consent only (which lets a
//     referral be sent to it, not see others');
//   - admins: the network's administrators' organization;
//   - person and other: the person referred, and someone else in the network.
//
// The person consented to share referrals with the receiver.
type world struct {
	ctx    context.Context
	store  storage.Store
	engine *lifecycle.Engine
	fhir   *fhir.Exchange
	clock  *clock
	ids    *referral.IDGenerator

	network, elsewhere referral.ID

	sender, receiver, third, viewer, lapsed, pending, revoked, referrer, admins referral.ID
	person, other                                                               referral.ID
	service, location                                                           referral.ID
	// foreign is a referral in the other network, so lists and feeds there
	// are not empty.
	foreign referral.ID
}

// worldOptions tune newWorld for a test.
type worldOptions struct {
	// person is stored as the referred person (its ids and network are set);
	// zero stores a plain one.
	person referral.Person
	config func(*lifecycle.Options)
}

func newWorld(t *testing.T, store storage.Store, opts worldOptions) *world {
	t.Helper()
	w := &world{ctx: t.Context(), store: store, clock: &clock{now: epoch}}
	w.ids = referral.NewIDGenerator(w.clock.Now, rand.NewChaCha8([32]byte{1, 9}))
	cfg := lifecycle.Options{Now: w.clock.Now, IDs: w.ids}
	if opts.config != nil {
		opts.config(&cfg)
	}
	engine, err := lifecycle.New(store, store, cfg)
	require.NoError(t, err)
	w.engine = engine
	w.fhir, err = fhir.New(engine, store, store, fhir.Options{Now: w.clock.Now})
	require.NoError(t, err)

	id := w.ids.MustNew
	w.network, w.elsewhere = id(), id()
	require.NoError(t, store.PutNetwork(w.ctx, referral.Network{ID: w.network, Name: "County Care Network", Created: epoch}))
	require.NoError(t, store.PutNetwork(w.ctx, referral.Network{ID: w.elsewhere, Name: "Other State Network", Created: epoch}))
	org := func(name string) referral.ID {
		o := referral.Organization{ID: id(), Network: w.network, Name: name, Created: epoch, Updated: epoch}
		require.NoError(t, store.PutOrganization(w.ctx, o))
		return o.ID
	}
	w.sender, w.receiver, w.third = org("Riverside Clinic"), org("Eastside Food Bank"), org("Hilltop Housing")
	w.viewer, w.lapsed, w.revoked = org("Care Coordination Hub"), org("Former Coordinator"), org("Withdrawn Coordinator")
	w.pending = org("Future Coordinator")
	w.referrer, w.admins = org("Legal Aid"), org("Network Office")

	p := opts.person.Clone()
	p.ID, p.Network, p.Created, p.Updated = id(), w.network, epoch, epoch
	require.NoError(t, store.PutPerson(w.ctx, p))
	w.person = p.ID
	w.other = id()
	require.NoError(t, store.PutPerson(w.ctx, referral.Person{ID: w.other, Network: w.network, GivenName: "Other"}))

	consent := func(grantee referral.ID, scope referral.ConsentScope, period referral.Period, revoked time.Time) {
		require.NoError(t, store.PutConsent(w.ctx, referral.Consent{
			ID: id(), Network: w.network, Person: w.person, Grantee: grantee, Scope: scope,
			Period: period, Revoked: revoked, Created: epoch,
		}))
	}
	year := referral.Period{Start: epoch.AddDate(0, -1, 0), End: epoch.AddDate(1, 0, 0)}
	consent(w.receiver, referral.ScopeReferral, year, time.Time{})
	consent(w.viewer, referral.ScopeView, year, time.Time{})
	consent(w.lapsed, referral.ScopeView, referral.Period{Start: epoch.AddDate(-1, 0, 0), End: epoch.AddDate(0, 0, -1)}, time.Time{})
	consent(w.pending, referral.ScopeView, referral.Period{Start: epoch.AddDate(0, 1, 0), End: epoch.AddDate(1, 0, 0)}, time.Time{})
	consent(w.revoked, referral.ScopeView, year, epoch.AddDate(0, 0, -1))
	consent(w.referrer, referral.ScopeReferral, year, time.Time{})

	w.location = id()
	svc := referral.Service{
		ID: id(), Network: w.network, Organization: w.receiver, Name: "Pantry", Status: referral.ServiceActive,
		Domains:   []referral.Domain{referral.FoodInsecurity},
		Locations: []referral.Location{{ID: w.location, Name: "Main pantry", Latitude: 39.96, Longitude: -82.99}},
	}
	require.NoError(t, store.PutService(w.ctx, svc))
	w.service = svc.ID

	// The other network has its own parties and a referral of its own.
	o2 := referral.Organization{ID: id(), Network: w.elsewhere, Name: "Far Clinic"}
	require.NoError(t, store.PutOrganization(w.ctx, o2))
	p2 := referral.Person{ID: id(), Network: w.elsewhere}
	require.NoError(t, store.PutPerson(w.ctx, p2))
	far, err := engine.Create(w.ctx, referral.Actor{Network: w.elsewhere, Organization: o2.ID, Role: referral.RoleStaff, User: "far"},
		lifecycle.CreateRequest{Person: p2.ID, Receiver: o2.ID, Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Routine}}})
	require.NoError(t, err)
	w.foreign = far.ID
	return w
}

// staff returns a staff actor of org in the world's network.
func (w *world) staff(org referral.ID) referral.Actor {
	return referral.Actor{Network: w.network, Organization: org, Role: referral.RoleStaff, User: "staff-" + org.String()[30:]}
}

// request is a create request from the sender to the receiver's pantry.
func (w *world) request(send bool) lifecycle.CreateRequest {
	return lifecycle.CreateRequest{
		Person: w.person, Receiver: w.receiver, Service: w.service, Location: w.location, Send: send,
		Needs: []referral.Need{{Domain: referral.FoodInsecurity, Urgency: referral.Urgent}},
	}
}
