package memory

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// Store is a concurrency-safe, in-memory storage.Store. One RWMutex guards it:
// reads share it, and every write (a referral with its event, say) happens under
// it whole, which is what makes the write atomic. The zero value is not usable;
// call New.
type Store struct {
	mu     sync.RWMutex
	closed bool

	networks map[referral.ID]*network
	// netList holds the networks in creation order; a referral's record
	// names its network by index in it.
	netList    []*network
	orgs       table[referral.Organization]
	services   table[referral.Service]
	persons    table[referral.Person]
	consents   table[referral.Consent]
	screenings table[referral.Screening]
	// referrals indexes recs by id.
	referrals map[referral.ID]int
	recs      refTable

	// consentsOf holds each person's consents sorted by id. Person ids are unique
	// across networks, so the person id alone is the key; the visibility filter
	// reads the slice in place, without allocating.
	consentsOf map[referral.ID][]referral.Consent

	idempotency map[idempotencyKey]int
	due         ordered[deadlineKey]
	log         eventLog
}

var (
	_ storage.Store          = (*Store)(nil)
	_ storage.FeedNotifier   = (*Store)(nil)
	_ storage.DirectoryFeed  = (*Store)(nil)
	_ storage.DirectoryBatch = (*Store)(nil)
)

// network holds one tenant and the indexes scoped to it.
type network struct {
	n referral.Network
	// at is the network's index in Store.netList.
	at        uint32
	referrals ordered[referral.ID]
	// bySender, byReceiver and byPerson index referrals by the organization or
	// person they name; a referral's id order is its creation order. They are
	// built by the first listing or erasure that needs them (indexed says
	// whether they have been), and kept from then on: a store that is only
	// written and read by id, as a simulation's is, never pays for them.
	indexed    bool
	bySender   map[referral.ID]*ordered[referral.ID]
	byReceiver map[referral.ID]*ordered[referral.ID]
	byPerson   map[referral.ID]*ordered[referral.ID]
	// feed lists the positions of the network's events in append order, which is
	// position order, so a cursor is a binary search.
	feed []int64
	// appended is closed at the next append, waking feed followers; nil while
	// nobody waits, so appends cost nothing then.
	appended chan struct{}
	// directory is the network's directory feed (see directoryfeed.go).
	directory directoryFeed
}

// appendFeed records an event position in the network's feed and wakes followers.
func (n *network) appendFeed(pos int64) {
	n.feed = append(n.feed, pos)
	if n.appended != nil {
		close(n.appended)
		n.appended = nil
	}
}

func newNetwork(n referral.Network) *network {
	return &network{n: n}
}

// index builds the per-sender, per-receiver and per-person indexes from the
// network's referrals, once. Callers hold the write lock.
func (n *network) index(s *Store) {
	if n.indexed {
		return
	}
	n.bySender = make(map[referral.ID]*ordered[referral.ID])
	n.byReceiver = make(map[referral.ID]*ordered[referral.ID])
	n.byPerson = make(map[referral.ID]*ordered[referral.ID])
	// Ids come in order, so every insert appends.
	for id := range n.referrals.all() {
		rec := s.recs.at(s.referrals[id])
		n.indexReferral(id, rec.sender, rec.receiver, rec.person)
	}
	n.indexed = true
}

// reindex moves r in the indexes from where its stored version, rec, put it.
// Callers hold the write lock.
func (n *network) reindex(rec *storedReferral, r *referral.Referral) {
	if r.Sender != rec.sender {
		unset(n.bySender, rec.sender, r.ID)
		set(n.bySender, r.Sender).insert(r.ID)
	}
	if r.Receiver != rec.receiver {
		unset(n.byReceiver, rec.receiver, r.ID)
		set(n.byReceiver, r.Receiver).insert(r.ID)
	}
	if r.Person != rec.person {
		unset(n.byPerson, rec.person, r.ID)
		set(n.byPerson, r.Person).insert(r.ID)
	}
}

// indexReferral adds referral id to the indexes. Callers hold the write lock.
func (n *network) indexReferral(id, sender, receiver, person referral.ID) {
	set(n.bySender, sender).insert(id)
	set(n.byReceiver, receiver).insert(id)
	set(n.byPerson, person).insert(id)
}

type idempotencyKey struct {
	network, sender referral.ID
	key             string
}

// deadlineKey orders the deadline index: earliest first, ties by id. The time
// is kept as Unix seconds and nanoseconds, not a time.Time: the key then holds
// no pointer for the collector to follow and compares without a call, which a
// simulation's million referrals feel on every transition.
type deadlineKey struct {
	sec  int64
	nsec int32
	id   referral.ID
}

// after reports whether the key's time is after t.
func (k deadlineKey) after(t time.Time) bool {
	sec := t.Unix()
	return k.sec > sec || k.sec == sec && k.nsec > int32(t.Nanosecond())
}

// Compare orders keys by time, then id.
func (k deadlineKey) Compare(o deadlineKey) int {
	switch {
	case k.sec != o.sec:
		return cmp.Compare(k.sec, o.sec)
	case k.nsec != o.nsec:
		return cmp.Compare(k.nsec, o.nsec)
	}
	return k.id.Compare(o.id)
}

// New returns an empty store.
func New() *Store {
	return &Store{
		networks: make(map[referral.ID]*network),
		// Organizations and services are listed by network, screenings by person.
		orgs:     newTable("organization", organizationNetwork, organizationNetwork, referral.Organization.Clone),
		services: newTable("service", serviceNetwork, serviceNetwork, referral.Service.Clone),
		persons:  newTable("person", personNetwork, nil, referral.Person.Clone),
		// Consents are listed from consentsOf, which the visibility filter reads.
		consents:    newTable("consent", consentNetwork, nil, nil),
		screenings:  newTable("screening", screeningNetwork, screeningPerson, referral.Screening.Clone),
		referrals:   make(map[referral.ID]int),
		consentsOf:  make(map[referral.ID][]referral.Consent),
		idempotency: make(map[idempotencyKey]int),
	}
}

// Close drops everything the store holds; later calls fail with
// storage.ErrClosed.
// Closing twice is not an error.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for _, n := range s.networks {
		if n.appended != nil {
			close(n.appended) // followers wake and see storage.ErrClosed
		}
		n.directory.wake()
	}
	s.orgs.drop()
	s.services.drop()
	s.persons.drop()
	s.consents.drop()
	s.screenings.drop()
	s.networks, s.netList, s.referrals, s.consentsOf, s.idempotency = nil, nil, nil, nil, nil
	s.due, s.log, s.recs = ordered[deadlineKey]{}, eventLog{}, refTable{}
	return nil
}

// live checks the context before any work; callers hold no lock yet.
func live(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	return nil
}

func notFound(kind string, id referral.ID) error {
	return fmt.Errorf("memory: %s %s: %w", kind, id, referral.ErrNotFound)
}

func conflict(kind string, id referral.ID, why string) error {
	return fmt.Errorf("memory: %s %s %s: %w", kind, id, why, referral.ErrConflict)
}

// network returns the network, or ErrNotFound. Callers hold the lock.
func (s *Store) network(id referral.ID) (*network, error) {
	n, ok := s.networks[id]
	if !ok {
		return nil, notFound("network", id)
	}
	return n, nil
}

// set returns the ordered set for id in m, creating it.
func set(m map[referral.ID]*ordered[referral.ID], id referral.ID) *ordered[referral.ID] {
	o, ok := m[id]
	if !ok {
		o = &ordered[referral.ID]{}
		m[id] = o
	}
	return o
}

// unset removes key from the set for id in m, dropping the set once empty.
func unset(m map[referral.ID]*ordered[referral.ID], id, key referral.ID) {
	if o, ok := m[id]; ok {
		o.remove(key)
		if o.Len() == 0 {
			delete(m, id)
		}
	}
}

// page walks the ids of set above after and keeps those keep accepts, up to
// limit. It returns the next cursor only when another accepted id exists, so a
// caller that pages until the cursor is zero never fetches an empty page.
func page[T any](set *ordered[referral.ID], after referral.ID, limit int, keep func(referral.ID) (T, bool)) ([]T, referral.ID) {
	out := make([]T, 0, min(limit, set.Len()))
	var last referral.ID
	for id := range set.after(after) {
		v, ok := keep(id)
		if !ok {
			continue
		}
		if len(out) == limit {
			return out, last
		}
		out = append(out, v)
		last = id
	}
	return out, referral.NilID
}

// read runs fn under the read lock once ctx is live and the store is open.
func (s *Store) read(ctx context.Context, fn func() error) error {
	if err := live(ctx); err != nil {
		return err
	}
	return s.view(fn)
}

// view is read for callers that have checked ctx already.
func (s *Store) view(fn func() error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return storage.ErrClosed
	}
	return fn()
}

// write runs apply under the write lock after the checks every write makes first,
// in this order: ctx is live, the input is valid, the store is open. apply must
// check everything before it changes anything, so a failed write writes nothing.
func (s *Store) write(ctx context.Context, validate func() error, apply func() error) error {
	if err := live(ctx); err != nil {
		return err
	}
	if err := validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return storage.ErrClosed
	}
	return apply()
}

// writeIn is write for a record of network, which must exist.
func (s *Store) writeIn(ctx context.Context, validate func() error, network referral.ID, apply func() error) error {
	return s.write(ctx, validate, func() error {
		if _, err := s.network(network); err != nil {
			return err
		}
		return apply()
	})
}

// listing makes the checks every listing of a network makes before it locks, in
// this order, and returns the page size.
func listing(ctx context.Context, network referral.ID, p storage.Page) (int, error) {
	if err := live(ctx); err != nil {
		return 0, err
	}
	return storage.CheckPage(network, p)
}

// noInput is the validation of a write that takes no record, only ids.
func noInput() error { return nil }
